"""Officials' web dashboard (issue 4): login, the feedback queue, report actions, exports, statistics.

Served by the bot's one aiohttp server as a sub-application mounted at ``/dashboard`` so its
middlewares (security headers, encrypted-cookie session, CSRF, login) never touch webhooks or ``/healthz``.

Extension points (for other features, e.g. the bulletin's "Bản tin" pages)
-------------------------------------------------------------------------
Register at import time of your feature's plugin module (before ``bot.web_app()`` is built)::

    from pathlib import Path
    from bot.web.dashboard import NavItem, add_page, current_official, render, require_role

    def _routes(dash: web.Application) -> None:            # gets the dashboard sub-application
        dash.router.add_get("/bulletins", list_bulletins, name="bulletin-list")
        dash.router.add_post("/bulletins/new", create_bulletin)

    add_page(_routes,
             nav=NavItem(key="bulletin", label="Bản tin", path="/dashboard/bulletins",
                         min_role="supervisor", order=40),
             templates=Path(__file__).with_name("templates"))  # optional extra jinja2 folder

    @require_role("supervisor")            # 302 to /dashboard/login when anonymous, 403 below the role
    async def list_bulletins(request):
        me = current_official(request)     # bot.web.dashboard.auth.Me (id, username, name, agency_id, role)
        return render(request, "bulletin/list.html", {"items": ...}, active="bulletin")

Routes are relative to the sub-app (``/bulletins`` is served at ``/dashboard/bulletins``); `NavItem.path`
is the full path. Roles rank officer < supervisor < admin (`require_role("officer")` = any official).
Templates ``{% extends "layout.html" %}`` and fill ``{% block title %}`` / ``{% block content %}``;
the layout draws the nav from :data:`NAV` (filtered by role, `active=` highlights the item). Every POST
form must contain ``{{ csrf_field }}`` (always in the template context); the CSRF middleware refuses any
unsafe request without the session's token (403) before your handler runs. After a POST, call
``flash(request, "Đã ...")`` (or ``flash(..., "error")``) and ``raise web.HTTPSeeOther(url)``.
``actor(request)`` gives the feedback ``Actor`` of the logged-in official. Security headers
(CSP without any script source, X-Frame-Options DENY, Cache-Control no-store) apply to every page.
No inline scripts or ``style=`` attributes (the CSP blocks them): reuse classes from
``static/dashboard.css`` (card, grid, filters, badge, flash, muted, primary/danger buttons) or add your
own stylesheet with ``dash.router.add_static("/bulletin-static", folder)`` in your routes function and a
``<link rel="stylesheet">`` in ``{% block head %}``.
"""
from aiohttp import web

from bot.web.dashboard.auth import actor, current_official, flash, require_role
from bot.web.dashboard.registry import NAV, NavItem, add_page
from bot.web.dashboard.render import csrf_field, render

__all__ = ["NAV", "NavItem", "actor", "add_page", "csrf_field", "current_official", "flash", "render",
           "require_role", "setup_dashboard"]


def setup_dashboard(app: web.Application) -> None:
    """Mount the dashboard on the bot's aiohttp app (appended to `bot.web_features` by the plugin)."""
    from bot.web.dashboard.wiring import setup_dashboard as _setup

    _setup(app)
