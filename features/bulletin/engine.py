"""The delivery engine: drains ``sending`` bulletins through each channel's Sender at the platform's pace.

Depends on two small interfaces (as listmonk's campaign manager does with its store and messengers):
a :class:`~features.bulletin.store.DeliveryStore` (the delivery rows are the checkpoint) and
:class:`core.channel.Sender` per channel (``send(user_id, replies, retry=False)`` raising typed errors).

The engine is the bulletin's fast lane of the core's outbound pipeline (core/outbox.py), sharing its
parts: the process's pacers (:class:`core.pacing.Pacers`, ONE per channel: citizens' messages from the
outbox acquire with priority and go ahead of bulletin deliveries inside the same cap), the channels'
delivery policies, the retry rule (:class:`core.delivery.RetryPolicy`) and the process id with its
heartbeat in ``processes`` (core/inbox.py). The live processes split each channel's cap.

Per channel, one producer claims batches of pending rows (atomic ``UPDATE ... RETURNING``; PostgreSQL adds
``FOR UPDATE SKIP LOCKED``) into a bounded queue. On a channel with a delivery policy it asks the policy
per subscriber (kind BULLETIN, with the outbox's reach data for the whole batch): those it may reach now
are queued (a Zalo free reply carries the subscriber's last message id); the others are handed to the
outbox in one transaction — ``deferred`` (the issue, after "Bạn có bản tin mới", goes first when they next
write) or ``queued`` (a proactive message: the outbox alone counts the monthly quota). One consumer takes
rows, waits for the channel's pacer, and starts the send (at most ``max_in_flight`` at once). Results are
buffered and written in batches (every ``flush_interval`` s). Memory is bounded by queue + in-flight +
buffer, whatever the audience size.

Crash safety: claimed rows carry a token, a time and the process id; a kill -9 leaves them ``sending``
and any live process hands them back to ``pending`` as soon as the holder's heartbeat is older than
``dead_after`` seconds (the outbox's, ``CCHC_INBOX_DEAD_AFTER``). Rows never sent are therefore never
skipped; the only possible duplicates are messages that were in flight (or sent but not yet flushed) at
the crash. A clean stop (task cancelled) flushes results and releases unsent claims at once.

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
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from features.bulletin.models import BLOCKED, DEFERRED, DELIVERED, FAILED, PAUSED, PENDING, QUEUED, SENDING
from features.bulletin.store import Claim, DeliveryStore, HandOver, Outcome
from core.channel import (
    Blocked, DeliveryError, OutsideWindow, PermanentError, QuotaExceeded, RateLimited, Sender, TransientError,
)
from core.delivery import Action, DeliveryPolicy, MessageKind, Reach, RetryPolicy, Verdict
from core.inbox import new_process_id
from core.outbox import Outbox
from core.pacing import ChannelPacer, Pacers
from core.types import Reply


def api_calls(replies: Sequence[Reply]) -> int:
    """API calls one send makes (what the limiter counts): one per part, plus a photo."""
    return sum(1 + bool(r.image_url) for r in replies) or 1

log = logging.getLogger(__name__)
T = TypeVar("T")

Renderer = Callable[[int, str], Awaitable[Sequence[Reply]]]  # (bulletin id, channel) -> replies
# (bulletin id, channel) -> "Bạn có bản tin mới" before the issue, for a subscriber who gets it late
NoticeRenderer = Callable[[int, str], Awaitable[Sequence[Reply]]]


@dataclass(frozen=True, slots=True)
class _Send:
    """How to send one claimed row: as a reply to the subscriber's last message (Zalo's free reply)
    and/or with a platform tag (Messenger), as the channel's policy said."""

    reply_to: str = ""
    tag: str = ""


_DIRECT = _Send()


@dataclass
class EngineConfig:
    """Delivery settings; ``content/bulletin.yaml`` (``delivery:``) overrides the defaults."""

    rates: dict[str, float] = field(default_factory=lambda: {"telegram": 30.0})  # platform cap, msg/s
    # channels sending as paid broadcasts (``Sender.send(..., paid_broadcast=True)``; Telegram's
    # allow_paid_broadcast lifts its cap to 1000 msg/s); the pace still follows ``rates``
    paid_broadcast: frozenset[str] = frozenset()
    default_rate: float = 20.0  # for channels not listed in ``rates``
    # The pacer (core/pacing.py) paces at the cap and lets exactly the cap into any platform window: its
    # window ceiling counts requests as the platform could, so no margin is needed (29 of 30 cost 3 %).
    # A small bucket (``burst_seconds`` of sends, at least 2) absorbs event-loop wake-up latency.
    safety: float = 1.0
    burst_seconds: float = 0.02
    window_fill: float = 1.0
    batch_size: int = 0  # rows per claim; 0 = about one second of sends (10..500)
    max_in_flight: int = 64
    max_attempts: int = 5
    backoff_base: float = 5.0  # s; transient error n waits base * 2**(n-1) (with jitter), up to backoff_max
    backoff_max: float = 600.0
    max_retry_after: float = 3600.0
    # s without a heartbeat after which a process's claims are taken over (the outbox's value when the
    # engine runs on the process's outbox)
    dead_after: float = 10.0
    flush_interval: float = 0.25
    flush_size: int = 200
    error_window: int = 200  # outcomes considered for the auto-pause
    error_min_sample: int = 30
    error_threshold: float = 0.5  # share of failed attempts that pauses the bulletin
    idle_poll: float = 1.0
    housekeeping_interval: float = 0.5
    heartbeat_interval: float = 2.0  # at most dead_after / 4

    def rate(self, channel: str) -> float:
        return float(self.rates.get(channel, self.default_rate))

    def batch(self, channel: str) -> int:
        if self.batch_size:
            return self.batch_size
        return int(min(500, max(10, self.rate(channel))))

    def retry(self) -> RetryPolicy:
        """The pipeline's retry rule with the bulletin's numbers (``max_attempts`` tries in all)."""
        return RetryPolicy.exponential(self.backoff_base, self.backoff_max, self.max_attempts, jitter=0.5)


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
        outbox: Outbox | None = None,
        notice: NoticeRenderer | None = None,
        worker_id: str | None = None,
        pacers: Pacers | None = None,
    ) -> None:
        """``outbox``: the process's outbound pipeline (``services.outbox``): its pacers, delivery policies,
        process id and ``dead_after`` are the engine's, and deferred issues become its rows. Without one
        (benchmarks, engine tests) the engine has its own pacers and process id and every channel is
        "always" (Telegram's rule). ``notice``: the line before an issue that arrives late."""
        self.store = store
        self.senders = senders
        self.render = render
        self.notice = notice
        self.config = config or EngineConfig()
        self.clock = clock
        self.outbox = outbox
        self.worker_id = worker_id or (outbox.process_id if outbox is not None else new_process_id())
        self.pacers = pacers or (outbox.pacers if outbox is not None else Pacers())
        self.policies: Mapping[str, DeliveryPolicy] = outbox.policies if outbox is not None else {}
        if outbox is not None:
            self.config.dead_after = outbox.dead_after
            # the issues it sends count among the messages since the person last wrote, for every sender
            outbox.sent_elsewhere.setdefault("bulletin", store.sent_since)  # its outbox rows: ref "bulletin:<id>"
        self.retry = self.config.retry()
        self._status: dict[int, str] = {}  # bulletin id -> status seen by housekeeping
        self._stats: dict[int, _BulletinStats] = {}
        self._replies: dict[tuple[int, str], Sequence[Reply]] = {}
        self._results: list[Outcome] = []
        self._flush_lock = asyncio.Lock()
        self._auto_paused: set[int] = set()
        self._held: dict[int, str] = {}  # claimed, not yet attempted: delivery id -> token
        self._in_flight: set[asyncio.Task[None]] = set()
        # flushes and auto-pauses started from a send's completion: awaited before run() returns, so no
        # write of this engine is still pending when the caller closes the database (a worker process that
        # exited with one left hung in asyncio.run's final cancellation, its write shielded by _complete)
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self.sent = 0  # counters for this process (benchmarks, logs)
        self.errors = 0

    # -- public ------------------------------------------------------------------------------------
    def pacer(self, channel: str) -> ChannelPacer:
        """The process's ONE pacer of ``channel`` (shared with the outbox), at the cap of bulletin.yaml
        (or the operator's ``CCHC_RATE_<CHANNEL>``)."""
        cfg = self.config
        return self.pacers.configure(channel, cfg.rate(channel), safety=cfg.safety, burst_seconds=cfg.burst_seconds,
                                     window_fill=cfg.window_fill)

    def wake(self) -> None:
        """A bulletin started or resumed: look for work now instead of at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        """Run until cancelled; on cancellation flush results and release unsent claims."""
        for channel in self.senders:
            self.pacer(channel)
        await self._heartbeat()
        await self._safe(self.store.reclaim_dead(self.clock() - dt.timedelta(seconds=self.config.dead_after),
                                                 self.worker_id))
        await self._housekeeping_once()
        tasks = [asyncio.create_task(self._housekeeping(), name="bulletin-housekeeping"),
                 asyncio.create_task(self._heartbeats(), name="bulletin-heartbeat")]
        tasks += [asyncio.create_task(self._channel_loop(ch), name=f"bulletin-{ch}") for ch in self.senders]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.shield(self._shutdown())
            while self._side_tasks:  # (a cancelled send may start one more flush while shutting down)
                await asyncio.shield(asyncio.gather(*self._side_tasks, return_exceptions=True))

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
        queue: asyncio.Queue[tuple[Claim, str, _Send]] = asyncio.Queue(maxsize=self.config.batch(channel))
        producer = asyncio.create_task(self._produce(channel, queue))
        try:
            await self._consume(channel, queue)
        finally:
            producer.cancel()
            await asyncio.gather(producer, return_exceptions=True)

    async def _produce(self, channel: str, queue: asyncio.Queue[tuple[Claim, str, _Send]]) -> None:
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
                        sendable = await self._by_policy(channel, rows, token)
                    except asyncio.CancelledError:
                        raise
                    except Exception:  # noqa: BLE001 - database hiccup: try again after a pause
                        log.exception("claiming bulletin deliveries failed; retrying")
                        await self._release(token, [i for i, t in list(self._held.items()) if t == token])
                        await asyncio.sleep(self.config.idle_poll)
                        break
                    for row, how in sendable:
                        await queue.put((row, token, how))
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
            rows = await _complete(self.store.claim(bulletin_id, channel, limit, token, self.clock(), self.worker_id),
                                   on_cancel=lambda r: self._held.update({row.id: token for row in r}))
        finally:
            for row in rows:
                self._held[row.id] = token
        return rows

    async def _by_policy(self, channel: str, rows: list[Claim], token: str) -> list[tuple[Claim, _Send]]:
        """Ask the channel's delivery policy about each claimed subscriber (one reach query per batch);
        returns the rows to send now, with how. The others go to the outbox (deferred or queued) or fail
        with the policy's reason."""
        policy = self.policies.get(channel)
        if policy is None or self.outbox is None or not rows:
            return [(row, _DIRECT) for row in rows]
        reach = await self._reach(channel, rows)
        now = self.clock()
        sendable: list[tuple[Claim, _Send]] = []
        handed: list[HandOver] = []
        for row in rows:
            verdict: Verdict = policy.decide(MessageKind.BULLETIN, reach[row.external_id], now)
            if verdict.action == Action.SEND and not verdict.proactive:
                sendable.append((row, _Send(verdict.reply_to, verdict.tag)))
            elif verdict.action == Action.SEND:  # a proactive message: only the outbox counts the quota
                replies = (await self._replies_for(row.bulletin_id, channel))[row.parts_sent:]
                handed.append(HandOver(row, QUEUED, "gửi bằng tin chủ động qua hàng đợi", replies))
            elif verdict.action == Action.DEFER:
                handed.append(HandOver(row, DEFERRED, verdict.reason, await self._late(row, channel, row.parts_sent)))
            else:
                self._add(Outcome(row.id, row.user_id, FAILED, token, verdict.reason or "không gửi được",
                                  parts_sent=row.parts_sent))
        if handed:
            await self._hand_over(channel, token, handed)
        return sendable

    async def _reach(self, channel: str, rows: list[Claim]) -> dict[str, Reach]:
        """The outbox's reach data: its own messages and the issues sent since each person last wrote
        (the delivery store reports them through ``Outbox.sent_elsewhere``; registered in ``__init__``)."""
        assert self.outbox is not None
        return await self.outbox.reach_many(channel, [row.external_id for row in rows])

    async def _late(self, row: Claim, channel: str, parts_sent: int) -> list[Reply]:
        """What a subscriber reached late gets: "Bạn có bản tin mới", then the parts not yet sent."""
        notice = list(await self.notice(row.bulletin_id, channel)) if self.notice is not None else []
        return [*notice, *(await self._replies_for(row.bulletin_id, channel))[parts_sent:]]

    async def _hand_over(self, channel: str, token: str, items: list[HandOver]) -> None:
        assert self.outbox is not None
        # one transaction: handed over, or (it failed) still held, released by the caller or at shutdown
        await _complete(self.store.hand_over(token, items, self.outbox, channel))
        for item in items:
            self._held.pop(item.claim.id, None)
        deferred = sum(item.status == DEFERRED for item in items)
        if deferred:
            log.info("bulletin: %d subscribers on %s outside the channel's window, deferred", deferred, channel)

    async def _consume(self, channel: str, queue: asyncio.Queue[tuple[Claim, str, _Send]]) -> None:
        pacer = self.pacer(channel)
        slots = asyncio.Semaphore(self.config.max_in_flight)
        sender = self.senders[channel]
        while True:
            row, token, how = await queue.get()
            if self._status.get(row.bulletin_id) != SENDING:
                await self._release(token, [row.id])
                continue
            # a multi-part issue resumes at the first part that did not arrive (row.parts_sent)
            replies = (await self._replies_for(row.bulletin_id, channel))[row.parts_sent:]
            calls = api_calls(replies)
            await slots.acquire()
            await pacer.acquire(calls)  # ordinary priority: the outbox's messages to citizens go first
            if self._status.get(row.bulletin_id) != SENDING:  # paused/cancelled while we waited
                pacer.release(calls)
                slots.release()
                await self._release(token, [row.id])
                continue
            task = asyncio.create_task(self._send_one(sender, pacer, row, token, replies, how))
            self._in_flight.add(task)
            task.add_done_callback(lambda t: (self._in_flight.discard(t), slots.release()))

    async def _send_one(self, sender: Sender, pacer: ChannelPacer, row: Claim, token: str,
                        replies: Sequence[Reply], how: _Send) -> None:
        try:
            await self._attempt(sender, pacer, row, token, replies, how)
        finally:
            pacer.release(api_calls(replies))

    async def _attempt(self, sender: Sender, pacer: ChannelPacer, row: Claim, token: str,
                       replies: Sequence[Reply], how: _Send = _DIRECT) -> None:
        """Send ``replies`` (the parts of the issue not yet delivered to this subscriber, after
        ``row.parts_sent``) and buffer the outcome, with the parts known to have arrived."""
        cfg = self.config
        now = self.clock()
        done = row.parts_sent
        try:
            if replies:
                kwargs: dict[str, Any] = {}  # senders that know no paid broadcast/reply are never asked
                if pacer.channel in cfg.paid_broadcast:
                    kwargs["paid_broadcast"] = True
                if how.reply_to:
                    kwargs["reply_to"] = how.reply_to
                if how.tag:
                    kwargs["tag"] = how.tag
                await sender.send(row.external_id, replies, retry=False, **kwargs)
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
        except (OutsideWindow, QuotaExceeded) as exc:  # the platform disagreed with the policy
            done += _delivered(exc, replies)
            if isinstance(exc, OutsideWindow) and exc.retry_after:  # e.g. a night ban: try again then
                self._add(Outcome(row.id, row.user_id, PENDING, token, _err(exc), count_attempt=False,
                                  next_attempt_at=self.clock() + dt.timedelta(seconds=exc.retry_after),
                                  parts_sent=done))
            elif self.outbox is not None:
                reason = "Nền tảng chưa cho gửi; bản tin sẽ được gửi khi người dân nhắn lại."
                await self._safe(self._hand_over(pacer.channel, token,
                                                 [HandOver(row, DEFERRED, reason, await self._late(row, pacer.channel, done))]))
            else:
                self._add(Outcome(row.id, row.user_id, FAILED, token, _err(exc), parts_sent=done))
            return
        except TransientError as exc:
            done += _delivered(exc, replies)
            self._count(row.bulletin_id, error=True)
            wait = self.retry.next_wait(row.attempts + 1)  # this attempt included
            if wait is None:
                self._add(Outcome(row.id, row.user_id, FAILED, token, _err(exc), parts_sent=done))
            else:
                self._add(Outcome(row.id, row.user_id, PENDING, token, _err(exc),
                                  next_attempt_at=self.clock() + dt.timedelta(seconds=wait), parts_sent=done))
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
            self._side_task(self._auto_pause(bulletin_id, reason))

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
            self._side_task(self._flush())

    def _side_task(self, coro: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

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
        """Beat in ``processes`` and split the channels' caps among the live processes."""
        now = self.clock()
        alive = await self._safe(self.store.heartbeat(
            self.worker_id, now, now - dt.timedelta(seconds=self.config.dead_after)))
        if isinstance(alive, int):
            self.pacers.set_share(alive)

    async def _heartbeats(self) -> None:
        # several beats per dead_after, so a live process never looks dead to the others
        interval = min(self.config.heartbeat_interval, self.config.dead_after / 4)
        while True:
            await asyncio.sleep(interval)
            await self._heartbeat()
            try:
                n = await self.store.reclaim_dead(self.clock() - dt.timedelta(seconds=self.config.dead_after),
                                                  self.worker_id)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database may be briefly unavailable
                log.exception("bulletin: taking over stopped processes' claims failed; retrying")
                continue
            if n:
                log.warning("bulletin: took over %d deliveries claimed by a process that stopped", n)
                self._wake.set()

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
            if channel in self.senders:
                self.pacer(channel).pause_for((until - now).total_seconds())
        await self._flush()  # unflushed results belong to rows still claimed, so the check below is exact
        for bid, status in self._status.items():
            if status == SENDING and await self.store.finish_if_done(bid, now):
                log.info("bulletin %s: delivery finished", bid)

    def _replies_ids(self) -> set[int]:
        return {k[0] for k in self._replies}

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(self.config.housekeeping_interval)
            try:
                await self._housekeeping_once()
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
        # (the process's row in `processes` stays: the inbox of this process may still be running; a
        # stopped process's row simply ages out of the live count)

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
