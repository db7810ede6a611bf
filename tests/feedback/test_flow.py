"""The citizen flow end to end through the core, on SQLite and PostgreSQL."""
import asyncio
import datetime as dt

from sqlalchemy import func, select

from bot.app import build_bot
from features.feedback.models import Attachment, Report
from core.storage.models import Interaction
from tests.conftest import make_settings
from tests.feedback.conftest import Chat


async def _count(bot, model, *where) -> int:
    async with bot.services.store.sessions() as s:
        return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


async def _report(bot, code: str) -> Report:
    async with bot.services.store.sessions() as s:
        return (await s.execute(select(Report).where(Report.code == code.replace("-", "")))).scalar_one()


async def test_full_flow_saves_everything_verbatim(bot, sender):
    chat = Chat(bot)
    text = "Cán bộ <script>alert('x')</script> yêu cầu nộp thêm giấy tờ & lệ phí"
    code = await chat.file_report(category=1, commune="Ba Tơ", description=text, photos=2, phone="+84 912-345-678")
    assert "Hạn trả lời" in chat.text and "Trung tâm Phục vụ hành chính công" in chat.text
    report = await _report(bot, code)
    assert report.description == text  # stored verbatim; adapters escape when rendering
    assert report.phone == "0912345678" and report.consent_version == "2025-1" and report.consent_at
    assert report.commune_id == "xa-ba-to" and report.category_id == "thai-do-can-bo"
    assert report.contact_name == "Nguyễn Văn An" and not report.anonymous
    assert report.status == "new" and report.routing_reason
    assert await _count(bot, Attachment, Attachment.report_id == report.id) == 2
    assert bot.services.store and await bot.services.store.get_state((await bot.services.store.find_user("telegram", "1001")).id) is None
    # no description or phone in the interaction log
    async with bot.services.store.sessions() as s:
        logged = " ".join(t for (t,) in await s.execute(select(Interaction.text)))
    assert "0912" not in logged and "script" not in logged


async def test_anonymous_unknown_commune_and_limits(bot, sender):
    chat = Chat(bot, user_id="2002")
    await chat.say("/phananh")
    await chat.press(chat.payload(":c:0"))
    await chat.press(chat.payload(":m:x"))
    await chat.say("ngắn quá")
    assert "hơi ngắn" in chat.text and "15" in chat.text
    await chat.say("x" * 3001)
    assert "vượt quá giới hạn 3000" in chat.text
    await chat.say("Thủ tục cấp giấy phép xây dựng yêu cầu quá nhiều giấy tờ.")
    await chat.say("tôi không có ảnh")  # text where a file or a button is expected: a hint, not a dead end
    assert "Bỏ qua" in chat.text and chat.payload(":a:skip")
    await chat.press(chat.payload(":a:skip"))
    await chat.say("12345")
    assert "chưa đúng" in chat.text
    await chat.press(chat.payload(":p:anon"))
    assert "ẩn danh" in chat.text and "Không rõ" in chat.text
    await chat.press(chat.payload(":s"))
    report = await _report(bot, chat.code())
    assert report.anonymous and report.phone is None and report.contact_name == "" and report.commune_id is None


async def test_shared_contact_and_typed_landline(bot, sender):
    chat = Chat(bot, user_id="2003")
    await chat.say("/phananh")
    await chat.press(chat.payload(":c:3"))
    await chat.say("Sơn Tịnh")  # exact name: no need to choose
    assert "Bước 3/5" in chat.text
    await chat.say("Cổng dịch vụ công không đăng nhập được bằng VNeID từ sáng nay.")
    await chat.press(chat.payload(":a:skip"))
    assert chat.last[0].request_contact_label
    await chat.send(contact_phone="84987654321")
    assert "0987654321" in chat.text
    await chat.press(chat.payload(":e"))
    await chat.press(chat.payload(":f:phone"))
    await chat.say("0255 382 2222")
    assert "02553822222" in chat.text and "Kiểm tra lại" in chat.text
    await chat.press(chat.payload(":e"))
    await chat.press(chat.payload(":f:description"))
    await chat.say("Nội dung đã sửa: cổng dịch vụ công báo lỗi khi thanh toán.")
    assert "Nội dung đã sửa" in chat.text and "Kiểm tra lại" in chat.text
    await chat.press(chat.payload(":s"))
    report = await _report(bot, chat.code())
    assert report.phone == "02553822222" and report.description.startswith("Nội dung đã sửa")
    assert report.agency_id == "so-khcn"


async def test_category_step_free_text_gets_suggestions(bot, sender):
    chat = Chat(bot, user_id="2004")
    await chat.say("/phananh")
    await chat.say("cán bộ nhũng nhiễu đòi tiền")
    assert "chọn loại phản ánh" in chat.text
    labels = [label for label, _ in chat.buttons()]
    assert any("Thái độ" in label for label in labels)


async def test_resume_after_restart_on_another_bot(bot, sender, pack):
    chat = Chat(bot, user_id="3001")
    await chat.say("/phananh")
    await chat.press(chat.payload(":c:2"))
    await chat.say("cam thanh")
    await chat.press(chat.payload(":m:0"))
    await chat.photo("p-1")  # a photo while describing: kept, and still asked for the text
    # "restart": a brand-new Bot (new services, new core) on the same database
    bot2 = await build_bot(make_settings(), pack=pack, engine=bot.engine, migrate=False)
    chat2 = Chat(bot2, user_id="3001")
    await chat2.say("Hồ sơ đăng ký hộ kinh doanh trễ hẹn 10 ngày mà không có thư xin lỗi.")
    assert "Bước 4/5" in chat2.text and "1 tệp" in chat2.text
    await chat2.press(chat2.payload(":a:done"))
    await chat2.press(chat2.payload(":p:anon"))
    await chat2.press(chat2.payload(":s"))
    report = await _report(bot, chat2.code())
    assert report.commune_id == "phuong-cam-thanh" and report.category_id == "tre-han"
    assert await _count(bot, Attachment, Attachment.report_id == report.id) == 1


async def _to_summary(chat: Chat) -> str:
    await chat.say("/phananh")
    await chat.press(chat.payload(":c:0"))
    await chat.press(chat.payload(":m:x"))
    await chat.say("Một phản ánh đủ dài để được chấp nhận.")
    await chat.press(chat.payload(":a:"))
    await chat.press(chat.payload(":p:anon"))
    return chat.payload(":s")


async def test_double_press_creates_one_report(bot, sender):
    chat = Chat(bot, user_id="4001")
    send = await _to_summary(chat)
    await chat.press(send)
    code = chat.code()
    await chat.press(send)  # a second press later: told it is already sent, same code
    assert "đã được gửi rồi" in chat.text and chat.code() == code
    assert await _count(bot, Report) == 1


async def test_concurrent_double_press_creates_one_report(bot, sender):
    chat = Chat(bot, user_id="4002")
    send = await _to_summary(chat)
    a, b = Chat(bot, user_id="4002"), Chat(bot, user_id="4002")
    await asyncio.gather(a.press(send), b.press(send))
    assert await _count(bot, Report) == 1
    assert a.code() == b.code()


async def test_cancel_and_stale_buttons(bot, sender):
    chat = Chat(bot, user_id="5001")
    await chat.say("/phananh")
    await chat.press(chat.payload(":c:0"))
    await chat.press(chat.payload(":m:x"))
    await chat.say("Nội dung phản ánh sẽ bị hủy ngay sau đây.")
    await chat.photo("to-be-dropped")
    old_skip = chat.payload(":a:")
    await chat.say("/huy")
    assert "Đã hủy" in chat.text
    assert await _count(bot, Attachment) == 0
    await chat.press(old_skip)
    assert "không còn hiệu lực" in chat.text and chat.last[0].notice
    assert chat.payload("fb:new")
    await chat.say("/huy")
    assert "không có việc gì" in chat.text
    # a new draft, then a button of the old one
    await chat.press("fb:new")
    await chat.press(old_skip)
    assert "phản ánh soạn dở" in chat.text and chat.payload(":k")
    await chat.press(chat.payload(":k"))
    assert "Bước 1/5" in chat.text
    # a button of this draft for another step: re-asked, not broken
    await chat.press(chat.payload(":c:0").replace(":c:0", ":p:anon"))
    assert "Bước 1/5" in chat.text


async def test_abandoned_draft_expires(bot, sender):
    chat = Chat(bot, user_id="6001")
    real_clock = bot.services.clock
    bot.services.clock = lambda: real_clock() - dt.timedelta(days=2)  # the draft was started long ago
    try:
        await chat.say("/phananh")
        category = chat.payload(":c:0")
    finally:
        bot.services.clock = real_clock
    await chat.press(category)
    assert "hết thời gian" in chat.text
    await chat.say("xin chào")  # no longer inside the flow: the FAQ answers
    assert "Bước" not in chat.text


async def test_menu_and_faq_entries(bot, sender):
    chat = Chat(bot, user_id="6002")
    await chat.press("m:feedback")
    assert "Bước 1/5" in chat.text
    await chat.say("/phananh")  # again while a draft is open: resume or start over
    assert chat.payload(":k") and chat.payload("fb:new")


async def test_lookup_owner_vs_other(bot, sender):
    owner = Chat(bot, user_id="7001")
    code = await owner.file_report(description="Nội dung riêng tư của người gửi phản ánh.", phone="0912345678")
    await owner.say(f"/tracuu {code.lower()}")
    assert "Nội dung riêng tư" in owner.text and "0912345678" in owner.text and "Gửi phản ánh" in owner.text
    other = Chat(bot, user_id="7002", name="Người khác")
    await other.say(f"/tracuu {code}")
    assert code in other.text and "Mới tiếp nhận" in other.text
    assert "Nội dung riêng tư" not in other.text and "0912" not in other.text
    await other.say("/tracuu ABCD-EFGH")
    assert "không phải là mã" in other.text  # a wrong check character: not a code at all
    # /tracuu alone asks for the code and lists the user's own reports
    await owner.say("/tracuu")
    assert code in owner.text
    await owner.say(code.replace("-", " "))
    assert "Nội dung riêng tư" in owner.text


async def test_lookup_in_the_middle_of_a_draft_keeps_the_draft(bot, sender):
    chat = Chat(bot, user_id="7003")
    code = await chat.file_report()
    await chat.say("/phananh")
    await chat.press(chat.payload(":c:0"))
    await chat.press("m:lookup")
    await chat.say(code)
    assert code in chat.text
    await chat.press(chat.payload(":k"))
    assert "Bước 2/5" in chat.text


async def test_same_photo_delivered_twice_is_kept_once_and_limit_applies(bot, sender):
    chat = Chat(bot, user_id="8001")
    await chat.say("/phananh")
    await chat.press(chat.payload(":c:0"))
    await chat.press(chat.payload(":m:x"))
    await chat.say("Nội dung phản ánh có kèm ảnh chụp hiện trường.")
    await chat.photo("same-file")
    await chat.photo("same-file")
    assert "1/5" in chat.text
    for i in range(6):
        await chat.photo(f"file-{i}")
    assert "tối đa 5" in chat.text
    assert await _count(bot, Attachment) == 5
