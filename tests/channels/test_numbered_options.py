"""A number typed after a reply that showed numbered options: inside the options it presses that option;
outside them the citizen is told there is no such option and sees the options again (never an FAQ list)."""
from __future__ import annotations

from tests.fakes.citizen import citizen_on


async def test_a_number_outside_the_options_shows_them_again_on_the_terminal(sqlite_engine, pack) -> None:
    async with citizen_on("console", sqlite_engine, pack) as citizen:
        await citizen.say("/start")
        menu = citizen.buttons
        assert len(menu) >= 3, citizen.last_text
        beyond = len(menu) + 2

        await citizen.say(str(beyond))
        said = citizen.last_text
        assert f"Không có lựa chọn số {beyond}" in said, said
        assert f"từ 1 đến {len(menu)}" in said, said
        assert citizen.buttons == menu  # the same options, numbered as before
        assert "chưa có câu trả lời" not in said  # not the FAQ's "no answer" list

        await citizen.say("0")
        assert "Không có lựa chọn số 0" in citizen.last_text, citizen.last_text

        await citizen.press("Khẩu hiệu")  # the options still work: typing its number opens it
        assert "Khẩu hiệu" in citizen.last_text


async def test_inside_a_report_a_number_outside_the_options_says_so_and_the_report_goes_on(sqlite_engine, pack) -> None:
    async with citizen_on("console", sqlite_engine, pack) as citizen:
        await citizen.say("/phananh")
        categories = citizen.buttons
        assert "Bước 1/5" in citizen.last_text, citizen.last_text

        await citizen.say(str(len(categories) + 3))
        assert f"Không có lựa chọn số {len(categories) + 3}" in citizen.last_text, citizen.last_text
        assert citizen.buttons == categories  # the step's options, numbered as before

        await citizen.say("1")  # the first category: the report goes on to its next step
        assert "Bước 2/5" in citizen.last_text, citizen.last_text
        await citizen.say("99")  # the commune step shows "Không rõ" and "Hủy": 99 is no commune's name
        assert "Không có lựa chọn số 99" in citizen.last_text, citizen.last_text
        # the step's question again, which says a commune's name may be typed too (not "type 1 or 2" only)
        assert "Bước 2/5" in citizen.last_text and "gõ tên" in citizen.last_text, citizen.last_text
        await citizen.say("88")  # asked again: the question once, not piled up
        assert citizen.last_text.count("Bước 2/5") == 1 and "số 99" not in citizen.last_text, citizen.last_text
        assert "chưa tìm thấy" not in citizen.last_text
