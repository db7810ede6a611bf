"""The one outbound pipeline: every message to a person is a row of ``outbox_messages`` first.

* The immediate replies of a turn (written by the inbox in the turn's closing transaction), an official's
  answer, a status change or rating request (written by the feature in the transaction of the event that
  causes it) — all are rows; the row is the checkpoint of its delivery.
* Before sending a message that is not the immediate reply, the channel's delivery policy
  (:mod:`core.delivery`) decides: send now, **defer** (the row waits as ``deferred`` with the reason and
  goes first when the person next writes: :meth:`Outbox.release_deferred`), or **cannot** (``failed``
  with the reason). Officials see each message's state on the report page (:meth:`Outbox.states`).
* One retry policy for all: a temporary failure (network, 5xx, rate limit) is tried again after
  ``retry_minutes`` (``retry_after`` honoured when longer); a block or a rejected request is final.
* Rows are claimed with compare-and-set UPDATEs by a live process (heartbeats in ``processes``, see
  core/inbox.py); a row held by a stopped process is taken over by another.
* Pacing: a channel's sends wait for its pacer (:mod:`core.pacing`), shared with the bulletin engine in
  the process; citizens' messages go ahead of bulletin deliveries inside the cap.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.channel import Blocked, DeliveryError, OutsideWindow, PermanentError, QuotaExceeded, RateLimited, Sender
from core.codec import reply_from_dict, reply_to_dict
from core.metrics import EXTERNAL_ERRORS, EXTERNAL_SECONDS, OUTBOUND
from core.delivery import ALWAYS, Action, DeliveryPolicy, MessageKind, Reach
from core.pacing import Pacers
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
        dead_after: float = 10.0,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        """``senders`` and ``policies``: channel name -> Sender / DeliveryPolicy (read at send time; a
        channel without a policy may always be written to); ``retry_minutes``: waits between attempts of a
        temporary failure, after the last the message is ``failed``."""
        self.sessions = sessions
        self.senders = senders
        self.process_id = process_id
        self.policies = policies if policies is not None else {}
        self.pacers = pacers or Pacers()
        self.on_blocked = on_blocked
        self.retry_minutes = tuple(retry_minutes)
        self.dead_after = dead_after
        self.clock = clock

    # -- writing ----------------------------------------------------------------------------------------
    async def enqueue(self, session: AsyncSession, *, channel: str, external_id: str, replies: Sequence[Reply],
                      kind: MessageKind = MessageKind.STATUS_CHANGE, ref: str = "", reply_to: str = "",
                      claim: bool = False) -> int:
        """A message owed to a person, in the caller's transaction; returns its id. ``ref`` names what it
        belongs to (``feedback:<report id>``) for :meth:`states`. ``claim``: this process sends it right
        after the commit (the turn's replies)."""
        row = await self.enqueue_row(session, channel=channel, external_id=external_id, replies=replies, kind=kind,
                                     ref=ref, reply_to=reply_to, claim=claim)
        return int(row.id)

    async def enqueue_row(self, session: AsyncSession, *, channel: str, external_id: str, replies: Sequence[Reply],
                          kind: MessageKind = MessageKind.STATUS_CHANGE, ref: str = "", reply_to: str = "",
                          claim: bool = False) -> OutboxMessage:
        """:meth:`enqueue`, returning the row itself: once the caller's transaction COMMITTED it may hand it
        to :meth:`deliver` (``rows=``) so the delivery does not read it again."""
        row = OutboxMessage(
            channel=channel, external_id=external_id, kind=MessageKind(kind).value, reply_to=reply_to[:160],
            replies=[reply_to_dict(r) for r in replies], status="pending", attempts=0,
            claimed_by=self.process_id if claim else None, error="", reason="", ref=ref[:64],
            priority=PRIORITY[MessageKind(kind)], next_attempt_at=self.clock(), created_at=self.clock(),
        )
        session.add(row)
        await session.flush()
        return row

    async def release_deferred(self, session: AsyncSession, channel: str, external_id: str,
                               reply_to: str = "") -> list[int]:
        """The person wrote again: their deferred messages become due now (in the caller's transaction),
        as replies to ``reply_to``. Returns their ids, oldest first, for the caller to send first."""
        ids = list((await session.execute(
            select(OutboxMessage.id).where(OutboxMessage.channel == channel, OutboxMessage.external_id == external_id,
                                           OutboxMessage.status == "deferred").order_by(OutboxMessage.id))).scalars())
        if ids:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(
                status="pending", claimed_by=self.process_id, reason="", next_attempt_at=self.clock(),
                reply_to=reply_to[:160]))
        return ids

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
        """Deliver due messages nobody alive holds (priority, then age); returns how many were sent."""
        cutoff = self.clock() - dt.timedelta(seconds=self.dead_after)
        live = select(Process.id).where(Process.heartbeat_at >= cutoff)
        async with self.sessions() as session:
            rows = (await session.execute(
                select(OutboxMessage.id, OutboxMessage.claimed_by)
                .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= self.clock(),
                       or_(OutboxMessage.claimed_by.is_(None),
                           and_(OutboxMessage.claimed_by != self.process_id, OutboxMessage.claimed_by.not_in(live))))
                .order_by(OutboxMessage.priority, OutboxMessage.id).limit(limit))).all()
        sent = 0
        for row_id, holder in rows:
            if await self._claim(row_id, holder):
                sent += await self._deliver(row_id, claimed=True) == "sent"
        return sent

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
        if sender is None:  # the channel does not run in this process (yet): another may send it
            log.info("outbox: no sender for channel %s here; message %s waits", row.channel, row.id)
            return await self._retry_later(row, "chưa có kênh để gửi", None)
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
        key = f"{row.channel}:{row.external_id}"
        now = self.clock()
        month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        async with self.sessions() as session:
            last = (await session.execute(
                select(InboxEvent.received_at, InboxEvent.payload).where(InboxEvent.user_key == key)
                .order_by(InboxEvent.id.desc()).limit(1))).first()
            if last is None:  # events pruned (or a user from before the inbox): the user row knows when
                seen = await session.scalar(select(User.last_seen).where(
                    User.channel == row.channel, User.external_id == row.external_id))
                last_at, last_id = seen, ""
            else:
                last_at, last_id = last[0], str((last[1] or {}).get("message_id", ""))
            since = 0
            if last_at is not None:
                since = int(await session.scalar(select(func.count()).select_from(OutboxMessage).where(
                    OutboxMessage.channel == row.channel, OutboxMessage.external_id == row.external_id,
                    OutboxMessage.status == "sent", OutboxMessage.sent_at > last_at)) or 0)
            proactive = int(await session.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.channel == row.channel, OutboxMessage.tag == "proactive",
                OutboxMessage.status == "sent", OutboxMessage.sent_at >= month)) or 0)
        return Reach(last_inbound=last_at, last_message_id=last_id, sent_since_inbound=since,
                     proactive_this_month=proactive)

    async def _finish(self, row: OutboxMessage, status: str, *, reason: str = "", tag: str = "") -> str:
        values: dict[str, Any] = {"status": status, "reason": reason[:200], "claimed_by": None,
                                  "attempts": OutboxMessage.attempts + 1}
        if status == "sent":
            values.update(sent_at=self.clock(), tag=tag[:32])
        async with self.sessions.begin() as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(**values))
        OUTBOUND.labels(row.channel, status).inc()
        if status != "sent":
            log.info("outbox: message %s on %s %s", row.id, row.channel, status)
        return status

    async def _retry_later(self, row: OutboxMessage, reason: str, retry_after: float | None) -> str:
        attempt = row.attempts + 1
        if attempt > len(self.retry_minutes):
            return await self._finish(row, "failed", reason=f"{reason}; đã thử {attempt} lần")
        wait = dt.timedelta(minutes=self.retry_minutes[attempt - 1])
        if retry_after is not None:
            wait = max(wait, dt.timedelta(seconds=retry_after))
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
