"""Issue 9: nothing personal in the logs at any level; strings from outside cleaned at the boundary."""
from __future__ import annotations

import logging

import pytest
from sqlalchemy import select, text

from core.logsafe import quiet_libraries
from core.sanitize import clean_incoming
from core.types import Attachment, Incoming
from tests.fakes.telegram_harness import telegram_harness

PHONE = "0987 654 321"
DESCRIPTION = "Cán bộ Hoàng Thị Mận ở bộ phận một cửa đòi tiền bồi dưỡng khi nhận hồ sơ đất đai"
NAME = "Quách\u202eTĩnh\x00"


def _buttons(msgs) -> list[str]:
    return [b["callback_data"] for m in msgs for row in (m.reply_markup or {}).get("inline_keyboard", [])
            for b in row if "callback_data" in b]


async def test_a_full_report_flow_at_debug_logs_nothing_personal(bot, caplog):
    quiet_libraries()  # what `cchc-bot run` does (core.logsafe.configure)
    caplog.set_level(logging.DEBUG)
    user = 424242
    async with telegram_harness(bot) as h:
        msgs = await h.say(user, "/phananh", first_name=NAME)
        msgs = await h.press(user, next(p for p in _buttons(msgs) if p.endswith(":c:0")), first_name=NAME)
        await h.say(user, "Ba Tơ", first_name=NAME)
        msgs = await h.say(user, DESCRIPTION, first_name=NAME)
        msgs = await h.press(user, next(p for p in _buttons(msgs) if ":a:" in p), first_name=NAME)
        msgs = await h.say(user, PHONE, first_name=NAME)
        sent = await h.press(user, next(p for p in _buttons(msgs) if p.endswith(":s")), first_name=NAME)
        assert any("đã được gửi" in m.plain for m in sent), [m.plain for m in sent]
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert caplog.records  # DEBUG was really on
    for secret in ("654 321", "0987654321", "654321", "Hoàng Thị Mận", "bồi dưỡng", "Quách", "Tĩnh"):
        assert secret not in logged, secret


def test_names_and_file_names_lose_nul_control_and_bidi():
    dirty = Incoming(channel="telegram", user_id="1\x00", display_name="An\x00\u202eh\u2066n\nB",
                     text="xin\x00 chào\u202e\nbạn", payload="m:\x00main",
                     attachments=(Attachment("document", "f\x00id", file_name="don\x00\u202efdp.exe"),))
    clean = clean_incoming(dirty)
    for value in (clean.display_name, clean.text, clean.payload, clean.user_id, clean.attachments[0].file_name,
                  clean.attachments[0].file_id):
        assert not any(ch in value for ch in "\x00\u202e\u2066"), value
    assert clean.display_name == "An h n B" and clean.text == "xin chào\nbạn" and clean.payload == "m:main"


async def test_a_nul_in_a_name_neither_fails_the_turn_nor_the_next_one(bot):
    from core.storage.models import User

    for say in ("/start", "/menu"):
        replies = await bot.core.handle(Incoming(channel="telegram", user_id="4343", display_name="An\x00 Bình",
                                                 text=say))
        assert "lỗi" not in replies[0].text.lower() and "bận" not in replies[0].text
    async with bot.services.store.sessions() as s:
        name = (await s.execute(select(User.display_name).where(User.external_id == "4343"))).scalar_one()
    assert name == "An Bình"


async def test_database_errors_do_not_carry_bound_parameters(bot):
    with pytest.raises(Exception) as failed:
        async with bot.engine.begin() as conn:
            await conn.execute(text("SELECT CAST(:v AS INTEGER) + no_such_column"), {"v": "0987654321"})
    assert "0987654321" not in str(failed.value)


async def test_json_logs_carry_the_turn_id_and_nothing_personal(bot, capsys):
    """Issue 15: CCHC_LOG_FORMAT=json — structlog JSON lines with the turn id; a failing turn's traceback
    and every line of a report flow still carry no personal data."""
    import json

    from bot.app import use_inbox
    from core.logsafe import json_formatter

    handler = logging.StreamHandler()
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    quiet_libraries()
    try:
        inbox = use_inbox(bot)
        sent: list = []

        class Sink:
            async def send(self, user_id, replies, **kw):
                sent.append(replies)

        bot.senders["telegram"] = Sink()
        await inbox.submit(Incoming(channel="telegram", user_id="5151", display_name=NAME, text="/phananh",
                                    message_id="m1"))
        await inbox.submit(Incoming(channel="telegram", user_id="5151", display_name=NAME,
                                    text=f"{DESCRIPTION} {PHONE}", message_id="m2"))
        logging.getLogger("core.inbox").info("a line inside no turn")
        await inbox.run_until_idle()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert sent and lines
    turns = {line["turn"] for line in lines if "turn" in line}
    assert turns, "the turn's log lines carry its id"
    assert all({"event", "level", "logger", "timestamp"} <= line.keys() for line in lines)
    text = json.dumps(lines, ensure_ascii=False)
    for secret in ("654 321", "Hoàng Thị Mận", "bồi dưỡng", "Quách", "Tĩnh"):
        assert secret not in text, secret
