"""Officials' side of the service: permissions, actions, notifications, queue, stats, export, audit."""
import datetime as dt

import pytest
from sqlalchemy import select

from core.channel import Blocked, TransientError
from core.storage.models import OutboxMessage
from features.feedback.models import AuditEntry, Report
from features.feedback.permissions import Actor, can_act, can_view
from features.feedback.service import Forbidden, InvalidInput, InvalidTransition, QueueFilter
from tests.feedback.conftest import Chat, officer, receiving_supervisor


async def _file(bot, user_id="9001", **kw) -> tuple[Chat, int]:
    chat = Chat(bot, user_id=user_id)
    code = await chat.file_report(**kw)
    return chat, await bot.services.extra["feedback"].find_id(code)


async def test_permission_rules(pack):
    center = pack.agencies.default_agency

    class R:
        agency_id = "so-khcn"

    assert can_view(officer("so-khcn"), R, center) and not can_view(officer("so-tu-phap"), R, center)
    assert not can_act(officer("so-khcn"), R, "reassign", center)
    assert can_act(Actor(3, "x", "so-khcn", "supervisor"), R, "reassign", center)
    assert not can_view(Actor(3, "x", "so-tu-phap", "supervisor"), R, center)
    assert can_act(receiving_supervisor(pack), R, "reassign", center)
    assert can_act(Actor(4, "a", "so-tu-phap", "admin"), R, "resolve", center)


async def test_officer_of_another_agency_is_refused_everything(bot, sender, service, pack):
    _, rid = await _file(bot)  # routed to the receiving unit (ttphhc)
    stranger = officer("so-tu-phap")
    with pytest.raises(Forbidden):
        await service.get_report(stranger, rid)
    for call in (lambda: service.accept(stranger, rid), lambda: service.reply(stranger, rid, "x"),
                 lambda: service.note(stranger, rid, "x"), lambda: service.resolve(stranger, rid),
                 lambda: service.reject(stranger, rid, "x"), lambda: service.reassign(stranger, rid, "so-khcn", "x"),
                 lambda: service.mark_duplicate(stranger, rid, rid)):
        with pytest.raises(Forbidden):
            await call()
    page = await service.list_queue(stranger)
    assert page.items == []
    async with bot.services.store.sessions() as s:
        denied = (await s.execute(select(AuditEntry).where(AuditEntry.action == "denied"))).scalars().all()
    assert len(denied) == 8 and all(a.actor_agency == "so-tu-phap" for a in denied)
    report = await service.get_report(receiving_supervisor(pack), rid)
    assert report.status == "new"  # nothing changed


async def test_lifecycle_notifies_the_citizen_and_audits(bot, sender, service, pack):
    chat, rid = await _file(bot, user_id="9002", phone="0912345678")
    sup = receiving_supervisor(pack)
    await service.accept(sup, rid, "Đã nhận")
    detail = await service.reassign(sup, rid, "so-khcn", "Lỗi thuộc hệ thống do Sở KH&CN quản lý")
    assert detail.agency_id == "so-khcn" and detail.status == "new"
    assert any(e.kind == "agency_notified" and e.to_agency == "so-khcn" for e in detail.events)
    khcn = officer("so-khcn", official_id=7)
    await service.accept(khcn, rid)
    await service.note(khcn, rid, "Ghi chú nội bộ: kiểm tra log máy chủ")
    await service.reply(khcn, rid, "Chúng tôi đang kiểm tra lỗi <b>đăng nhập</b>.")
    await service.start(khcn, rid)
    done = await service.resolve(khcn, rid, "Đã khắc phục lỗi đăng nhập.")
    assert done.status == "resolved" and done.resolved_at
    with pytest.raises(InvalidTransition):
        await service.accept(khcn, rid)
    texts = sender.texts_for("9002")
    assert len(texts) == 6  # accepted, reassigned, accepted, reply, in progress, resolved (no note)
    assert "Sở Khoa học và Công nghệ" in texts[1] and "Lỗi thuộc hệ thống" not in texts[1]
    assert "<b>đăng nhập</b>" in texts[3]
    assert not any("Ghi chú nội bộ" in t for t in texts)
    assert "chấm điểm" in texts[5]
    # the officer of the new agency sees the phone; the receiving unit's supervisor sees it masked
    assert (await service.get_report(khcn, rid)).phone == "0912345678"
    masked = await service.get_report(sup, rid)
    assert masked.phone == "091****678" and not masked.personal_visible
    actions = [a.action for a in masked.audit]
    for expected in ("submit", "accept", "reassign", "note", "reply", "start", "resolve", "view"):
        assert expected in actions
    # the citizen's look-up shows the public history but never the internal note or reassignment reason
    await chat.say(f"/tracuu {masked.code}")
    assert "Ghi chú nội bộ" not in chat.text and "Lỗi thuộc hệ thống" not in chat.text
    assert "Đã khắc phục" in chat.text


async def test_rating_comment_and_reopen(bot, sender, service, pack):
    chat, rid = await _file(bot, user_id="9003")
    sup = receiving_supervisor(pack)
    await service.resolve(sup, rid, "Đã xử lý xong.")
    _, replies = sender.sent[-1]
    buttons = [b.payload for row in replies[0].buttons for b in row]
    rate4 = next(p for p in buttons if p.startswith("fb:rt:") and p.endswith(":4"))
    reopen = next(p for p in buttons if p.startswith("fb:ro:"))
    stranger = Chat(bot, user_id="9999")
    await stranger.press(rate4)
    assert "Chỉ người gửi" in stranger.text
    await chat.press(rate4)
    assert "4/5" in chat.text
    await chat.say("Cán bộ trả lời nhanh, cảm ơn.")
    assert "Đã ghi nhận" in chat.text
    report = await service.get_report(sup, rid)
    assert report.rating == 4 and report.rating_comment == "Cán bộ trả lời nhanh, cảm ơn."
    await chat.press(reopen)
    assert "Đã mở lại" in chat.text
    await chat.say("Vẫn chưa nhận được kết quả hồ sơ.")
    report = await service.get_report(sup, rid)
    assert report.status == "in_progress" and report.reopen_count == 1
    assert any(e.kind == "citizen_comment" and "Vẫn chưa" in e.text for e in report.events)
    # after the window, "Chưa hài lòng" no longer reopens
    await service.resolve(sup, rid, "Đã trả kết quả.")
    real = bot.services.clock
    bot.services.clock = lambda: real() + dt.timedelta(days=8)
    try:
        await chat.press(reopen)
    finally:
        bot.services.clock = real
    assert "Không thể mở lại" in chat.text


async def _owed(bot, rid: int) -> list[OutboxMessage]:
    """The report's messages to the citizen in the core outbox, oldest first."""
    async with bot.services.store.sessions() as s:
        return list((await s.execute(select(OutboxMessage).where(OutboxMessage.ref == f"feedback:{rid}")
                                     .order_by(OutboxMessage.id))).scalars())


async def test_failed_notification_is_kept_and_retried(bot, sender, service, pack):
    _, rid = await _file(bot, user_id="9004")
    sup = receiving_supervisor(pack)
    sender.fail_with = TransientError("network down")
    await service.reply(sup, rid, "Trả lời quan trọng")  # the action succeeds even though delivery failed
    [row] = await _owed(bot, rid)
    assert (row.status, row.attempts, row.kind, row.channel, row.external_id) == (
        "pending", 1, "official_answer", "telegram", "9004")
    outbox = bot.services.outbox
    assert await outbox.run_once() == 0  # not due yet
    sender.fail_with = None
    real = outbox.clock
    outbox.clock = lambda: real() + dt.timedelta(minutes=2)
    try:
        assert await outbox.run_once() == 1  # the outbox's run loop (every bot process runs it) retries it
    finally:
        outbox.clock = real
    assert "Trả lời quan trọng" in sender.texts_for("9004")[-1]
    # blocked citizens are not retried
    sender.fail_with = Blocked("blocked")
    await service.reply(sup, rid, "Lần hai")
    assert [(r.status, r.reason) for r in await _owed(bot, rid)] == [
        ("sent", ""), ("failed", "người dân đã chặn hoặc bỏ theo dõi")]


async def test_missing_sender_keeps_message_pending(bot, service, pack):
    _, rid = await _file(bot, user_id="9005")
    bot.services.extra["senders"].pop("telegram", None)
    await service.accept(receiving_supervisor(pack), rid)
    [row] = await _owed(bot, rid)
    assert (row.status, row.kind, row.reason) == ("pending", "status_change", "chưa có kênh để gửi")


async def test_reject_duplicate_and_input_checks(bot, sender, service, pack):
    _, first = await _file(bot, user_id="9006")
    _, second = await _file(bot, user_id="9007")
    sup = receiving_supervisor(pack)
    with pytest.raises(InvalidInput):
        await service.reject(sup, first, "  ")
    with pytest.raises(InvalidInput):
        await service.reassign(sup, first, "khong-co", "lý do")
    with pytest.raises(InvalidInput):
        await service.mark_duplicate(sup, first, first)
    original = await service.get_report(sup, first)
    dup = await service.mark_duplicate(sup, second, original.code.lower())
    assert dup.status == "duplicate" and dup.duplicate_of_code == original.code
    assert original.code in sender.texts_for("9007")[-1]
    rejected = await service.reject(sup, first, "Không thuộc thẩm quyền giải quyết")
    assert rejected.status == "rejected"
    assert "Không thuộc thẩm quyền" in sender.texts_for("9006")[-1]
    with pytest.raises(InvalidTransition):
        await service.close(sup, first)


async def test_queue_filters_pagination_stats_export(bot, sender, service, pack):
    ids = []
    for i in range(7):
        _, rid = await _file(bot, user_id=f"95{i:02d}", category=3 if i % 2 else 0, phone="0912345678")
        ids.append(rid)
    sup = receiving_supervisor(pack)
    # make two overdue by moving their deadline into the past
    async with bot.services.store.sessions.begin() as s:
        for rid in ids[:2]:
            r = await s.get(Report, rid)
            r.deadline_at = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    seen, cursor = [], None
    while True:
        page = await service.list_queue(sup, limit=3, cursor=cursor, with_total=True)
        assert page.total == 7
        seen += [item.id for item in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 7
    assert seen[:2] == ids[:2]  # overdue first (earliest deadline, then oldest)
    offset_page = await service.list_queue(sup, limit=3, offset=3)
    assert [i.id for i in offset_page.items] == seen[3:6]
    overdue = await service.list_queue(sup, QueueFilter(overdue=True))
    assert {i.id for i in overdue.items} == set(ids[:2]) and all(i.overdue for i in overdue.items)
    dvc = await service.list_queue(sup, QueueFilter(category_id="dvc-loi"))
    assert len(dvc.items) == 3 and all(i.agency_id == "so-khcn" for i in dvc.items)
    assert await service.count_queue(officer("so-khcn")) == 3  # an officer sees only their agency
    assert await service.count_queue(sup, QueueFilter(agency_id="so-khcn")) == 3
    assert await service.count_queue(sup, QueueFilter(commune_id="xa-ba-to")) == 7
    by_code = await service.list_queue(sup, QueueFilter(code=dvc.items[0].code.lower()))
    assert [i.id for i in by_code.items] == [dvc.items[0].id]
    await service.resolve(sup, ids[0], "xong")  # overdue answer
    await service.resolve(sup, ids[2], "xong")  # on time
    await service.rate(dvc.items[0].code, 0, 5)  # someone else's rating is ignored
    stats = await service.stats(sup)
    assert stats.total == 7 and stats.by_status["resolved"] == 2 and stats.by_agency["so-khcn"] == 3
    assert stats.answered == 2 and stats.answered_on_time == 1 and stats.on_time_rate == 0.5
    assert stats.overdue_open == 1 and stats.average_rating is None
    rows = await service.export_rows(sup)
    assert len(rows) == 7 and set(rows[0]) == set(service.column_titles())
    khcn_rows = [r for r in rows if "Khoa học" in r["agency"]]
    assert all(r["phone"] == "091****678" for r in khcn_rows)  # not the supervisor's agency: masked
    assert all(r["phone"] == "0912345678" for r in rows if r not in khcn_rows)
    assert service.column_titles()["code"] == "Mã phản ánh"
    assert service.reply_templates("tre-han")
