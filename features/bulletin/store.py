"""SQL access for the bulletin: subscriptions, bulletins, and the delivery checkpoint the engine uses.

Every method is one short transaction. Claiming is a single ``UPDATE ... WHERE id IN (SELECT ... LIMIT n)
RETURNING`` — with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so concurrent workers take disjoint rows
without waiting; on SQLite the database-wide write lock makes the one statement atomic. Audience rows are
created with ``INSERT ... SELECT`` inside the database, so nothing here loads every subscriber.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import and_, bindparam, delete, exists, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from features.bulletin.models import (
    BLOCKED, CANCELLED, CLAIMED, DEFERRED, DELIVERED, DRAFT, FAILED, PAUSED, PENDING, QUEUED, SCHEDULED, SENDING,
    SENT, SKIPPED, Bulletin, ChannelPause, Delivery, Subscriber, SubscriberTopic,
)
from core.delivery import MessageKind
from core.inbox import beat, live_process_ids, live_processes
from core.outbox import Outbox
from core.storage.models import OutboxMessage, User, utcnow
from core.storage.upsert import insert_for
from core.types import Reply

D = Delivery.__table__


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    bulletin_id: int
    user_id: int
    external_id: str
    attempts: int = 0  # attempts recorded before this claim
    parts_sent: int = 0  # parts of a multi-part issue that already arrived (resume after them)


@dataclass(slots=True)
class Outcome:
    """What happened to one claimed delivery; written back in batches by ``record``."""

    id: int
    user_id: int
    status: str  # DELIVERED, FAILED, BLOCKED, or PENDING (retry later: transient / rate limited)
    token: str
    error: str = ""
    next_attempt_at: dt.datetime | None = None
    count_attempt: bool = True  # False for 429 (the platform refused before trying)
    at: dt.datetime | None = None
    parts_sent: int = 0  # parts known to have arrived (all of them when DELIVERED)


@dataclass(frozen=True, slots=True)
class HandOver:
    """A claimed delivery the engine does not send itself: it becomes an outbox row (``ref``
    ``bulletin:<id>``) — ``deferred`` (waits for the subscriber's next message, with ``reason``) or
    ``queued`` (the outbox sends it now, e.g. as a proactive message)."""

    claim: Claim
    status: str  # DEFERRED or QUEUED
    reason: str
    replies: Sequence[Reply]


@dataclass(frozen=True, slots=True)
class Progress:
    bulletin_id: int
    status: str
    audience: int
    pending: int
    sending: int
    sent: int
    failed: int
    blocked: int
    skipped: int
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    first_sent_at: dt.datetime | None
    last_sent_at: dt.datetime | None
    paused_reason: str = ""
    deferred: int = 0  # waiting for the subscriber's next message (the channel's window)
    queued: int = 0  # handed to the outbox to send now
    # channel -> {"sent", "deferred", "failed", "pending"} (failed includes blocked; pending: not yet
    # attempted, being sent or queued in the outbox)
    by_channel: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.blocked + self.skipped + self.deferred

    @property
    def achieved_rate(self) -> float:
        """Messages per second between the first and the last successful send."""
        if self.sent < 2 or not self.first_sent_at or not self.last_sent_at:
            return 0.0
        span = (self.last_sent_at - self.first_sent_at).total_seconds()
        return round((self.sent - 1) / span, 2) if span > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        iso = lambda v: v.isoformat() if v else None  # noqa: E731
        return {
            "bulletin_id": self.bulletin_id, "status": self.status, "audience": self.audience,
            "pending": self.pending, "sending": self.sending, "sent": self.sent, "failed": self.failed,
            "blocked": self.blocked, "skipped": self.skipped, "deferred": self.deferred, "queued": self.queued,
            "by_channel": self.by_channel, "achieved_rate": self.achieved_rate,
            "started_at": iso(self.started_at), "finished_at": iso(self.finished_at),
            "paused_reason": self.paused_reason,
        }


class DeliveryStore(Protocol):
    """What the delivery engine needs from storage (the SQL implementation is :class:`BulletinStore`)."""

    async def sending_bulletins(self) -> list[tuple[int, str]]: ...
    async def claim(self, bulletin_id: int, channel: str, limit: int, token: str, now: dt.datetime,
                    holder: str) -> list[Claim]: ...
    async def record(self, outcomes: Sequence[Outcome]) -> None: ...

    async def release(self, token: str, ids: Iterable[int]) -> None: ...
    async def reclaim_dead(self, live_since: dt.datetime, me: str) -> int: ...
    async def finish_if_done(self, bulletin_id: int, now: dt.datetime) -> bool: ...
    async def pause(self, bulletin_id: int, reason: str) -> bool: ...
    async def heartbeat(self, process_id: str, now: dt.datetime, live_since: dt.datetime) -> int: ...
    async def hand_over(self, token: str, items: Sequence[HandOver], outbox: Outbox, channel: str) -> int: ...
    async def sent_since(self, channel: str, external_ids: Sequence[str],
                         since: dt.datetime) -> list[tuple[str, dt.datetime]]: ...
    async def set_channel_pause(self, channel: str, until: dt.datetime, reason: str) -> None: ...
    async def channel_pauses(self, now: dt.datetime) -> dict[str, dt.datetime]: ...


class BulletinStore:
    """The bulletin's data access (subscriptions, bulletins, deliveries). Safe across worker processes."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    def _pg(self, session: AsyncSession) -> bool:
        return session.bind is not None and session.bind.dialect.name == "postgresql"

    # subscriptions ---------------------------------------------------------------------------------
    async def subscription(self, user_id: int) -> tuple[bool, list[str]]:
        """(active, topics) for the user; (False, []) when never subscribed."""
        async with self.sessions() as session:
            sub = await session.get(Subscriber, user_id)
            if sub is None:
                return False, []
            topics = (await session.execute(
                select(SubscriberTopic.topic).where(SubscriberTopic.user_id == user_id).order_by(SubscriberTopic.topic)
            )).scalars().all()
            return bool(sub.active), list(topics)

    async def subscribe(self, user_id: int, topics: Sequence[str]) -> None:
        now = utcnow()
        async with self.sessions.begin() as session:
            stmt = insert_for(session, Subscriber.__table__).values(
                user_id=user_id, active=True, subscribed_at=now, unsubscribed_at=None, unsubscribe_reason="")
            stmt = stmt.on_conflict_do_update(index_elements=["user_id"], set_={
                "active": True, "subscribed_at": now, "unsubscribed_at": None, "unsubscribe_reason": ""})
            await session.execute(stmt)
            await session.execute(delete(SubscriberTopic).where(SubscriberTopic.user_id == user_id))
            if topics:
                await session.execute(SubscriberTopic.__table__.insert(),
                                      [{"user_id": user_id, "topic": t} for t in dict.fromkeys(topics)])

    async def unsubscribe(self, user_id: int, reason: str = "user") -> bool:
        """True when an active subscription ended. Pending deliveries to the user are skipped, and so are
        issues waiting for their next message (their outbox rows end as failed, with the reason)."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Subscriber).where(Subscriber.user_id == user_id, Subscriber.active.is_(True))
                .values(active=False, unsubscribed_at=utcnow(), unsubscribe_reason=reason))
            await session.execute(update(Delivery).where(Delivery.user_id == user_id, Delivery.status == PENDING)
                                  .values(status=SKIPPED, last_error=reason))
            user = (await session.execute(select(User.channel, User.external_id).where(User.id == user_id))).first()
            if user is not None:
                await session.execute(update(Delivery).where(Delivery.user_id == user_id,
                                                             Delivery.status == DEFERRED)
                                      .values(status=SKIPPED, last_error=reason))
                await session.execute(update(OutboxMessage).where(
                    OutboxMessage.channel == user[0], OutboxMessage.external_id == user[1],
                    OutboxMessage.ref.like("bulletin:%"), OutboxMessage.status == "deferred")
                    .values(status="failed", reason="Người dân đã hủy nhận bản tin."))
            return result.rowcount == 1

    async def count_subscribers(self, topic: str | None = None) -> int:
        async with self.sessions() as session:
            stmt = select(func.count()).select_from(Subscriber).where(Subscriber.active.is_(True))
            if topic:
                stmt = stmt.where(exists().where(SubscriberTopic.user_id == Subscriber.user_id,
                                                 SubscriberTopic.topic == topic))
            return int((await session.execute(stmt)).scalar_one())

    # bulletins --------------------------------------------------------------------------------------
    async def get(self, bulletin_id: int) -> Bulletin | None:
        async with self.sessions() as session:
            return await session.get(Bulletin, bulletin_id)

    async def by_number(self, number: int, statuses: Sequence[str] | None = None) -> Bulletin | None:
        async with self.sessions() as session:
            stmt = select(Bulletin).where(Bulletin.number == number).order_by(Bulletin.id.desc()).limit(1)
            if statuses:
                stmt = stmt.where(Bulletin.status.in_(statuses))
            return (await session.execute(stmt)).scalar_one_or_none()

    async def list(self, *, statuses: Sequence[str] | None = None, limit: int = 50, offset: int = 0) -> list[Bulletin]:
        async with self.sessions() as session:
            stmt = select(Bulletin).order_by(Bulletin.issue_date.desc(), Bulletin.number.desc(), Bulletin.id.desc())
            if statuses:
                stmt = stmt.where(Bulletin.status.in_(statuses))
            return list((await session.execute(stmt.limit(limit).offset(offset))).scalars().all())

    async def published(self, limit: int = 10, offset: int = 0) -> list[Bulletin]:
        """Issues citizens may read (sending, paused mid-way, or sent)."""
        return await self.list(statuses=(SENDING, SENT), limit=limit, offset=offset)

    async def save(self, values: dict[str, Any], bulletin_id: int | None = None) -> Bulletin:
        """Create or edit a bulletin's content; only drafts and scheduled issues can be edited."""
        now = utcnow()
        async with self.sessions.begin() as session:
            if bulletin_id is None:
                row = Bulletin(created_at=now, updated_at=now, **values)
                session.add(row)
            else:
                row = await session.get(Bulletin, bulletin_id, with_for_update=True)
                if row is None:
                    raise LookupError(bulletin_id)
                if row.status not in (DRAFT, SCHEDULED):
                    raise ValueError(f"bulletin {bulletin_id} is {row.status}")
                for key, value in values.items():
                    setattr(row, key, value)
                row.updated_at = now
            await session.flush()
            return row

    async def upsert_file(self, values: dict[str, Any]) -> str:
        """Import one content file by slug: insert new; refresh a draft/scheduled one whose file changed.
        Returns "created", "updated" or "unchanged"."""
        now = utcnow()
        async with self.sessions.begin() as session:
            stmt = insert_for(session, Bulletin.__table__).values(created_at=now, updated_at=now, **values)
            stmt = stmt.on_conflict_do_nothing(index_elements=["slug"])
            if (await session.execute(stmt)).rowcount == 1:
                return "created"
            row = (await session.execute(
                select(Bulletin).where(Bulletin.slug == values["slug"]).with_for_update())).scalar_one()
            if row.content_hash == values["content_hash"] or row.status not in (DRAFT, SCHEDULED) \
                    or row.source != "file":
                return "unchanged"
            keep = {"status", "scheduled_at"} if row.status == SCHEDULED and row.held_at else set()
            for key, value in values.items():
                if key not in keep:
                    setattr(row, key, value)
            row.updated_at = now
            return "updated"

    async def set_status(self, bulletin_id: int, to: str, *, from_: Sequence[str], **values: Any) -> bool:
        """Atomic transition: only when the current status is one of ``from_``."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Bulletin).where(Bulletin.id == bulletin_id, Bulletin.status.in_(from_))
                .values(status=to, updated_at=utcnow(), **values))
            return result.rowcount == 1

    async def schedule(self, bulletin_id: int, at: dt.datetime) -> bool:
        return await self.set_status(bulletin_id, SCHEDULED, from_=(DRAFT, SCHEDULED), scheduled_at=at, held_at=None)

    async def due(self, now: dt.datetime) -> list[Bulletin]:
        """Scheduled issues whose time has come and that are not held for confirmation."""
        async with self.sessions() as session:
            return list((await session.execute(
                select(Bulletin).where(Bulletin.status == SCHEDULED, Bulletin.scheduled_at <= now,
                                       Bulletin.held_at.is_(None)).order_by(Bulletin.scheduled_at)
            )).scalars().all())

    async def hold(self, bulletin_id: int, now: dt.datetime) -> bool:
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Bulletin).where(Bulletin.id == bulletin_id, Bulletin.status == SCHEDULED,
                                       Bulletin.held_at.is_(None)).values(held_at=now, updated_at=now))
            return result.rowcount == 1

    async def held(self) -> list[Bulletin]:
        async with self.sessions() as session:
            return list((await session.execute(
                select(Bulletin).where(Bulletin.status == SCHEDULED, Bulletin.held_at.is_not(None))
                .order_by(Bulletin.scheduled_at))).scalars().all())

    async def confirm(self, bulletin_id: int, by: str, now: dt.datetime) -> bool:
        """An official confirms a held (late) issue: it goes out now."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Bulletin).where(Bulletin.id == bulletin_id, Bulletin.status == SCHEDULED,
                                       Bulletin.held_at.is_not(None))
                .values(held_at=None, scheduled_at=now, confirmed_by=by[:128], updated_at=now))
            return result.rowcount == 1

    async def start(self, bulletin_id: int, channels: Sequence[str], now: dt.datetime,
                    from_: Sequence[str] = (SCHEDULED,)) -> int | None:
        """Atomically move the bulletin to ``sending`` and create its delivery rows in the database
        (INSERT ... SELECT). Returns the audience size, or None when another worker (or an official)
        changed the status first. One transaction: a crash leaves either nothing or everything."""
        async with self.sessions.begin() as session:
            won = (await session.execute(
                update(Bulletin).where(Bulletin.id == bulletin_id, Bulletin.status.in_(from_))
                .values(status=SENDING, started_at=now, updated_at=now, held_at=None, paused_reason="")
                .returning(Bulletin.topics))).first()
            if won is None:
                return None
            topics = list(won[0] or [])
            audience = (
                select(literal(bulletin_id), User.id, User.channel, User.external_id, literal(PENDING),
                       literal(0), literal(""))
                .select_from(User.__table__.join(Subscriber.__table__, Subscriber.user_id == User.id))
                .where(Subscriber.active.is_(True), User.blocked_at.is_(None), User.channel.in_(list(channels)))
            )
            if topics:
                audience = audience.where(exists().where(SubscriberTopic.user_id == User.id,
                                                         SubscriberTopic.topic.in_(topics)))
            stmt = insert_for(session, D).from_select(
                ["bulletin_id", "user_id", "channel", "external_id", "status", "attempts", "last_error"], audience
            ).on_conflict_do_nothing(index_elements=["bulletin_id", "user_id"])
            await session.execute(stmt)
            count = int((await session.execute(
                select(func.count()).select_from(D).where(D.c.bulletin_id == bulletin_id))).scalar_one())
            done = {"status": SENT, "finished_at": now} if count == 0 else {}
            await session.execute(update(Bulletin).where(Bulletin.id == bulletin_id).values(audience=count, **done))
            return count

    async def pause(self, bulletin_id: int, reason: str = "") -> bool:
        return await self.set_status(bulletin_id, PAUSED, from_=(SENDING,), paused_reason=reason[:200])

    async def resume(self, bulletin_id: int) -> bool:
        return await self.set_status(bulletin_id, SENDING, from_=(PAUSED,), paused_reason="")

    async def cancel(self, bulletin_id: int) -> bool:
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Bulletin).where(Bulletin.id == bulletin_id,
                                       Bulletin.status.in_((DRAFT, SCHEDULED, SENDING, PAUSED)))
                .values(status=CANCELLED, finished_at=utcnow(), updated_at=utcnow()))
            if result.rowcount != 1:
                return False
            await session.execute(update(D).where(D.c.bulletin_id == bulletin_id,
                                                  D.c.status.in_((PENDING, DEFERRED, QUEUED)))
                                  .values(status=SKIPPED, last_error="cancelled"))
            # issues waiting in the outbox for subscribers' next message are not sent any more
            await session.execute(update(OutboxMessage).where(
                OutboxMessage.ref == f"bulletin:{bulletin_id}", OutboxMessage.status.in_(("deferred", "pending")))
                .values(status="failed", reason="Bản tin đã bị hủy."))
            return True

    async def progress(self, bulletin_id: int) -> Progress | None:
        async with self.sessions() as session:
            b = await session.get(Bulletin, bulletin_id)
            if b is None:
                return None
            counts = dict((await session.execute(
                select(D.c.status, func.count()).where(D.c.bulletin_id == bulletin_id).group_by(D.c.status))).all())
            first, last = (await session.execute(
                select(func.min(D.c.sent_at), func.max(D.c.sent_at))
                .where(D.c.bulletin_id == bulletin_id, D.c.status == DELIVERED))).one()
            by_channel: dict[str, dict[str, int]] = {}
            report = {DELIVERED: "sent", DEFERRED: "deferred", FAILED: "failed", BLOCKED: "failed",
                      PENDING: "pending", CLAIMED: "pending", QUEUED: "pending"}
            for channel, status, n in (await session.execute(
                    select(D.c.channel, D.c.status, func.count()).where(D.c.bulletin_id == bulletin_id)
                    .group_by(D.c.channel, D.c.status))).all():
                row = by_channel.setdefault(str(channel), {"sent": 0, "deferred": 0, "failed": 0, "pending": 0})
                if status in report:
                    row[report[status]] += int(n)
            return Progress(
                bulletin_id=b.id, status=b.status, audience=b.audience,
                pending=counts.get(PENDING, 0), sending=counts.get(CLAIMED, 0), sent=counts.get(DELIVERED, 0),
                failed=counts.get(FAILED, 0), blocked=counts.get(BLOCKED, 0), skipped=counts.get(SKIPPED, 0),
                started_at=b.started_at, finished_at=b.finished_at,
                first_sent_at=_aware(first), last_sent_at=_aware(last), paused_reason=b.paused_reason,
                deferred=counts.get(DEFERRED, 0), queued=counts.get(QUEUED, 0), by_channel=by_channel,
            )

    # DeliveryStore (the engine's side) -------------------------------------------------------------
    async def sending_bulletins(self) -> list[tuple[int, str]]:
        """(id, status) of bulletins being sent or paused, oldest start first."""
        async with self.sessions() as session:
            rows = await session.execute(
                select(Bulletin.id, Bulletin.status).where(Bulletin.status.in_((SENDING, PAUSED)))
                .order_by(Bulletin.started_at, Bulletin.id))
            return [(int(r[0]), str(r[1])) for r in rows]

    async def claim(self, bulletin_id: int, channel: str, limit: int, token: str, now: dt.datetime,
                    holder: str) -> list[Claim]:
        """Claim up to ``limit`` due rows for process ``holder`` (its heartbeat keeps the claim)."""
        async with self.sessions.begin() as session:
            pick = (
                select(D.c.id)
                .where(D.c.bulletin_id == bulletin_id, D.c.channel == channel, D.c.status == PENDING,
                       or_(D.c.next_attempt_at.is_(None), D.c.next_attempt_at <= now))
                .order_by(D.c.id).limit(limit)
            )
            if self._pg(session):
                # A CTE is evaluated once; PostgreSQL may re-run an `IN (subquery)` and exceed the LIMIT.
                picked = pick.with_for_update(skip_locked=True).cte("picked")
                target = D.c.id == picked.c.id
            else:
                target = D.c.id.in_(pick.scalar_subquery())
            stmt = (
                update(D).where(target, D.c.status == PENDING)
                .values(status=CLAIMED, claim_token=token, claimed_at=now, claimed_by=holder[:64])
                .returning(D.c.id, D.c.bulletin_id, D.c.user_id, D.c.external_id, D.c.attempts, D.c.parts_sent)
            )
            rows = (await session.execute(stmt)).all()
        claims = [Claim(int(r[0]), int(r[1]), int(r[2]), str(r[3]), int(r[4]), int(r[5] or 0)) for r in rows]
        claims.sort(key=lambda c: c.id)
        return claims

    async def record(self, outcomes: Sequence[Outcome]) -> None:
        """Write a batch of results in one transaction.

        A success is recorded whatever the claim token (the message went out); other results only while
        this worker still holds the claim (a reclaimed row belongs to whoever took it)."""
        if not outcomes:
            return
        now = utcnow()
        done = [o for o in outcomes if o.status == DELIVERED]
        other = [o for o in outcomes if o.status != DELIVERED]
        blocked_users = sorted({o.user_id for o in outcomes if o.status == BLOCKED})
        async with self.sessions.begin() as session:
            if done:
                await session.execute(
                    update(D).where(D.c.id == bindparam("b_id"))
                    .values(status=DELIVERED, sent_at=bindparam("b_at"), claim_token=None, claimed_by=None,
                            attempts=D.c.attempts + 1, last_error="", parts_sent=bindparam("b_parts")),
                    [{"b_id": o.id, "b_at": o.at or now, "b_parts": o.parts_sent} for o in done])
            if other:
                await session.execute(
                    update(D).where(D.c.id == bindparam("b_id"), D.c.status == CLAIMED,
                                    D.c.claim_token == bindparam("b_token"))
                    .values(status=bindparam("b_status"), claim_token=None, claimed_by=None,
                            last_error=bindparam("b_error"),
                            next_attempt_at=bindparam("b_next"), attempts=D.c.attempts + bindparam("b_inc"),
                            parts_sent=bindparam("b_parts")),
                    [{"b_id": o.id, "b_token": o.token, "b_status": o.status, "b_error": o.error[:300],
                      "b_next": o.next_attempt_at, "b_inc": 1 if o.count_attempt else 0,
                      "b_parts": o.parts_sent} for o in other])
            if blocked_users:
                await session.execute(update(User).where(User.id.in_(blocked_users), User.blocked_at.is_(None))
                                      .values(blocked_at=now))
                await self.users_blocked(session, blocked_users, now)

    @staticmethod
    async def users_blocked(session: Any, user_ids: list[int], now: dt.datetime) -> None:
        """`core.storage.repos.Store.blocked_hooks`: people who blocked the bot are unsubscribed at once (reason
        "blocked") and their pending deliveries skipped, in the core's transaction."""
        await session.execute(update(Subscriber).where(Subscriber.user_id.in_(user_ids), Subscriber.active.is_(True))
                              .values(active=False, unsubscribed_at=now, unsubscribe_reason="blocked"))
        await session.execute(update(D).where(D.c.user_id.in_(user_ids), D.c.status == PENDING)
                              .values(status=SKIPPED, last_error="blocked"))

    async def release(self, token: str, ids: Iterable[int]) -> None:
        """Hand claimed-but-unsent rows back (shutdown, pause, cancel)."""
        ids = list(ids)
        if not ids:
            return
        async with self.sessions.begin() as session:
            for start in range(0, len(ids), 500):
                await session.execute(
                    update(D).where(D.c.id.in_(ids[start:start + 500]), D.c.status == CLAIMED,
                                    D.c.claim_token == token)
                    .values(status=PENDING, claim_token=None, claimed_at=None, claimed_by=None))

    async def reclaim_dead(self, live_since: dt.datetime, me: str) -> int:
        """Claims of a process whose heartbeat stopped before ``live_since`` (or of no known process):
        pending again, for any live process to take."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(D).where(D.c.status == CLAIMED, or_(
                    D.c.claimed_by.is_(None),
                    and_(D.c.claimed_by != me, D.c.claimed_by.not_in(live_process_ids(live_since)))))
                .values(status=PENDING, claim_token=None, claimed_at=None, claimed_by=None))
            return int(result.rowcount or 0)

    async def hand_over(self, token: str, items: Sequence[HandOver], outbox: Outbox, channel: str) -> int:
        """Move claimed deliveries to the outbox in one transaction: each row still held with ``token``
        becomes ``deferred``/``queued`` and gets its outbox row (kind bulletin, ref ``bulletin:<id>``;
        a deferred one waits for the subscriber's next message, :meth:`core.outbox.Outbox.release_deferred`).
        Returns how many were handed over (a row taken over by another process meanwhile is left alone)."""
        done = 0
        async with self.sessions.begin() as session:
            for item in items:
                c = item.claim
                moved = await session.execute(
                    update(D).where(D.c.id == c.id, D.c.status == CLAIMED, D.c.claim_token == token)
                    .values(status=item.status, claim_token=None, claimed_by=None, last_error=item.reason[:300]))
                if moved.rowcount != 1:
                    continue
                await outbox.enqueue(session, channel=channel, external_id=c.external_id, replies=item.replies,
                                     kind=MessageKind.BULLETIN, ref=f"bulletin:{c.bulletin_id}",
                                     defer=item.reason if item.status == DEFERRED else "")
                done += 1
        return done

    async def outbox_finished(self, session: AsyncSession, row: OutboxMessage, status: str, reason: str) -> None:
        """The outbox's hook for ``bulletin:<id>`` rows (``Outbox.on_finish["bulletin"]``), in the
        transaction that finishes the outbox row: the delivery row follows (sent / deferred / failed)."""
        try:
            bulletin_id = int(row.ref.split(":", 1)[1])
        except (IndexError, ValueError):
            return
        values: dict[str, Any] = {"last_error": reason[:300]}
        if status == "sent":
            values.update(status=DELIVERED, sent_at=utcnow(), last_error="")
        elif status == "failed":
            values.update(status=FAILED)
        elif status == "deferred":
            values.update(status=DEFERRED)
        else:
            return
        await session.execute(update(D).where(
            D.c.bulletin_id == bulletin_id, D.c.channel == row.channel, D.c.external_id == row.external_id,
            D.c.status.in_((DEFERRED, QUEUED))).values(**values))

    async def sent_since(self, channel: str, external_ids: Sequence[str],
                         since: dt.datetime) -> list[tuple[str, dt.datetime]]:
        """(external id, sent_at) of bulletin deliveries sent to these people on ``channel`` after ``since``
        (they count among the messages sent since the person last wrote)."""
        if not external_ids:
            return []
        async with self.sessions() as session:
            rows = (await session.execute(select(D.c.external_id, D.c.sent_at).where(
                D.c.channel == channel, D.c.external_id.in_(list(external_ids)), D.c.status == DELIVERED,
                D.c.sent_at > since))).all()
        return [(str(x), _aware(at)) for x, at in rows if at is not None]  # type: ignore[misc]

    async def finish_if_done(self, bulletin_id: int, now: dt.datetime) -> bool:
        async with self.sessions.begin() as session:
            open_rows = exists().where(D.c.bulletin_id == bulletin_id, D.c.status.in_((PENDING, CLAIMED)))
            result = await session.execute(
                update(Bulletin).where(Bulletin.id == bulletin_id, Bulletin.status == SENDING, ~open_rows)
                .values(status=SENT, finished_at=now, updated_at=now))
            return result.rowcount == 1

    async def heartbeat(self, process_id: str, now: dt.datetime, live_since: dt.datetime) -> int:
        """This process's heartbeat in ``processes`` (the one table every claim follows); returns how many
        processes are alive (at least 1): they split each channel's cap."""
        await beat(self.sessions, process_id, now)
        return await live_processes(self.sessions, live_since)

    async def set_channel_pause(self, channel: str, until: dt.datetime, reason: str = "") -> None:
        async with self.sessions.begin() as session:
            stmt = insert_for(session, ChannelPause.__table__).values(channel=channel, paused_until=until,
                                                                       reason=reason[:200])
            excluded = stmt.excluded
            await session.execute(stmt.on_conflict_do_update(
                index_elements=["channel"],
                set_={"paused_until": excluded.paused_until, "reason": excluded.reason},
                where=ChannelPause.__table__.c.paused_until < excluded.paused_until))

    async def channel_pauses(self, now: dt.datetime) -> dict[str, dt.datetime]:
        async with self.sessions() as session:
            rows = await session.execute(select(ChannelPause.channel, ChannelPause.paused_until)
                                         .where(ChannelPause.paused_until > now))
            return {str(r[0]): r[1] for r in rows}

    async def delivery_counts(self, bulletin_id: int) -> dict[str, int]:
        async with self.sessions() as session:
            return {str(k): int(v) for k, v in (await session.execute(
                select(D.c.status, func.count()).where(D.c.bulletin_id == bulletin_id).group_by(D.c.status))).all()}


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


__all__ = ["BulletinStore", "Claim", "DeliveryStore", "HandOver", "Outcome", "Progress"]
