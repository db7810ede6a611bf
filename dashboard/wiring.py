"""`setup_dashboard(app, pages)`: mount the dashboard sub-application at /dashboard with its middlewares.

A sub-application keeps session/CSRF/header middlewares off the webhooks and `/healthz`.
"""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

from collections.abc import Sequence

from dashboard.registry import Page
from dashboard.accounts import Accounts
from dashboard.auth import load_official, login_page, login_submit, logout, logout_everywhere
from dashboard.errors import error_pages
from dashboard.render import make_environment, nav_counts
from dashboard.security import (
    DashboardCookieStorage,
    csrf_protect,
    security_headers,
)
from dashboard.state import DASHBOARD, Dashboard, DashboardConfig
from dashboard.throttle import Throttle
from core.web import SERVICES

STATIC = Path(__file__).with_name("static")


async def _to_index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/dashboard/")


def setup_dashboard(app: web.Application, pages: Sequence[Page] = ()) -> None:
    """Mount the dashboard with the features' ``pages`` (their routes, nav links and templates)."""
    from aiohttp_session import session_middleware

    services = app[SERVICES]
    config = services.extra.get("dashboard_config") or DashboardConfig()
    sessions = services.store.sessions
    state = Dashboard(
        config=config,
        accounts=services.extra.get("dashboard_accounts") or Accounts(sessions),
        throttle=Throttle(sessions, lambda: services.clock()),  # late-bound: tests move the clock
        templates=make_environment([p.templates for p in pages if p.templates is not None]),
        nav=sorted((item for p in pages for item in p.nav), key=lambda item: item.order),
    )
    storage = DashboardCookieStorage(services.extra["secret_key"])
    dash = web.Application(middlewares=[
        security_headers, session_middleware(storage), error_pages, csrf_protect, load_official, nav_counts,
    ])
    dash[SERVICES] = services
    dash[DASHBOARD] = state
    dash.router.add_get("/login", login_page, name="login")
    dash.router.add_post("/login", login_submit)
    dash.router.add_post("/logout", logout, name="logout")
    dash.router.add_post("/logout-all", logout_everywhere, name="logout_all")
    dash.router.add_static("/static", STATIC, name="static")
    for page in pages:
        if page.routes is not None:
            page.routes(dash)
    app.router.add_get("/dashboard", _to_index)  # before the sub-app: its prefix would answer 404 first
    app.add_subapp("/dashboard", dash)
