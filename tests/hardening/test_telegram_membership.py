"""Issue 9: Telegram membership and empty messages — a "kicked" update unsubscribes from the bulletin at once
(adapter → core `on_blocked` → `Store.blocked_hooks` → the bulletin), the bot leaves a group it is added to
with one polite line, an empty message is answered "no text", never "file received"."""
from __future__ import annotations

import pytest

from channels.telegram import to_incoming
from features.bulletin.models import Subscriber
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_harness import scripted_telegram
from tests.test_telegram_adapter import Echo


async def test_blocking_the_bot_ends_the_bulletin_subscription_at_once(bot):
    user = await bot.services.store.touch_user("telegram", "9901", "An")
    await bot.services.extra["bulletin"].subscribe(user.id, [])
    async with bot.services.store.sessions() as s:
        assert (await s.get(Subscriber, user.id)).active
    await bot.services.store.mark_blocked("telegram", "9901")  # what the adapter's "kicked" update calls
    async with bot.services.store.sessions() as s:
        row = await s.get(Subscriber, user.id)
        assert row.active is False and row.unsubscribe_reason == "blocked"


@pytest.mark.timeout(20)
async def test_added_to_a_group_says_one_line_and_leaves():
    async with scripted_telegram(Echo(), group_notice=lambda: "Tôi chỉ trò chuyện riêng, xin phép rời nhóm.") as h:
        update = h.api.enqueue(h.api.make_added_to_group(-100123))
        await h.after(update)
        assert [m.plain for m in h.api.sent_to(-100123)] == ["Tôi chỉ trò chuyện riêng, xin phép rời nhóm."]
        assert h.api.left_chats == ["-100123"]


async def test_an_empty_message_is_answered_as_no_text(bot):
    from telegram import Bot, Update

    api = FakeTelegramAPI()
    for content in ({"dice": {"emoji": "🎲", "value": 3}}, {"text": ""}):
        incoming = to_incoming(Update.de_json(api.make_empty(9902, **content), Bot("1:x")))
        assert incoming is not None and not incoming.attachments and incoming.text == ""
        [reply] = await bot.core.handle(incoming)
        assert "chỉ đọc được tin nhắn chữ" in reply.text and "tệp" not in reply.text


def test_other_adapters_make_up_no_attachment_for_an_empty_message():
    from channels.messenger.channel import to_incoming as messenger
    from channels.zalo_bot.channel import to_incoming as zalo_bot

    m = messenger({"sender": {"id": "55"}, "message": {"mid": "m.1", "text": ""}})
    z = zalo_bot({"event_name": "message.text.received",
                  "message": {"from": {"id": "66"}, "chat": {"chat_type": "PRIVATE"}, "text": "", "message_id": "z1"}})
    for incoming in (m, z):
        assert incoming is not None and not incoming.attachments and incoming.text == ""
