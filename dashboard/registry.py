"""Roles and the pages features add to the dashboard (declared by each feature, mounted by the app)."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

ROLES = ("officer", "supervisor", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
ROLE_LABELS = {"officer": "Cán bộ", "supervisor": "Lãnh đạo/giám sát", "admin": "Quản trị", "citizen": "Người dân",
               "system": "Hệ thống"}


@dataclass(frozen=True)
class NavItem:
    """One link in the dashboard's top navigation, shown to officials with at least `min_role`.

    ``count``: optional ``async (request) -> int | None``, how many things the page has for the logged-in
    official (shown after the label, "Đến hạn (3)", when above 0). It runs on every page the official opens
    (``render.nav_counts``), so it must be one cheap query; an error in it only drops the number."""

    key: str
    label: str
    path: str
    min_role: str = "officer"
    order: int = 100
    count: Callable[[web.Request], Awaitable[int | None]] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Page:
    """Pages a feature adds to the dashboard: ``routes(dash)`` adds routes to the dashboard sub-app
    (relative paths: ``/stats`` is served at ``/dashboard/stats``), ``nav`` links for the top navigation,
    ``templates`` a folder of jinja2 templates (``{% extends "layout.html" %}``)."""

    routes: Callable[[web.Application], None] | None = None
    nav: tuple[NavItem, ...] = ()
    templates: Path | None = None

    def __post_init__(self) -> None:
        for item in self.nav:
            if item.min_role not in ROLE_RANK:
                raise ValueError(f"unknown role {item.min_role!r}")


def role_at_least(role: str, minimum: str) -> bool:
    return ROLE_RANK.get(role, -1) >= ROLE_RANK[minimum]


def nav_for(nav: list[NavItem], role: str) -> list[NavItem]:
    return [item for item in nav if role_at_least(role, item.min_role)]
