"""Subscribe / unsubscribe / read past issues end to end through the core (SQLite and PostgreSQL)."""
from __future__ import annotations

from features.bulletin.models import SENT
from core.storage.models import utcnow
from core.types import ButtonKind, Incoming, Reply
from tests.bulletin.helpers import make_bulletin


def said(user: str = "42", text: str = "", payload: str = "") -> Incoming:
    return Incoming(channel="telegram", user_id=user, display_name="Lan", text=text, payload=payload)


def payloads(reply: Reply) -> list[str]:
    return [b.payload for row in reply.buttons for b in row if b.kind == ButtonKind.PAYLOAD]


def labels(reply: Reply) -> list[str]:
    return [b.label for row in reply.buttons for b in row]


async def test_subscribe_with_topics_then_unsubscribe_in_one_tap(bot) -> None:
    service = bot.services.extra["bulletin"]
    [choose] = await bot.core.handle(said(text="/dangky"))
    assert "chủ đề" in choose.text and "bt:ok" in payloads(choose)
    toggles = [p for p in payloads(choose) if p.startswith("bt:t:")]
    assert len(toggles) == 3
    # defaults on (chung, dich-vu-cong); switch on "Chuyển đổi số", switch off "Dịch vụ công"
    assert sum(label.startswith("☑️") for label in labels(choose)) == 2
    [r] = await bot.core.handle(said(payload="bt:t:2"))
    assert r.edit and sum(label.startswith("☑️") for label in labels(r)) == 3
    [r] = await bot.core.handle(said(payload="bt:t:1"))
    [done] = await bot.core.handle(said(payload="bt:ok"))
    assert "đã đăng ký" in done.text and "Chuyển đổi số" in done.text and done.notice
    user = await bot.services.store.find_user("telegram", "42")
    assert await service.store.subscription(user.id) == (True, ["chung", "chuyen-doi-so"])
    # the unsubscribe button (as under every issue): one tap
    [bye] = await bot.core.handle(said(payload="bt:unsub"))
    assert "đã hủy" in bye.text and bye.notice
    assert (await service.store.subscription(user.id))[0] is False
    [again] = await bot.core.handle(said(text="/huydangky"))
    assert "không đăng ký" in again.text


async def test_confirm_without_topics_asks_for_one(bot) -> None:
    await bot.core.handle(said(text="/dangky"))
    await bot.core.handle(said(payload="bt:t:0"))
    [r] = await bot.core.handle(said(payload="bt:t:1"))
    assert not any(label.startswith("☑️") for label in labels(r))
    [r] = await bot.core.handle(said(payload="bt:ok"))
    assert r.notice and "bt:ok" in payloads(r)


async def test_menu_bulletin_lists_and_opens_past_issues(bot) -> None:
    service = bot.services.extra["bulletin"]
    [empty] = await bot.core.handle(said(payload="m:bulletin"))
    assert "chưa có số nào" in empty.text.lower() and "m:subscribe" in payloads(empty)
    bid = await make_bulletin(service.store, number=7, title="Đăng nhập bằng VNeID",
                              body="## Mục một\nNội dung **quan trọng**.")
    await service.store.start(bid, ["telegram"], utcnow(), from_=("draft",))  # no subscribers: sent at once
    assert (await service.store.get(bid)).status == SENT
    [listing] = await bot.core.handle(said(text="/bantin"))
    assert "Số 7" in listing.text and f"bt:r:{bid}" in payloads(listing)
    replies = await bot.core.handle(said(payload=f"bt:r:{bid}"))
    assert "SỐ 7" in replies[0].text and "Mục một" in replies[0].text
    assert "m:subscribe" in payloads(replies[-1])  # not subscribed: offer to subscribe
    [sub] = await bot.core.handle(said(payload="m:subscribe"))
    assert "bt:ok" in payloads(sub)
    await bot.core.handle(said(payload="bt:ok"))
    replies = await bot.core.handle(said(payload=f"bt:r:{bid}"))
    assert "bt:unsub" in payloads(replies[-1])
    [gone] = await bot.core.handle(said(payload="bt:r:99999"))
    assert "không còn" in gone.text


async def test_payloads_fit_telegram(bot) -> None:
    [choose] = await bot.core.handle(said(text="/dangky"))
    assert all(len(p.encode()) <= 64 for p in payloads(choose))
