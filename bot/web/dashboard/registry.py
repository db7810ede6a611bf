"""Registries that let features add pages to the dashboard without editing it (see package docstring)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

ROLES = ("officer", "supervisor", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
ROLE_LABELS = {"officer": "Cán bộ", "supervisor": "Lãnh đạo/giám sát", "admin": "Quản trị", "citizen": "Người dân",
               "system": "Hệ thống"}


@dataclass(frozen=True)
class NavItem:
    """One link in the dashboard's top navigation, shown to officials with at least `min_role`."""

    key: str
    label: str
    path: str
    min_role: str = "officer"
    order: int = 100


NAV: list[NavItem] = []
ROUTES: list[Callable[[web.Application], None]] = []
TEMPLATE_DIRS: list[Path] = []


def add_page(routes: Callable[[web.Application], None] | None = None, *, nav: NavItem | None = None,
             templates: Path | None = None) -> None:
    """Register routes (called with the dashboard sub-app), a nav link and/or a template folder."""
    if routes is not None and routes not in ROUTES:
        ROUTES.append(routes)
    if nav is not None and all(item.key != nav.key for item in NAV):
        if nav.min_role not in ROLE_RANK:
            raise ValueError(f"unknown role {nav.min_role!r}")
        NAV.append(nav)
        NAV.sort(key=lambda item: item.order)
    if templates is not None and templates not in TEMPLATE_DIRS:
        TEMPLATE_DIRS.append(templates)


def role_at_least(role: str, minimum: str) -> bool:
    return ROLE_RANK.get(role, -1) >= ROLE_RANK[minimum]


def nav_for(role: str) -> list[NavItem]:
    return [item for item in NAV if role_at_least(role, item.min_role)]
