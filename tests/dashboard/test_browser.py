"""The dashboard in a real browser: Debian's chromium driven by Playwright (never a downloaded browser).

Skips with a reason when /usr/bin/chromium is missing, except under CI=true where that is a failure
(`make test` installs chromium with apt).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.dashboard.helpers import (
    PASSWORD,
    RecordingSender,
    accounts_for,
    add_official,
    submit_report,
)

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(os.environ.get("CCHC_SCREENSHOT_DIR", "")) if os.environ.get("CCHC_SCREENSHOT_DIR") else None


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} not found: install Debian's chromium (`make browser` or apt-get install chromium)"
    if IN_CI:
        pytest.fail(f"{reason} (required when CI=true)")
    pytest.skip(reason)


async def test_login_queue_open_reply_and_status_change(bot, tmp_path):
    _require_chromium()
    from aiohttp.test_utils import TestServer
    from playwright.async_api import async_playwright

    sender = RecordingSender()
    bot.senders["telegram"] = sender
    report_id, code, _ = await submit_report(
        bot, external_id="6001", description="Hồ sơ đăng ký hộ kinh doanh trễ hẹn 10 ngày <script>x()</script>")
    await submit_report(bot, external_id="6002", category="dvc-loi",
                        description="Không đăng nhập được Cổng dịch vụ công bằng VNeID.")
    await add_official(bot, "tt.browser", "ttphhc", "officer", name="Nguyễn Thị Thu")
    accounts_for(bot)
    server = TestServer(bot.web_app(), host="127.0.0.1")
    await server.start_server()
    shots = SCREENSHOTS or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1360, "height": 900}, locale="vi-VN")
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: problems.append(str(e)))
                base = str(server.make_url("/dashboard/"))
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
            finally:
                await browser.close()
    finally:
        await server.close()
    assert not problems, problems  # no CSP violations or script errors in the console
    assert any(reply in text for text in sender.texts_to("6001"))
