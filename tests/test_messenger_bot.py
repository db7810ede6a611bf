"""The whole bot on Messenger: the real core and features, the MessengerChannel, signed webhook deliveries
and the fake Graph Send API on loopback (the conversations of tests/test_telegram_bot.py and the feedback
end-to-end test, on Messenger)."""
from __future__ import annotations

import re

from tests.fakes.messenger_api import SentMessage
from tests.fakes.messenger_harness import messenger_harness
from tests.feedback.conftest import JPEG, payload_has, receiving_supervisor

USER = "7001000000000001"
CODE = re.compile(r"\b([2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4})\b")


def _payloads(msgs: list[SentMessage]) -> list[str]:
    return [q.get("payload", "") for m in msgs for q in m.quick_replies] + \
           [b["payload"] for m in msgs for b in m.buttons if b.get("type") == "postback"]


def _payload(msgs: list[SentMessage], needle: str) -> str:
    for data in reversed(_payloads(msgs)):
        if payload_has(data, needle):
            return data
    raise AssertionError(f"no button {needle!r} in {_payloads(msgs)}")


def _text(msgs: list[SentMessage]) -> str:
    return "\n".join(m.text for m in msgs)


async def test_a_citizen_uses_menu_slogans_and_hotlines(bot_sqlite) -> None:
    async with messenger_harness(bot_sqlite.core.handle) as h:
        welcome = await h.start(USER)  # the "Get started" button
        assert "Quảng Ngãi" in _text(welcome)
        assert {"m:slogan", "m:hotlines"} <= set(_payloads(welcome))
        assert all(len(q["title"]) <= 20 for m in welcome for q in m.quick_replies)

        slogan = await h.press(USER, "m:slogan")
        assert "Khẩu hiệu" in _text(slogan)
        other = await h.press(USER, "sl:next")
        assert _text(other) != _text(slogan)

        directory = await h.press(USER, "m:hotlines")
        assert "1800 1096" in _text(directory)
        found = await h.say(USER, "so dien thoai tong dai dich vu cong")
        contact = next(p for p in _payloads(found) if p.startswith("hl:c:"))
        sent = await h.press(USER, contact)
        assert "1800 1096" in _text(sent)  # a toll-free number Messenger cannot dial stays in the text


async def test_questions_special_characters_and_odd_input(bot_sqlite) -> None:
    async with messenger_harness(bot_sqlite.core.handle) as h:  # strict: the fake rejects invalid requests
        answer = await h.say(USER, "nop hs truc tuyen ntn")
        assert "Nộp hồ sơ trực tuyến" in _text(answer)
        odd = await h.say(USER, "<b>x</b> & **y** [z](javascript:alert(1))")
        assert _text(odd)
        unknown = await h.say(USER, "/lenhla")
        assert "/lenhla" in _text(unknown)
        photo = await h.send_photo(USER)
        assert "chỉ xử lý được tin nhắn chữ" in _text(photo)
        long = await h.say(USER, "hỏi " * 1500)
        assert long and all(len(m.text) <= 2000 for m in long)
        stale = await h.press(USER, "old:payload:v0", check=False)  # a button of an older bot version
        assert "đã cũ" in _text(stale)
        assert [i.channel for i in h.incoming] == ["messenger"] * 6


async def test_feedback_on_messenger_with_the_officials_answer_pushed(bot_sqlite, pack) -> None:
    bot = bot_sqlite
    async with messenger_harness(bot.core.handle) as h:
        bot.senders["messenger"] = h.channel
        msgs = await h.say(USER, "/phananh")
        msgs = await h.press(USER, _payload(msgs, ":c:1"))
        msgs = await h.say(USER, "ba to")
        await h.press(USER, _payload(msgs, ":m:"))
        msgs = await h.say(USER, "Cán bộ <b>một cửa</b> gây khó khăn & đòi thêm giấy tờ.")
        assert "Bước 4/5" in _text(msgs)
        msgs = await h.send_photo(USER, h.api.add_file("anh.jpg", JPEG))  # downloaded into the file store
        assert "1/5" in _text(msgs)
        msgs = await h.press(USER, _payload(msgs, ":a:done"))
        assert {"content_type": "user_phone_number"} in [q for m in msgs for q in m.quick_replies]
        msgs = await h.share_phone(USER, "+84912345678")
        assert "0912345678" in _text(msgs) and "<b>một cửa</b>" in _text(msgs)  # verbatim, plain text
        msgs = await h.press(USER, _payload(msgs, ":s"))
        code = CODE.search(_text(msgs)).group(1)  # type: ignore[union-attr]
        service = bot.services.extra["feedback"]
        page = await service.list_queue(receiving_supervisor(pack))
        assert [i.code for i in page.items] == [code]
        [kept] = (await service.get_report(receiving_supervisor(pack), page.items[0].id)).attachments
        assert kept.mime_type == "image/jpeg" and kept.size == len(JPEG) and kept.stored
        before = len(h.api.sent_to(USER))
        await service.resolve(receiving_supervisor(pack), page.items[0].id, "Đã chấn chỉnh bộ phận một cửa.")
        pushed = h.api.sent_to(USER)[before:]
        assert "Đã chấn chỉnh" in _text(pushed)
        msgs = await h.press(USER, _payload(pushed, ":5"))
        assert "5/5" in _text(msgs)
