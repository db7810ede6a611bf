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
