"""The durable inbox: every event a channel receives is stored before the platform is acknowledged, and
turns run from the stored rows, so nothing acknowledged is ever lost.

* :meth:`Inbox.submit` (a :data:`core.channel.Submit`) inserts the event, unique per (channel, platform
  event id): a duplicate delivery — a platform retry, the same update sent to two processes, a replay
  after a restart — is dropped here, across processes and restarts.
* :meth:`Inbox.run` claims events and runs their turns: one user's events one at a time in arrival order
  (only the oldest pending event of a user can be claimed, and only when nobody alive holds it), different
  users in parallel, across any number of processes sharing the database (SQLite: one process).
* The turn's closing transaction (``Core.handle(also=...)``) marks the event done, stores the replies
  owed as an outbox row (core/outbox.py) and releases the messages that were waiting for this person to
  write again; those go first, then the replies. A user's next event is not claimed while a reply to
  the previous one is unsent, so replies keep their order. A crash before that commit leaves the event
  pending; a crash after it leaves the outbox row pending. Both are taken over by any live process once
  the dead process's heartbeat is older than ``dead_after`` seconds; so a reply can be sent twice only
  for the event in flight at the crash.
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
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from core.codec import incoming_from_dict, incoming_to_dict
from core.delivery import MessageKind
from core.jobs import Jobs, every
from core.logsafe import bind_turn
from core.metrics import INBOX_BACKLOG, INBOX_OLDEST, OUTBOX_BACKLOG, TURNS, TURN_SECONDS
from core.outbox import Outbox
from core.storage.db import single
from core.storage.group import GroupCommit
from core.storage.writes import ClosingWrites
from core.storage.models import InboxEvent, OutboxMessage, Process, utcnow
from core.storage.upsert import insert_for
from core.types import Incoming, Reply

log = logging.getLogger(__name__)

HandleFn = Callable[..., Any]  # Core.handle(incoming, *, also=...)


# Built once: every turn's closing transaction runs it (see core/storage/repos.py on prebuilt statements).
_EVENTS = InboxEvent.__table__
_EVENT_DONE = (update(_EVENTS).where(_EVENTS.c.id == bindparam("b_id"))
               .values(status="done", handled_at=bindparam("b_at"), claimed_by=None))


def new_process_id() -> str:
    """A process's name in claims: host, pid and a random suffix (a restarted pid is a new process)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def beat(sessions: async_sessionmaker[AsyncSession], process_id: str, now: dt.datetime) -> None:
    """One heartbeat of ``process_id`` in ``processes`` (the inbox's runner and the bulletin engine beat
    the same row when they share a process: one heartbeat mechanism for every claim)."""
    async with sessions.begin() as session:
        await session.execute(insert_for(session, Process.__table__)
                              .values(id=process_id, started_at=now, heartbeat_at=now)
                              .on_conflict_do_update(index_elements=["id"], set_={"heartbeat_at": now}))


def live_process_ids(cutoff: Any) -> Any:
    """SELECT of the ids of processes that beat since ``cutoff`` (a datetime, or a bound parameter of a
    statement built once) — for ``NOT IN`` claim checks."""
    return select(Process.id).where(Process.heartbeat_at >= cutoff)


async def live_processes(sessions: async_sessionmaker[AsyncSession], cutoff: dt.datetime) -> int:
    """How many processes beat since ``cutoff`` (at least 1: the caller is one): they split each
    channel's cap (``core.pacing.Pacers.set_share``)."""
    async with sessions() as session:
        return max(1, int(await session.scalar(select(func.count()).select_from(Process)
                                               .where(Process.heartbeat_at >= cutoff)) or 0))


class Inbox:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        handle: HandleFn,
        outbox: Outbox,
        *,
        max_parallel: int = 32,
        poll_interval: float = 0.5,
        heartbeat_interval: float = 2.0,
        dead_after: float = 10.0,
        max_attempts: int = 3,
        keep_days: int = 14,
        clock: Callable[[], dt.datetime] = utcnow,
        claim_events: bool = True,
    ) -> None:
        """``handle``: ``Core.handle``; ``outbox``: where replies are owed and sent (its process id is this
        process's name in claims); ``dead_after``: seconds without a heartbeat after which a process's
        claims are taken over; ``max_parallel``: turns run at once by this process. ``claim_events=False``:
        a sending process (`cchc-bot worker`): :meth:`run` beats, sweeps the outbox every ``poll_interval``
        and prunes, but runs no turn (the receiving processes do)."""
        self.sessions = sessions
        self.handle = handle
        self.outbox = outbox
        self.process_id = outbox.process_id
        self.max_parallel = max_parallel
        self.poll_interval = poll_interval
        # several beats per dead_after, so a live process never looks dead to the others (or to itself)
        self.heartbeat_interval = min(heartbeat_interval, dead_after / 4)
        self.dead_after = dead_after
        self.max_attempts = max_attempts
        self.keep_days = keep_days
        self.clock = clock
        self.claim_events = claim_events
        self._wake = asyncio.Event()
        self._stopping = False
        self.jobs = Jobs(sessions, self.process_id, clock=clock)
        self._received: dict[int, dt.datetime] = {}  # claimed event -> when it was stored (turn latency)
        self._running: set[asyncio.Task[None]] = set()
        self._listeners: list[Callable[[Incoming], None]] = []
        self._claim_stmt: Any = None
        self._insert_event: Any = None  # built at the first event (its dialect is the database's)
        self.stored: GroupCommit[dict[str, Any], None] = GroupCommit(self._store, max_items=100)

    # -- receiving --------------------------------------------------------------------------------------
    async def submit(self, incoming: Incoming) -> None:
        """Store ``incoming`` (once per channel + platform event id); returns when it is durable. Events that
        arrive together are stored by one INSERT (group commit, :attr:`stored`)."""
        event_id = incoming.message_id or f"anon:{uuid.uuid4().hex}"
        await self.stored.submit(dict(
            channel=incoming.channel, event_id=event_id[:160], external_id=incoming.user_id[:128],
            user_key=f"{incoming.channel}:{incoming.user_id}"[:200], payload=incoming_to_dict(incoming),
            status="pending", attempts=0, error="", received_at=self.clock()))
        self._wake.set()

    async def _store(self, rows: list[dict[str, Any]]) -> list[None]:
        """The flush of :attr:`stored`: one INSERT of the events (a duplicate delivery is dropped by the
        unique (channel, event id)); durable when it returns (autocommit on PostgreSQL)."""
        async with single(self.sessions) as conn:  # (through a session it is the ORM's bulk INSERT: slower)
            if self._insert_event is None:
                self._insert_event = (insert_for(conn, _EVENTS)
                                      .on_conflict_do_nothing(index_elements=["channel", "event_id"]))
            await conn.execute(self._insert_event, rows if len(rows) > 1 else rows[0])
        return [None] * len(rows)

    def add_listener(self, callback: Callable[[Incoming], None]) -> None:
        """``callback(incoming)`` after each event's turn is finished and its replies handed to the channel
        (tests wait on it)."""
        self._listeners.append(callback)

    # -- the runner ---------------------------------------------------------------------------------------
    async def run(self, *, grace: float = 20.0) -> None:
        """Handle events and deliver owed replies until cancelled or :meth:`stop`; then wait for the turns
        in flight (at most ``grace`` seconds, the rest are cancelled and run again elsewhere) and release
        this process's claims, so other processes take them over at once."""
        await self.heartbeat()
        beat = asyncio.create_task(self._heartbeats())
        try:
            last_prune = last_sweep = -1e9
            loop = asyncio.get_running_loop()
            while not self._stopping:
                try:
                    # a turn's own replies are sent by the turn; the sweep for the others is not needed
                    # after every turn (it was one more query per turn): once per poll interval
                    sweep = loop.time() - last_sweep >= self.poll_interval
                    if sweep:
                        last_sweep = loop.time()
                    await self.step(sweep_outbox=sweep)
                except Exception as exc:  # noqa: BLE001 - a database hiccup: try again at the next wake
                    log.warning("inbox: claiming failed: %s", type(exc).__name__)
                    await asyncio.sleep(self.poll_interval)
                if loop.time() - last_prune > 60:  # one process prunes, hourly (core.jobs)
                    last_prune = loop.time()
                    await self.jobs.run_once("inbox-prune", self.prune, every(dt.timedelta(hours=1)))
                try:  # (asyncio.timeout: wait_for in 3.11 can lose a cancellation that races its timeout)
                    async with asyncio.timeout(self.poll_interval):
                        await self._wake.wait()
                except TimeoutError:
                    pass
                self._wake.clear()
        finally:
            if self._running:
                await asyncio.wait(self._running, timeout=grace)
                for task in self._running:
                    task.cancel()  # its event (or reply) stays pending: released below, another process runs it
                await asyncio.gather(*self._running, return_exceptions=True)
            beat.cancel()
            await asyncio.shield(self.release())

    def stop(self) -> None:
        """Stop claiming (graceful shutdown): :meth:`run` finishes the turns in flight and returns; an
        outbox sweep in progress ends after its current message."""
        self._stopping = True
        self.outbox.stop()
        self._wake.set()

    async def step(self, *, sweep_outbox: bool = True) -> int:
        """Claim what this process can take now and start its turns; returns how many were started.
        ``sweep_outbox``: also deliver owed messages nobody holds (retries, a stopped process's replies)."""
        free = self.max_parallel - len(self._running)
        started = 0
        if free > 0 and self.claim_events:
            for row_id, payload, attempts in await self._claim(free):
                task = asyncio.create_task(self._turn(row_id, payload, attempts))
                self._running.add(task)
                task.add_done_callback(self._done)
                started += 1
        if sweep_outbox:
            await self.outbox.run_once()
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

    async def gauges(self) -> list[tuple[Any, dict[str, str], float]]:
        """The inbox backlog and its oldest event's age, and the outbox's pending messages per channel
        (a `core.metrics` collector)."""
        async with self.sessions() as session:
            count, oldest = (await session.execute(select(func.count(), func.min(InboxEvent.received_at))
                                                   .where(InboxEvent.status == "pending"))).one()
            waiting = (await session.execute(select(OutboxMessage.channel, func.count())
                                             .where(OutboxMessage.status == "pending")
                                             .group_by(OutboxMessage.channel))).all()
        age = max(0.0, (self.clock() - oldest).total_seconds()) if oldest is not None else 0.0
        return [(INBOX_BACKLOG, {}, float(count or 0)), (INBOX_OLDEST, {}, age),
                *((OUTBOX_BACKLOG, {"channel": ch}, float(n)) for ch, n in waiting)]

    async def pending(self) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(InboxEvent)
                                             .where(InboxEvent.status == "pending")) or 0)

    # -- claims -----------------------------------------------------------------------------------------
    def _claim_statement(self) -> Any:
        """The claim, built once per inbox (``cutoff`` and ``lim`` bound at each call): the statement runs
        at every wake-up, and building it and its cache key again each time cost more than running it."""
        if self._claim_stmt is not None:
            return self._claim_stmt
        older = aliased(InboxEvent)
        first_of_user = ~select(older.id).where(
            older.user_key == InboxEvent.user_key, older.status == "pending", older.id < InboxEvent.id).exists()
        live = live_process_ids(bindparam("cutoff"))
        claimable = or_(InboxEvent.claimed_by.is_(None), and_(InboxEvent.claimed_by != self.process_id,
                                                              InboxEvent.claimed_by.not_in(live)))
        replies_sent = ~select(OutboxMessage.id).where(  # the previous turn's replies went out first
            OutboxMessage.channel == InboxEvent.channel, OutboxMessage.external_id == InboxEvent.external_id,
            OutboxMessage.status == "pending", OutboxMessage.kind == MessageKind.REPLY.value).exists()
        candidates = (select(InboxEvent.id).where(InboxEvent.status == "pending", first_of_user, claimable, replies_sent)
                      .order_by(InboxEvent.id).limit(bindparam("lim")).with_for_update(skip_locked=True))
        # One statement claims the batch (it was one transaction per event). The outer WHERE repeats the
        # compare-and-set conditions, so a row changed since the subquery's snapshot is skipped, never claimed
        # twice; on PostgreSQL rows another process is claiming right now are skipped (SKIP LOCKED), so
        # claimers never wait for each other.
        self._claim_stmt = (
            update(InboxEvent)
            .where(InboxEvent.id.in_(candidates.scalar_subquery()), InboxEvent.status == "pending", claimable)
            .values(claimed_by=self.process_id, attempts=InboxEvent.attempts + 1)
            .returning(InboxEvent.id, InboxEvent.payload, InboxEvent.attempts, InboxEvent.received_at)
            .execution_options(synchronize_session=False))
        return self._claim_stmt

    async def _claim(self, limit: int) -> list[tuple[int, dict[str, Any], int]]:
        cutoff = self.clock() - dt.timedelta(seconds=self.dead_after)
        async with single(self.sessions) as conn:  # one statement: atomic alone (no BEGIN/COMMIT on PG)
            got = (await conn.execute(self._claim_statement(), {"cutoff": cutoff, "lim": limit})).all()
        claimed = sorted((int(row_id), payload, int(attempts)) for row_id, payload, attempts, _at in got)
        self._received.update({int(row[0]): row[3] for row in got})
        for row_id, _payload, attempts in claimed:
            if attempts > 1:
                log.info("inbox: took over event %s (attempt %s)", row_id, attempts)
        return claimed

    # -- one turn ---------------------------------------------------------------------------------------
    async def _turn(self, row_id: int, payload: dict[str, Any], attempts: int) -> None:
        received = self._received.pop(row_id, None)
        bind_turn(f"{self.process_id.rsplit(':', 1)[-1]}-{row_id}")  # this task's log lines carry the turn id
        incoming = incoming_from_dict(payload)
        if attempts > self.max_attempts:  # this event's turn stopped its process again and again
            await self.outbox.deliver([await self._park(row_id, incoming, "dừng tiến trình nhiều lần", [])])
            TURNS.labels(incoming.channel, "parked").inc()
            return
        owed: list[int] = []
        closing: list[tuple[list[Reply], OutboxMessage]] = []

        async def also(writes: ClosingWrites, replies: list[Reply], deferred: bool = True) -> None:
            """The turn's closing writes; ``deferred``: the person may have messages waiting (begin_turn
            read it; False skips releasing them)."""
            writes.add(_EVENT_DONE, {"b_id": row_id, "b_at": self.clock()})
            owed[:] = await self.outbox.release_deferred(writes.conn, incoming.channel, incoming.user_id,
                                                          incoming.message_id) if deferred else []
            row = self.outbox.owe(writes, channel=incoming.channel, external_id=incoming.user_id, replies=replies,
                                  kind=MessageKind.REPLY, ref=f"inbox:{row_id}", reply_to=incoming.message_id,
                                  claim=True)
            closing[:] = [(replies, row)]

        replies = await self.handle(incoming, also=also)  # a lost race is run again inside
        # Core.handle returns the very list given to `also` only when the closing transaction committed;
        # otherwise (the turn failed, or its commit did) its replies are the polite error message.
        outcome = "ok"
        fresh: dict[int, OutboxMessage] = {}
        if closing and closing[0][0] is replies and closing[0][1].id is not None:
            row = closing[0][1]
            owed.append(int(row.id))
            fresh[int(row.id)] = row
        else:
            owed[:] = [await self._park(row_id, incoming, "xử lý lỗi", replies)]
            outcome = "error"
        await self.outbox.deliver(owed, rows=fresh)
        TURNS.labels(incoming.channel, outcome).inc()
        if received is not None:
            TURN_SECONDS.labels(incoming.channel).observe(max(0.0, (self.clock() - received).total_seconds()))
        for callback in self._listeners:
            try:
                callback(incoming)
            except Exception:  # noqa: BLE001 - a listener must not break the runner
                log.exception("inbox listener failed")

    async def _owe(self, session: AsyncSession, row_id: int, incoming: Incoming, replies: list[Reply]) -> int:
        return await self.outbox.enqueue(session, channel=incoming.channel, external_id=incoming.user_id,
                                         replies=replies, kind=MessageKind.REPLY, ref=f"inbox:{row_id}",
                                         reply_to=incoming.message_id, claim=True)

    async def _park(self, row_id: int, incoming: Incoming, why: str, replies: list[Reply]) -> int:
        async with self.sessions.begin() as session:
            await session.execute(update(InboxEvent).where(InboxEvent.id == row_id)
                                  .values(status="parked", error=why[:200], handled_at=self.clock(), claimed_by=None))
            log.warning("inbox: event %s parked (%s)", row_id, why)
            return await self._owe(session, row_id, incoming, replies)

    # -- processes ----------------------------------------------------------------------------------------
    async def heartbeat(self) -> None:
        """Say this process is alive, and split each channel's cap among the live processes (one cap per
        channel for the whole installation, however many processes send)."""
        now = self.clock()
        await beat(self.sessions, self.process_id, now)
        live = await live_processes(self.sessions, now - dt.timedelta(seconds=self.dead_after))
        self.outbox.pacers.set_share(max(1, live))

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
        """Delete handled events, and sent or failed turn replies and bulletin deliveries, older than
        ``keep_days``, and long-dead processes. Messages that belong to a record (an official's answer or a
        status change of a report) are kept: the report page shows them as long as the report exists."""
        cutoff = self.clock() - dt.timedelta(days=self.keep_days)
        async with self.sessions.begin() as session:
            gone = (await session.execute(delete(InboxEvent).where(
                InboxEvent.status.in_(("done", "parked")), InboxEvent.received_at < cutoff))).rowcount or 0
            gone += (await session.execute(delete(OutboxMessage).where(and_(
                OutboxMessage.status.in_(("sent", "failed")), OutboxMessage.created_at < cutoff,
                OutboxMessage.kind.in_((MessageKind.REPLY.value, MessageKind.BULLETIN.value)))))).rowcount or 0
            await session.execute(delete(Process).where(Process.heartbeat_at < self.clock() - dt.timedelta(days=1)))
        return int(gone)
