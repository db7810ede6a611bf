"""The durable inbox: every event a channel receives is stored before the platform is acknowledged, and
turns run from the stored rows, so nothing acknowledged is ever lost.

* :meth:`Inbox.submit` (a :data:`core.channel.Submit`) inserts the event, unique per (channel, platform
  event id): a duplicate delivery — a platform retry, the same update sent to two processes, a replay
  after a restart — is dropped here, across processes and restarts.
* :meth:`Inbox.run` claims events and runs their turns: one user's events one at a time in arrival order
  (only the oldest pending event of a user can be claimed, and only when nobody alive holds it), different
  users in parallel, across any number of processes sharing the database (SQLite: one process).
* The turn's closing transaction (``Core.handle(also=...)``) marks the event done and stores the replies
  owed as an outbox row; the replies are then sent. A crash before that commit leaves the event pending;
  a crash after it leaves the outbox row pending. Both are taken over by any live process once the dead
  process's heartbeat is older than ``dead_after`` seconds; so a reply can be sent twice only for the
  event in flight at the crash.
* A turn that fails (the handler raised) is parked with the error and the citizen gets the polite error
  reply once; an event whose turn crashed its process ``max_attempts`` times is parked without running.
* Handled events and sent replies older than ``keep_days`` are pruned hourly.

Claims are compare-and-set UPDATEs on plain columns, the same SQL on SQLite and PostgreSQL.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from core.channel import Blocked, DeliveryError, PermanentError, Sender
from core.codec import incoming_from_dict, incoming_to_dict, reply_from_dict, reply_to_dict
from core.storage.models import InboxEvent, OutboxMessage, Process, utcnow
from core.storage.upsert import insert_for
from core.types import Incoming, Reply

log = logging.getLogger(__name__)

HandleFn = Callable[..., Any]  # Core.handle(incoming, *, also=...)
BlockedFn = Callable[[str, str], Any]


def new_process_id() -> str:
    """A process's name in claims: host, pid and a random suffix (a restarted pid is a new process)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Inbox:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        handle: HandleFn,
        senders: Mapping[str, Sender],
        *,
        process_id: str | None = None,
        on_blocked: BlockedFn | None = None,
        max_parallel: int = 32,
        poll_interval: float = 0.5,
        heartbeat_interval: float = 2.0,
        dead_after: float = 10.0,
        max_attempts: int = 3,
        keep_days: int = 14,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        """``handle``: ``Core.handle``; ``senders``: channel name -> Sender (read at send time, so channels
        started later are found); ``dead_after``: seconds without a heartbeat after which a process's
        claims are taken over; ``max_parallel``: turns run at once by this process."""
        self.sessions = sessions
        self.handle = handle
        self.senders = senders
        self.process_id = process_id or new_process_id()
        self.on_blocked = on_blocked
        self.max_parallel = max_parallel
        self.poll_interval = poll_interval
        self.heartbeat_interval = heartbeat_interval
        self.dead_after = dead_after
        self.max_attempts = max_attempts
        self.keep_days = keep_days
        self.clock = clock
        self._wake = asyncio.Event()
        self._running: set[asyncio.Task[None]] = set()
        self._listeners: list[Callable[[Incoming], None]] = []

    # -- receiving --------------------------------------------------------------------------------------
    async def submit(self, incoming: Incoming) -> None:
        """Store ``incoming`` (once per channel + platform event id); returns when it is durable."""
        event_id = incoming.message_id or f"anon:{uuid.uuid4().hex}"
        async with self.sessions.begin() as session:
            stmt = insert_for(session, InboxEvent.__table__).values(
                channel=incoming.channel, event_id=event_id[:160],
                user_key=f"{incoming.channel}:{incoming.user_id}"[:200], payload=incoming_to_dict(incoming),
                status="pending", attempts=0, error="", received_at=self.clock(),
            ).on_conflict_do_nothing(index_elements=["channel", "event_id"])
            await session.execute(stmt)
        self._wake.set()

    def add_listener(self, callback: Callable[[Incoming], None]) -> None:
        """``callback(incoming)`` after each event's turn is finished and its replies handed to the channel
        (tests wait on it)."""
        self._listeners.append(callback)

    # -- the runner ---------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Handle events and deliver owed replies until cancelled; then release this process's claims."""
        await self.heartbeat()
        beat = asyncio.create_task(self._heartbeats())
        try:
            last_prune = 0.0
            loop = asyncio.get_running_loop()
            while True:
                await self.step()
                if loop.time() - last_prune > 3600:
                    last_prune = loop.time()
                    await self.prune()
                try:
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                except TimeoutError:
                    pass
                self._wake.clear()
        finally:
            beat.cancel()
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)
            await asyncio.shield(self.release())

    async def step(self) -> int:
        """Claim what this process can take now and start its turns; returns how many were started."""
        free = self.max_parallel - len(self._running)
        started = 0
        if free > 0:
            for row_id, payload, attempts in await self._claim(free):
                task = asyncio.create_task(self._turn(row_id, payload, attempts))
                self._running.add(task)
                task.add_done_callback(self._done)
                started += 1
        await self._deliver_orphans()
        return started

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._wake.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("inbox: turn task failed: %s", type(task.exception()).__name__)

    async def run_until_idle(self, timeout: float = 30.0) -> None:
        """Process until nothing is pending, claimable or running (tests, `--once` commands)."""
        await self.heartbeat()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            started = await self.step()
            if self._running:
                await asyncio.wait(self._running, timeout=self.poll_interval)
                continue
            if not started and not await self.pending():
                return
            await asyncio.sleep(0.01)
        raise TimeoutError("inbox did not become idle")

    async def pending(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(InboxEvent)
                                             .where(InboxEvent.status == "pending")) or 0)

    # -- claims -----------------------------------------------------------------------------------------
    def _live_ids(self) -> Any:
        cutoff = self.clock() - dt.timedelta(seconds=self.dead_after)
        return select(Process.id).where(Process.heartbeat_at >= cutoff)

    async def _claim(self, limit: int) -> list[tuple[int, dict[str, Any], int]]:
        older = aliased(InboxEvent)
        first_of_user = ~select(older.id).where(
            older.user_key == InboxEvent.user_key, older.status == "pending", older.id < InboxEvent.id).exists()
        claimable = or_(InboxEvent.claimed_by.is_(None), InboxEvent.claimed_by.not_in(self._live_ids()))
        async with self.sessions() as session:
            rows = (await session.execute(
                select(InboxEvent.id, InboxEvent.claimed_by)
                .where(InboxEvent.status == "pending", first_of_user, claimable)
                .order_by(InboxEvent.id).limit(limit))).all()
        claimed: list[tuple[int, dict[str, Any], int]] = []
        for row_id, holder in rows:
            async with self.sessions.begin() as session:
                same_holder = InboxEvent.claimed_by.is_(None) if holder is None else InboxEvent.claimed_by == holder
                got = (await session.execute(
                    update(InboxEvent).where(InboxEvent.id == row_id, InboxEvent.status == "pending", same_holder)
                    .values(claimed_by=self.process_id, attempts=InboxEvent.attempts + 1)
                    .returning(InboxEvent.payload, InboxEvent.attempts))).first()
            if got is not None:
                if holder is not None:
                    log.info("inbox: took over event %s from a stopped process", row_id)
                claimed.append((row_id, got[0], got[1]))
        return claimed

    # -- one turn ---------------------------------------------------------------------------------------
    async def _turn(self, row_id: int, payload: dict[str, Any], attempts: int) -> None:
        incoming = incoming_from_dict(payload)
        if attempts > self.max_attempts:  # this event's turn stopped its process again and again
            await self._park(row_id, incoming, "dừng tiến trình nhiều lần", [])
            return
        outbox_id: list[int] = []

        async def also(session: AsyncSession, replies: list[Reply]) -> None:
            await session.execute(update(InboxEvent).where(InboxEvent.id == row_id)
                                  .values(status="done", handled_at=self.clock(), claimed_by=None))
            outbox_id.append(await self._owe(session, incoming, replies))

        replies = await self.handle(incoming, also=also)  # a lost race is run again inside
        if not outbox_id:  # the turn failed: its replies are the polite error message
            outbox_id.append(await self._park(row_id, incoming, "xử lý lỗi", replies))
        await self._send(outbox_id[0], incoming.channel, incoming.user_id, replies, incoming.message_id)
        for callback in self._listeners:
            try:
                callback(incoming)
            except Exception:  # noqa: BLE001 - a listener must not break the runner
                log.exception("inbox listener failed")

    async def _owe(self, session: AsyncSession, incoming: Incoming, replies: list[Reply]) -> int:
        result = await session.execute(insert(OutboxMessage).values(
            channel=incoming.channel, external_id=incoming.user_id, kind="reply",
            reply_to=incoming.message_id[:160], replies=[reply_to_dict(r) for r in replies],
            status="pending", attempts=0, claimed_by=self.process_id, error="", created_at=self.clock(),
        ).returning(OutboxMessage.id))
        return int(result.scalar_one())

    async def _park(self, row_id: int, incoming: Incoming, why: str, replies: list[Reply]) -> int:
        async with self.sessions.begin() as session:
            await session.execute(update(InboxEvent).where(InboxEvent.id == row_id)
                                  .values(status="parked", error=why[:200], handled_at=self.clock(), claimed_by=None))
            log.warning("inbox: event %s parked (%s)", row_id, why)
            return await self._owe(session, incoming, replies)

    # -- replies ------------------------------------------------------------------------------------------
    async def _send(self, outbox_id: int, channel: str, user_id: str, replies: list[Reply], reply_to: str) -> None:
        sender = self.senders.get(channel)
        status, error = "sent", ""
        if not replies:
            pass
        elif sender is None:
            status, error = "pending", ""
            log.warning("inbox: no sender for channel %s; reply %s waits", channel, outbox_id)
        else:
            try:
                await sender.send(user_id, replies, retry=True, reply_to=reply_to)
            except Blocked:
                status, error = "failed", "người dùng đã chặn bot"
                if self.on_blocked is not None:
                    await self.on_blocked(channel, user_id)
            except PermanentError as exc:
                status, error = "failed", f"nền tảng từ chối: {str(exc)[:150]}"
            except DeliveryError as exc:  # transient or rate limited after the adapter's retries: later
                status, error = "pending", type(exc).__name__
        async with self.sessions.begin() as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id == outbox_id).values(
                status=status, error=error, claimed_by=None, attempts=OutboxMessage.attempts + 1,
                sent_at=self.clock() if status == "sent" else None))

    async def _deliver_orphans(self, limit: int = 50) -> None:
        """Replies owed but not sent: their process stopped after committing the turn, or the platform
        failed for a while. Sent in id order; given up after ``max_attempts`` tries."""
        claimable = or_(OutboxMessage.claimed_by.is_(None), OutboxMessage.claimed_by.not_in(self._live_ids()))
        async with self.sessions() as session:
            rows = (await session.execute(
                select(OutboxMessage.id, OutboxMessage.claimed_by)
                .where(OutboxMessage.status == "pending", OutboxMessage.kind == "reply", claimable)
                .order_by(OutboxMessage.id).limit(limit))).all()
        for row_id, holder in rows:
            async with self.sessions.begin() as session:
                same_holder = OutboxMessage.claimed_by.is_(None) if holder is None else OutboxMessage.claimed_by == holder
                got = (await session.execute(
                    update(OutboxMessage).where(OutboxMessage.id == row_id, OutboxMessage.status == "pending", same_holder)
                    .values(claimed_by=self.process_id)
                    .returning(OutboxMessage.channel, OutboxMessage.external_id, OutboxMessage.replies,
                               OutboxMessage.reply_to, OutboxMessage.attempts))).first()
            if got is None:
                continue
            channel, external_id, data, reply_to, tries = got
            if tries >= self.max_attempts:
                async with self.sessions.begin() as session:
                    await session.execute(update(OutboxMessage).where(OutboxMessage.id == row_id)
                                          .values(status="failed", error="hết số lần thử", claimed_by=None))
                continue
            await self._send(row_id, channel, external_id, [reply_from_dict(r) for r in data], reply_to)

    # -- processes ----------------------------------------------------------------------------------------
    async def heartbeat(self) -> None:
        now = self.clock()
        async with self.sessions.begin() as session:
            await session.execute(insert_for(session, Process.__table__)
                                  .values(id=self.process_id, started_at=now, heartbeat_at=now)
                                  .on_conflict_do_update(index_elements=["id"], set_={"heartbeat_at": now}))

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            try:
                await self.heartbeat()
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried; others take over if it lasts
                log.warning("inbox: heartbeat failed: %s", type(exc).__name__)

    async def release(self) -> None:
        """Give back this process's claims at shutdown, so others take them at once, and forget it."""
        async with self.sessions.begin() as session:
            for table in (InboxEvent, OutboxMessage):
                await session.execute(update(table).where(table.claimed_by == self.process_id, table.status == "pending")
                                      .values(claimed_by=None))
            await session.execute(delete(Process).where(Process.id == self.process_id))

    async def prune(self) -> int:
        """Delete handled events and sent replies older than ``keep_days``, and long-dead processes."""
        cutoff = self.clock() - dt.timedelta(days=self.keep_days)
        async with self.sessions.begin() as session:
            gone = (await session.execute(delete(InboxEvent).where(
                InboxEvent.status.in_(("done", "parked")), InboxEvent.received_at < cutoff))).rowcount or 0
            gone += (await session.execute(delete(OutboxMessage).where(and_(
                OutboxMessage.status.in_(("sent", "failed")), OutboxMessage.created_at < cutoff)))).rowcount or 0
            await session.execute(delete(Process).where(Process.heartbeat_at < self.clock() - dt.timedelta(days=1)))
        return int(gone)
