"""The dashboard in a real browser (see tests/dashboard/browser.py): log in, work a report, see the charts."""
from __future__ import annotations

from tests.dashboard.browser import browse_dashboard
from tests.dashboard.helpers import (
    PASSWORD,
    RecordingSender,
    accounts_for,
    add_official,
    submit_report,
)


async def test_login_queue_open_reply_and_status_change(bot, tmp_path):
    sender = RecordingSender()
    bot.senders["telegram"] = sender
    report_id, code, _ = await submit_report(
        bot, external_id="6001", description="Hồ sơ đăng ký hộ kinh doanh trễ hẹn 10 ngày <script>x()</script>")
    await submit_report(bot, external_id="6002", category="dvc-loi",
                        description="Không đăng nhập được Cổng dịch vụ công bằng VNeID.")
    await add_official(bot, "tt.browser", "ttphhc", "officer", name="Nguyễn Thị Thu")
    accounts_for(bot)
    async with browse_dashboard(bot, tmp_path) as b:
        page, shots = b.page, b.shots
        base = b.url("/dashboard/")
        await page.goto(base)
        assert "/dashboard/login" in page.url
        await page.fill("#username", "tt.browser")
        await page.fill("#password", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(base)
        assert await page.locator("h1").first.inner_text() == "Danh sách phản ánh · Trung tâm PVHCC"
        rows = page.locator("table.queue tbody tr")
        assert await rows.count() == 1  # only its agency's report
        # The stylesheet loaded under the CSP (no inline styles, no scripts).
        colour = await page.eval_on_selector(".topbar", "e => getComputedStyle(e).backgroundColor")
        assert colour == "rgb(11, 92, 173)"
        await page.screenshot(path=str(shots / "dashboard-queue.png"), full_page=True)

        await page.click(f"text={code}")
        await page.wait_for_url(f"**/dashboard/reports/{report_id}")
        citizen = await page.inner_text("#citizen-text")
        assert "<script>x()</script>" in citizen  # shown as text, not run
        assert (await page.inner_text("#status")).strip() == "Mới tiếp nhận"
        await page.click("button:has-text('Nhận xử lý')")
        await page.wait_for_selector(".flash-ok")
        assert (await page.inner_text("#status")).strip() == "Đã tiếp nhận"

        reply = "Trung tâm đã đôn đốc; kết quả sẽ trả trong ngày mai."
        await page.fill("#reply-text", reply)
        await page.click("button:has-text('Gửi trả lời')")
        await page.wait_for_selector("text=Đã gửi trả lời cho người dân")
        assert reply in await page.inner_text(".timeline")
        await page.click("summary:has-text('Đã giải quyết')")
        await page.fill("#resolve-text", "Đã trả kết quả cho Ông/Bà.")
        await page.click("button:has-text('Xác nhận đã giải quyết')")
        await page.wait_for_selector("text=Đã đánh dấu đã giải quyết")
        assert (await page.inner_text("#status")).strip() == "Đã có kết quả"
        await page.screenshot(path=str(shots / "dashboard-report.png"), full_page=True)

        await page.click("nav.mainnav >> text=Thống kê")
        await page.wait_for_selector("svg.chart")
        await page.screenshot(path=str(shots / "dashboard-stats.png"), full_page=True)
        await page.click("button:has-text('Đăng xuất')")
        await page.wait_for_url("**/dashboard/login")
    assert not b.problems, b.problems  # no CSP violations or script errors in the console
    assert any(reply in text for text in sender.texts_to("6001"))
