"""Pacing per channel: one cap per platform, shared by every sender of a process and split among the
live processes (see :class:`ChannelPacer`)."""
from __future__ import annotations

import asyncio
import collections
import math
from collections.abc import Callable

from aiolimiter import AsyncLimiter

# Platform caps in messages per second (Telegram: about 30/s across chats for bulk sends, Zalo and
# Messenger: no published per-second cap, a conservative 20/s). `content/bulletin.yaml` (delivery.rates)
# overrides them per province. Source: ../shared/domain/platforms.md.
DEFAULT_CAPS = {"telegram": 30.0}
DEFAULT_CAP = 20.0


class ChannelPacer:
    """ONE limiter per channel and process, shared by everything that sends on that channel (the outbox
    and the bulletin engine).

    Two rules, both needed:

    * smooth pace — an ``aiolimiter.AsyncLimiter`` (leaky bucket) draining at ``cap * safety / workers``
      per second, with a depth of ``burst_seconds`` of sends (at least 2, so a late event-loop wake-up is
      caught up instead of lost), so the window's requests are spread over it instead of leaving in a
      bunch (a platform may also look at shorter spans);
    * hard ceiling — platforms count requests in sliding windows, stamped when THEY process them, which
      is somewhere between our send and its answer. So the pacer counts every request that is in flight
      or was answered less than ``window`` seconds ago, and lets a new one go only while that count is
      under ``floor(cap * window_fill * window / workers)``. Whatever the network jitter or connection
      set-up time, no platform-side window of ``window`` seconds can then hold more than that many of
      this process's requests: the last one sent of any such window was sent after every other one's
      stamp, hence less than ``window`` after its answer, and counted them all.

    The ceiling is exact, so it needs no margin (``window_fill=1``: Telegram's 30 messages/s lets 30
    requests into any second); a margin would only cost throughput (29 of 30 is 3.3 %). The bucket needs
    none either (``safety=1``): it shapes the pace, the ceiling guarantees the cap. Lower them only for a
    platform whose counting is not the sliding window described above.

    ``pause_for(retry_after)`` stops every sender on the channel. ``set_share(n)``: n live worker
    processes split the cap (the ceilings add up to at most the cap). Call ``acquire(n)`` before a send
    of n requests and ``release(n)`` when it is answered (or failed). ``acquire(..., priority=True)`` (a
    citizen's message) goes ahead of every ordinary acquire (bulletin deliveries) that has not yet taken
    its place in the window, inside the same cap.
    """

    def __init__(self, channel: str, cap: float, *, safety: float = 1.0, burst_seconds: float = 0.02,
                 window: float = 1.0, window_fill: float = 1.0) -> None:
        if cap <= 0:
            raise ValueError("rate must be positive")
        self.channel = channel
        self.cap = cap
        self.safety = safety
        self.burst_seconds = burst_seconds
        self.window = window
        self.window_fill = window_fill
        self.share = 0
        self.paused_until = 0.0  # loop time
        self.limiter: AsyncLimiter
        self.in_flight = 0
        self._answered: collections.deque[float] = collections.deque()  # loop times of recent answers
        self._freed = asyncio.Event()
        self.window_max = 1
        self._urgent = 0  # priority acquires waiting
        self.set_share(1)

    @property
    def rate(self) -> float:
        return self.cap * self.safety / self.share

    def set_share(self, workers: int) -> None:
        workers = max(1, int(workers))
        if workers == self.share:
            return
        self.share = workers
        rate = self.rate
        # at least 2: with a depth of 1 every late wake-up of the event loop is lost for good (at 30/s,
        # 1 ms late each time is 3 % of the cap); with 2 the bucket makes it up with the next send
        depth = max(2.0, rate * self.burst_seconds)
        self.limiter = AsyncLimiter(depth, depth / rate)
        # floor, with room for float noise (30 * 1.0 * 1.0 must stay 30, not 29.999... -> 29)
        self.window_max = max(1, math.floor(self.cap * self.window_fill * self.window / workers + 1e-9))

    def set_cap(self, cap: float) -> None:
        """A new platform cap (the province's configuration), keeping the current share."""
        if cap <= 0:
            raise ValueError("rate must be positive")
        if cap != self.cap:
            self.cap = cap
            workers, self.share = self.share, 0
            self.set_share(workers)

    def pause_for(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self.paused_until = max(self.paused_until, loop.time() + max(0.0, seconds))

    def remaining_pause(self) -> float:
        return max(0.0, self.paused_until - asyncio.get_running_loop().time())

    def _window_count(self, now: float) -> int:
        while self._answered and self._answered[0] <= now - self.window:
            self._answered.popleft()
        return self.in_flight + len(self._answered)

    async def acquire(self, amount: int = 1, *, priority: bool = False) -> None:
        """Wait until ``amount`` more requests may go (the pause, the pace and the window allow them)."""
        if priority:
            self._urgent += 1
            try:
                await self._acquire(amount, priority=True)
            finally:
                self._urgent -= 1
                if self._urgent == 0:
                    self._freed.set()  # ordinary acquires waiting for the citizens' messages go on
            return
        await self._acquire(amount, priority=False)

    async def _acquire(self, amount: int, *, priority: bool) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(max(1, amount)):
            while True:
                wait = self.remaining_pause()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                if not priority:
                    await self._until(lambda: not self._urgent)
                await self.limiter.acquire()
                # an ordinary acquire also yields its place to a citizen's message that came meanwhile
                await self._until(lambda: self._window_count(loop.time()) < self.window_max
                                  and (priority or not self._urgent))
                if self.remaining_pause() == 0:
                    break
            self.in_flight += 1

    async def _until(self, ready: Callable[[], bool]) -> None:
        """Wait until ``ready()``: re-checked whenever a request is answered, the citizens' messages are
        through, or the oldest answer leaves the window."""
        loop = asyncio.get_running_loop()
        while not ready():
            self._freed.clear()
            wait = (self._answered[0] + self.window - loop.time()) if self._answered else self.window
            try:
                await asyncio.wait_for(self._freed.wait(), max(wait, 0.001))
            except TimeoutError:
                pass

    def release(self, amount: int = 1) -> None:
        now = asyncio.get_running_loop().time()
        for _ in range(max(1, amount)):
            self.in_flight = max(0, self.in_flight - 1)
            self._answered.append(now)
        self._freed.set()


class Pacers:
    """The process's pacers, one per channel, created on first use with the channel's cap.

    ``caps``: the operator's caps (``CCHC_RATE_<CHANNEL>``); they win over the platform default and over
    the province's bulletin.yaml rates (:meth:`configure`), so an installation with a raised platform
    limit (Telegram paid broadcasts) or a benchmark lifting the cap gets exactly what it set."""

    def __init__(self, caps: dict[str, float] | None = None, default_cap: float = DEFAULT_CAP) -> None:
        self.overrides = dict(caps or {})
        self.caps = {**DEFAULT_CAPS, **self.overrides}
        self.default_cap = default_cap
        self._pacers: dict[str, ChannelPacer] = {}

    def get(self, channel: str, cap: float | None = None, **kwargs: float) -> ChannelPacer:
        """The channel's pacer; ``cap`` (and ChannelPacer keywords) apply when it is first created."""
        pacer = self._pacers.get(channel)
        if pacer is None:
            cap = self.overrides.get(channel) or cap or self.caps.get(channel, self.default_cap)
            pacer = self._pacers[channel] = ChannelPacer(channel, cap, **kwargs)
        return pacer

    def configure(self, channel: str, cap: float, **kwargs: float) -> ChannelPacer:
        """The channel's pacer at ``cap`` (the province's configuration), unless the operator set one."""
        pacer = self.get(channel, cap, **kwargs)
        pacer.set_cap(self.overrides.get(channel) or cap)
        return pacer

    def set_share(self, workers: int) -> None:
        for pacer in self._pacers.values():
            pacer.set_share(workers)
