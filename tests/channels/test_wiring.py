"""bot/app.py wiring of the platform channels: configuration errors, /readyz, follow/unfollow, numbered
options typed as numbers."""
from __future__ import annotations

import pytest

from bot.app import add_platform_channels, build_bot
from bot.config import ConfigError
from core.types import Incoming
from tests.conftest import make_settings
from tests.fakes.citizen import citizen_on


async def test_a_wrong_value_names_the_variable(sqlite_engine, pack) -> None:
    bot = await build_bot(make_settings(extra={"ZALO_OA_APP_ID": "abc", "ZALO_OA_SECRET_KEY": "s",
                                               "ZALO_OA_APP_SECRET": "t"}), pack=pack, engine=sqlite_engine,
                          migrate=False)
    with pytest.raises(ConfigError, match="ZALO_OA_APP_ID"):
        add_platform_channels(bot)
    bot = await build_bot(make_settings(extra={"MESSENGER_APP_SECRET": "x"}), pack=pack, engine=sqlite_engine,
                          migrate=False)
    with pytest.raises(ConfigError, match="MESSENGER_PAGE_ACCESS_TOKEN"):
        add_platform_channels(bot)
    bot = await build_bot(make_settings(), pack=pack, engine=sqlite_engine, migrate=False)
    assert add_platform_channels(bot) == []  # none configured: none runs
    # an env template's webhook secret line alone switches nothing on; a webhook URL without token is an error
    bot = await build_bot(make_settings(extra={"ZALO_BOT_WEBHOOK_SECRET": "abcdefgh12"}), pack=pack,
                          engine=sqlite_engine, migrate=False)
    assert add_platform_channels(bot) == []
    bot = await build_bot(make_settings(extra={"ZALO_BOT_WEBHOOK_URL": "https://bot.example.vn/zalo"}), pack=pack,
                          engine=sqlite_engine, migrate=False)
    with pytest.raises(ConfigError, match="ZALO_BOT_TOKEN"):
        add_platform_channels(bot)


async def test_readyz_fails_with_the_reason_when_the_page_token_is_revoked(sqlite_engine, pack) -> None:
    async with citizen_on("messenger", sqlite_engine, pack) as citizen:
        client = citizen.driver.hook  # the bot's web app is served for the webhook
        from aiohttp import ClientSession

        url = client.url.replace("/webhooks/messenger", "/readyz")
        async with ClientSession() as http:
            async with http.get(url) as r:
                assert r.status == 200, await r.text()
            channel = citizen.bot.senders["messenger"]
            citizen.driver.api.revoke_token()  # the Page admin changed their password
            await channel.health(force=True)
            async with http.get(url) as r:
                body = await r.json()
                assert r.status == 503
                assert body["status"] == "not ready" and any("MESSENGER_PAGE_ACCESS_TOKEN" in str(v) for v in body["checks"].values()), body


async def test_follow_welcomes_and_unfollow_leaves_the_bulletin(bot_sqlite) -> None:
    bot = bot_sqlite
    [welcome] = await bot.core.handle(Incoming(channel="zalo_oa", user_id="f1", payload="sys:follow",
                                               message_id="follow:f1:1"))
    assert "Xin chào" in welcome.text
    service = bot.services.extra["bulletin"]
    user = await bot.services.store.find_user("zalo_oa", "f1")
    await service.subscribe(user.id, service.settings.default_topics)
    assert (await service.store.subscription(user.id))[0]
    assert await bot.core.handle(Incoming(channel="zalo_oa", user_id="f1", payload="sys:unfollow",
                                          message_id="unfollow:f1:2")) == []
    assert not (await service.store.subscription(user.id))[0]


async def test_messenger_says_it_is_automated_at_the_start(sqlite_engine, pack) -> None:
    async with citizen_on("messenger", sqlite_engine, pack) as citizen:
        await citizen._act(citizen.driver.get_started())
        assert "trợ lý tự động" in citizen.last_text and "Xin chào" in citizen.last_text
    async with citizen_on("telegram", sqlite_engine, pack) as citizen:
        await citizen.say("/start")
        assert "trợ lý tự động" not in citizen.last_text


async def test_a_typed_number_presses_the_numbered_option_only_where_it_was_shown(bot_sqlite) -> None:
    from core.channel import Capabilities

    bot = bot_sqlite
    bot.services.extra["capabilities"]["textonly"] = Capabilities(max_buttons=0)
    await bot.core.handle(Incoming(channel="textonly", user_id="n1", text="/phananh"))
    replies = await bot.core.handle(Incoming(channel="textonly", user_id="n1", text="2"))  # 2. Thái độ...
    assert "Bước 2/5" in replies[0].text
    # where buttons were shown (no capabilities registered: buttons), "2" stays text
    await bot.core.handle(Incoming(channel="buttons", user_id="n1", text="/phananh"))
    replies = await bot.core.handle(Incoming(channel="buttons", user_id="n1", text="2"))
    assert "Bước 2/5" not in replies[0].text
    user = await bot.services.store.find_user("buttons", "n1")
    assert "options" not in (user.memo or {})
