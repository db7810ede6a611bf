"""Issue 9: leaving a flow by any menu button or command ends it; flows consume only their own answers."""
from __future__ import annotations

import re

from features.feedback import codes
from tests.feedback.conftest import Chat, officer, receiving_supervisor

BAD_CODE = "không phải là mã tra cứu hợp lệ"


async def _state(bot, external_id: str):
    """The user's open flow (None: no flow)."""
    return (await bot.services.store.begin_turn("telegram", external_id, ""))[1]


async def test_menu_during_lookup_ends_it(bot, sender):
    chat = Chat(bot, user_id="9401")
    await chat.say("/tracuu")
    await chat.press("m:main")
    assert await _state(bot, "9401") is None  # the menu ended the lookup
    await chat.say("toi muon phan anh can bo")
    assert BAD_CODE not in chat.text
    # answered as free text: the FAQ offers a report carrying the sentence (its own short-lived state)
    assert (await _state(bot, "9401")).flow == "faq_report_offer"


async def test_a_sentence_typed_at_the_code_prompt_is_answered_not_refused(bot, sender):
    chat = Chat(bot, user_id="9402")
    await chat.say("/tracuu")
    await chat.say("Tôi muốn hỏi thủ tục cấp lại căn cước công dân")
    assert BAD_CODE not in chat.text
    await chat.say("/tracuu")
    await chat.say("ABCD-EFGX")  # a mistyped code is still explained
    assert BAD_CODE in chat.text


async def test_the_code_example_passes_its_own_check(bot, sender):
    chat = Chat(bot, user_id="9403")
    await chat.say("/tracuu")
    example = re.search(r"ví dụ ([2-9A-Z]{4}-[2-9A-Z]{4})", chat.text).group(1)
    assert codes.normalize(example) is not None
    await chat.say(example)
    assert BAD_CODE not in chat.text


async def test_any_command_or_menu_button_ends_a_draft(bot, sender):
    chat = Chat(bot, user_id="9404")
    await chat.say("/phananh")
    await chat.press(chat.payload(":c:0"))
    await chat.say("/trogiup")
    await chat.say("Ba Tơ")  # not taken as the commune of the abandoned draft
    assert "mô tả" not in chat.text.lower()
    assert await _state(bot, "9404") is None


async def test_a_later_question_is_not_stored_as_the_rating_comment(bot, sender, service, pack):
    chat = Chat(bot, user_id="9405")
    code = await chat.file_report()
    rid = await service.find_id(code)
    agency = (await service.get_report(receiving_supervisor(pack), rid)).agency_id
    await service.resolve(officer(agency), rid, "Đã giải quyết.")
    await chat.press(f"fb:rt:{code.replace('-', '')}:4")
    await chat.say("Làm thế nào để nộp hồ sơ trực tuyến?")
    detail = await service.get_report(receiving_supervisor(pack), rid)
    assert detail.rating == 4 and detail.rating_comment == ""
    assert not any(e.kind == "citizen_comment" for e in detail.events)


async def test_emoji_only_description_refused_and_plain_words_cancel(bot, sender):
    chat = Chat(bot, user_id="9406")
    await chat.say("/phananh")
    await chat.press(chat.payload(":c:0"))
    await chat.say("Ba Tơ")
    await chat.say("😡" * 16)
    assert "hơi ngắn" in chat.text
    await chat.say("thôi không gửi nữa")
    assert "Đã hủy" in chat.text
    assert await _state(bot, "9406") is None
    await chat.say("/phananh")
    await chat.say("huy")
    assert "Đã hủy" in chat.text
