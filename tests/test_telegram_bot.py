"""The whole bot on Telegram: the adapter as bot/app.py wires it, the inbox, the real core, the fake Bot API on
loopback."""
from __future__ import annotations

import asyncio
import dataclasses

from aiohttp.test_utils import TestClient, TestServer

from bot.app import add_telegram
from tests.fakes.citizen import citizen_on
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_harness import telegram_harness

USER = 5001


async def test_a_citizen_uses_menu_slogans_and_hotlines(sqlite_engine, pack) -> None:
    async with citizen_on("telegram", sqlite_engine, pack) as citizen:  # buttons pressed by their labels
        await citizen.say("/start")
        assert "Xin chào An" in citizen.last_text and "Quảng Ngãi" in citizen.last_text  # the Telegram name
        assert any("Khẩu hiệu" in b for b in citizen.buttons) and any("Đường dây nóng" in b for b in citizen.buttons)

        await citizen.press("Khẩu hiệu")
        slogan = citizen.last_text
        assert "Khẩu hiệu" in slogan
        await citizen.press("Khẩu hiệu khác")
        assert citizen.last_text and citizen.last_text != slogan

        await citizen.press("Đường dây nóng")
        assert "1800 1096" in citizen.last_text
        await citizen.say("so dien thoai tong dai dich vu cong")
        await citizen.press("Lưu số")
        api, user = citizen.driver.api, citizen.driver.user
        [card] = [m for m in api.sent_to(user)[-len(citizen.last):] if m.method == "sendContact"]
        assert card.contact["phone_number"] == "1800 1096"  # a contact card the phone can save


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
