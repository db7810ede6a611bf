"""Officials' web dashboard (issue 4): login, the feedback queue, report actions, exports, statistics.

Served by the bot's one aiohttp server as a sub-application mounted at ``/dashboard`` so its
middlewares (security headers, encrypted-cookie session, CSRF, login) never touch webhooks or ``/healthz``.

The dashboard is a shell (accounts, login, sessions, CSRF, layout); every page behind it belongs to a
feature, which adds it from its ``install(host)`` (see ``core.feature``)::

    from pathlib import Path
    from dashboard import NavItem, Page, current_official, render, require_role

    def _routes(dash: web.Application) -> None:            # gets the dashboard sub-application
        dash.router.add_get("/bulletins", list_bulletins, name="bulletin-list")
        dash.router.add_post("/bulletins/new", create_bulletin)

    host.dashboard_pages.append(Page(
        _routes, nav=(NavItem(key="bulletin", label="Bản tin", path="/dashboard/bulletins",
                              min_role="supervisor", order=40),),
        templates=Path(__file__).with_name("templates")))  # optional extra jinja2 folder

    @require_role("supervisor")            # 302 to /dashboard/login when anonymous, 403 below the role
    async def list_bulletins(request):
        me = current_official(request)     # dashboard.auth.Me (id, username, name, agency_id, role)
        return render(request, "bulletin/list.html", {"items": ...}, active="bulletin")

Routes are relative to the sub-app (``/bulletins`` is served at ``/dashboard/bulletins``); `NavItem.path`
is the full path. Roles rank officer < supervisor < admin (`require_role("officer")` = any official).
Templates ``{% extends "layout.html" %}`` and fill ``{% block title %}`` / ``{% block content %}``;
the layout draws the nav from the pages' links (filtered by role, `active=` highlights the item). Every POST
form must contain ``{{ csrf_field }}`` (always in the template context); the CSRF middleware refuses any
unsafe request without the session's token (403) before your handler runs. After a POST, call
``flash(request, "Đã ...")`` (or ``flash(..., "error")``) and ``raise web.HTTPSeeOther(url)``.
Security headers
(CSP without any script source, X-Frame-Options DENY, Cache-Control no-store) apply to every page.
No inline scripts or ``style=`` attributes (the CSP blocks them): reuse classes from
``static/dashboard.css`` (card, grid, filters, badge, flash, muted, primary/danger buttons) or add your
own stylesheet with ``dash.router.add_static("/bulletin-static", folder)`` in your routes function and a
``<link rel="stylesheet">`` in ``{% block head %}``.
"""
from dashboard.auth import current_official, flash, require_role
from dashboard.registry import NavItem, Page, role_at_least
from dashboard.render import csrf_field, render
from dashboard.wiring import setup_dashboard

__all__ = ["NavItem", "Page", "csrf_field", "current_official", "flash", "render", "require_role",
           "role_at_least", "setup_dashboard"]
