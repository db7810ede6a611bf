"""The engine through the real TelegramChannel (python-telegram-bot) against the fake Bot API with its
flood control switched on."""
from __future__ import annotations

import asyncio
import collections
from contextlib import asynccontextmanager

from sqlalchemy import select, update

from features.bulletin.content import Delivery as DeliverySettings
from features.bulletin.engine import DeliveryEngine
from features.bulletin.models import Delivery, Subscriber
from features.bulletin.service import engine_config
from features.bulletin.render import chat_replies
from features.bulletin.store import BulletinStore
from channels.telegram import TelegramChannel
from core.storage.db import session_factory
from core.storage.models import User, utcnow
from tests.bulletin.helpers import add_subscribers, fast_config, make_bulletin
from tests.fakes.telegram_api import FakeTelegramAPI, busiest_window


@asynccontextmanager
async def telegram(db_engine, pack, **config):
    async with FakeTelegramAPI() as api:
        channel = TelegramChannel(token=api.token, receive_updates=False, api_base_url=api.base_url)
        await channel.start()
        store = BulletinStore(session_factory(db_engine))

        async def render(bulletin_id: int, ch: str):  # noqa: ANN202
            return chat_replies(pack, await store.get(bulletin_id), ch)

        engine = DeliveryEngine(store, {"telegram": channel}, render, fast_config(**config))
        try:
            yield api, engine, store
        finally:
            await channel.stop()


def _per_chat(api: FakeTelegramAPI) -> collections.Counter[str]:
    return collections.Counter(m.chat_id for m in api.messages if m.method == "sendMessage")


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
        assert busiest_window(api.delivery_times) <= 80  # the throughput itself is `make bench`'s to measure
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


# -- multi-part issues: resume at the first part that did not arrive --------------------------------

def _long_body(paragraphs: int = 25) -> str:
    line = "Nộp hồ sơ trực tuyến qua Cổng dịch vụ công quốc gia, theo dõi kết quả trên ứng dụng VNeID. "
    return "## Thủ tục hành chính\n" + "\n\n".join(f"**Mục {i}.** " + line * 3 for i in range(paragraphs))


async def _deliveries(db_engine):  # noqa: ANN202
    async with db_engine.connect() as conn:
        return (await conn.execute(select(Delivery.external_id, Delivery.status, Delivery.parts_sent,
                                          Delivery.attempts).order_by(Delivery.id))).all()


async def test_multipart_issue_resumes_at_the_part_that_failed(db_engine, pack) -> None:
    await add_subscribers(db_engine, 1)
    async with telegram(db_engine, pack) as (api, engine, store):
        bid = await make_bulletin(store, body=_long_body())
        parts = chat_replies(pack, await store.get(bid))
        assert len(parts) == 2
        api.fail_next("sendMessage", 502, after=1)  # part 1 arrives, part 2 fails
        await store.start(bid, ["telegram"], utcnow(), from_=("draft",))
        await engine.run_until_idle(timeout=30)
        calls = api.calls("sendMessage")
        assert [c.status for c in calls] == [200, 502, 200]
        assert calls[1].params["text"] == calls[2].params["text"] != calls[0].params["text"]
        got = api.sent_to(1000)
        assert len(got) == 2 and "Mục 0." in got[0].plain and "bt:unsub" in got[1].callback_data
        assert "bt:unsub" not in got[0].callback_data
        assert [tuple(r) for r in await _deliveries(db_engine)] == [("1000", "sent", 2, 2)]
        assert (await store.progress(bid)).sent == 1


async def test_multipart_resume_survives_a_worker_restart(sqlite_engine, pack) -> None:
    await add_subscribers(sqlite_engine, 1)
    # a long backoff: the first worker stops before the retry is due
    async with telegram(sqlite_engine, pack, backoff_base=60.0, backoff_max=60.0) as (api, engine, store):
        bid = await make_bulletin(store, body=_long_body())
        api.fail_next("sendMessage", 502, after=1)
        await store.start(bid, ["telegram"], utcnow(), from_=("draft",))
        task = asyncio.create_task(engine.run())
        for _ in range(200):
            rows = await _deliveries(sqlite_engine)
            if rows[0].status == "pending" and rows[0].attempts == 1:
                break
            await asyncio.sleep(0.05)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert [tuple(r) for r in await _deliveries(sqlite_engine)] == [("1000", "pending", 1, 1)]
        async with sqlite_engine.begin() as conn:  # the backoff is over
            await conn.execute(update(Delivery).values(next_attempt_at=None))
        second = DeliveryEngine(store, engine.senders, engine.render, engine.config)
        await second.run_until_idle(timeout=30)
        texts = [m.text for m in api.sent_to(1000)]
        assert len(texts) == 2 and texts[0] != texts[1]  # part 1 once, part 2 once
        assert [c.status for c in api.calls("sendMessage")] == [200, 502, 200]
        assert (await store.progress(bid)).status == "sent"


# -- paid broadcast ------------------------------------------------------------------------------

async def test_paid_broadcast_bulletin_sends_with_the_flag_normal_one_without(sqlite_engine, pack) -> None:
    await add_subscribers(sqlite_engine, 40)
    settings = pack.extras["bulletin"].settings
    assert engine_config(settings).paid_broadcast == frozenset()  # the shipped pack: free broadcast
    paid = settings.model_copy(update={"delivery": DeliverySettings.model_validate(
        {**settings.delivery.model_dump(), "rates": {"telegram": 200}, "paid_broadcast": ["telegram"]})})
    cfg = engine_config(paid)
    assert cfg.paid_broadcast == {"telegram"} and cfg.rate("telegram") == 200
    # Telegram's paid broadcasts have their own, higher cap; free sends stay at 30/s
    async with telegram(sqlite_engine, pack, rates=cfg.rates, paid_broadcast=cfg.paid_broadcast) as (api, engine, store):
        api.flood_limit(30, paid_per_second=200)
        bid = await make_bulletin(store, image_url="https://dichvucong.gov.vn/anh.jpg")
        await store.start(bid, ["telegram"], utcnow(), from_=("draft",))
        await engine.run_until_idle(timeout=30)
        assert api.flood_violations == 0 and not api.bad_requests
        assert collections.Counter(m.method for m in api.messages) == {"sendPhoto": 40, "sendMessage": 40}
        assert all(m.paid_broadcast for m in api.messages)
        assert (await store.progress(bid)).sent == 40
    normal = engine_config(settings)
    async with telegram(sqlite_engine, pack, rates={"telegram": 200.0},
                        paid_broadcast=normal.paid_broadcast) as (api, engine, store):
        bid = await make_bulletin(store, number=2, image_url="https://dichvucong.gov.vn/anh.jpg")
        await store.start(bid, ["telegram"], utcnow(), from_=("draft",))
        await engine.run_until_idle(timeout=30)
        assert len(api.messages) == 80 and not any(m.paid_broadcast for m in api.messages)
        assert all("allow_paid_broadcast" not in m.params for m in api.messages)
