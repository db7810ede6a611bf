"""The dashboard's per-app state (one object under an AppKey) and its configuration."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
from aiohttp import web

from dashboard.accounts import Accounts
from dashboard.throttle import Throttle
from core.web import forwarded_client, trusted_proxies_setting

SESSION_MAX_AGE = 8 * 3600  # one working day; the cookie's encryption timestamp enforces it


def _flag(value: object) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class DashboardConfig:
    """From CCHC_* variables (Settings.extra): cookies Secure always, trust X-Forwarded-* from a proxy."""

    secure_cookies: bool = False
    trust_proxy: bool = False
    page_size: int = 50
    # How many reverse proxies in front of the app append to X-Forwarded-For (nginx's
    # $proxy_add_x_forwarded_for: one). The client is the address that many hops from the right; anything
    # further left was written by the client and is never believed.
    trusted_proxies: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DashboardConfig:
        return cls(secure_cookies=_flag(env.get("CCHC_DASHBOARD_SECURE_COOKIES", "")),
                   trust_proxy=_flag(env.get("CCHC_DASHBOARD_TRUST_PROXY", "")),
                   trusted_proxies=trusted_proxies_setting(env, "CCHC_DASHBOARD_TRUSTED_PROXIES"))


@dataclass
class Dashboard:
    config: DashboardConfig
    accounts: Accounts
    throttle: Throttle
    templates: jinja2.Environment
    nav: list[Any] = field(default_factory=list)  # registry.NavItem of every mounted page, in order
    extra: dict[str, Any] = field(default_factory=dict)


DASHBOARD = web.AppKey("dashboard", Dashboard)
# Per-request values the middlewares set: the logged-in official (auth.Me or None), the session's CSRF
# token, one-time flash messages to show, and the numbers next to nav links (NavItem.key -> count).
OFFICIAL = web.RequestKey("dashboard_official", object)
NAV_COUNTS = web.RequestKey("dashboard_nav_counts", dict)
CSRF_TOKEN = web.RequestKey("dashboard_csrf", str)
FLASH = web.RequestKey("dashboard_flash", list)


def dashboard(request: web.Request) -> Dashboard:
    return request.config_dict[DASHBOARD]


def client_ip(request: web.Request) -> str:
    """The client's address: the peer, or behind `trusted_proxies` proxies the right-most address they did
    not add themselves (the left part of X-Forwarded-For is whatever the client sent: never trusted)."""
    config = dashboard(request).config
    if not config.trust_proxy:
        return request.remote or "unknown"
    return forwarded_client(request, config.trusted_proxies)


def is_https(request: web.Request) -> bool:
    if request.secure:
        return True
    return dashboard(request).config.trust_proxy and request.headers.get("X-Forwarded-Proto", "") == "https"
