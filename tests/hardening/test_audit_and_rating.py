"""Issue 9: one rating per resolution; one "Xem" audit row per official per report per few minutes."""
from __future__ import annotations

import datetime as dt

from features.feedback.service import VIEW_AUDIT_WINDOW
from tests.feedback.conftest import Chat, officer, receiving_supervisor


async def test_old_rating_buttons_cannot_change_the_rating_and_reopening_starts_a_new_one(bot, sender, service, pack):
    chat = Chat(bot, user_id="9301")
    code = await chat.file_report()
    rid = await service.find_id(code)
    agency = (await service.get_report(receiving_supervisor(pack), rid)).agency_id
    await service.resolve(officer(agency), rid, "Đã giải quyết.")
    raw = code.replace("-", "")
    await chat.press(f"fb:rt:{raw}:2")
    await chat.press(f"fb:rt:{raw}:5")  # an old button pressed again
    assert "mỗi kết quả giải quyết chỉ được chấm một lần" in chat.text
    assert (await service.get_report(receiving_supervisor(pack), rid)).rating == 2
    await chat.press(f"fb:ro:{raw}")
    await service.resolve(officer(agency), rid, "Đã giải quyết lần hai.")
    await chat.press(f"fb:rt:{raw}:4")
    assert (await service.get_report(receiving_supervisor(pack), rid)).rating == 4


async def test_views_after_redirects_make_one_audit_row(bot, sender, service, pack):
    chat = Chat(bot, user_id="9302")
    rid = await service.find_id(await chat.file_report())
    me = officer((await service.get_report(receiving_supervisor(pack), rid)).agency_id, official_id=42)
    await service.get_report(me, rid)
    await service.accept(me, rid)
    await service.get_report(me, rid)  # the redirect after "accept"
    await service.reply(me, rid, "Xin chào")
    detail = await service.get_report(me, rid)
    views = [a for a in detail.audit if a.action == "view" and a.actor_id == 42]
    assert len(views) == 1
    later = service.now() + VIEW_AUDIT_WINDOW + dt.timedelta(seconds=1)
    bot.services.clock = lambda: later
    detail = await service.get_report(me, rid)
    assert len([a for a in detail.audit if a.action == "view" and a.actor_id == 42]) == 2
