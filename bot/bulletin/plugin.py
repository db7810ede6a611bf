"""Wires the bulletin feature into the app, the CLI and the content pack.

* content: ``content/bulletin.yaml`` + ``content/bulletins/*.md`` as ``pack.extras["bulletin"]``; the
  feature's templates and labels are required (``cchc-bot content check`` reports a missing one);
* app plugin: ``services.extra["bulletin"]`` = :class:`BulletinService`; background tasks: the delivery
  engine and the scheduler; the public archive at ``/bantin``;
* CLI: ``cchc-bot bulletin ...`` and ``cchc-bot worker`` (bot/bulletin/cli.py);
* dashboard pages (bot/web/dashboard/bulletins.py) when the dashboard is installed.
"""
from __future__ import annotations

import logging

import bot.app
from bot.bulletin import cli as _cli  # noqa: F401  (registers `cchc-bot bulletin` and `cchc-bot worker`)
from bot.bulletin.content import register as _register_content

log = logging.getLogger(__name__)

_register_content()

try:  # dashboard pages register themselves with the dashboard's registry
    import bot.web.dashboard.bulletins  # noqa: F401
except ImportError as exc:  # pragma: no cover - dashboard not installed
    log.debug("bulletin dashboard pages unavailable: %s", exc)


def install(built: bot.app.Bot, *, engine: bool = True, scheduler: bool = True, web: bool = True) -> None:
    from bot.bulletin.content import bulletin_content
    from bot.bulletin.scheduler import Scheduler
    from bot.bulletin.service import BulletinService
    from bot.bulletin.store import BulletinStore

    services = built.services
    service = BulletinService(BulletinStore(services.store.sessions), services.packs, built.senders,
                              clock=services.clock)
    services.extra["bulletin"] = service
    if bulletin_content(services.pack) is None:
        log.warning("content pack has no bulletin.yaml: the bulletin is off")
        return

    async def run_engine() -> None:
        # built at start: channels are added after build_bot; only channels the pack broadcasts to
        senders = {ch: s for ch, s in built.senders.items() if ch in service.channels}
        engine = service.make_engine(senders=senders)
        await engine.run()

    if engine:
        built.background.append(run_engine)
    if scheduler:
        built.background.append(Scheduler(service).run)
    if web:
        from bot.bulletin.web import register_routes

        built.web_features.append(register_routes)


def _plugin(built: bot.app.Bot) -> None:
    install(built)


if _plugin not in bot.app.PLUGINS:
    bot.app.PLUGINS.append(_plugin)
