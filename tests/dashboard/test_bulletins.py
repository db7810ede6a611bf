"""The officials' "Bản tin" pages through aiohttp's test client (SQLite and PostgreSQL): authoring with
validation, previews (escaped), "send to me", schedule, publish now, progress, pause/resume/cancel, the
late-issue confirmation, CSRF and roles."""
from __future__ import annotations

import datetime as dt
import logging
import re
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from core.render import to_plain
from features.bulletin.models import Bulletin, Delivery
from tests.bulletin.helpers import add_subscribers, make_bulletin
from tests.dashboard.helpers import (
    RecordingSender,
    add_official,
    csrf,
    dashboard_client,
    login,
    post_form,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
XSS = "Tin <script>alert(1)</script> mới"
BODY = "## Mục một\nĐăng nhập bằng **VNeID** tại [Cổng DVC](https://dichvucong.gov.vn).\n\n- Ý một\n- Ý hai"


def _form(**kw: object) -> dict:
    data = {"title": XSS, "number": "31", "issue_date": "2026-12-01", "summary": "Tóm tắt <b>ngắn</b>",
            "body": BODY, "links": "Cổng DVC | https://dichvucong.gov.vn", "topics": "chung", "image_url": ""}
    data.update(kw)
    return data


async def _post(client, path: str, data: dict, token_from: str = "/dashboard/bulletins"):
    return await post_form(client, path, data, token_from=token_from)


async def _row(bot, bulletin_id: int) -> Bulletin:
    return await bot.services.extra["bulletin"].store.get(bulletin_id)


async def test_create_preview_test_schedule_publish_progress_pause_resume_cancel(bot, caplog):
    caplog.set_level(logging.INFO, logger="features.bulletin.dashboard")
    lead = await add_official(bot, "bt.lead", "ttphhc", "supervisor", name="Trần Văn Lãnh")
    await add_subscribers(bot.engine, 4, topics=("chung",), start=7000)
    await add_subscribers(bot.engine, 2, topics=("chuyen-doi-so",), start=7100)
    sender = RecordingSender()
    bot.senders["telegram"] = sender
    async with dashboard_client(bot) as client:
        await login(client, "bt.lead")
        listing = await client.get("/dashboard/bulletins")
        assert listing.status == 200 and 'href="/dashboard/bulletins" class="active"' in await listing.text()
        form = await (await client.get("/dashboard/bulletins/new")).text()
        assert 'name="number"' in form and 'value="chung" checked' in form

        # validation: errors next to the fields, the input kept (escaped)
        bad = await _post(client, "/dashboard/bulletins/new",
                          _form(title="", links="Không có địa chỉ", image_url="http://x.vn/a.png", topics="",
                                body="# Sai tiêu đề\nx"))
        html = await bad.text()
        assert bad.status == 422
        for field in ("title", "links", "image_url", "topics", "body"):
            assert f'id="err-{field}"' in html, field
        assert "Không có địa chỉ" in html and "# Sai tiêu đề" in html
        assert await bot.services.extra["bulletin"].store.list() == []

        created = await _post(client, "/dashboard/bulletins/new", _form())
        assert created.status == 303, await created.text()
        detail_url = created.headers["Location"]
        bulletin_id = int(detail_url.rsplit("/", 1)[1])
        row = await _row(bot, bulletin_id)
        assert (row.status, row.number, row.topics, row.source) == ("draft", 31, ["chung"], "dashboard")
        assert row.links == [{"title": "Cổng DVC", "url": "https://dichvucong.gov.vn"}]

        # duplicate number refused
        dup = await _post(client, "/dashboard/bulletins/new", _form(title="Số trùng"))
        assert dup.status == 422 and 'id="err-number"' in await dup.text()

        # list and preview: the <script> title printed as text, never as markup
        listing = await (await client.get("/dashboard/bulletins")).text()
        assert "Tin &lt;script&gt;alert(1)&lt;/script&gt; mới" in listing and "<script>" not in listing
        assert "giờ Việt Nam (UTC+7)" in listing and "Asia/Ho_Chi_Minh" not in listing  # officials' words
        page = await client.get(detail_url)
        html = await page.text()
        assert "<script>" not in html and html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 2
        assert "frame-src 'self'" in page.headers["Content-Security-Policy"]
        assert "script-src" not in page.headers["Content-Security-Policy"]
        # the Telegram form: bold and link markup, the summary's tags escaped, both buttons
        assert "<b>VNeID</b>" in html and '<a href="https://dichvucong.gov.vn">Cổng DVC</a>' in html
        assert "Tóm tắt &lt;b&gt;ngắn&lt;/b&gt;" in html
        assert '<span class="tg-button">🔕 Hủy nhận bản tin</span>' in html and "📚 Các số trước" in html
        web_page = await client.get(f"/dashboard/bulletins/{bulletin_id}/web")
        web_html = await web_page.text()
        assert web_page.status == 200 and "<script>" not in web_html and "&lt;script&gt;" in web_html
        assert "sandbox" in web_page.headers["Content-Security-Policy"]
        assert web_page.headers["X-Frame-Options"] == "SAMEORIGIN"

        # "send to me": explained when the account has no chat; sent when configured
        assert 'id="test-help"' in html and "CCHC_BULLETIN_TEST_CHATS" in html
        no_chat = await _post(client, f"/dashboard/bulletins/{bulletin_id}/test", {}, detail_url)
        assert no_chat.status == 303 and sender.sent == []
        bot.services.extra["bulletin_test_chats"] = {"bt.lead": ("telegram", "424242")}
        assert 'id="test-help"' not in await (await client.get(detail_url)).text()
        tested = await _post(client, f"/dashboard/bulletins/{bulletin_id}/test", {}, detail_url)
        assert tested.status == 303
        texts = sender.texts_to("424242")
        assert texts and "gửi thử" in texts[0].lower() and any(XSS in to_plain(t) for t in texts)  # as written
        assert "Đã gửi bản thử" in await (await client.get(detail_url)).text()

        # schedule at a local date/time (pack zone) → stored in UTC
        day = (dt.datetime.now(VN) + dt.timedelta(days=3)).date()
        bad_time = await _post(client, f"/dashboard/bulletins/{bulletin_id}/schedule",
                               {"date": "2020-01-01", "time": "08:00"}, detail_url)
        assert bad_time.status == 303 and (await _row(bot, bulletin_id)).status == "draft"
        assert "Thời điểm gửi đã qua" in await (await client.get(detail_url)).text()
        await _post(client, f"/dashboard/bulletins/{bulletin_id}/schedule",
                    {"date": day.isoformat(), "time": "09:30"}, detail_url)
        row = await _row(bot, bulletin_id)
        expected = dt.datetime.combine(day, dt.time(9, 30), tzinfo=VN).astimezone(dt.UTC)
        assert row.status == "scheduled" and row.scheduled_at == expected
        html = await (await client.get(detail_url)).text()
        assert "Đã lên lịch" in html and f"{day:%d/%m/%Y} 09:30" in html

        # publish now: needs the confirmation box, then starts to the topic's audience
        await _post(client, f"/dashboard/bulletins/{bulletin_id}/publish", {}, detail_url)
        assert (await _row(bot, bulletin_id)).status == "scheduled"
        await _post(client, f"/dashboard/bulletins/{bulletin_id}/publish", {"confirm": "1"}, detail_url)
        row = await _row(bot, bulletin_id)
        assert (row.status, row.audience) == ("sending", 4)
        html = await (await client.get(detail_url)).text()
        assert "Đã bắt đầu gửi số 31 tới 4 người đăng ký" in html
        assert 'id="kpi-audience">4<' in html and 'id="kpi-pending">4<' in html
        assert f"/dashboard/bulletins/{bulletin_id}/edit" not in html  # no longer editable

        # the engine delivered two: progress and rate visible in the list and the detail
        now = dt.datetime.now(dt.UTC)
        async with bot.services.extra["bulletin"].store.sessions.begin() as session:
            ids = (await session.execute(select(Delivery.id).where(Delivery.bulletin_id == bulletin_id)
                                         .order_by(Delivery.id))).scalars().all()
            for n, delivery_id in enumerate(ids[:2]):
                await session.execute(update(Delivery).where(Delivery.id == delivery_id)
                                      .values(status="sent", sent_at=now + dt.timedelta(seconds=n)))
            await session.execute(update(Delivery).where(Delivery.id == ids[2]).values(status="blocked"))
        html = await (await client.get(detail_url)).text()
        assert 'id="kpi-sent">2<' in html and 'id="kpi-blocked">1<' in html and 'id="kpi-pending">1<' in html
        assert 'id="kpi-rate">1.0<' in html and "Làm mới" in html
        assert 'value="3"' in await (await client.get("/dashboard/bulletins")).text()  # <progress> 3 of 4

        # the last subscriber is outside the channel's window: deferred, counted apart, per channel
        async with bot.services.extra["bulletin"].store.sessions.begin() as session:
            await session.execute(update(Delivery).where(Delivery.id == ids[3]).values(
                status="deferred", last_error="Chờ người dân nhắn lại"))
        html = await (await client.get(detail_url)).text()
        assert 'id="kpi-deferred">1<' in html and 'id="kpi-pending">0<' in html
        assert "<tr><td>telegram</td><td>2</td><td>1</td><td>1</td><td>0</td></tr>" in html
        assert 'value="4"' in await (await client.get("/dashboard/bulletins")).text()

        await _post(client, f"/dashboard/bulletins/{bulletin_id}/pause", {}, detail_url)
        assert (await _row(bot, bulletin_id)).status == "paused"
        assert "Cán bộ tạm dừng" in await (await client.get(detail_url)).text()
        await _post(client, f"/dashboard/bulletins/{bulletin_id}/resume", {}, detail_url)
        assert (await _row(bot, bulletin_id)).status == "sending"
        await _post(client, f"/dashboard/bulletins/{bulletin_id}/cancel", {}, detail_url)  # not confirmed
        assert (await _row(bot, bulletin_id)).status == "sending"
        await _post(client, f"/dashboard/bulletins/{bulletin_id}/cancel", {"confirm": "1"}, detail_url)
        assert (await _row(bot, bulletin_id)).status == "cancelled"
        html = await (await client.get(detail_url)).text()
        assert "Báo cáo gửi" in html and 'id="kpi-skipped">1<' in html
        resumed = await _post(client, f"/dashboard/bulletins/{bulletin_id}/resume", {}, detail_url)
        assert resumed.status == 303 and "Không thực hiện được" in await (await client.get(detail_url)).text()

    audit = [r.getMessage() for r in caplog.records if r.getMessage().startswith("audit bulletin")]
    for action in ("create", "test", "schedule", "publish", "pause", "resume", "cancel"):
        assert any(f"action={action} bulletin={bulletin_id} official={lead} role=supervisor ok=True" in line
                   for line in audit), action
    assert all("424242" not in line and "Trần" not in line for line in audit)  # no personal data


async def test_edit_keeps_input_and_locks_after_sending(bot):
    await add_official(bot, "bt.admin", "ttphhc", "admin")
    service = bot.services.extra["bulletin"]
    bulletin_id = await make_bulletin(service.store, number=40, title="Bản tin cũ")
    async with dashboard_client(bot) as client:
        await login(client, "bt.admin")
        edit_url = f"/dashboard/bulletins/{bulletin_id}/edit"
        form = await (await client.get(edit_url)).text()
        assert 'value="Bản tin cũ"' in form and 'value="40"' in form
        bad = await _post(client, edit_url, _form(number="0", title="Tiêu đề mới <i>"), edit_url)
        html = await bad.text()
        assert bad.status == 422 and 'id="err-number"' in html and 'value="Tiêu đề mới &lt;i&gt;"' in html
        assert (await _row(bot, bulletin_id)).title == "Bản tin cũ"
        ok = await _post(client, edit_url, _form(number="40", title="Tiêu đề mới", topics="dich-vu-cong"), edit_url)
        assert ok.status == 303
        row = await _row(bot, bulletin_id)
        assert (row.title, row.topics, row.body) == ("Tiêu đề mới", ["dich-vu-cong"], BODY)
        await service.publish_now(bulletin_id)
        locked = await client.get(edit_url, allow_redirects=False)
        assert locked.status == 303 and locked.headers["Location"] == f"/dashboard/bulletins/{bulletin_id}"
        refused = await _post(client, edit_url, _form(number="40", title="Sửa sau khi gửi"), edit_url.rsplit("/", 1)[0])
        assert refused.status == 303 and (await _row(bot, bulletin_id)).title == "Tiêu đề mới"


async def test_csrf_and_roles(bot):
    await add_official(bot, "bt.officer", "ttphhc", "officer")
    await add_official(bot, "bt.sup", "ttphhc", "supervisor")
    service = bot.services.extra["bulletin"]
    bulletin_id = await make_bulletin(service.store, number=50, title="Bản tin <script>x()</script>")
    detail = f"/dashboard/bulletins/{bulletin_id}"
    async with dashboard_client(bot) as client:
        anonymous = await client.get("/dashboard/bulletins", allow_redirects=False)
        assert anonymous.status == 302 and "/dashboard/login" in anonymous.headers["Location"]
        await login(client, "bt.officer")
        listing = await client.get("/dashboard/bulletins")
        html = await listing.text()
        assert listing.status == 200 and "Bản tin &lt;script&gt;x()&lt;/script&gt;" in html
        assert "/dashboard/bulletins/new" not in html and "chỉ có quyền xem" in html
        page = await (await client.get(detail)).text()
        assert "<form method=\"post\" action=\"/dashboard/bulletins/" not in page  # no author forms
        assert "tg-bubble" in page  # but the preview
        assert (await client.get(f"{detail}/web")).status == 200
        assert (await client.get("/dashboard/bulletins/new")).status == 403
        assert (await client.get(f"{detail}/edit")).status == 403
        for action in ("schedule", "publish", "pause", "cancel", "test", "confirm"):
            response = await _post(client, f"{detail}/{action}", {"confirm": "1"})
            assert response.status == 403, action
        assert (await _post(client, "/dashboard/bulletins/new", _form(number="51"))).status == 403
        assert (await _row(bot, bulletin_id)).status == "draft"
    async with dashboard_client(bot) as client:
        await login(client, "bt.sup")
        token = await csrf(client, "/dashboard/bulletins")
        no_token = await client.post(f"{detail}/publish", data={"confirm": "1"}, allow_redirects=False)
        assert no_token.status == 403
        wrong = await client.post("/dashboard/bulletins/new", data={**_form(number="52"), "_csrf": "x" * 43},
                                  allow_redirects=False)
        assert wrong.status == 403
        assert (await _row(bot, bulletin_id)).status == "draft"
        assert len(await service.store.list()) == 1
        assert (await client.post(f"{detail}/publish", data={"confirm": "1", "_csrf": token},
                                  allow_redirects=False)).status == 303
        assert (await _row(bot, bulletin_id)).status == "sent"  # nobody subscribed: done at once
        assert (await client.get("/dashboard/bulletins/999999")).status == 404
        assert (await _post(client, f"{detail}/explode", {})).status == 404


async def test_stale_schedule_waits_for_confirmation(bot):
    from features.bulletin.scheduler import Scheduler

    sup = await add_official(bot, "bt.confirm", "ttphhc", "supervisor")
    await add_subscribers(bot.engine, 3, topics=("chung",), start=8000)
    service = bot.services.extra["bulletin"]
    bulletin_id = await make_bulletin(service.store, number=60, title="Số trễ lịch")
    now = dt.datetime.now(dt.UTC)
    assert await service.schedule(bulletin_id, now - dt.timedelta(hours=service.settings.stale_after_hours + 6))
    result = await Scheduler(service).tick(now)
    assert result["held"] == [bulletin_id]
    detail = f"/dashboard/bulletins/{bulletin_id}"
    async with dashboard_client(bot) as client:
        await login(client, "bt.confirm")
        listing = await (await client.get("/dashboard/bulletins")).text()
        assert "trễ lịch đang chờ xác nhận" in listing and f'href="{detail}">Số 60' in listing
        assert "Chờ xác nhận (trễ lịch)" in listing
        html = await (await client.get(detail)).text()
        assert 'id="held"' in html and "Xác nhận gửi ngay" in html and "bt-held" in html
        assert re.search(r"trễ khoảng 1[78]\.\d giờ", html)
        # the scheduler keeps holding it
        assert (await Scheduler(service).tick(now + dt.timedelta(minutes=1)))["started"] == []
        confirmed = await _post(client, f"{detail}/confirm", {}, detail)
        assert confirmed.status == 303
        row = await _row(bot, bulletin_id)
        assert (row.status, row.audience, row.confirmed_by, row.held_at) == ("sending", 3, f"official:{sup}", None)
        html = await (await client.get(detail)).text()
        assert "Đã xác nhận: số 60 bắt đầu gửi ngay" in html and f"Cán bộ #{sup}" in html
        again = await _post(client, f"{detail}/confirm", {}, detail)
        assert again.status == 303 and "không (còn) chờ xác nhận" in await (await client.get(detail)).text()

    # a held issue can also be rescheduled instead (back to an ordinary schedule)
    other = await make_bulletin(service.store, number=61, title="Số trễ khác")
    await service.schedule(other, now - dt.timedelta(days=2))
    await Scheduler(service).tick(now)
    assert (await _row(bot, other)).held_at is not None
    async with dashboard_client(bot) as client:
        await login(client, "bt.confirm")
        day = (dt.datetime.now(VN) + dt.timedelta(days=1)).date().isoformat()
        await _post(client, f"/dashboard/bulletins/{other}/schedule", {"date": day, "time": "08:00"})
        row = await _row(bot, other)
        assert row.status == "scheduled" and row.held_at is None
