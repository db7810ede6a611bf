"""Issue 9: every path and query parameter is validated before it reaches the database (404/400, never 500)."""
from __future__ import annotations

import base64

import pytest

from core.web import positive_int
from tests.dashboard.helpers import add_official, dashboard_client, login, post_form

HUGE = "99999999999999999999"


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize("value", [HUGE, "-1", "0", " 7", "1_000", "٣", "", None, "9223372036854775808"])
def test_positive_int_refuses_what_the_database_would_not_take(value):
    assert positive_int(value) is None


async def test_large_numbers_and_garbage_give_404_or_400_not_500(bot):
    await add_official(bot, "tham.so", "ttphhc", "admin")
    async with dashboard_client(bot) as client:
        await login(client, "tham.so")
        expected = {
            f"/dashboard/reports/{HUGE}": 404,
            "/dashboard/reports/-5": 404,
            f"/dashboard/bulletins/{HUGE}": 404,
            f"/dashboard/bulletins/{HUGE}/edit": 404,
            f"/dashboard/bulletins/{HUGE}/web": 404,
            f"/dashboard/bulletins?page={HUGE}": 200,
            "/dashboard/?cursor=garbage!!": 400,
            f"/dashboard/?cursor={_cursor('2025-01-01T00:00:00+00:00|' + HUGE)}": 400,
            f"/dashboard/?cursor={_cursor('not-a-date|1')}": 400,
            "/dashboard/?from=9999-12-31&to=9999-12-31": 200,
            "/dashboard/stats?from=0000-00-00&to=9999-12-31": 200,
            f"/dashboard/reports/1?tpl={HUGE}": 404,
            f"/bantin/{HUGE}": 404,
            "/bantin/-1": 404,
        }
        for path, status in expected.items():
            response = await client.get(path, allow_redirects=False)
            assert response.status == status, (path, response.status, (await response.text())[:300])
            assert "Traceback" not in await response.text()
        posted = await post_form(client, f"/dashboard/reports/{HUGE}/accept", {})
        assert posted.status == 404
        posted = await post_form(client, f"/dashboard/bulletins/{HUGE}/publish", {})
        assert posted.status == 404
