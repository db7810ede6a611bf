"""A display name is shown as written in the greeting, never as markup: on Telegram (HTML) and on a plain
channel (the terminal chat)."""
from __future__ import annotations

import pytest

from channels.console import ConsoleChannel
from core.render import escape_html
from core.types import Incoming
from tests.fakes.telegram_harness import telegram_harness

NAMES = ["[Nhận quà](https://example.com)", "**An**", "<b>Hoa</b> & Lan", "- Bình", "1. Chi \\*"]


@pytest.mark.parametrize("name", NAMES)
async def test_greeting_shows_the_name_literally_on_telegram(bot_sqlite, name: str) -> None:
    async with telegram_harness(bot_sqlite) as h:  # strict: the fake rejects invalid HTML
        [welcome] = await h.say(5101, "/start", first_name=name)
        assert welcome.plain.startswith(f"Xin chào {name}! Tôi là ")
        assert welcome.text.startswith(f"Xin chào <b>{escape_html(name)}</b>! ")  # the pack's bold only
        assert "<a " not in welcome.text


@pytest.mark.parametrize("name", NAMES)
async def test_greeting_shows_the_name_literally_on_a_plain_channel(bot_sqlite, name: str) -> None:
    console = ConsoleChannel(bot_sqlite.core.handle, user_id="c1", display_name=name)
    replies = await bot_sqlite.core.handle(Incoming(channel="console", user_id="c1", display_name=name, text="/start"))
    assert console.render(replies).startswith(f"Xin chào {name}! Tôi là ")
