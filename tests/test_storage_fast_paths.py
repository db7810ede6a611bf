"""The turn's database fast paths (issue 15) keep their promises: a pooled connection the server dropped
while idle is replaced before use (no pre-ping per checkout), one-statement writes are durable at once,
and the "sent" marks of messages sent together are one UPDATE and all land."""
from __future__ import annotations

import asyncio

from sqlalchemy import event, func, select, text

import core.storage.db as db
from core.delivery import MessageKind
from core.outbox import Outbox
from core.pacing import Pacers
from core.storage.db import make_engine, session_factory, single
from core.storage.models import OutboxMessage
from core.types import Reply
from tests.conftest import require_pg
from tests.pgschema import PG_URL, throwaway_schema


async def test_a_connection_the_server_dropped_while_idle_is_replaced(monkeypatch) -> None:
    await require_pg()
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.2)
    async with throwaway_schema(PG_URL, prefix="idleping") as (_engine, schema):
        engine = make_engine(PG_URL, schema=schema, pool=db.PoolSettings(size=1, max_overflow=0))
        try:
            async with engine.connect() as conn:
                pid = (await conn.execute(text("select pg_backend_pid()"))).scalar_one()
            async with throwaway_schema(PG_URL, prefix="killer") as (killer, _):
                async with killer.connect() as conn:  # the server (a restart, an idle timeout) drops it
                    assert (await conn.execute(text(f"select pg_terminate_backend({pid})"))).scalar_one()
            await asyncio.sleep(0.3)
            async with engine.connect() as conn:  # pinged, found dead, replaced: no error reaches the caller
                assert (await conn.execute(text("select pg_backend_pid()"))).scalar_one() != pid
        finally:
            await engine.dispose()


class Sink:
    channel = "telegram"

    async def send(self, user_id, replies, *, retry=True, paid_broadcast=False, reply_to=""):  # noqa: ANN001, ANN201
        await asyncio.sleep(0)


async def test_messages_sent_together_are_marked_in_one_update_and_all_land(db_engine) -> None:
    sessions = session_factory(db_engine)
    outbox = Outbox(sessions, {"telegram": Sink()}, process_id="p1", pacers=Pacers({"telegram": 1e6}))
    rows = {}
    for i in range(20):
        async with sessions.begin() as session:
            row = await outbox.enqueue_row(session, channel="telegram", external_id=str(i),
                                           replies=[Reply(text=f"trả lời {i}")], kind=MessageKind.REPLY, claim=True)
        rows[row.id] = row
    updates: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        if statement.lstrip().upper().startswith("UPDATE OUTBOX_MESSAGES"):
            updates.append(statement)

    event.listen(db_engine.sync_engine, "before_cursor_execute", count)
    try:
        sent = await asyncio.gather(*(outbox.deliver([row_id], rows=rows) for row_id in rows))
    finally:
        event.remove(db_engine.sync_engine, "before_cursor_execute", count)
    assert sum(sent) == 20
    assert 1 <= len(updates) <= 3  # the first alone, the rest grouped while it ran (was: 20)
    async with sessions() as session:
        states = (await session.execute(select(OutboxMessage.status, OutboxMessage.claimed_by, func.count())
                                        .group_by(OutboxMessage.status, OutboxMessage.claimed_by))).all()
        assert states == [("sent", None, 20)]
        assert await session.scalar(select(func.count()).where(OutboxMessage.sent_at.is_(None))) == 0


async def test_a_single_statement_write_is_durable_when_it_returns(db_engine) -> None:
    sessions = session_factory(db_engine)
    async with single(sessions) as session:
        await session.execute(text("insert into processes (id, started_at, heartbeat_at) "
                                   "values ('solo', current_timestamp, current_timestamp)"))
    other = make_engine(db_engine.url.render_as_string(hide_password=False),
                        schema=(db_engine.dialect.name == "postgresql" or None)
                        and await _schema(db_engine))
    try:
        async with other.connect() as conn:  # another connection sees it: it was committed
            assert (await conn.execute(text("select count(*) from processes where id = 'solo'"))).scalar_one() == 1
    finally:
        await other.dispose()


async def _schema(engine) -> str:  # noqa: ANN001
    async with engine.connect() as conn:
        return (await conn.execute(text("select current_schema()"))).scalar_one()


async def test_a_mark_the_database_refuses_is_written_later_and_the_sender_goes_on(sqlite_engine, monkeypatch) -> None:
    from core.outbox import SentMarks

    sessions = session_factory(sqlite_engine)
    outbox = Outbox(sessions, {"telegram": Sink()}, process_id="p1", pacers=Pacers({"telegram": 1e6}))
    async with sessions.begin() as session:
        row = await outbox.enqueue_row(session, channel="telegram", external_id="9", replies=[Reply(text="a")],
                                       kind=MessageKind.REPLY, claim=True)
    real = SentMarks._update
    refusals = iter(range(6))

    async def flaky(self, group):  # noqa: ANN001, ANN202 - the database refuses six times, then accepts
        if next(refusals, None) is not None:
            return False
        return await real(self, group)

    monkeypatch.setattr(SentMarks, "_update", flaky)
    monkeypatch.setattr(SentMarks, "MAX_WAIT", 0.05)
    assert await asyncio.wait_for(outbox.deliver([row.id], rows={row.id: row}), 5) == 1  # the sender went on
    for _ in range(100):
        async with sessions() as session:
            if (await session.get(OutboxMessage, row.id)).status == "sent":
                break
        await asyncio.sleep(0.05)
    async with sessions() as session:
        stored = await session.get(OutboxMessage, row.id)
    assert (stored.status, stored.claimed_by) == ("sent", None)
    assert outbox._sent.unmarked == 0
