"""The whole bot on Telegram: the adapter as bot/app.py wires it, the inbox, the real core, the fake Bot API on
loopback."""
from __future__ import annotations

import asyncio
import dataclasses

from aiohttp.test_utils import TestClient, TestServer

from bot.app import add_telegram
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_harness import telegram_harness

USER = 5001


async def test_a_citizen_uses_menu_slogans_and_hotlines(bot_sqlite) -> None:
    bot = bot_sqlite
    async with telegram_harness(bot) as h:
        [welcome] = await h.say(USER, "/start", first_name="Hoa")
        assert "Xin chào Hoa" in welcome.plain and "Quảng Ngãi" in welcome.plain
        assert "m:slogan" in welcome.callback_data and "m:hotlines" in welcome.callback_data

        [slogan] = await h.press(USER, "m:slogan")
        assert "Khẩu hiệu" in slogan.plain
        [other] = await h.press(USER, "sl:next")
        assert other.plain != slogan.plain

        [directory] = await h.press(USER, "m:hotlines")
        assert "1800 1096" in directory.plain
        [found] = await h.say(USER, "so dien thoai tong dai dich vu cong")
        contact_button = next(d for d in found.callback_data if d.startswith("hl:c:"))
        sent = await h.press(USER, contact_button)
        card = next(m for m in sent if m.method == "sendContact")
        assert card.contact["phone_number"] == "1800 1096"


async def test_questions_special_characters_and_odd_input(bot_sqlite) -> None:
    async with telegram_harness(bot_sqlite) as h:  # strict: the fake rejects invalid HTML
        [answer] = await h.say(USER, "nop hs truc tuyen ntn")
        assert "Nộp hồ sơ trực tuyến" in answer.plain
        [odd] = await h.say(USER, "<b>x</b> & **y** [z](javascript:alert(1))")
        assert odd.plain
        [unknown] = await h.say(USER, "/lenhla")
        assert "/lenhla" in unknown.plain
        [photo] = await h.send_photo(USER)
        assert "chỉ xử lý được tin nhắn chữ" in photo.plain
        long = await h.say(USER, "hỏi " * 1500)
        assert long and all(len(m.text) <= 4096 for m in long)
        # a button from an older version of the bot, pressed on an old message
        update = h.api.user_presses(USER, "old:payload:v0", answer.message_id, check=False)
        [stale] = await h.after(update)
        assert "đã cũ" in stale.plain


async def test_webhook_checks_the_secret(bot_sqlite) -> None:
    bot = bot_sqlite
    async with FakeTelegramAPI(token="123456:" + "A" * 35) as api:
        bot.settings = dataclasses.replace(
            bot.settings, telegram_token=api.token, telegram_api_base_url=api.base_url,
            telegram_webhook_url="https://bot.example.vn/telegram/webhook", telegram_webhook_secret="s3cret",
        )
        add_telegram(bot)
        [channel] = bot.channels
        await channel.start()
        runner = asyncio.create_task(bot.services.extra["inbox"].run())
        try:
            assert api.webhook["url"] == "https://bot.example.vn/telegram/webhook"
            async with TestClient(TestServer(bot.web_app())) as client:
                update = api.make_text(USER, "/start")
                wrong = await client.post("/telegram/webhook", json=update,
                                          headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
                assert wrong.status == 403
                missing = await client.post("/telegram/webhook", json=update)
                assert missing.status == 403
                assert api.sent_to(USER) == []
                ok = await client.post("/telegram/webhook", json=update,
                                       headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"})
                assert ok.status == 200
                messages = await api.wait_for(USER, 1, timeout=5)
                assert "Quảng Ngãi" in messages[0].plain
                # Telegram delivers the same update again (our 200 got lost): stored once, answered once
                again = await client.post("/telegram/webhook", json=update,
                                          headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret"})
                assert again.status == 200
                await bot.services.extra["inbox"].run_until_idle()
                assert len(api.sent_to(USER)) == 1
                health = await client.get("/healthz")
                assert health.status == 200 and (await health.json())["status"] == "ok"
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            await channel.stop()
