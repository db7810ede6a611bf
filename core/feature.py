"""What a feature brings to the bot, declared as data; the app wiring (`bot/features.py`) lists the
features that run. Nothing registers itself on import.

A feature is one package under `features/` (chat handlers, service, storage, web pages, CLI) that exposes
one :class:`Feature`. The app calls, for each feature of its list:

* ``chat(router)`` to add commands, button payloads, flows and free-text handlers;
* ``content`` (a :class:`~core.content.loader.PackSpec`): the pack files, templates and labels it needs,
  so ``cchc-bot content check`` reports a pack that lacks them;
* ``install(host)`` in every bot process: services, background tasks, web routes and dashboard pages;
* ``cli(subparsers, cli)`` to add ``cchc-bot`` subcommands.
"""
from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.content.loader import PackSpec

if TYPE_CHECKING:
    from aiohttp import web
    from sqlalchemy.ext.asyncio import AsyncEngine

    from core.channel import Sender
    from core.content import ContentPack
    from core.context import Services
    from core.router import Router

WebRoutes = Callable[["web.Application"], None]
BackgroundTask = Callable[[], Awaitable[object]]


@dataclass
class Host:
    """What a running bot process offers its features.

    ``senders``: channel name -> :class:`~core.channel.Sender`, filled as channels start (read it late);
    ``web_routes``: callables adding routes to the one aiohttp app; ``background``: coroutine factories
    run for the life of the process; ``dashboard_pages``: the officials' dashboard pages features
    contribute (``dashboard.Page`` objects; the core does not look inside them); ``env``: the process
    environment (feature settings read from it).
    """

    services: Services
    env: Mapping[str, str] = field(default_factory=dict)
    senders: dict[str, Sender] = field(default_factory=dict)
    web_routes: list[WebRoutes] = field(default_factory=list)
    background: list[BackgroundTask] = field(default_factory=list)
    dashboard_pages: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class CliHost:
    """What the app offers a feature's ``cchc-bot`` subcommands.

    ``settings()`` and ``pack(dir)`` print one clear Vietnamese line and exit on a wrong value;
    ``open_host(settings, pack, migrate=True)`` builds a whole bot process (no channel receiving) and must
    be closed with ``close_host``; ``upgrade(engine)`` migrates a database to the newest revision.
    """

    settings: Callable[[], Any]
    pack: Callable[[Path], ContentPack]
    open_host: Callable[..., Awaitable[Any]]
    close_host: Callable[[Any], Awaitable[None]]
    upgrade: Callable[[AsyncEngine], Awaitable[None]]


@dataclass(frozen=True)
class Feature:
    name: str
    chat: Callable[[Router], None] | None = None
    content: PackSpec = field(default_factory=PackSpec)
    install: Callable[[Host], None] | None = None
    cli: Callable[[argparse._SubParsersAction, CliHost], None] | None = None
