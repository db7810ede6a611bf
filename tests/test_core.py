"""The platform-free core, as a citizen meets it (every test on SQLite and PostgreSQL)."""
from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import func, select

from bot.app import build_bot
from core.storage.models import Interaction
from core.storage.repos import FlowState
from core.types import Attachment, ButtonKind, Incoming, Reply
from tests.conftest import make_settings


def said(user: str = "42", text: str = "", payload: str = "", **kw: object) -> Incoming:
    return Incoming(channel="telegram", user_id=user, display_name="Lan", text=text, payload=payload, **kw)


def payloads(reply: Reply) -> list[str]:
    return [b.payload for row in reply.buttons for b in row if b.kind == ButtonKind.PAYLOAD]


async def test_start_names_the_province_and_shows_the_main_menu(bot) -> None:
    [reply] = await bot.core.handle(said(text="/start"))
    assert "Quảng Ngãi" in reply.text and "Lan" in reply.text
    labels = [b.label for row in reply.buttons for b in row]
    for wanted in ("Hỏi đáp", "Khẩu hiệu", "Đường dây nóng", "Phản ánh", "Bản tin"):
        assert any(wanted in label for label in labels), wanted
    assert all(len(p.encode()) <= 64 for p in payloads(reply))


async def test_menu_and_help(bot) -> None:
    [menu] = await bot.core.handle(said(text="/menu"))
    assert "Menu chính" in menu.text
    [help_] = await bot.core.handle(said(text="/trogiup"))
    assert "/khauhieu" in help_.text and "/duongdaynong" in help_.text


async def test_slogan_is_never_the_same_twice_in_a_row(bot, pack) -> None:
    texts = []
    [first] = await bot.core.handle(said(text="/khauhieu"))
    texts.append(first.text)
    assert "sl:next" in payloads(first)
    for _ in range(15):
        [reply] = await bot.core.handle(said(payload="sl:next"))
        texts.append(reply.text)
    assert all(a != b for a, b in zip(texts, texts[1:]))
    known = {s.text for s in pack.slogans.slogans}
    assert all(any(k in t for k in known) for t in texts)


async def test_hotline_directory_lists_only_confirmed_numbers(bot, pack) -> None:
    [reply] = await bot.core.handle(said(text="/duongdaynong"))
    assert "1800 1096" in reply.text
    unconfirmed = [e for g in pack.hotlines.groups for e in g.entries if not e.phone]
    assert unconfirmed, "the sample marks provincial numbers unconfirmed"
    assert "None" not in reply.text


async def test_typed_hotline_request_finds_the_entry_and_sends_a_contact(bot) -> None:
    for question in ("so dien thoai tong dai dich vu cong", "hotline dvc quốc gia", "sđt hỗ trợ dịch vụ công"):
        [reply] = await bot.core.handle(said(text=question))
        assert "1800 1096" in reply.text, question
    contact_payload = next(p for p in payloads(reply) if p.startswith("hl:c:"))
    [card] = await bot.core.handle(said(payload=contact_payload))
    assert card.contact is not None and card.contact.phone == "1800 1096"


async def test_free_text_reaches_the_faq_and_is_logged(bot) -> None:
    [reply] = await bot.core.handle(said(text="nop ho so truc tuyen nhu the nao"))
    assert "Nộp hồ sơ trực tuyến" in reply.text
    rating = [p for p in payloads(reply) if p.startswith("faq:r:")]
    assert len(rating) == 2
    [thanks] = await bot.core.handle(said(payload=rating[0]))
    assert thanks.notice
    async with bot.services.store.sessions() as session:
        row = (await session.execute(select(Interaction).where(Interaction.kind == "faq"))).scalars().first()
    assert row.answer == "faq:nop-ho-so-truc-tuyen" and row.decision == "answer" and row.feedback == 1
    assert row.normalized and row.score is not None


async def test_rating_an_older_answer_marks_that_answer_and_old_buttons_still_work(bot) -> None:
    [first] = await bot.core.handle(said(text="nop ho so truc tuyen nhu the nao"))
    [second] = await bot.core.handle(said(text="dang nhap dich vu cong bang vneid"))
    first_down = next(p for p in payloads(first) if p.startswith("faq:r:") and p.endswith(":0"))
    await bot.core.handle(said(payload=first_down))  # pressed after the second answer arrived
    async with bot.services.store.sessions() as session:
        rows = (await session.execute(select(Interaction).where(Interaction.kind == "faq")
                                      .order_by(Interaction.id))).scalars().all()
    assert [r.feedback for r in rows] == [-1, None]
    assert rows[0].answer == "faq:nop-ho-so-truc-tuyen"
    # a button sent before the log rows carried turn numbers names the row id
    [thanks] = await bot.core.handle(said(payload=f"faq:r:{rows[1].id}:1"))
    assert thanks.notice
    async with bot.services.store.sessions() as session:
        assert (await session.get(Interaction, rows[1].id, populate_existing=True)).feedback == 1


async def test_out_of_scope_question_says_so_and_offers_help(bot) -> None:
    [reply] = await bot.core.handle(said(text="giá vàng hôm nay bao nhiêu"))
    assert "chưa có câu trả lời" in reply.text
    assert {"m:hotlines", "m:feedback"} <= set(payloads(reply))
    assert await bot.services.store.unanswered() == [(await _last_normalized(bot), 1)]


async def _last_normalized(bot) -> str:
    async with bot.services.store.sessions() as session:
        return (await session.execute(select(Interaction.normalized).order_by(Interaction.id.desc()))).scalars().first()


async def test_bad_input_gets_a_polite_answer(bot) -> None:
    cases = [
        said(text=""),
        said(text="😀😀😀"),
        said(text="\x00\x07\u202e"),
        said(attachments=(Attachment(kind="sticker", file_id="x"),)),
        said(attachments=(Attachment(kind="photo", file_id="p"),)),
        said(text="a" * 10000),
        said(text="<script>alert(1)</script> ' OR 1=1; --"),
        said(text="/khongcolenhnay"),
        said(payload="zz:old:button"),
        said(payload="hl:c:khong-con"),
        said(payload="faq:a:khong-con"),
        said(payload="faq:r:999999:1"),
    ]
    for incoming in cases:
        replies = await bot.core.handle(incoming)
        assert replies and all(r.text or r.contact or r.notice for r in replies), incoming
        assert not any("Traceback" in r.text for r in replies)
    async with bot.services.store.sessions() as session:
        count = (await session.execute(select(func.count()).select_from(Interaction))).scalar_one()
    assert count == len(cases)


async def test_an_internal_error_is_a_polite_reply(bot) -> None:
    async def broken(ctx):  # noqa: ANN001, ANN202
        raise RuntimeError("boom")

    bot.core.router.commands["menu"] = broken
    [reply] = await bot.core.handle(said(text="/menu"))
    assert "Xin lỗi" in reply.text and "boom" not in reply.text


async def test_dialogue_state_survives_a_restart(bot, db_engine, pack) -> None:
    user = await bot.services.store.touch_user("telegram", "7", "An")
    await bot.services.store.save_state(user.id, FlowState("demo", "step2", {"draft": "xin chào"}))
    second = await build_bot(make_settings(), pack=pack, engine=db_engine, migrate=False)
    state = await second.services.store.get_state(user.id)
    assert state is not None and (state.flow, state.step, state.data) == ("demo", "step2", {"draft": "xin chào"})
    again = await second.services.store.touch_user("telegram", "7", "")
    assert again.id == user.id and again.display_name == "An"


async def test_greetings_and_thanks_get_a_kind_answer_not_a_search(bot) -> None:
    [hello] = await bot.core.handle(said(text="Xin chào ạ!"))
    assert "Xin chào" in hello.text and "m:faq" in payloads(hello)
    [thanks] = await bot.core.handle(said(text="cam on nhieu"))
    assert "vui" in thanks.text
    [question] = await bot.core.handle(said(text="chào, cho hỏi nộp hồ sơ online thế nào"))
    # the greeting does not hide the question: the FAQ answers it (not a small-talk answer)
    assert question.text.startswith("**Nộp hồ sơ trực tuyến như thế nào?**")


async def test_asking_for_an_agency_whose_number_is_unconfirmed_says_so(bot, pack) -> None:
    justice = next(e for g in pack.hotlines.groups for e in g.entries if "Tư pháp" in e.agency)
    assert justice.phone is None  # the sample cannot know it
    [reply] = await bot.core.handle(said(text="đường dây nóng sở tư pháp"))
    assert justice.agency in reply.text and "chưa được cập nhật" in reply.text
    assert not any(p.startswith("hl:c:") for p in payloads(reply))


async def test_a_confirmed_provincial_number_is_found_by_typed_text(db_engine, pack) -> None:
    from core.content.schema import Hotline

    groups = []
    for group in pack.hotlines.groups:
        entries = [e.model_copy(update={"phone": "0255 3822 000"}) if "Tư pháp" in e.agency else e
                   for e in group.entries]
        groups.append(group.model_copy(update={"entries": entries}))
    edited = dataclasses.replace(pack, hotlines=pack.hotlines.model_copy(update={"groups": groups}))
    assert isinstance(edited.hotlines.groups[1].entries[0], Hotline)
    bot = await build_bot(make_settings(), pack=edited, engine=db_engine, migrate=False)
    for question in ("đường dây nóng sở tư pháp", "sdt so tu phap", "so dien thoai so tu phap"):
        [reply] = await bot.core.handle(said(text=question))
        assert "0255 3822 000" in reply.text, question


@pytest.mark.parametrize("typed", ["phản ánh", "Phan anh", "📝 Phản ánh"])
async def test_typing_a_menu_word_opens_that_entry(bot, typed) -> None:
    [*_, step] = await bot.core.handle(said(user=f"menu-{len(typed)}-{typed[:2]}", text=typed))
    assert "Bước 1/5" in step.text  # the report flow, as the "📝 Phản ánh" button would start it


async def test_a_menu_word_inside_a_question_is_still_a_question(bot) -> None:
    replies = await bot.core.handle(said(text="phản ánh thủ tục hành chính chậm thì gửi ở đâu"))
    assert not any("Bước 1/5" in r.text for r in replies)
