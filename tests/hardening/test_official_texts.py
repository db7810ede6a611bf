"""Issue 9: officials read Vietnamese, local time and names, never codes — the report page's audit details,
channel and routing rule, the layout's agency, `cchc-bot feedback show` and `feedback stats`."""
from __future__ import annotations

import datetime as dt
import re

from features.feedback.cli import show_text, stats_table
from tests.dashboard.helpers import add_official, dashboard_client, login, post_form, submit_report
from tests.feedback.conftest import officer, receiving_supervisor

CODES = re.compile(r"from_status|to_status|new|accepted|rule:|\bttphhc\b|qua console|qua telegram")


async def test_report_page_speaks_vietnamese(bot):
    rid, code, agency = await submit_report(bot, external_id="9801")
    assert agency == "ttphhc"
    await add_official(bot, "vn.officer", "ttphhc", name="Lê Văn Tâm")
    async with dashboard_client(bot) as client:
        await login(client, "vn.officer")
        await post_form(client, f"/dashboard/reports/{rid}/accept", {"note": ""})
        page = await (await client.get(f"/dashboard/reports/{rid}")).text()
    audit = page[page.index("Nhật ký truy cập"):]
    assert "Trạng thái: Mới tiếp nhận → Đã tiếp nhận" in audit  # the pack's status labels
    assert "Kênh: Telegram" in audit and "Chuyển cho: Trung tâm PVHCC" in audit
    assert "qua Telegram" in page and "Cán bộ · Trung tâm PVHCC" in page
    assert not CODES.search(re.sub(r"<[^>]+>", " ", page).replace("badge-new", "")), CODES.search(page)


async def test_feedback_show_is_vietnamese_in_local_time_without_anonymous_beside_a_phone(bot, service, pack):
    moment = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.timezone.utc)  # 08:30 in Vietnam
    bot.services.clock = lambda: moment
    rid, code, agency = await submit_report(bot, external_id="9802", name="", phone="0912345678")
    await service.accept(officer(agency, "Lê Văn Tâm"), rid)
    text = show_text(await service.get_report(receiving_supervisor(pack), rid), service)
    assert "02/03/2026 08:30 Người dân gửi phản ánh" in text and "Nhận xử lý · Lê Văn Tâm" in text
    assert "(ẩn danh)" not in text and "0912345678" in text
    assert not re.search(r"\b(submitted|routed|accepted|telegram|rule:\d)\b", text), text


async def test_feedback_stats_is_a_vietnamese_table(bot, service, pack):
    await submit_report(bot, external_id="9803")
    await submit_report(bot, category="dvc-loi", external_id="9804")
    text = stats_table(await service.stats(receiving_supervisor(pack)), service, pack)
    assert "{" not in text and '"' not in text
    assert "Tổng số phản ánh: 2" in text and "Trung tâm Phục vụ hành chính công tỉnh Quảng Ngãi" in text
    assert re.search(r"Mới tiếp nhận\s+2", text) and "Lỗi dịch vụ công trực tuyến" in text
