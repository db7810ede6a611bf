"""Jinja2 rendering for dashboard pages: autoescaped HTML, the layout's nav, CSRF field, Vietnam time."""
from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from dashboard.registry import ROLE_LABELS, nav_for
from dashboard.state import CSRF_TOKEN, FLASH, NAV_COUNTS, OFFICIAL, dashboard

log = logging.getLogger(__name__)
TEMPLATES = Path(__file__).with_name("templates")
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def vntime(value: dt.datetime | dt.date | None, fmt: str = "%d/%m/%Y %H:%M") -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(VN).strftime(fmt)
    return value.strftime("%d/%m/%Y")


def make_environment(template_dirs: list[Path] | tuple[Path, ...] = ()) -> jinja2.Environment:
    """Autoescape on for every template: citizen text is untrusted (a `<script>` must print as text).
    ``template_dirs``: the features' page templates, after the dashboard's own (layout, login, errors)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([TEMPLATES, *template_dirs]),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["vntime"] = vntime
    env.globals["role_labels"] = ROLE_LABELS
    return env


def agency_name(request: web.Request, agency_id: str) -> str:
    """The agency's short name from the content pack (officials read names, not ids like "ttphhc")."""
    from core.web import SERVICES

    services = request.config_dict.get(SERVICES)
    pack = getattr(services, "pack", None)
    for agency in getattr(getattr(pack, "agencies", None), "agencies", None) or ():
        if agency.id == agency_id:
            return agency.short_name or agency.name
    return agency_id


@web.middleware
async def nav_counts(request: web.Request, handler) -> web.StreamResponse:  # noqa: ANN001
    """Before a page (GET) for a logged-in official, the numbers of the nav links that have a
    ``NavItem.count`` and that the official sees (rendering is synchronous, so they are fetched here)."""
    me = request.get(OFFICIAL)
    static = isinstance(getattr(request.match_info.route, "resource", None), web.StaticResource)
    if me is not None and request.method == "GET" and not static:
        counts: dict[str, int] = {}
        for item in nav_for(dashboard(request).nav, me.role):
            if item.count is None:
                continue
            try:
                value = await item.count(request)
            except Exception as exc:  # noqa: BLE001 - a number in the menu must never break the page
                log.warning("dashboard: nav count %s failed: %s", item.key, type(exc).__name__)
                continue
            if value:
                counts[item.key] = value
        request[NAV_COUNTS] = counts
    return await handler(request)


def csrf_field(token: str) -> Markup:
    return Markup('<input type="hidden" name="_csrf" value="%s">') % escape(token)


def render(request: web.Request, template: str, context: dict[str, Any] | None = None, *,
           status: int = 200, active: str = "") -> web.Response:
    """Render `template` with the layout's context (me, nav, csrf_field, flash) added."""
    me = request.get(OFFICIAL)
    token = request.get(CSRF_TOKEN, "")
    full = {
        "me": me,
        "my_agency": agency_name(request, me.agency_id) if me else "",
        "nav": nav_for(dashboard(request).nav, me.role) if me else [],
        "nav_counts": request.get(NAV_COUNTS, {}),
        "active": active,
        "csrf_token": token,
        "csrf_field": csrf_field(token),
        "flash": request.get(FLASH, []),
        "path": request.path,
        **(context or {}),
    }
    html = dashboard(request).templates.get_template(template).render(full)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
