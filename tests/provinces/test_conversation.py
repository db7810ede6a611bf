"""A citizen on three generated packs: greeting, hotlines, and a report routed to the commune's committee."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from bot.app import build_bot
from features.feedback.models import Report
from tests.conftest import make_settings
from tests.feedback.conftest import Chat


@pytest.mark.parametrize(("code", "typed", "official_name"), [
    (1, "hoan kiem", "Phường Hoàn Kiếm"),  # Hà Nội, typed without diacritics: the citizen picks from a list
    (51, "Ba Tơ", "Xã Ba Tơ"),  # Quảng Ngãi: "Ba Tô" is another commune, diacritics decide
    (96, "Bạc Liêu", "Phường Bạc Liêu"),  # Cà Mau
])
async def test_citizen_conversation(code, typed, official_name, loaded, generated, sqlite_engine) -> None:
    pack = loaded[code]
    bot = await build_bot(make_settings(content_dir=generated[code]), pack=pack, engine=sqlite_engine, migrate=False)
    chat = Chat(bot, user_id=f"9{code}")
    full = pack.config.province_full

    await chat.say("/start")
    assert f"Trợ lý Cải cách hành chính {full}" in chat.text and f"dịch vụ công trực tuyến của {full}" in chat.text

    await chat.say("/duongdaynong")
    assert "1800 1096" in chat.text and "None" not in chat.text

    await chat.say("/phananh")
    category = next(i for i, c in enumerate(pack.agencies.categories) if c.route_to_commune)
    await chat.press(chat.payload(f":c:{category}"))
    first = pack.agencies.communes[0].name
    assert first.split(" ", 1)[1] in chat.text  # the example is one of this province's own communes
    if code != 51:
        assert "Ba Tơ" not in chat.text and "Cẩm Thành" not in chat.text  # never the sample's places
    await chat.say(typed)
    if "Bước 3/5" not in chat.text:  # several close names: the citizen presses the right one
        label, payload = next((label, p) for label, p in chat.buttons() if official_name in label)
        await chat.press(payload)
    assert "Bước 3/5" in chat.text, chat.text
    await chat.say("Cán bộ một cửa yêu cầu bản sao giấy khai sinh có chứng thực dù đã có dữ liệu dân cư.")
    await chat.press(chat.payload(":a:skip"))
    await chat.press(chat.payload(":p:anon"))
    await chat.press(chat.payload(":s"))
    assert "đã được gửi" in chat.text, chat.text

    commune = next(c for c in pack.agencies.communes if c.name == official_name)
    committee = next(a for a in pack.agencies.agencies if a.id == commune.agency)
    assert committee.name in chat.text  # "Cơ quan xử lý: Ủy ban nhân dân phường Hoàn Kiếm"
    async with bot.services.store.sessions() as s:
        report = (await s.execute(select(Report).where(Report.code == chat.code().replace("-", "")))).scalar_one()
    assert report.commune_id == commune.id and report.agency_id == committee.id
    assert report.routing_rule == "category-commune"


async def test_deadlines_of_a_generated_pack_follow_the_official_calendar(loaded, generated, sqlite_engine) -> None:
    bot = await build_bot(make_settings(content_dir=generated[46]), pack=loaded[46], engine=sqlite_engine, migrate=False)
    calendar = bot.services.extra["feedback"].calendar
    # Received Friday 13/2/2026, 10:00 in Huế: Tết 16–20/2/2026 is not counted.
    received = dt.datetime(2026, 2, 13, 3, 0, tzinfo=dt.UTC)
    assert calendar.due(received, 5)[0] == dt.date(2026, 2, 27)
    assert calendar.due(dt.datetime(2026, 8, 21, 3, 0, tzinfo=dt.UTC), 1)[0] == dt.date(2026, 8, 22)
