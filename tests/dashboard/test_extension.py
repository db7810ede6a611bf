"""The extension point features use (`host.dashboard_pages`): a nav link, routes, `require_role`, CSRF, layout."""
from __future__ import annotations

from aiohttp import web

from dashboard import NavItem, Page, current_official, flash, render, require_role
from tests.dashboard.helpers import add_official, dashboard_client, login, post_form


@require_role("supervisor")
async def _bulletins(request: web.Request) -> web.StreamResponse:
    me = current_official(request)
    return render(request, "error.html", {"status": 200, "title": f"Bản tin của {me.username}", "message": ""},
                  active="bulletin-test")


@require_role("supervisor")
async def _send(request: web.Request) -> web.StreamResponse:
    flash(request, "Đã gửi bản tin.")
    raise web.HTTPSeeOther("/dashboard/test-bulletins")


def _routes(dash: web.Application) -> None:
    dash.router.add_get("/test-bulletins", _bulletins)
    dash.router.add_post("/test-bulletins/send", _send)


async def test_feature_pages_get_nav_roles_and_csrf(bot):
    item = NavItem("bulletin-test", "Bản tin", "/dashboard/test-bulletins", min_role="supervisor", order=40)
    bot.dashboard_pages.append(Page(_routes, nav=(item,)))
    await add_official(bot, "ext.officer", "ttphhc", "officer")
    await add_official(bot, "ext.lead", "ttphhc", "supervisor")
    async with dashboard_client(bot) as client:
        await login(client, "ext.officer")
        home = await (await client.get("/dashboard/unanswered")).text()
        assert "/dashboard/test-bulletins" not in home
        assert (await client.get("/dashboard/test-bulletins")).status == 403
    async with dashboard_client(bot) as client:
        anonymous = await client.get("/dashboard/test-bulletins", allow_redirects=False)
        assert anonymous.status == 302
        await login(client, "ext.lead")
        page = await client.get("/dashboard/test-bulletins")
        html = await page.text()
        assert page.status == 200 and "Bản tin của ext.lead" in html
        assert 'href="/dashboard/test-bulletins" class="active"' in html
        assert page.headers["Content-Security-Policy"] and page.headers["Cache-Control"] == "no-store"
        no_token = await client.post("/dashboard/test-bulletins/send", allow_redirects=False)
        assert no_token.status == 403
        sent = await post_form(client, "/dashboard/test-bulletins/send", {}, token_from="/dashboard/test-bulletins")
        assert sent.status == 303
        assert "Đã gửi bản tin." in await (await client.get("/dashboard/test-bulletins")).text()
