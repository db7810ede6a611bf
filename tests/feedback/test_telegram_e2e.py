"""The citizen flow through the Telegram adapter as bot/app.py wires it, the inbox and the fake Bot API (both
databases)."""
import re

from bot.app import build_bot
from tests.conftest import make_settings
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_harness import telegram_harness
from tests.feedback.conftest import payload_has, receiving_supervisor

USER = 424242
CODE = re.compile(r"\b([2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4})\b")


def _payload(msgs, needle: str) -> str:
    for m in reversed(msgs):
        for data in m.callback_data:
            if payload_has(data, needle):
                return data
    raise AssertionError(f"no button {needle!r} in {[m.callback_data for m in msgs]}")


def _plain(msgs) -> str:
    return "\n".join(m.plain for m in msgs)


async def test_feedback_through_telegram_with_restart_and_double_submit(bot, pack):
    async with FakeTelegramAPI(token="123:ABC") as api:  # one Telegram; the bot restarts
        async with telegram_harness(bot, api=api) as h:
            msgs = await h.say(USER, "/phananh")
            msgs = await h.press(USER, _payload(msgs, ":c:1"))
            msgs = await h.say(USER, "ba to")
            assert "Xã Ba Tơ" in str([m.button_labels for m in msgs])
            await h.press(USER, _payload(msgs, ":m:"))
            msgs = await h.say(USER, "Cán bộ <b>một cửa</b> gây khó khăn & đòi thêm giấy tờ.")
            assert "Bước 4/5" in _plain(msgs)
        # restart: a new Bot and a new Telegram channel on the same database continue the same draft
        bot2 = await build_bot(make_settings(), pack=pack, engine=bot.engine, migrate=False)
        async with telegram_harness(bot2, api=api) as h:
            msgs = await h.send_photo(USER, caption="")
            assert "1/5" in _plain(msgs)
            msgs = await h.press(USER, _payload(msgs, ":a:done"))
            assert any(row and row[0].get("request_contact") for m in msgs for row in m.keyboard)
            msgs = await h.share_contact(USER, "+84912345678")
            assert "0912345678" in _plain(msgs) and "<b>một cửa</b>" in _plain(msgs)  # shown escaped, verbatim
            send = _payload(msgs, ":s")
            msgs = await h.press(USER, send)
            text = _plain(msgs)
            assert "đã được gửi" in text
            code = CODE.search(text).group(1)
            msgs = await h.press(USER, send)  # double press
            assert "đã được gửi rồi" in _plain(msgs) and code in _plain(msgs)
            service = bot2.services.extra["feedback"]
            page = await service.list_queue(receiving_supervisor(pack))
            assert [i.code for i in page.items] == [code]
            # an official resolves it: the citizen gets the answer in the chat, with rating buttons
            before = len(h.api.sent_to(USER))
            await service.resolve(receiving_supervisor(pack), page.items[0].id, "Đã chấn chỉnh bộ phận một cửa.")
            pushed = h.api.sent_to(USER)[before:]
            assert "Đã chấn chỉnh" in _plain(pushed)
            msgs = await h.press(USER, _payload(pushed, ":5"))
            assert "5/5" in _plain(msgs), _plain(msgs)
            msgs = await h.say(USER, f"/tracuu {code}")
            assert "Đã có kết quả" in _plain(msgs)
