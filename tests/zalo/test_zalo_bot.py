"""Zalo Bot Platform adapter against the fake Bot API: webhook (secret header), long polling, sending."""
from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest

from channels import zalo_bot
from channels.zalo_bot.channel import ZaloBotChannel, ZaloBotSettings, to_incoming
from core.channel import Blocked, PermanentError, RateLimited, TransientError
from core.types import Attachment, Button, ContactCard, Incoming, Reply
from tests.fakes.zalo_bot_api import FakeZaloBotAPI
from tests.zalo.conftest import Inbox, serve

FAST = {"retry_base_delay": 0.01, "retry_max_delay": 0.05, "poll_error_delay": 0.05, "polling_timeout": 1}
PATH = "/zalo/bot/webhook"


async def _until(predicate, timeout: float = 5.0) -> None:
    async def wait() -> None:
        while not predicate():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(wait(), timeout)


async def test_webhook_checks_the_secret_and_submits_before_200(caplog) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeZaloBotAPI() as api:
        inbox = Inbox()
        settings = ZaloBotSettings(api.token, "http://127.0.0.1:1" + PATH, "s3cret-token-123", api.base_url)
        channel = ZaloBotChannel(settings, inbox, **FAST)
        async with serve(channel) as base:
            channel.settings = dataclasses.replace(settings, webhook_url=base + PATH)
            await channel.start()
            try:
                assert api.webhook_url == base + PATH and api.webhook_secret == "s3cret-token-123"
                status, update = await api.user_sends("u1", "Xin chào 0912345678")
                assert status == 200
                assert inbox.items == [Incoming(channel="zalo_bot", user_id="u1", display_name="Ted",
                                                text="Xin chào 0912345678",
                                                message_id=update["message"]["message_id"])]
                for wrong in ("wrong-secret-123", ""):
                    assert await api.deliver(api.update("u1", text="hi"), secret=wrong) == 401
                assert len(inbox.items) == 1
                inbox.fail = RuntimeError("db down")
                assert await api.deliver(api.update("u1", text="hi")) == 503
                assert "0912345678" not in caplog.text and api.token not in caplog.text
            finally:
                await channel.stop()


@pytest.mark.parametrize("as_list", [False, True])
async def test_long_polling_when_no_webhook_url(as_list) -> None:
    async with FakeZaloBotAPI(updates_as_list=as_list) as api:
        api.webhook_url, api.webhook_secret = "https://old.example/hook", "oldsecret"
        inbox = Inbox()
        channel = ZaloBotChannel(ZaloBotSettings(api.token, api_base_url=api.base_url), inbox, **FAST)
        await channel.start()
        try:
            assert channel.mode == "polling" and api.webhook_url == ""  # deleteWebhook first
            await api.user_sends("u1", "tra cứu")
            await api.user_sends_photo("u2", "http://127.0.0.1/x.jpg", caption="ổ gà")
            await _until(lambda: len(inbox.items) == 2)
            assert inbox.items[0].text == "tra cứu" and inbox.items[0].user_id == "u1"
            assert inbox.items[1].attachments == (Attachment("photo", "http://127.0.0.1/x.jpg", mime_type="image/jpeg"),)
            assert inbox.items[1].text == "ổ gà"
            await asyncio.sleep(1.2)  # a long poll that ends empty (408) is simply repeated
            await api.user_sends("u1", "còn đó không")
            await _until(lambda: len(inbox.items) == 3)
        finally:
            await channel.stop()


async def test_sending_text_photo_fallback_and_no_edit() -> None:
    async with FakeZaloBotAPI() as api:
        channel = ZaloBotChannel(ZaloBotSettings(api.token, api_base_url=api.base_url), None, receive=False, **FAST)
        await channel.start()
        try:
            long = "Câu trả lời về thủ tục hành chính cấp xã. " * 100  # ~4200 characters
            await channel.send("u1", [
                Reply(text="**Xin chào**"),
                Reply(text=long),
                Reply(text="Chọn:", buttons=[[Button("Hỏi đáp", "m:faq"), Button("Đường dây nóng", "m:hotlines")]]),
                Reply(text="Liên hệ", contact=ContactCard("0912345678", "UBND xã")),
                Reply(image_url="https://example.org/a.png", text="Ảnh minh họa"),
                Reply(text="Đã sửa", edit=True),
            ])
            sent = api.sent_to("u1")
            assert sent[0].text == "Xin chào"
            parts = [s.text for s in sent[1:4]]
            assert all(len(p) <= 2000 and p.endswith("xã.") for p in parts)
            assert sent[4].text == "Chọn:\n\n1. Hỏi đáp\n2. Đường dây nóng"
            assert sent[5].text == "Liên hệ\n\nUBND xã: 0912345678"
            assert sent[6].method == "sendPhoto" and sent[7].text == "Ảnh minh họa"
            assert sent[8].method == "sendMessage" and sent[8].text == "Đã sửa"
            assert "getUpdates" not in api.calls and "setWebhook" not in api.calls
        finally:
            await channel.stop()


@pytest.mark.parametrize(("code", "error"), [(429, RateLimited), (403, Blocked), (400, PermanentError),
                                             (500, TransientError)])
async def test_errors_are_typed_and_retried(code, error) -> None:
    async with FakeZaloBotAPI() as api:
        channel = ZaloBotChannel(ZaloBotSettings(api.token, api_base_url=api.base_url), None, receive=False, **FAST)
        await channel.start()
        try:
            api.fail_next(code)
            with pytest.raises(error):
                await channel.send("u1", [Reply(text="a")], retry=False)
            api.fail_next(code)
            if error in (RateLimited, TransientError):
                await channel.send("u1", [Reply(text="b")])  # retried
                assert [s.text for s in api.sent_to("u1")] == ["b"]
            else:
                with pytest.raises(error) as info:
                    await channel.send("u1", [Reply(text="b"), Reply(text="c")])
                assert info.value.delivered == 0
        finally:
            await channel.stop()


def test_group_chats_and_odd_updates() -> None:
    api = FakeZaloBotAPI()
    assert to_incoming(api.update("u1", text="hi", chat_type="GROUP")) is None
    assert to_incoming({"event_name": "x"}) is None
    sticker = to_incoming(api.update("u1", "message.sticker.received", sticker="abc", url="https://s/1.png"))
    assert sticker is not None and sticker.attachments[0].kind == "sticker"
    other = to_incoming(api.update("u1", "message.unsupported.received"))
    assert other is not None and other.attachments == (Attachment("other"),)


def test_settings_and_build() -> None:
    assert zalo_bot.build({}, None) == []
    with pytest.raises(ValueError, match="^ZALO_BOT_TOKEN"):
        zalo_bot.build({"ZALO_BOT_WEBHOOK_URL": "https://x/y"}, None)
    with pytest.raises(ValueError, match="^ZALO_BOT_TOKEN"):
        ZaloBotSettings.from_env({"ZALO_BOT_TOKEN": "short"})
    good = {"ZALO_BOT_TOKEN": "12345:abcdefghijkl"}
    with pytest.raises(ValueError, match="^ZALO_BOT_WEBHOOK_URL"):
        ZaloBotSettings.from_env({**good, "ZALO_BOT_WEBHOOK_URL": "http://insecure/hook"})
    with pytest.raises(ValueError, match="^ZALO_BOT_WEBHOOK_SECRET"):
        ZaloBotSettings.from_env({**good, "ZALO_BOT_WEBHOOK_URL": "https://bot.example/zalo/hook"})
    with pytest.raises(ValueError, match="^ZALO_BOT_API_BASE_URL"):
        ZaloBotSettings.from_env({**good, "ZALO_BOT_API_BASE_URL": "ftp://x"})
    s = ZaloBotSettings.from_env({**good, "ZALO_BOT_WEBHOOK_URL": "https://bot.example/zalo/hook",
                                  "ZALO_BOT_WEBHOOK_SECRET": "abcdefgh"})
    assert s.webhook_path == "/zalo/hook"
    [channel] = zalo_bot.build({**good}, Inbox())
    assert channel.channel == "zalo_bot" and channel.capabilities.text_limit == 2000
    assert not channel.capabilities.can_edit
