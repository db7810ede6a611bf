"""What citizens and officials write is shown literally, never as markup: in the summary and the look-up
(the citizen's description), in the official's answer relayed to the citizen, and in echoed input;
pack Markdown (an FAQ answer) still renders."""
from __future__ import annotations

from core.render import to_plain, to_telegram_html
from tests.fakes.telegram_api import parse_telegram_html
from tests.feedback.conftest import Chat, receiving_supervisor

TRAP = "Xin **gấp** [Nhận quà](https://example.com) <b>x</b> & \\* hết"
TRAP_LINES = "- dòng một\n1. dòng hai"


def assert_literal(source: str, written: str) -> None:
    """``written`` appears exactly, with no link or bold made from it, on Telegram (HTML) and plain."""
    html = to_telegram_html(source)
    assert "<a " not in html and "<b>gấp</b>" not in html and "<b>xa</b>" not in html, html
    assert written in parse_telegram_html(html)
    assert written in to_plain(source)


async def test_description_is_literal_in_the_summary_and_the_lookup(bot, sender):
    chat = Chat(bot, user_id="8101")
    description = f"{TRAP}\n{TRAP_LINES}"
    code = await chat.file_report(description=description, phone="0912345678")
    await chat.say(f"/tracuu {code}")
    [shown] = chat.last
    assert_literal(shown.text, description)
    # the summary before sending, after editing the description
    chat2 = Chat(bot, user_id="8102")
    await chat2.say("/phananh")
    await chat2.press(chat2.payload(":c:0"))
    await chat2.press(chat2.payload(":m:x"))
    await chat2.say(description)
    await chat2.press(chat2.payload(":a:skip"))
    await chat2.press(chat2.payload(":p:anon"))
    summary = chat2.last[0].text
    assert "Kiểm tra lại phản ánh" in summary
    assert_literal(summary, description)
    assert "<b>Kiểm tra lại phản ánh trước khi gửi</b>" in to_telegram_html(summary)  # the pack's own bold


async def test_officials_answer_is_literal_for_the_citizen(bot, sender, service, pack):
    chat = Chat(bot, user_id="8103")
    code = await chat.file_report(phone="0912345678")
    rid = await service.find_id(code)
    await service.accept(receiving_supervisor(pack), rid)
    answer = f"Đã kiểm tra. {TRAP}\n{TRAP_LINES}"
    await service.reply(receiving_supervisor(pack), rid, answer)
    message = sender.texts_for("8103")[-1]
    assert_literal(message, answer)
    assert f"<b>{code}</b>" in to_telegram_html(message)  # the template's bold around the code stays
    await chat.say(f"/tracuu {code}")  # the history line shows it literally too
    assert_literal(chat.last[0].text, TRAP)


async def test_typed_input_echoed_back_is_literal(bot, sender):
    chat = Chat(bot, user_id="8104")
    await chat.say("/phananh")
    await chat.press(chat.payload(":c:0"))
    await chat.say("**[xa](https://example.com)**")
    assert_literal(chat.last[0].text, "**[xa](https://example.com)**")
    await chat.say("/huy")
    await chat.say("/tracuu")
    await chat.say("[mã](https://example.com)")  # not a code attempt: answered as a question, never a link
    assert all('href="https://example.com"' not in to_telegram_html(r.text) for r in chat.last)


async def test_pack_markdown_in_faq_answers_still_renders(bot, sender, pack):
    chat = Chat(bot, user_id="8105")
    item = next(i for i in pack.faq if "](" in i.answer)
    await chat.press(f"faq:a:{item.entry.id}")
    html = to_telegram_html(chat.last[0].text)
    assert '<a href="http' in html and "](" not in parse_telegram_html(html)
