"""The one outbound pipeline: every message to a person is a row of ``outbox_messages`` first.

* The immediate replies of a turn (written by the inbox in the turn's closing transaction), an official's
  answer, a status change or rating request (written by the feature in the transaction of the event that
  causes it) — all are rows; the row is the checkpoint of its delivery.
* Before sending a message that is not the immediate reply, the channel's delivery policy
  (:mod:`core.delivery`) decides: send now, **defer** (the row waits as ``deferred`` with the reason and
  goes first when the person next writes: :meth:`Outbox.release_deferred`), or **cannot** (``failed``
  with the reason). Officials see each message's state on the report page (:meth:`Outbox.states`).
* One retry policy for all (:class:`core.delivery.RetryPolicy`, also the bulletin engine's): a temporary
  failure (network, 5xx, rate limit) is tried again after ``retry_minutes`` (``retry_after`` honoured
  when longer); a block or a rejected request is final.
* A feature that owns messages (``ref`` = ``<feature>:...``) may follow their end: ``on_finish[feature]``
  is called in the transaction that marks a row sent, deferred or failed (the bulletin marks its
  delivery row sent when the deferred issue finally goes out).
* Rows are claimed with compare-and-set UPDATEs by a live process (heartbeats in ``processes``, see
  core/inbox.py); a row held by a stopped process is taken over by another.
* A feature that sends some messages itself (the bulletin engine's fast lane) reports them through
  ``sent_elsewhere[feature]`` (:data:`SentSince`): :meth:`Outbox.reach_many` counts them among the
  messages sent since the person last wrote (Zalo OA allows 8), so every policy sees every send.
* Pacing: a channel's sends wait for its pacer (:mod:`core.pacing`), shared with the bulletin engine in
  the process; citizens' messages go ahead of bulletin deliveries inside the cap.
"""
from __future__ import annotations

import asyncio
import collections
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from core.channel import Blocked, DeliveryError, OutsideWindow, PermanentError, QuotaExceeded, RateLimited, Sender
from core.codec import reply_from_dict, reply_to_dict
from core.delivery import ALWAYS, Action, DeliveryPolicy, MessageKind, Reach, RetryPolicy
from core.metrics import EXTERNAL_ERRORS, EXTERNAL_SECONDS, OUTBOUND
from core.pacing import Pacers
from core.storage.db import single, transaction
from core.storage.group import GroupCommit
from core.storage.writes import ClosingWrites
from core.storage.models import InboxEvent, OutboxMessage, Process, User, utcnow
from core.types import Reply

log = logging.getLogger(__name__)

# Citizens' messages before bulletin deliveries (lower goes first).
PRIORITY = {MessageKind.REPLY: 0, MessageKind.OFFICIAL_ANSWER: 10, MessageKind.STATUS_CHANGE: 10,
            MessageKind.BULLETIN: 20}
STATE_LABELS = {  # what officials read on the report page
    "pending": "đang chờ gửi", "sending": "đang gửi", "sent": "đã gửi", "deferred": "chờ người dân nhắn lại",
    "failed": "không gửi được",
}
BlockedFn = Callable[[str, str], Awaitable[None]]
# (session, row, new status, reason): called inside the transaction that finishes the row
FinishHook = Callable[[AsyncSession, OutboxMessage, str, str], Awaitable[None]]
# (channel, external ids, since) -> (external id, sent_at) of each message a feature sent to these people
# after ``since`` — ALL of them, those that went through the outbox (rows whose ``ref`` starts with the
# feature's name) included: the outbox then leaves those rows to the feature so none is counted twice.
SentSince = Callable[[str, Sequence[str], dt.datetime], Awaitable[Sequence[tuple[str, dt.datetime]]]]


@dataclass(frozen=True, slots=True)
class MessageState:
    """One message to a person as officials see it: ``label`` and ``reason`` in Vietnamese."""

    id: int
    kind: str
    status: str
    label: str
    reason: str
    created_at: dt.datetime
    sent_at: dt.datetime | None


# Built once (every turn's closing transaction runs them; see core/storage/repos.py on prebuilt statements).
# (ids in the order of the value sets: a group of turns' replies is one INSERT, core/storage/writes.py)
_INSERT_MESSAGE = insert(OutboxMessage.__table__).returning(OutboxMessage.__table__.c.id, sort_by_parameter_order=True)
_MESSAGES = OutboxMessage.__table__
_RELEASE_DEFERRED = (
    update(_MESSAGES)
    .where(_MESSAGES.c.channel == bindparam("b_channel"), _MESSAGES.c.external_id == bindparam("b_external"),
           _MESSAGES.c.status == "deferred")
    .values(status="pending", claimed_by=bindparam("b_by"), reason="", next_attempt_at=bindparam("b_at"),
            reply_to=bindparam("b_reply_to"))
    .returning(_MESSAGES.c.id))

_MARK_SENT = (update(_MESSAGES).where(_MESSAGES.c.id.in_(bindparam("b_ids", expanding=True)))
              .values(status="sent", reason="", claimed_by=None, attempts=_MESSAGES.c.attempts + 1,
                      sent_at=bindparam("b_at"), tag=bindparam("b_tag")))


class SentMarks:
    """Marks sent messages in groups: one UPDATE for every message that finished sending while the previous
    UPDATE ran (group commit, core/storage/group.py). Under load a turn's own "sent" write is shared with the
    turns around it; alone it is written at once, with no added wait. :meth:`mark` returns when the mark is
    durable, or when the database refused it ``ATTEMPTS`` times: the message WAS sent, so the sender goes
    on and the mark is written later, retried in the background (at most every ``MAX_WAIT`` s) until it lands.

    A crash after a send and before its mark means that message is sent again by whoever takes it over —
    the same as a crash during the send itself: one message per person at most, because a person's next
    event waits until their previous replies are marked (core/inbox.py)."""

    ATTEMPTS = 4  # a database hiccup is retried (0.05, 0.1, 0.2 s) while the senders wait
    MAX_WAIT = 5.0  # seconds between background attempts after that

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Callable[[], dt.datetime]) -> None:
        self.sessions = sessions
        self.clock = clock
        self.group: GroupCommit[tuple[int, str], None] = GroupCommit(self._flush, max_items=500)
        self._later: list[tuple[int, str]] = []  # refused ATTEMPTS times: written in the background
        self._retrying: asyncio.Task[None] | None = None

    async def mark(self, row_id: int, tag: str = "") -> None:
        await asyncio.shield(self.group.enqueue((row_id, tag)))  # a cancelled sender still gets its mark

    @property
    def unmarked(self) -> int:
        """Sent messages whose mark is not written yet (tests, diagnostics)."""
        return self.group.waiting + len(self._later)

    async def _flush(self, marks: list[tuple[int, str]]) -> list[None]:
        for failures in range(1, self.ATTEMPTS + 1):
            if await self._update(marks):
                return [None] * len(marks)
            if failures < self.ATTEMPTS:
                await asyncio.sleep(0.05 * 2 ** (failures - 1))
        self._later += marks  # the senders go on; the marks are written later
        if self._retrying is None or self._retrying.done():
            self._retrying = asyncio.create_task(self._retry())
        return [None] * len(marks)

    async def _retry(self) -> None:
        failures = self.ATTEMPTS
        while self._later:
            await asyncio.sleep(min(self.MAX_WAIT, 0.05 * 2 ** (failures - 1)))
            marks, self._later = self._later, []
            if not await self._update(marks):
                failures += 1
                self._later = marks + self._later

    async def _update(self, group: list[tuple[int, str]]) -> bool:
        by_tag: dict[str, list[int]] = collections.defaultdict(list)
        for row_id, tag in group:
            by_tag[tag].append(row_id)
        try:
            async with single(self.sessions) if len(by_tag) == 1 else transaction(self.sessions) as conn:
                for tag, ids in by_tag.items():
                    await conn.execute(_MARK_SENT, {"b_ids": ids, "b_at": self.clock(), "b_tag": tag})
            return True
        except Exception as exc:  # noqa: BLE001 - retried (see the class docstring)
            log.warning("outbox: marking %d sent messages failed (%s); trying again", len(group), type(exc).__name__)
            return False


class Outbox:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        senders: Mapping[str, Sender],
        *,
        process_id: str,
        policies: Mapping[str, DeliveryPolicy] | None = None,
        pacers: Pacers | None = None,
        on_blocked: BlockedFn | None = None,
        retry_minutes: Sequence[float] = (1, 5, 15, 60, 240),
        retry: RetryPolicy | None = None,
        dead_after: float = 10.0,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        """``senders`` and ``policies``: channel name -> Sender / DeliveryPolicy (read at send time; a
        channel without a policy may always be written to); ``retry_minutes``: waits between attempts of a
        temporary failure, after the last the message is ``failed`` (``retry`` replaces them)."""
        self.sessions = sessions
        self.senders = senders
        self.process_id = process_id
        self.policies = policies if policies is not None else {}
        self.pacers = pacers or Pacers()
        self.on_blocked = on_blocked
        self.retry_minutes = tuple(retry_minutes)
        self.retry = retry or RetryPolicy.minutes(self.retry_minutes)
        self.on_finish: dict[str, FinishHook] = {}  # ref prefix ("bulletin") -> hook
        self.sent_elsewhere: dict[str, SentSince] = {}  # ref prefix ("bulletin") -> what it sent (SentSince)
        self.dead_after = dead_after
        self.clock = clock
        self._sent = SentMarks(sessions, clock)
        self.stopping = False  # set by stop(): a sweep in progress ends after its current message

    # -- writing ----------------------------------------------------------------------------------------
    async def enqueue(self, session: AsyncSession, *, channel: str, external_id: str, replies: Sequence[Reply],
                      kind: MessageKind = MessageKind.STATUS_CHANGE, ref: str = "", reply_to: str = "",
                      claim: bool = False, defer: str = "") -> int:
        """A message owed to a person, in the caller's transaction; returns its id. ``ref`` names what it
        belongs to (``feedback:<report id>``) for :meth:`states`. ``claim``: this process sends it right
        after the commit (the turn's replies). ``defer``: the caller already knows the policy's answer
        (the reason): the message waits as ``deferred`` for the person's next message."""
        row = await self.enqueue_row(session, channel=channel, external_id=external_id, replies=replies, kind=kind,
                                     ref=ref, reply_to=reply_to, claim=claim, defer=defer)
        return int(row.id)

    async def enqueue_row(self, session: AsyncSession | AsyncConnection, *, channel: str, external_id: str,
                          replies: Sequence[Reply], kind: MessageKind = MessageKind.STATUS_CHANGE, ref: str = "",
                          reply_to: str = "", claim: bool = False, defer: str = "") -> OutboxMessage:
        """:meth:`enqueue`, returning the row itself: once the caller's transaction COMMITTED it may hand it
        to :meth:`deliver` (``rows=``) so the delivery does not read it again."""
        values = self._values(channel=channel, external_id=external_id, replies=replies, kind=kind, ref=ref,
                              reply_to=reply_to, claim=claim, defer=defer)
        # One INSERT .. RETURNING id (no unit-of-work flush); the row object is built from the same values,
        # detached, for deliver(rows=...).
        row_id = (await session.execute(_INSERT_MESSAGE, values)).scalar_one()
        return OutboxMessage(id=row_id, **values)

    def owe(self, writes: ClosingWrites, *, channel: str, external_id: str, replies: Sequence[Reply],
            kind: MessageKind = MessageKind.STATUS_CHANGE, ref: str = "", reply_to: str = "",
            claim: bool = False) -> OutboxMessage:
        """:meth:`enqueue_row` among a turn's closing writes (core/storage/writes.py): the row's ``id`` is set
        when the group's INSERT ran; the row may be handed to :meth:`deliver` once that transaction
        committed."""
        values = self._values(channel=channel, external_id=external_id, replies=replies, kind=kind, ref=ref,
                              reply_to=reply_to, claim=claim, defer="")
        row = OutboxMessage(**values)
        writes.add(_INSERT_MESSAGE, values, lambda returned: setattr(row, "id", int(returned[0])))
        return row

    def _values(self, *, channel: str, external_id: str, replies: Sequence[Reply], kind: MessageKind, ref: str,
                reply_to: str, claim: bool, defer: str) -> dict[str, Any]:
        now = self.clock()
        return dict(
            channel=channel, external_id=external_id, kind=MessageKind(kind).value, reply_to=reply_to[:160],
            replies=[reply_to_dict(r) for r in replies], status="deferred" if defer else "pending", attempts=0,
            claimed_by=self.process_id if claim and not defer else None, error="", reason=defer[:200], ref=ref[:64],
            priority=PRIORITY[MessageKind(kind)], next_attempt_at=now, created_at=now, tag="", sent_at=None,
        )

    async def release_deferred(self, session: AsyncSession | AsyncConnection, channel: str, external_id: str,
                               reply_to: str = "") -> list[int]:
        """The person wrote again: their deferred messages become due now (in the caller's transaction),
        as replies to ``reply_to``. Returns their ids, oldest first, for the caller to send first."""
        return sorted((await session.execute(_RELEASE_DEFERRED, {  # every turn's closing transaction runs it
            "b_channel": channel, "b_external": external_id, "b_by": self.process_id, "b_at": self.clock(),
            "b_reply_to": reply_to[:160]})).scalars())

    # -- sending ----------------------------------------------------------------------------------------
    async def deliver(self, ids: Sequence[int], rows: Mapping[int, OutboxMessage] | None = None) -> int:
        """Send rows this process claimed (or that are free), in order; returns how many were sent.
        ``rows``: rows the caller just committed (claimed by this process), used as they are instead of
        being read again."""
        sent = 0
        for row_id in ids:
            try:
                sent += await self._deliver(row_id, claimed=True, row=(rows or {}).get(row_id)) == "sent"
            except Exception:  # noqa: BLE001 - one broken message must not stop the others
                log.exception("outbox: message %s crashed its delivery", row_id)
        return sent

    async def run_once(self, limit: int = 100) -> int:
        """Deliver due messages nobody alive holds (priority, then age) on the channels this process can
        send on (the others are left to the processes that run them); returns how many were sent."""
        if not self.senders:
            return 0
        cutoff = self.clock() - dt.timedelta(seconds=self.dead_after)
        live = select(Process.id).where(Process.heartbeat_at >= cutoff)
        async with self.sessions() as session:
            rows = (await session.execute(
                select(OutboxMessage.id, OutboxMessage.claimed_by)
                .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= self.clock(),
                       OutboxMessage.channel.in_(list(self.senders)),
                       or_(OutboxMessage.claimed_by.is_(None),
                           and_(OutboxMessage.claimed_by != self.process_id, OutboxMessage.claimed_by.not_in(live))))
                .order_by(OutboxMessage.priority, OutboxMessage.id).limit(limit))).all()
        sent = 0
        for row_id, holder in rows:
            if self.stopping:
                break
            if await self._claim(row_id, holder):
                sent += await self._deliver(row_id, claimed=True) == "sent"
        return sent

    def stop(self) -> None:
        """Shutting down: :meth:`run_once` claims nothing more (what it holds is released by the caller,
        ``Inbox.release``); messages handed to :meth:`deliver` are still sent."""
        self.stopping = True

    async def _claim(self, row_id: int, holder: str | None) -> bool:
        same = OutboxMessage.claimed_by.is_(None) if holder is None else OutboxMessage.claimed_by == holder
        async with self.sessions.begin() as session:
            done = await session.execute(update(OutboxMessage).where(
                OutboxMessage.id == row_id, OutboxMessage.status == "pending", same).values(claimed_by=self.process_id))
            return done.rowcount == 1

    async def _deliver(self, row_id: int, *, claimed: bool, row: OutboxMessage | None = None) -> str:
        if row is None:
            async with self.sessions() as session:
                row = await session.get(OutboxMessage, row_id)
        if row is None or row.status != "pending" or (claimed and row.claimed_by not in (None, self.process_id)):
            return "skipped"
        kind = MessageKind(row.kind)
        replies = [reply_from_dict(r) for r in row.replies]
        sender = self.senders.get(row.channel)
        if sender is None:  # the channel does not run in this process (a dashboard or CLI command)
            return await self._leave(row)
        reply_to, tag = row.reply_to, ""
        if kind != MessageKind.REPLY:
            verdict = self.policies.get(row.channel, ALWAYS).decide(kind, await self.reach(row), self.clock())
            if verdict.action == Action.DEFER:
                return await self._finish(row, "deferred", reason=verdict.reason)
            if verdict.action == Action.CANNOT:
                return await self._finish(row, "failed", reason=verdict.reason)
            reply_to, tag = verdict.reply_to or reply_to, verdict.tag
            if verdict.proactive:
                tag = tag or "proactive"
        pacer = self.pacers.get(row.channel)
        calls = max(1, len(replies))
        await pacer.acquire(calls, priority=kind != MessageKind.BULLETIN)
        try:
            await self._send(sender, row, replies, reply_to, tag)
        except Blocked:
            if self.on_blocked is not None:
                await self.on_blocked(row.channel, row.external_id)
            return await self._finish(row, "failed", reason="người dân đã chặn hoặc bỏ theo dõi")
        except (OutsideWindow, QuotaExceeded) as exc:
            if isinstance(exc, OutsideWindow) and exc.retry_after:
                return await self._retry_later(row, "ngoài giờ được gửi tin", exc.retry_after)
            return await self._finish(row, "deferred", reason="nền tảng chưa cho gửi; tin sẽ đi khi người dân nhắn lại")
        except PermanentError as exc:
            log.warning("outbox: message %s rejected by %s: %s", row.id, row.channel, str(exc)[:200])
            return await self._finish(row, "failed", reason="nền tảng từ chối tin nhắn")
        except RateLimited as exc:
            pacer.pause_for(exc.retry_after)
            return await self._retry_later(row, "nền tảng yêu cầu gửi chậm lại", exc.retry_after)
        except DeliveryError as exc:
            return await self._retry_later(row, f"lỗi tạm thời ({type(exc).__name__})", None)
        finally:
            pacer.release(calls)
        return await self._finish(row, "sent", tag=tag)

    async def _send(self, sender: Sender, row: OutboxMessage, replies: list[Reply], reply_to: str, tag: str) -> None:
        """One platform call, timed and counted (core.metrics)."""
        started = time.perf_counter()
        try:
            await sender.send(row.external_id, replies, retry=True, reply_to=reply_to,
                              **({"tag": tag} if tag and tag != "proactive" else {}))
        except Exception as exc:
            EXTERNAL_ERRORS.labels(row.channel, "send", type(exc).__name__).inc()
            raise
        finally:
            EXTERNAL_SECONDS.labels(row.channel, "send").observe(time.perf_counter() - started)

    async def reach(self, row: OutboxMessage) -> Reach:
        """What the policy needs: the person's last message (time and id), what was sent since, and the
        channel's proactive messages this month."""
        return (await self.reach_many(row.channel, [row.external_id]))[row.external_id]

    async def reach_many(self, channel: str, external_ids: Sequence[str]) -> dict[str, Reach]:
        """:meth:`reach` for many people of one channel in a few queries (the bulletin asks per batch).
        ``sent_since_inbound`` counts the outbox's sent rows and what the features registered in
        :attr:`sent_elsewhere` report (one query each)."""
        ids = list(dict.fromkeys(external_ids))
        now = self.clock()
        month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        last: dict[str, tuple[dt.datetime | None, str]] = {}
        since: collections.Counter[str] = collections.Counter()
        async with self.sessions() as session:
            keys = {f"{channel}:{x}": x for x in ids}
            newest = (select(func.max(InboxEvent.id)).where(InboxEvent.user_key.in_(list(keys)))
                      .group_by(InboxEvent.user_key))
            for key, at, payload in (await session.execute(
                    select(InboxEvent.user_key, InboxEvent.received_at, InboxEvent.payload)
                    .where(InboxEvent.id.in_(newest)))).all():
                last[keys[key]] = (at, str((payload or {}).get("message_id", "")))
            missing = [x for x in ids if x not in last]
            if missing:  # events pruned (or a user from before the inbox): the user row knows when
                for x, seen in (await session.execute(select(User.external_id, User.last_seen).where(
                        User.channel == channel, User.external_id.in_(missing)))).all():
                    last[x] = (seen, "")
            known = [at for at, _ in last.values() if at is not None]
            if known:
                query = select(OutboxMessage.external_id, OutboxMessage.sent_at).where(
                    OutboxMessage.channel == channel, OutboxMessage.external_id.in_(ids),
                    OutboxMessage.status == "sent", OutboxMessage.sent_at > min(known))
                for prefix in self.sent_elsewhere:  # those rows are among what the feature reports
                    query = query.where(OutboxMessage.ref.not_like(f"{prefix}:%"))
                for x, sent_at in (await session.execute(query)).all():
                    at = last.get(x, (None, ""))[0]
                    if at is not None and sent_at is not None and sent_at > at:
                        since[x] += 1
            proactive = int(await session.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.channel == channel, OutboxMessage.tag == "proactive",
                OutboxMessage.status == "sent", OutboxMessage.sent_at >= month)) or 0)
        if known:
            for sent_since in list(self.sent_elsewhere.values()):
                for x, sent_at in await sent_since(channel, ids, min(known)):
                    at = last.get(x, (None, ""))[0]
                    if at is not None and sent_at > at:
                        since[x] += 1
        return {x: Reach(last_inbound=last.get(x, (None, ""))[0], last_message_id=last.get(x, (None, ""))[1],
                         sent_since_inbound=since[x], proactive_this_month=proactive) for x in ids}

    async def _finish(self, row: OutboxMessage, status: str, *, reason: str = "", tag: str = "") -> str:
        hook = self.on_finish.get(row.ref.split(":", 1)[0]) if row.ref else None
        if status == "sent" and hook is None:
            await self._sent.mark(row.id, tag[:32])  # grouped with the other sends of this moment
            OUTBOUND.labels(row.channel, status).inc()
            return status
        values: dict[str, Any] = {"status": status, "reason": reason[:200], "claimed_by": None,
                                  "attempts": OutboxMessage.attempts + 1}
        if status == "sent":
            values.update(sent_at=self.clock(), tag=tag[:32])
        async with self.sessions.begin() as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(**values))
            if hook is not None:
                await hook(session, row, status, reason)
        OUTBOUND.labels(row.channel, status).inc()
        if status != "sent":
            log.info("outbox: message %s on %s %s", row.id, row.channel, status)
        return status

    async def _leave(self, row: OutboxMessage) -> str:
        """Give the message back, still due and with no attempt counted: a process that runs the channel
        (``run``, ``worker``) sends it at its next sweep instead of after a retry wait."""
        log.info("outbox: no sender for channel %s here; message %s left to the sending processes", row.channel,
                 row.id)
        async with self.sessions.begin() as session:
            await session.execute(update(OutboxMessage).where(
                OutboxMessage.id == row.id, OutboxMessage.status == "pending",
                or_(OutboxMessage.claimed_by.is_(None), OutboxMessage.claimed_by == self.process_id))
                .values(claimed_by=None, reason="chưa có kênh để gửi"))
        return "pending"

    async def _retry_later(self, row: OutboxMessage, reason: str, retry_after: float | None) -> str:
        attempt = row.attempts + 1
        seconds = self.retry.next_wait(attempt, retry_after)
        if seconds is None:
            return await self._finish(row, "failed", reason=f"{reason}; đã thử {attempt} lần")
        wait = dt.timedelta(seconds=seconds)
        async with self.sessions.begin() as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(
                attempts=attempt, claimed_by=None, reason=reason[:200], next_attempt_at=self.clock() + wait))
        OUTBOUND.labels(row.channel, "retry").inc()
        return "pending"

    # -- reading ----------------------------------------------------------------------------------------
    async def states(self, ref: str) -> list[MessageState]:
        """Every message that belongs to ``ref``, oldest first, as officials see it."""
        async with self.sessions() as session:
            rows = (await session.execute(select(OutboxMessage).where(OutboxMessage.ref == ref)
                                          .order_by(OutboxMessage.id))).scalars().all()
        return [MessageState(r.id, r.kind, r.status, STATE_LABELS.get(r.status, r.status), r.reason, r.created_at,
                             r.sent_at) for r in rows]
