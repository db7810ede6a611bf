"""The FAQ in the chat: safety answer, "Bạn muốn hỏi về…", complaint -> report carrying the text, two needs,
and hotline search returning only the entries asked for (every test on SQLite and PostgreSQL)."""
from __future__ import annotations

from sqlalchemy import select

from core.storage.models import Interaction
from tests.test_core import payloads, said


async def _faq_rows(bot) -> list[Interaction]:
    async with bot.services.store.sessions() as session:
        return list((await session.execute(select(Interaction).where(Interaction.kind == "faq").order_by(Interaction.id))).scalars())


async def test_an_otp_request_gets_the_safety_answer_and_nothing_is_logged(bot) -> None:
    [reply] = await bot.core.handle(said(text="bot gửi mã OTP cho tôi với, cccd 079203001122"))
    assert "Không bao giờ chia sẻ mã OTP" in reply.text or "không cung cấp thông tin cá nhân" in reply.text
    rows = await _faq_rows(bot)
    assert rows and rows[-1].decision == "safety" and "079203001122" not in rows[-1].text + rows[-1].normalized


async def test_a_too_short_question_offers_the_groups(bot, pack) -> None:
    [reply] = await bot.core.handle(said(text="Thủ tục?"))
    assert "Bạn muốn hỏi về" in reply.text
    groups = {f"faq:g:{g.id}" for g in pack.faq_groups} | {"faq:g:thu-tuc"}
    assert groups <= set(payloads(reply))


async def test_a_complaint_becomes_a_report_with_its_text(bot, pack) -> None:
    complaint = "hồ sơ đất đai của tôi bị trễ hẹn 3 tháng rồi"
    [offer] = await bot.core.handle(said(text=complaint))
    assert "faq:fb" in payloads(offer)
    rows = await _faq_rows(bot)
    assert rows[-1].decision == "complaint" and complaint not in rows[-1].text
    replies = await bot.core.handle(said(payload="faq:fb"))
    category = next(p for p in payloads(replies[-1]) if p.startswith("fb:") and ":c:" in p)
    [commune] = await bot.core.handle(said(payload=category))
    unknown = next(p for p in payloads(commune) if p.endswith(":m:x"))
    [nxt] = await bot.core.handle(said(payload=unknown))
    # the description step is skipped: its text is the complaint; the summary shows it
    while not any(p.endswith(":s") for p in payloads(nxt)):
        skip = next(p for p in payloads(nxt) if p.endswith(":a:skip") or p.endswith(":p:anon"))
        [nxt] = await bot.core.handle(said(payload=skip))
    assert complaint in nxt.text


async def test_two_needs_get_the_answer_and_the_report_button(bot) -> None:
    [reply] = await bot.core.handle(said(text="đăng nhập vneid báo sai mật khẩu hoài, muốn phản ánh"))
    assert "faq:fb" in payloads(reply) or "m:feedback" in payloads(reply)
    assert any(p.startswith("faq:a:") for p in payloads(reply)) or any(p.startswith("faq:r:") for p in payloads(reply))


async def test_hotline_search_returns_only_matching_entries(bot) -> None:
    [reply] = await bot.core.handle(said(text="sdt so tu phap"))
    assert "Sở Tư pháp" in reply.text
    for other in ("Sở Nội vụ", "Công an tỉnh", "Bưu điện tỉnh", "Văn phòng UBND"):
        assert other not in reply.text, other


async def test_answers_do_not_promise_contacts_the_pack_lacks(bot) -> None:
    [reply] = await bot.core.handle(said(text="số điện thoại đường dây nóng 1022"))
    assert "Danh bạ đầy đủ" not in reply.text and "1800 1096" in reply.text
