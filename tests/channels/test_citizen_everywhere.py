"""The main citizen conversations, the same test on every channel (tests/fakes/citizen.py): the real
adapter as bot/app.py wires it, its fake platform, the durable inbox running the turns. Buttons are
pressed by the label the citizen reads; on text-only channels (terminal, Zalo Bot) by typing the number."""
from __future__ import annotations

import re

import pytest

from tests.fakes.citizen import CHANNELS, citizen_on
from tests.feedback.conftest import receiving_supervisor

CODE = re.compile(r"\b([2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4})\b")
PHOTOS = {"telegram", "zalo_oa", "zalo_bot", "messenger", "web"}  # the terminal cannot send one


@pytest.fixture(params=CHANNELS)
async def citizen(request, sqlite_engine, pack):
    async with citizen_on(request.param, sqlite_engine, pack) as c:
        yield c


async def test_start_menu_faq_slogan_and_hotlines(citizen, pack) -> None:
    await citizen.say("/start")
    assert "Xin chào" in citizen.last_text
    assert {"Hỏi đáp", "Khẩu hiệu", "Đường dây nóng", "Phản ánh", "Bản tin"} <= {
        b.split(" ", 1)[-1] for b in citizen.buttons}, citizen.buttons

    await citizen.press("Khẩu hiệu")
    first = citizen.last_text
    assert "Khẩu hiệu" in first

    await citizen.say("nop hs truc tuyen ntn")  # typed without diacritics
    assert "Nộp hồ sơ trực tuyến" in citizen.last_text
    assert any("Hữu ích" in b for b in citizen.buttons)

    await citizen.say("so dien thoai tong dai dich vu cong")
    assert "1800 1096" in citizen.last_text

    await citizen.press("Menu chính")
    assert any("Khẩu hiệu" in b for b in citizen.buttons)


async def test_a_whole_report_tracked_and_answered(citizen, pack) -> None:
    await citizen.say("/phananh")
    assert "Bước 1/5" in citizen.last_text
    await citizen.press("Thái độ, tác phong")
    await citizen.say("ba to")
    await citizen.press("Xã Ba Tơ")
    await citizen.say("Cán bộ một cửa gây khó khăn và đòi thêm giấy tờ không đúng quy định.")
    assert "Bước 4/5" in citizen.last_text
    if citizen.channel in PHOTOS:
        await citizen.send_photo()
        assert "1/5" in citizen.last_text
        await citizen.press("Xong")
    else:
        await citizen.press("Bỏ qua")
    await citizen.share_contact("+84912345678")
    assert "0912345678" in citizen.last_text
    assert ("Ảnh/tệp kèm theo: 1" if citizen.channel in PHOTOS else "Ảnh/tệp kèm theo") in citizen.last_text
    await citizen.press("Gửi")
    assert "đã được gửi" in citizen.last_text
    code = CODE.search(citizen.last_text).group(1)  # type: ignore[union-attr]

    await citizen.say(f"/tracuu {code}")
    assert code in citizen.last_text and "Mới tiếp nhận" in citizen.last_text

    service = citizen.bot.services.extra["feedback"]
    page = await service.list_queue(receiving_supervisor(pack))
    assert [i.code for i in page.items] == [code]
    if citizen.channel in PHOTOS:
        [kept] = (await service.get_report(receiving_supervisor(pack), page.items[0].id)).attachments
        assert kept.stored and kept.mime_type == "image/jpeg"
    await service.resolve(receiving_supervisor(pack), page.items[0].id, "Đã chấn chỉnh bộ phận một cửa.")
    try:
        await citizen.wait_for("Đã chấn chỉnh bộ phận một cửa.")  # the official's answer reaches this channel
    except TimeoutError:
        states = await citizen.bot.services.outbox.states(f"feedback:{page.items[0].id}")
        raise AssertionError(f"not delivered: {[(s.kind, s.status, s.reason) for s in states]}") from None
    await citizen.say(f"/tracuu {code}")
    assert "Đã có kết quả" in citizen.last_text


async def test_an_anonymous_report(citizen) -> None:
    await citizen.say("/phananh")
    await citizen.press("Thủ tục hành chính")
    await citizen.press("Không rõ")
    await citizen.say("Cổng dịch vụ công báo lỗi khi nộp hồ sơ đăng ký khai sinh.")
    await citizen.press("Bỏ qua")
    await citizen.press("Gửi ẩn danh")
    await citizen.press("Gửi")
    assert CODE.search(citizen.last_text) and "đã được gửi" in citizen.last_text


async def test_zalo_oa_answer_outside_the_window_waits_for_the_citizens_next_message(sqlite_engine, pack) -> None:
    async with citizen_on("zalo_oa", sqlite_engine, pack) as citizen:
        await test_an_anonymous_report(citizen)
        service = citizen.bot.services.extra["feedback"]
        [item] = (await service.list_queue(receiving_supervisor(pack))).items
        citizen.later(49)  # Zalo OA: free replies only within 48 hours of the citizen's last message
        await service.reply(receiving_supervisor(pack), item.id, "Cổng đã được khắc phục, mời bạn nộp lại.")
        [answer] = [s for s in await citizen.bot.services.outbox.states(f"feedback:{item.id}")
                    if s.kind == "official_answer"]
        assert answer.status == "deferred" and "48 giờ" in answer.reason
        with pytest.raises(TimeoutError):
            await citizen.wait_for("Cổng đã được khắc phục", timeout=1.5)
        await citizen.say("cho hỏi phản ánh của tôi thế nào rồi")
        await citizen.wait_for("Cổng đã được khắc phục")  # it comes first, with the citizen's next message
        [answer] = [s for s in await citizen.bot.services.outbox.states(f"feedback:{item.id}")
                    if s.kind == "official_answer"]
        assert answer.status == "sent"
