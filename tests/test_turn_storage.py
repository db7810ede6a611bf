"""A chat turn's database work: few transactions, same results; pool settings; SQLite's writer lock."""
from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import event, func, select

from bot.config import ConfigError, load_settings
from core.storage.db import make_engine, max_concurrent_turns, session_factory
from core.storage.models import DialogueState, Interaction, User
from core.storage.repos import FlowState, Store
from core.types import Incoming
from tests.conftest import CONTENT


def _count_transactions(engine) -> list[int]:
    counter = [0]
    event.listen(engine.sync_engine, "begin", lambda _conn: counter.__setitem__(0, counter[0] + 1))
    return counter


async def test_a_plain_turn_reads_once_and_writes_once(bot) -> None:
    await bot.core.handle(Incoming(channel="telegram", user_id="31", display_name="An", text="/phananh"))
    counter = _count_transactions(bot.engine)
    replies = await bot.core.handle(Incoming(channel="telegram", user_id="31", display_name="An Nguyễn",
                                             text="/phananh"))
    assert replies and counter[0] == 2  # begin_turn (read) + finish_turn (state, log, last_seen)
    store = bot.services.store
    user = await store.find_user("telegram", "31")
    assert user is not None and user.display_name == "An Nguyễn"
    async with store.sessions() as s:
        logged = (await s.execute(select(Interaction.kind, Interaction.answer, Interaction.text)
                                  .where(Interaction.user_id == user.id).order_by(Interaction.id))).all()
    assert [tuple(r) for r in logged] == [("feedback", "feedback:start", ""), ("feedback", "feedback:resume-offer", "")]


async def test_begin_turn_clears_blocked_and_drops_an_expired_state(bot) -> None:
    store: Store = bot.services.store
    user = await store.touch_user("telegram", "32", "Bình")
    await store.mark_blocked("telegram", "32")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    await store.save_state(user.id, FlowState("feedback", "category", {"d": "0123456789ab"}, past))
    again, state = await store.begin_turn("telegram", "32", "")
    assert state is None and again.blocked_at is None and again.display_name == "Bình"
    async with store.sessions() as s:
        assert await s.get(DialogueState, user.id) is None
        assert (await s.get(User, user.id)).blocked_at is None


async def test_a_failed_turn_keeps_the_previous_state(bot, monkeypatch: pytest.MonkeyPatch) -> None:
    """State changes are saved with the turn: a turn that fails (internal-error reply) saves none of them."""
    store: Store = bot.services.store
    replies = await bot.core.handle(Incoming(channel="telegram", user_id="33", text="/phananh"))
    payload = next(b.payload for r in replies for row in r.buttons for b in row if ":c:0" in b.payload)
    user = await store.find_user("telegram", "33")

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("features.feedback.chat.prompt", broken)
    replies = await bot.core.handle(Incoming(channel="telegram", user_id="33", payload=payload))
    assert replies[0].text == bot.services.pack.texts.render("errors/internal")
    state = await store.get_state(user.id)
    assert state is not None and state.step == "category"  # not half-way into "commune"


async def test_sqlite_write_transactions_take_turns_and_nest(sqlite_engine) -> None:
    sessions = session_factory(sqlite_engine)
    inside = 0
    peak = 0

    async def writer(i: int) -> None:
        nonlocal inside, peak
        async with sessions.begin() as s:
            inside += 1
            peak = max(peak, inside)
            s.add(User(channel="t", external_id=str(i), display_name="", memo={}))
            async with sessions.begin():  # re-entrant in the same task
                pass
            await asyncio.sleep(0)
            inside -= 1

    await asyncio.gather(*(writer(i) for i in range(20)))
    assert peak == 1
    async with sessions() as s:
        assert (await s.execute(select(func.count()).select_from(User))).scalar_one() == 20


def test_pool_settings_come_from_the_environment() -> None:
    env = {"CCHC_CONTENT_DIR": str(CONTENT), "CCHC_DB_POOL_SIZE": "4", "CCHC_DB_MAX_OVERFLOW": "2",
           "CCHC_DB_POOL_TIMEOUT": "5"}
    settings = load_settings(env)
    assert (settings.db_pool.size, settings.db_pool.max_overflow, settings.db_pool.timeout) == (4, 2, 5.0)
    engine = make_engine("postgresql+asyncpg://u@127.0.0.1:1/x", pool=settings.db_pool)
    assert max_concurrent_turns(engine) == 12  # 2x the pool: turns queue in the adapter, not on the pool
    assert max_concurrent_turns(make_engine("sqlite+aiosqlite:///:memory:")) == 64
    for name, value in (("CCHC_DB_POOL_SIZE", "0"), ("CCHC_DB_MAX_OVERFLOW", "x"), ("CCHC_DB_POOL_TIMEOUT", "-1")):
        with pytest.raises(ConfigError, match=name):
            load_settings({**env, name: value})
