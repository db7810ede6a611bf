"""The main citizen conversations, the same test on every channel (tests/fakes/citizen.py): the real
adapter as bot/app.py wires it, its fake platform, the durable inbox running the turns."""
from __future__ import annotations

import pytest

from tests.fakes.citizen import CHANNELS, citizen_on


@pytest.fixture(params=CHANNELS)
async def citizen(request, sqlite_engine, pack):
    async with citizen_on(request.param, sqlite_engine, pack) as c:
        yield c


async def test_start_and_menu(citizen) -> None:
    await citizen.say("/start")
    assert "Xin chào" in citizen.last_text
    assert any("Khẩu hiệu" in b for b in citizen.buttons), citizen.buttons
    await citizen.press("Khẩu hiệu")
    assert "Khẩu hiệu" in citizen.last_text
