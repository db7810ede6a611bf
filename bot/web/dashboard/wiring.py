"""`setup_dashboard(app)`: mount the dashboard sub-application at /dashboard with its middlewares.

A sub-application keeps session/CSRF/header middlewares off the webhooks and `/healthz`.
"""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

from bot.web.dashboard import pages, registry
from bot.web.dashboard.accounts import Accounts
from bot.web.dashboard.auth import load_official, login_page, login_submit, logout
from bot.web.dashboard.errors import error_pages
from bot.web.dashboard.render import make_environment
from bot.web.dashboard.security import (
    DashboardCookieStorage,
    csrf_protect,
    security_headers,
)
from bot.web.dashboard.state import DASHBOARD, Dashboard, DashboardConfig
from bot.web.dashboard.throttle import Throttle
from bot.web.server import SERVICES

STATIC = Path(__file__).with_name("static")


async def _to_index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/dashboard/")


def setup_dashboard(app: web.Application) -> None:
    from aiohttp_session import session_middleware

    services = app[SERVICES]
    config = services.extra.get("dashboard_config") or DashboardConfig()
    sessions = services.store.sessions
    state = Dashboard(
        config=config,
        accounts=services.extra.get("dashboard_accounts") or Accounts(sessions),
        throttle=Throttle(sessions, lambda: services.clock()),  # late-bound: tests move the clock
        templates=make_environment(),
    )
    storage = DashboardCookieStorage(services.extra["secret_key"])
    dash = web.Application(middlewares=[
        security_headers, session_middleware(storage), error_pages, csrf_protect, load_official,
    ])
    dash[SERVICES] = services
    dash[DASHBOARD] = state
    dash.router.add_get("/login", login_page, name="login")
    dash.router.add_post("/login", login_submit)
    dash.router.add_post("/logout", logout, name="logout")
    dash.router.add_static("/static", STATIC, name="static")
    pages.register_builtin()
    for routes in registry.ROUTES:
        routes(dash)
    app.add_subapp("/dashboard", dash)
    app.router.add_get("/dashboard", _to_index)
