"""Jinja2 rendering for dashboard pages: autoescaped HTML, the layout's nav, CSRF field, Vietnam time."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web
from markupsafe import Markup, escape

from dashboard.registry import ROLE_LABELS, nav_for
from dashboard.state import CSRF_TOKEN, FLASH, OFFICIAL, dashboard

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
        "active": active,
        "csrf_token": token,
        "csrf_field": csrf_field(token),
        "flash": request.get(FLASH, []),
        "path": request.path,
        **(context or {}),
    }
    html = dashboard(request).templates.get_template(template).render(full)
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
