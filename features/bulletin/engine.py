"""The delivery engine: drains ``sending`` bulletins through each channel's Sender at the platform's pace.

Depends on two small interfaces (as listmonk's campaign manager does with its store and messengers):
a :class:`~features.bulletin.store.DeliveryStore` (the delivery rows are the checkpoint) and
:class:`core.channel.Sender` per channel (``send(user_id, replies, retry=False)`` raising typed errors).

Per channel, one producer claims batches of pending rows (atomic ``UPDATE ... RETURNING``; PostgreSQL adds
``FOR UPDATE SKIP LOCKED``) into a bounded queue; one consumer takes rows, waits for the channel's
:class:`ChannelPacer`, and starts the send (at most ``max_in_flight`` at once). Results are buffered and
written in batches (every ``flush_interval`` s). Memory is bounded by queue + in-flight + buffer, whatever
the audience size.

Crash safety: claimed rows carry a token and a time; a kill -9 leaves them ``sending`` and any worker
hands them back to ``pending`` after ``claim_timeout``. Rows never sent are therefore never skipped; the
only possible duplicates are messages that were in flight (or sent but not yet flushed) at the crash.
A clean stop (task cancelled) flushes results and releases unsent claims at once.

Multi-part issues (longer than one message) are sent to a subscriber in one ``send`` call; when it fails
part-way the sender reports how many parts arrived (``DeliveryError.delivered``), the row records
``parts_sent`` with the outcome, and the retry sends only the remaining parts, so no part arrives twice.
(A part whose own request timed out may have arrived anyway: it is the one part that can repeat.)
"""
from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from aiolimiter import AsyncLimiter

from features.bulletin.models import BLOCKED, DELIVERED, FAILED, PAUSED, PENDING, SENDING
from features.bulletin.store import Claim, DeliveryStore, Outcome
from core.channel import Blocked, DeliveryError, PermanentError, RateLimited, Sender, TransientError
from core.types import Reply


def api_calls(replies: Sequence[Reply]) -> int:
    """API calls one send makes (what the limiter counts): one per part, plus a photo."""
    return sum(1 + bool(r.image_url) for r in replies) or 1

log = logging.getLogger(__name__)
T = TypeVar("T")

Renderer = Callable[[int, str], Awaitable[Sequence[Reply]]]  # (bulletin id, channel) -> replies


@dataclass
class EngineConfig:
    """Delivery settings; ``content/bulletin.yaml`` (``delivery:``) overrides the defaults."""

    rates: dict[str, float] = field(default_factory=lambda: {"telegram": 30.0})  # platform cap, msg/s
    # channels sending as paid broadcasts (``Sender.send(..., paid_broadcast=True)``; Telegram's
    # allow_paid_broadcast lifts its cap to 1000 msg/s); the pace still follows ``rates``
    paid_broadcast: frozenset[str] = frozenset()
    default_rate: float = 20.0  # for channels not listed in ``rates``
    # The pacer aims a little under the cap (network jitter must not push a burst over it) and keeps a
    # tiny bucket (``burst_seconds`` of sends) to absorb event-loop wake-up latency.
    safety: float = 0.98
    burst_seconds: float = 0.02
    window_fill: float = 0.99
    batch_size: int = 0  # rows per claim; 0 = about one second of sends (10..500)
    max_in_flight: int = 64
    max_attempts: int = 5
    backoff_base: float = 5.0  # s; transient error n waits base * 2**(n-1) (with jitter), up to backoff_max
    backoff_max: float = 600.0
    max_retry_after: float = 3600.0
    claim_timeout: float = 300.0  # s after which another worker may take over a claimed row
    flush_interval: float = 0.25
    flush_size: int = 200
    error_window: int = 200  # outcomes considered for the auto-pause
    error_min_sample: int = 30
    error_threshold: float = 0.5  # share of failed attempts that pauses the bulletin
    idle_poll: float = 1.0
    housekeeping_interval: float = 0.5
    heartbeat_interval: float = 5.0
    worker_ttl: float = 20.0

    def rate(self, channel: str) -> float:
        return float(self.rates.get(channel, self.default_rate))

    def batch(self, channel: str) -> int:
        if self.batch_size:
            return self.batch_size
        return int(min(500, max(10, self.rate(channel))))


class ChannelPacer:
    """ONE limiter per channel and process, shared by every bulletin on that channel.

    Two rules, both needed:

    * smooth pace — an ``aiolimiter.AsyncLimiter`` (leaky bucket) draining at ``cap * safety / workers``
      per second, with a depth of ``burst_seconds`` of sends (at least 1) so a late event-loop wake-up
      (GC, a database write) is caught up instead of lost;
    * hard ceiling — platforms count requests in sliding windows, stamped when THEY process them, which
      is somewhere between our send and its answer. So the pacer counts every request that is in flight
      or was answered less than ``window`` seconds ago, and lets a new one go only while that count is
      under ``floor(cap * window_fill / workers)``. Whatever the network jitter or connection set-up
      time, no platform-side window can then hold more than that many requests.

    ``pause_for(retry_after)`` stops every sender on the channel. ``set_share(n)``: n live worker
    processes split the cap. Call ``acquire(n)`` before a send of n requests and ``release(n)`` when it
    is answered (or failed).
    """

    def __init__(self, channel: str, cap: float, *, safety: float = 0.98, burst_seconds: float = 0.02,
                 window: float = 1.0, window_fill: float = 0.99) -> None:
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
        depth = max(1.0, rate * self.burst_seconds)
        self.limiter = AsyncLimiter(depth, depth / rate)
        self.window_max = max(1, int(self.cap * self.window_fill * self.window / workers))

    def pause_for(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self.paused_until = max(self.paused_until, loop.time() + max(0.0, seconds))

    def remaining_pause(self) -> float:
        return max(0.0, self.paused_until - asyncio.get_running_loop().time())

    def _window_count(self, now: float) -> int:
        while self._answered and self._answered[0] <= now - self.window:
            self._answered.popleft()
        return self.in_flight + len(self._answered)

    async def acquire(self, amount: int = 1) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(max(1, amount)):
            while True:
                wait = self.remaining_pause()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                await self.limiter.acquire()
                while self._window_count(loop.time()) >= self.window_max:
                    self._freed.clear()
                    wait = (self._answered[0] + self.window - loop.time()) if self._answered else self.window
                    try:
                        await asyncio.wait_for(self._freed.wait(), max(wait, 0.001))
                    except TimeoutError:
                        pass
                if self.remaining_pause() == 0:
                    break
            self.in_flight += 1

    def release(self, amount: int = 1) -> None:
        now = asyncio.get_running_loop().time()
        for _ in range(max(1, amount)):
            self.in_flight = max(0, self.in_flight - 1)
            self._answered.append(now)
        self._freed.set()


@dataclass
class _BulletinStats:
    recent: collections.deque[bool] = field(default_factory=lambda: collections.deque(maxlen=200))


class DeliveryEngine:
    """One worker's engine. Several engines (processes) can work on the same database at once."""

    def __init__(
        self,
        store: DeliveryStore,
        senders: Mapping[str, Sender],
        render: Renderer,
        config: EngineConfig | None = None,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        worker_id: str | None = None,
        pacers: dict[str, ChannelPacer] | None = None,
    ) -> None:
        self.store = store
        self.senders = senders
        self.render = render
        self.config = config or EngineConfig()
        self.clock = clock
        self.worker_id = worker_id or f"{socket.gethostname()[:60]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"[:40]
        self.pacers: dict[str, ChannelPacer] = pacers if pacers is not None else {}
        self._status: dict[int, str] = {}  # bulletin id -> status seen by housekeeping
        self._stats: dict[int, _BulletinStats] = {}
        self._replies: dict[tuple[int, str], Sequence[Reply]] = {}
        self._results: list[Outcome] = []
        self._flush_lock = asyncio.Lock()
        self._auto_paused: set[int] = set()
        self._held: dict[int, str] = {}  # claimed, not yet attempted: delivery id -> token
        self._in_flight: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self.sent = 0  # counters for this process (benchmarks, logs)
        self.errors = 0

    # -- public ------------------------------------------------------------------------------------
    def pacer(self, channel: str) -> ChannelPacer:
        pacer = self.pacers.get(channel)
        if pacer is None:
            cfg = self.config
            pacer = self.pacers[channel] = ChannelPacer(channel, cfg.rate(channel), safety=cfg.safety,
                                                        burst_seconds=cfg.burst_seconds, window_fill=cfg.window_fill)
        return pacer

    def wake(self) -> None:
        """A bulletin started or resumed: look for work now instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Run until cancelled; on cancellation flush results and release unsent claims."""
        for channel in self.senders:
            self.pacer(channel)
        await self._heartbeat()
        await self._housekeeping_once()
        tasks = [asyncio.create_task(self._housekeeping(), name="bulletin-housekeeping")]
        tasks += [asyncio.create_task(self._channel_loop(ch), name=f"bulletin-{ch}") for ch in self.senders]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.shield(self._shutdown())

    async def run_until_idle(self, timeout: float | None = None) -> None:
        """Run until no bulletin is being sent (tests, `bulletin send --wait`)."""
        task = asyncio.create_task(self.run())
        try:
            async def idle() -> None:
                while True:
                    await asyncio.sleep(0.05)
                    if task.done():
                        return
                    active = await self.store.sending_bulletins()
                    if not any(status == SENDING for _, status in active) and not self._in_flight:
                        return

            await asyncio.wait_for(idle(), timeout)
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if task.done() and not task.cancelled() and task.exception():
            raise task.exception()  # type: ignore[misc]

    # -- loops -------------------------------------------------------------------------------------
    async def _channel_loop(self, channel: str) -> None:
        queue: asyncio.Queue[tuple[Claim, str]] = asyncio.Queue(maxsize=self.config.batch(channel))
        producer = asyncio.create_task(self._produce(channel, queue))
        try:
            await self._consume(channel, queue)
        finally:
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)

    async def _produce(self, channel: str, queue: asyncio.Queue[tuple[Claim, str]]) -> None:
        pacer = self.pacer(channel)
        while True:
            claimed = 0
            if pacer.remaining_pause() == 0:
                for bulletin_id, status in list(self._status.items()):
                    if status != SENDING:
                        continue
                    room = self.config.batch(channel) - queue.qsize()
                    if room <= 0:
                        break
                    token = uuid.uuid4().hex
                    try:
                        rows = await self._claim(bulletin_id, channel, room, token)
                    except asyncio.CancelledError:
                        raise
                    except Exception:  # noqa: BLE001 - database hiccup: try again after a pause
                        log.exception("claiming bulletin deliveries failed; retrying")
                        await asyncio.sleep(self.config.idle_poll)
                        break
                    for row in rows:
                        await queue.put((row, token))
                    claimed += len(rows)
                    if rows:
                        break
            if claimed == 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.config.idle_poll)
                except TimeoutError:
                    pass
            else:
                # let the queue drain to half before claiming again (keeps claims large and few)
                while queue.qsize() > self.config.batch(channel) // 2:
                    await asyncio.sleep(0.01)

    async def _claim(self, bulletin_id: int, channel: str, limit: int, token: str) -> list[Claim]:
        """Claim rows and track them at once; a cancellation mid-claim still tracks (then releases) them."""
        rows: list[Claim] = []
        try:
            rows = await _complete(self.store.claim(bulletin_id, channel, limit, token, self.clock()),
                                   on_cancel=lambda r: self._held.update({row.id: token for row in r}))
        finally:
            for row in rows:
                self._held[row.id] = token
        return rows

    async def _consume(self, channel: str, queue: asyncio.Queue[tuple[Claim, str]]) -> None:
        pacer = self.pacer(channel)
        slots = asyncio.Semaphore(self.config.max_in_flight)
        sender = self.senders[channel]
        while True:
            row, token = await queue.get()
            if self._status.get(row.bulletin_id) != SENDING:
                await self._release(token, [row.id])
                continue
            # a multi-part issue resumes at the first part that did not arrive (row.parts_sent)
            replies = (await self._replies_for(row.bulletin_id, channel))[row.parts_sent:]
            calls = api_calls(replies)
            await slots.acquire()
            await pacer.acquire(calls)
            if self._status.get(row.bulletin_id) != SENDING:  # paused/cancelled while we waited
                pacer.release(calls)
                slots.release()
                await self._release(token, [row.id])
                continue
            task = asyncio.create_task(self._send_one(sender, pacer, row, token, replies))
            self._in_flight.add(task)
            task.add_done_callback(lambda t: (self._in_flight.discard(t), slots.release()))

    async def _send_one(self, sender: Sender, pacer: ChannelPacer, row: Claim, token: str,
                        replies: Sequence[Reply]) -> None:
        try:
            await self._attempt(sender, pacer, row, token, replies)
        finally:
            pacer.release(api_calls(replies))

    async def _attempt(self, sender: Sender, pacer: ChannelPacer, row: Claim, token: str,
                       replies: Sequence[Reply]) -> None:
        """Send ``replies`` (the parts of the issue not yet delivered to this subscriber, after
        ``row.parts_sent``) and buffer the outcome, with the parts known to have arrived."""
        cfg = self.config
        now = self.clock()
        done = row.parts_sent
        try:
            if replies:
                if pacer.channel in cfg.paid_broadcast:
                    await sender.send(row.external_id, replies, retry=False, paid_broadcast=True)
                else:  # senders that know no paid broadcast are never asked about it
                    await sender.send(row.external_id, replies, retry=False)
        except RateLimited as exc:
            done += _delivered(exc, replies)
            retry_after = min(exc.retry_after, cfg.max_retry_after)
            pacer.pause_for(retry_after)
            log.warning("%s asked to slow down: pausing the channel for %.1fs", pacer.channel, retry_after)
            until = self.clock() + dt.timedelta(seconds=retry_after)
            await self._safe(self.store.set_channel_pause(pacer.channel, until, str(exc)))
            self._add(Outcome(row.id, row.user_id, PENDING, token, "rate limited", None, count_attempt=False,
                              parts_sent=done))
            return
        except Blocked as exc:
            done += _delivered(exc, replies)
            self._add(Outcome(row.id, row.user_id, BLOCKED, token, str(exc) or "blocked", parts_sent=done))
            return
        except TransientError as exc:
            done += _delivered(exc, replies)
            self._count(row.bulletin_id, error=True)
            attempts = row.attempts + 1  # including this one
            if attempts >= cfg.max_attempts:
                self._add(Outcome(row.id, row.user_id, FAILED, token, _err(exc), parts_sent=done))
            else:
                delay = min(cfg.backoff_max, cfg.backoff_base * 2 ** (attempts - 1)) * (0.5 + random.random() / 2)
                self._add(Outcome(row.id, row.user_id, PENDING, token, _err(exc),
                                  next_attempt_at=self.clock() + dt.timedelta(seconds=delay), parts_sent=done))
            return
        except (PermanentError, DeliveryError) as exc:
            done += _delivered(exc, replies)
            self._count(row.bulletin_id, error=True)
            self._add(Outcome(row.id, row.user_id, FAILED, token, _err(exc), parts_sent=done))
            return
        except Exception as exc:  # noqa: BLE001 - a broken adapter must not stop the broadcast
            log.exception("sender crashed for a bulletin delivery")
            self._count(row.bulletin_id, error=True)
            self._add(Outcome(row.id, row.user_id, FAILED, token, f"internal: {type(exc).__name__}", parts_sent=done))
            return
        self.sent += 1
        self._count(row.bulletin_id, error=False)
        self._add(Outcome(row.id, row.user_id, DELIVERED, token, at=now, parts_sent=done + len(replies)))

    def _count(self, bulletin_id: int, *, error: bool) -> None:
        if error:
            self.errors += 1
        stats = self._stats.setdefault(bulletin_id, _BulletinStats(collections.deque(maxlen=self.config.error_window)))
        stats.recent.append(error)
        cfg = self.config
        if (error and len(stats.recent) >= cfg.error_min_sample and self._status.get(bulletin_id) == SENDING
                and sum(stats.recent) / len(stats.recent) > cfg.error_threshold):
            self._status[bulletin_id] = PAUSED
            self._auto_paused.add(bulletin_id)
            log.error("bulletin %s: error rate %.0f%% over the last %d sends, pausing", bulletin_id,
                      100 * sum(stats.recent) / len(stats.recent), len(stats.recent))
            reason = f"auto: error rate {100 * sum(stats.recent) / len(stats.recent):.0f}%"
            stats.recent.clear()
            asyncio.get_running_loop().create_task(self._auto_pause(bulletin_id, reason))

    async def _auto_pause(self, bulletin_id: int, reason: str) -> None:
        try:
            await self._safe(self.store.pause(bulletin_id, reason))
        finally:
            self._auto_paused.discard(bulletin_id)

    def _add(self, outcome: Outcome) -> None:
        # From here the row's fate is in the result buffer; until then it is "held" and a clean stop
        # hands it back (a send cancelled mid-flight may thus be repeated: the bounded duplicate).
        self._held.pop(outcome.id, None)
        self._results.append(outcome)
        if len(self._results) >= self.config.flush_size:
            asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        async with self._flush_lock:
            while self._results:
                batch, self._results = self._results, []
                try:
                    await _complete(self.store.record(batch))
                except Exception:  # noqa: BLE001 - keep them and retry at the next flush
                    log.exception("could not record %d delivery results; retrying", len(batch))
                    self._results[:0] = batch
                    return

    async def _release(self, token: str, ids: list[int]) -> None:
        # a cancellation must not leave the rows neither released nor tracked
        await _complete(self._safe(self.store.release(token, ids)))
        for i in ids:
            self._held.pop(i, None)

    async def _replies_for(self, bulletin_id: int, channel: str) -> Sequence[Reply]:
        key = (bulletin_id, channel)
        replies = self._replies.get(key)
        if replies is None:
            replies = self._replies[key] = list(await self.render(bulletin_id, channel))
        return replies

    async def _heartbeat(self) -> None:
        alive = await self._safe(self.store.heartbeat(
            self.worker_id, socket.gethostname(), os.getpid(), self.clock(), self.config.worker_ttl))
        if isinstance(alive, int):
            for pacer in self.pacers.values():
                pacer.set_share(alive)

    async def _housekeeping_once(self) -> None:
        now = self.clock()
        bulletins = await self.store.sending_bulletins()
        self._status = {bid: (PAUSED if bid in self._auto_paused else status) for bid, status in bulletins}
        for bid in set(self._replies_ids()) - set(self._status):
            for key in [k for k in self._replies if k[0] == bid]:
                del self._replies[key]
        if any(s == SENDING for s in self._status.values()):
            self._wake.set()
        pauses = await self.store.channel_pauses(now)
        for channel, until in pauses.items():
            if channel in self.pacers:
                self.pacers[channel].pause_for((until - now).total_seconds())
        await self._flush()  # unflushed results belong to rows still claimed, so the check below is exact
        for bid, status in self._status.items():
            if status == SENDING and await self.store.finish_if_done(bid, now):
                log.info("bulletin %s: delivery finished", bid)

    def _replies_ids(self) -> set[int]:
        return {k[0] for k in self._replies}

    async def _housekeeping(self) -> None:
        loop = asyncio.get_running_loop()
        last_beat = last_reclaim = loop.time()
        while True:
            await asyncio.sleep(self.config.housekeeping_interval)
            try:
                await self._housekeeping_once()
                if loop.time() - last_beat >= self.config.heartbeat_interval:
                    last_beat = loop.time()
                    await self._heartbeat()
                if loop.time() - last_reclaim >= min(60.0, self.config.claim_timeout / 4):
                    last_reclaim = loop.time()
                    older = self.clock() - dt.timedelta(seconds=self.config.claim_timeout)
                    n = await self.store.reclaim_stale(older)
                    if n:
                        log.warning("reclaimed %d deliveries claimed by a worker that stopped", n)
                        self._wake.set()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database may be briefly unavailable
                log.exception("bulletin housekeeping failed; retrying")

    async def _shutdown(self) -> None:
        if self._in_flight:
            for task in list(self._in_flight):
                task.cancel()
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        await self._flush()
        by_token: dict[str, list[int]] = collections.defaultdict(list)
        for delivery_id, token in self._held.items():
            by_token[token].append(delivery_id)
        self._held.clear()
        for token, ids in by_token.items():
            await self._safe(self.store.release(token, ids))
        await self._safe(self.store.unregister(self.worker_id))

    @staticmethod
    async def _safe(awaitable: Awaitable[object]) -> object:
        try:
            return await awaitable
        except Exception:  # noqa: BLE001
            log.exception("bulletin store call failed")
            return None


async def _complete(coro: Awaitable[T], on_cancel: Callable[[T], object] | None = None) -> T:
    """Await ``coro`` to completion even if the caller is cancelled meanwhile, however many times
    (database writes that change what this worker holds must not be cut in half); then re-raise."""
    task = asyncio.ensure_future(coro)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(task)
            break
        except asyncio.CancelledError:
            if not task.done():
                cancelled = True
                continue
            if task.cancelled():
                raise
            if task.exception() is not None:
                if cancelled:
                    raise asyncio.CancelledError from task.exception()
                raise task.exception() from None  # type: ignore[misc]
            result = task.result()
            cancelled = True
            break
    if cancelled:
        if on_cancel is not None:
            on_cancel(result)
        raise asyncio.CancelledError
    return result


def _delivered(exc: DeliveryError, replies: Sequence[Reply]) -> int:
    """Replies that arrived before ``exc`` (as the sender reports it; 0 when it cannot tell)."""
    value = getattr(exc, "delivered", 0)
    return min(max(0, value), len(replies)) if isinstance(value, int) else 0


def _err(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
