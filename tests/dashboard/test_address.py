"""The dashboard's address as officials type it (the runbook writes https://<domain>/dashboard)."""
from __future__ import annotations

from tests.dashboard.helpers import dashboard_client


async def test_the_dashboard_without_a_trailing_slash_leads_to_the_login(bot_sqlite) -> None:
    async with dashboard_client(bot_sqlite) as client:
        response = await client.get("/dashboard", allow_redirects=False)
        assert (response.status, response.headers.get("Location")) == (302, "/dashboard/")
        page = await client.get("/dashboard")  # followed: the login page, in Vietnamese
        assert page.status == 200 and "Đăng nhập" in await page.text()
