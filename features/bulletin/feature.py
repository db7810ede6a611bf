"""The bulletin feature: subscriptions in chat, the twice-monthly issue, its delivery and the archive.

* content: ``content/bulletin.yaml`` + ``content/bulletins/*.md`` as ``pack.extras["bulletin"]``, its
  templates and labels;
* install: ``services.extra["bulletin"]`` = :class:`BulletinService`; background tasks: the delivery
  engine and the scheduler; the public archive at ``/bantin``; the dashboard's "Bản tin" pages;
* CLI: ``cchc-bot bulletin ...`` (``cchc-bot worker``, bot/worker.py, runs the engine and scheduler too).
"""
from __future__ import annotations

import logging

from core.feature import Feature, Host
from features.bulletin import chat, cli
from features.bulletin.content import SPEC

log = logging.getLogger(__name__)


def install(host: Host, *, engine: bool = True, scheduler: bool = True, web: bool = True) -> None:
    from features.bulletin import dashboard
    from features.bulletin.content import bulletin_content
    from features.bulletin.scheduler import Scheduler
    from features.bulletin.service import BulletinService
    from features.bulletin.store import BulletinStore

    services = host.services
    service = BulletinService(BulletinStore(services.store.sessions), services.packs, host.senders,
                              clock=services.clock, outbox=getattr(services, "outbox", None))
    services.extra["bulletin"] = service
    if BulletinStore.users_blocked not in services.store.blocked_hooks:
        services.store.blocked_hooks.append(BulletinStore.users_blocked)  # "kicked" unsubscribes at once
    dashboard.install(host)
    if bulletin_content(services.pack) is None:
        log.warning("content pack has no bulletin.yaml: the bulletin is off")
        return

    async def run_engine() -> None:
        # built at start: channels are added after the host is built; only channels the pack broadcasts to
        senders = {ch: s for ch, s in host.senders.items() if ch in service.channels}
        await service.make_engine(senders=senders).run()

    if engine:
        host.background.append(run_engine)
    if scheduler:
        host.background.append(Scheduler(service, jobs=services.extra.get("jobs")).run)  # one tick at a time
    if web:
        from features.bulletin.web import register_routes

        host.web_routes.append(register_routes)


FEATURE = Feature(name="bulletin", chat=chat.register, content=SPEC, install=install, cli=cli.add_commands)
