"""The queue, report detail and every action through the web: scope, permissions, escaping, delivery."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from tests.dashboard.helpers import (
    RecordingSender,
    add_official,
    csrf,
    dashboard_client,
    login,
    post_form,
    submit_report,
)

# thu-tuc → the receiving unit (ttphhc); dvc-loi → Sở KH&CN (so-khcn) in the shipped pack.
ACTIONS = {
    "accept": {}, "start": {}, "reassign": {"agency": "so-tu-phap", "reason": "Thuộc thẩm quyền Sở Tư pháp"},
    "reply": {"text": "Xin chào"}, "note": {"text": "ghi chú"}, "resolve": {"text": "Đã xong"}, "close": {},
    "reject": {"reason": "Không thuộc phạm vi"}, "duplicate": {"original": "ABCD-EFGH"},
}


async def _two_reports(bot):
    centre = await submit_report(bot, category="thu-tuc", external_id="7001", name="Trần Thị Bình",
                                 phone="0987654321")
    tech = await submit_report(bot, category="dvc-loi", external_id="7002", name="Lê Văn Cường",
                               phone="0911222333", description="Cổng dịch vụ công báo lỗi khi thanh toán lệ phí.")
    assert centre[2] == "ttphhc" and tech[2] == "so-khcn"
    return centre, tech


async def test_officer_gets_404_on_another_agencys_report_view_and_every_action(bot):
    centre, tech = await _two_reports(bot)
    await add_official(bot, "kt.officer", "so-khcn", "officer")
    async with dashboard_client(bot) as client:
        await login(client, "kt.officer")
        queue = await (await client.get("/dashboard/")).text()
        assert tech[1] in queue and centre[1] not in queue
        view = await client.get(f"/dashboard/reports/{centre[0]}")
        missing = await client.get("/dashboard/reports/999999")
        # out of scope reads exactly like "no such report": ids cannot be probed
        assert view.status == missing.status == 404
        from features.feedback.dashboard.common import NOT_VISIBLE

        seen, absent = await view.text(), await missing.text()
        assert NOT_VISIBLE in seen and NOT_VISIBLE in absent and "quyền" not in seen
        token = await csrf(client, "/dashboard/")
        for action, fields in ACTIONS.items():
            response = await client.post(f"/dashboard/reports/{centre[0]}/{action}",
                                         data={**fields, "_csrf": token}, allow_redirects=False)
            assert response.status == 404, action
        own = await client.get(f"/dashboard/reports/{tech[0]}")
        assert own.status == 200
        missing = await client.get("/dashboard/reports/999999")
        assert missing.status == 404
    detail = await bot.services.extra["feedback"].get_report(_admin(), centre[0])
    assert detail.status == "new" and detail.agency_id == "ttphhc"
    denied = [a for a in detail.audit if a.action == "denied"]
    assert len(denied) == 1 + len(ACTIONS)  # every refused attempt is in the audit trail


def _admin():
    from features.feedback.permissions import Actor

    return Actor(official_id=None, name="test", agency_id="ttphhc", role="admin")


async def test_officer_cannot_reassign_but_receiving_supervisor_sees_all_and_reassigns(bot):
    centre, tech = await _two_reports(bot)
    await add_official(bot, "tt.officer", "ttphhc", "officer")
    await add_official(bot, "tt.lead", "ttphhc", "supervisor", name="Phạm Giám Sát")
    await add_official(bot, "tp.officer", "so-tu-phap", "officer")
    async with dashboard_client(bot) as client:
        await login(client, "tt.officer")
        page = await (await client.get(f"/dashboard/reports/{centre[0]}")).text()
        assert f'action="/dashboard/reports/{centre[0]}/reassign"' not in page
        refused = await post_form(client, f"/dashboard/reports/{centre[0]}/reassign", ACTIONS["reassign"])
        assert refused.status == 403
    async with dashboard_client(bot) as client:
        await login(client, "tt.lead")
        queue = await (await client.get("/dashboard/")).text()
        assert centre[1] in queue and tech[1] in queue
        filtered = await (await client.get("/dashboard/?agency=so-khcn")).text()
        assert tech[1] in filtered and centre[1] not in filtered
        other = await client.get(f"/dashboard/reports/{tech[0]}")
        html = await other.text()
        assert other.status == 200
        # Not the assigned agency: personal data masked.
        assert "0911222333" not in html and "Lê Văn Cường" not in html
        assert "091****333" in html and "(đã che)" in html
        moved = await post_form(client, f"/dashboard/reports/{centre[0]}/reassign", ACTIONS["reassign"],
                                token_from=f"/dashboard/reports/{centre[0]}")
        assert moved.status == 303
        after = await (await client.get(moved.headers["Location"])).text()
        assert "Đã chuyển phản ánh" in after and "Thuộc thẩm quyền Sở Tư pháp" in after
    async with dashboard_client(bot) as client:
        await login(client, "tp.officer")
        assert centre[1] in await (await client.get("/dashboard/")).text()
        mine = await (await client.get(f"/dashboard/reports/{centre[0]}")).text()
        assert "0987654321" in mine and "Trần Thị Bình" in mine  # now the assigned agency: shown in full


async def test_reply_reaches_the_citizen_and_status_changes(bot):
    sender = RecordingSender()
    bot.senders["telegram"] = sender
    report_id, _code, _ = await submit_report(bot, external_id="8001")
    await add_official(bot, "tt.reply", "ttphhc", "officer", name="Võ Thị Hoa")
    async with dashboard_client(bot) as client:
        await login(client, "tt.reply")
        detail = f"/dashboard/reports/{report_id}"
        accepted = await post_form(client, f"{detail}/accept", {}, token_from=detail)
        assert accepted.status == 303 and accepted.headers["Location"] == detail
        reply = "Cơ quan đã kiểm tra, đề nghị Ông/Bà mang bản chính CCCD đến Trung tâm."
        sent = await post_form(client, f"{detail}/reply", {"text": reply}, token_from=detail)
        assert sent.status == 303
        page = await (await client.get(detail)).text()
        assert "Đã gửi trả lời cho người dân" in page
        assert reply in page
        assert re.search(r'id="status">\s*Đã tiếp nhận', page)
        resolved = await post_form(client, f"{detail}/resolve", {"text": "Đã hướng dẫn xong."}, token_from=detail)
        assert resolved.status == 303
        page = await (await client.get(detail)).text()
        assert re.search(r'id="status">\s*Đã có kết quả', page)
        # Audit trail lists this official's view and actions.
        audit = page.split("Nhật ký truy cập")[1]
        assert "Võ Thị Hoa" in audit and "Xem" in audit and "Trả lời người dân" in audit
    texts = sender.texts_to("8001")
    assert any(reply in text for text in texts)
    assert len(texts) >= 3  # accepted, reply, resolved


async def test_reply_template_prefill_and_empty_reply_refused(bot):
    report_id, _, _ = await submit_report(bot, category="tre-han", external_id="8101")
    await add_official(bot, "tt.tpl", "ttphhc", "officer")
    async with dashboard_client(bot) as client:
        await login(client, "tt.tpl")
        detail = f"/dashboard/reports/{report_id}"
        page = await (await client.get(detail)).text()
        assert "Hồ sơ trễ hẹn — đã đôn đốc" in page  # per-category template listed first
        filled = await (await client.get(f"{detail}?tpl=0")).text()
        assert "đôn đốc đơn vị giải quyết" in filled.split('id="reply-text"')[1].split("</textarea>")[0]
        empty = await post_form(client, f"{detail}/reply", {"text": "  "}, token_from=detail)
        assert empty.status == 303
        assert "Vui lòng nhập nội dung" in await (await client.get(detail)).text()


async def test_invalid_transition_is_a_message_not_an_error(bot):
    report_id, _, _ = await submit_report(bot, external_id="8201")
    await add_official(bot, "tt.tr", "ttphhc", "officer")
    async with dashboard_client(bot) as client:
        await login(client, "tt.tr")
        detail = f"/dashboard/reports/{report_id}"
        response = await post_form(client, f"{detail}/close", {}, token_from=detail)
        assert response.status == 303
        assert "ở trạng thái hiện tại" in await (await client.get(detail)).text()
        unknown = await post_form(client, f"{detail}/explode", {}, token_from=detail)
        assert unknown.status == 404


async def test_action_without_csrf_token_is_refused(bot):
    report_id, _, _ = await submit_report(bot, external_id="8301")
    await add_official(bot, "tt.csrf", "ttphhc", "officer")
    async with dashboard_client(bot) as client:
        await login(client, "tt.csrf")
        for data in ({}, {"_csrf": "forged-token-forged-token-forged-token-00"}):
            response = await client.post(f"/dashboard/reports/{report_id}/accept", data=data, allow_redirects=False)
            assert response.status == 403
    detail = await bot.services.extra["feedback"].get_report(_admin(), report_id)
    assert detail.status == "new"


async def test_script_in_citizen_text_is_shown_escaped(bot):
    evil = '<script>alert("xss")</script> <img src=x onerror=alert(1)> hồ sơ bị trả lại nhiều lần'
    report_id, _code, _ = await submit_report(bot, description=evil, external_id="8401",
                                             name='<b onmouseover="x">An</b>')
    await add_official(bot, "tt.xss", "ttphhc", "officer")
    async with dashboard_client(bot) as client:
        await login(client, "tt.xss")
        for path in ("/dashboard/", f"/dashboard/reports/{report_id}"):
            html = await (await client.get(path)).text()
            assert "<script>alert" not in html and "<img src=x" not in html and "<b onmouseover" not in html
            assert "&lt;script&gt;alert(&#34;xss&#34;)&lt;/script&gt;" in html


async def test_queue_filters_overdue_and_pagination(bot):
    from dashboard.state import DashboardConfig

    bot.services.extra["dashboard_config"] = DashboardConfig(page_size=2)
    codes = [(await submit_report(bot, external_id=f"90{i}", category=cat))[1]
             for i, cat in enumerate(["thu-tuc", "tre-han", "thai-do-can-bo", "khac", "tre-han"])]
    await add_official(bot, "tt.queue", "ttphhc", "officer")
    async with dashboard_client(bot) as client:
        await login(client, "tt.queue")
        first = await (await client.get("/dashboard/")).text()
        assert "Tổng số: <strong>5</strong>" in first
        assert first.count('href="/dashboard/reports/') == 2
        next_link = re.search(r'href="/dashboard/(\?cursor=[^"]+)" rel="next"', first)
        assert next_link
        second = await (await client.get("/dashboard/" + next_link.group(1).replace("&amp;", "&"))).text()
        assert second.count('href="/dashboard/reports/') == 2
        tre = await (await client.get("/dashboard/?category=tre-han")).text()
        assert "Tổng số: <strong>2</strong>" in tre and codes[1] in tre
        assert "badge-overdue" not in first
    # Three weeks later every open report is past its deadline.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=21)
    bot.services.clock = lambda: later
    async with dashboard_client(bot) as client:
        await login(client, "tt.queue")
        overdue = await (await client.get("/dashboard/?overdue=1&status=open")).text()
        assert "Tổng số: <strong>5</strong>" in overdue
        assert 'class="status-new overdue"' in overdue and "Quá hạn</span>" in overdue
        assert "Tổng số: <strong>0</strong>" in await (await client.get("/dashboard/?overdue=0")).text()


async def test_csv_export_has_bom_semicolons_and_masking(bot):
    centre, tech = await _two_reports(bot)
    tricky = await submit_report(bot, external_id="7003", name="Đỗ Minh", phone="0933444555",
                                 description='=HYPERLINK("http://x") ; có dấu chấm phẩy; và "ngoặc kép"\nxuống dòng')
    await add_official(bot, "tt.lead2", "ttphhc", "supervisor")
    async with dashboard_client(bot) as client:
        await login(client, "tt.lead2")
        response = await client.get("/dashboard/export.csv")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/csv")
        assert "attachment;" in response.headers["Content-Disposition"]
        body = await response.read()
    assert body.startswith(b"\xef\xbb\xbf")
    import csv
    import io

    rows = list(csv.reader(io.StringIO(body[3:].decode("utf-8")), delimiter=";"))
    header, data = rows[0], rows[1:]
    assert header[0] == "Mã phản ánh" and "Số điện thoại" in header
    by_code = {row[0]: dict(zip(header, row, strict=True)) for row in data}
    assert len(by_code) == 3
    assert by_code[centre[1]]["Số điện thoại"] == "0987654321"  # own agency
    assert by_code[tech[1]]["Số điện thoại"] != "0911222333"  # another agency's citizen: masked
    assert "*" in by_code[tech[1]]["Số điện thoại"] and "Lê Văn Cường" not in by_code[tech[1]]["Người gửi"]
    text = by_code[tricky[1]]["Nội dung"]
    assert text.startswith("'=HYPERLINK") and "; có dấu chấm phẩy;" in text and '"ngoặc kép"\nxuống' in text


@pytest.mark.parametrize("role", ["officer", "supervisor"])
async def test_stats_page_renders_charts(bot, role):
    await _two_reports(bot)
    await add_official(bot, f"tt.{role}", "ttphhc", role)
    async with dashboard_client(bot) as client:
        await login(client, f"tt.{role}")
        response = await client.get("/dashboard/stats")
        html = await response.text()
    assert response.status == 200
    assert html.count("<svg") == 5 and "Theo đơn vị" in html and "Tỉ lệ đúng hạn" in html
    assert "<script" not in html
    total = re.search(r'kpi-value">(\d+)</span><span class="kpi-label">Tổng số', html)
    assert total and int(total.group(1)) == (2 if role == "supervisor" else 1)


async def test_unanswered_questions_page(bot):
    store = bot.services.store
    user = await store.touch_user("telegram", "9901", "")
    for _ in range(3):
        await store.log_interaction(user_id=user.id, channel="telegram", kind="faq", text="x",
                                    normalized="lam the bao hiem o dau", decision="none")
    await store.log_interaction(user_id=user.id, channel="telegram", kind="faq", text="y",
                                normalized="<i>gio lam viec</i>", decision="none")
    await add_official(bot, "tt.faq", "ttphhc", "officer")
    async with dashboard_client(bot) as client:
        await login(client, "tt.faq")
        html = await (await client.get("/dashboard/unanswered?days=all")).text()
    assert '<td class="num">3</td><td>lam the bao hiem o dau</td>' in html
    assert "&lt;i&gt;gio lam viec&lt;/i&gt;" in html
