"""Issue 9: dashboard sessions are revocable on the server (a saved cookie dies with logout and friends)."""
from __future__ import annotations

from dashboard.security import COOKIE_NAME
from tests.dashboard.helpers import accounts_for, add_official, dashboard_client, login, post_form


async def _saved_cookie(client, username: str) -> str:
    await login(client, username)
    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/dashboard/"))[COOKIE_NAME].value
    assert (await client.get("/dashboard/unanswered", allow_redirects=False)).status == 200
    return cookie


async def _replay(bot, cookie: str) -> int:
    async with dashboard_client(bot) as other:  # an attacker's browser holding a copy of the cookie
        response = await other.get("/dashboard/unanswered", allow_redirects=False,
                                   headers={"Cookie": f"{COOKIE_NAME}={cookie}"})
        return response.status


async def test_saved_cookie_is_dead_after_logout_and_after_deactivation_and_reactivation(bot):
    await add_official(bot, "phien.a", "ttphhc")
    async with dashboard_client(bot) as client:
        cookie = await _saved_cookie(client, "phien.a")
        assert await _replay(bot, cookie) == 200
        await post_form(client, "/dashboard/logout", {}, token_from="/dashboard/unanswered")
    assert await _replay(bot, cookie) == 302
    async with dashboard_client(bot) as client:
        cookie = await _saved_cookie(client, "phien.a")
    await accounts_for(bot).set_active("phien.a", False)
    await accounts_for(bot).set_active("phien.a", True)
    assert await _replay(bot, cookie) == 302


async def test_log_out_everywhere_ends_every_browser(bot):
    await add_official(bot, "phien.b", "ttphhc")
    async with dashboard_client(bot) as first, dashboard_client(bot) as second:
        one = await _saved_cookie(first, "phien.b")
        two = await _saved_cookie(second, "phien.b")
        out = await post_form(second, "/dashboard/logout-all", {}, token_from="/dashboard/unanswered")
        assert out.status == 302
        assert (await first.get("/dashboard/unanswered", allow_redirects=False)).status == 302
    assert await _replay(bot, one) == 302 and await _replay(bot, two) == 302
