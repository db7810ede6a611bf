"""The engine through the real TelegramChannel (python-telegram-bot) against the fake Bot API with its
flood control switched on."""
from __future__ import annotations

import collections
from contextlib import asynccontextmanager

from sqlalchemy import select

from bot.bulletin.cli import start_send_only
from bot.bulletin.engine import DeliveryEngine
from bot.bulletin.models import Subscriber
from bot.bulletin.render import chat_replies
from bot.bulletin.store import BulletinStore
from bot.channels.telegram import TelegramChannel
from bot.storage.db import session_factory
from bot.storage.models import User, utcnow
from tests.bulletin.helpers import add_subscribers, fast_config, make_bulletin
from tests.fakes.telegram_api import FakeTelegramAPI


async def _noop(incoming):  # noqa: ANN001, ANN202
    return []


@asynccontextmanager
async def telegram(db_engine, pack, **config):
    async with FakeTelegramAPI() as api:
        channel = TelegramChannel(token=api.token, handle=_noop, api_base_url=api.base_url, typing_after=None)
        await start_send_only(channel)
        store = BulletinStore(session_factory(db_engine))

        async def render(bulletin_id: int, ch: str):  # noqa: ANN202
            return chat_replies(pack, await store.get(bulletin_id), ch)

        engine = DeliveryEngine(store, {"telegram": channel}, render, fast_config(**config))
        try:
            yield api, engine, store
        finally:
            await channel.application.shutdown()


def _per_chat(api: FakeTelegramAPI) -> collections.Counter[str]:
    return collections.Counter(m.chat_id for m in api.messages if m.method == "sendMessage")


def _worst_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    j = worst = 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        worst = max(worst, i - j + 1)
    return worst


async def test_flood_cap_never_exceeded_and_everyone_served(sqlite_engine, pack) -> None:
    await add_subscribers(sqlite_engine, 240)
    async with telegram(sqlite_engine, pack, rates={"telegram": 80.0}) as (api, engine, store):
        api.flood_limit(80)
        bid = await make_bulletin(store, body="## Dịch vụ công\nNộp hồ sơ **trực tuyến** tại [Cổng DVC](https://dichvucong.gov.vn).")
        await store.start(bid, ["telegram"], utcnow(), from_=("draft",))
        await engine.run_until_idle(timeout=30)
        assert api.flood_violations == 0
        assert not api.bad_requests, api.bad_requests[:1]  # strict HTML, buttons valid
        per_chat = _per_chat(api)
        assert len(per_chat) == 240 and set(per_chat.values()) == {1}
        assert _worst_window(api.delivery_times) <= 80
        rate = (len(api.delivery_times) - 1) / (max(api.delivery_times) - min(api.delivery_times))
        assert rate >= 0.85 * 80, rate
        last = api.messages[-1]
        assert "bt:unsub" in last.callback_data
        progress = await store.progress(bid)
        assert progress.status == "sent" and progress.sent == 240


async def test_retry_after_pauses_everyone_then_resumes(sqlite_engine, pack) -> None:
    await add_subscribers(sqlite_engine, 60)
    async with telegram(sqlite_engine, pack, rates={"telegram": 200.0}) as (api, engine, store):
        api.fail_next("sendMessage", status=429, retry_after=1)
        bid = await make_bulletin(store)
        await store.start(bid, ["telegram"], utcnow(), from_=("draft",))
        await engine.run_until_idle(timeout=30)
        per_chat = _per_chat(api)
        assert len(per_chat) == 60 and set(per_chat.values()) == {1}
        refused = next(r for r in api.requests if r.status == 429)
        # requests already in flight may land right after the 429; none started later within retry_after
        late = [r.time for r in api.calls("sendMessage") if refused.time + 0.1 < r.time < refused.time + 0.95]
        assert late == []
        assert (await store.progress(bid)).sent == 60


async def test_blocked_user_marked_and_unsubscribed(db_engine, pack) -> None:
    await add_subscribers(db_engine, 12)
    async with telegram(db_engine, pack) as (api, engine, store):
        api.block(1004)
        bid = await make_bulletin(store)
        await store.start(bid, ["telegram"], utcnow(), from_=("draft",))
        await engine.run_until_idle(timeout=30)
        progress = await store.progress(bid)
        assert (progress.sent, progress.blocked) == (11, 1)
        async with db_engine.connect() as conn:
            user = (await conn.execute(select(User).where(User.external_id == "1004"))).one()
            sub = (await conn.execute(select(Subscriber.active).where(Subscriber.user_id == user.id))).scalar_one()
        assert user.blocked_at is not None and sub is False


async def test_transient_5xx_retried(sqlite_engine, pack) -> None:
    await add_subscribers(sqlite_engine, 10)
    async with telegram(sqlite_engine, pack) as (api, engine, store):
        api.fail_next("sendMessage", status=502, times=3)
        bid = await make_bulletin(store)
        await store.start(bid, ["telegram"], utcnow(), from_=("draft",))
        await engine.run_until_idle(timeout=30)
        per_chat = _per_chat(api)
        assert len(per_chat) == 10 and set(per_chat.values()) == {1}
        assert (await store.progress(bid)).sent == 10
