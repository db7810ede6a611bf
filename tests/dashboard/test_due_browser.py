"""The "Sắp đến hạn và quá hạn" page in a real browser: reached from the menu, styled, no console errors."""
from __future__ import annotations

from tests.dashboard.browser import browse_dashboard
from tests.dashboard.helpers import PASSWORD, add_official
from tests.dashboard.test_due import _reports


async def test_the_due_page_from_the_menu_for_an_officer_and_an_admin(bot, tmp_path):
    made = await _reports(bot)
    await add_official(bot, "tt.due", "ttphhc", "officer", name="Nguyễn Thị Thu")
    await add_official(bot, "admin.due", "ttphhc", "admin", name="Trần Quản Trị")
    async with browse_dashboard(bot, tmp_path) as b:
        page, shots = b.page, b.shots
        for username, count, shot in (("tt.due", 3, "dashboard-due.png"), ("admin.due", 5, "dashboard-due-admin.png")):
            await page.goto(b.url("/dashboard/login"))
            await page.fill("#username", username)
            await page.fill("#password", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(b.url("/dashboard/"))
            link = page.locator("nav.mainnav a", has_text="Đến hạn")
            assert " ".join((await link.inner_text()).split()) == f"Đến hạn ({count})"
            await link.click()
            await page.wait_for_url(b.url("/dashboard/due"))
            assert (await page.locator("h1").inner_text()).startswith("Sắp đến hạn và quá hạn")
            overdue_row = page.locator("tr.overdue").first
            assert await overdue_row.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 241, 240)"
            await page.screenshot(path=str(shots / shot), full_page=True)
            await page.click(f"text={made['centre_late'][1]}")
            await page.wait_for_url(b.url(f"/dashboard/reports/{made['centre_late'][0]}"))
            await page.click("button:has-text('Đăng xuất')")
            await page.wait_for_url("**/dashboard/login")
    assert not b.problems, b.problems
