"""Assembly: settings → database → content pack → services → core → channels → web server."""
from __future__ import annotations

import asyncio
import logging
import secrets
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from dashboard.state import DashboardConfig

from bot.config import Settings
from bot.database import DatabaseAhead, migrations_problem, upgrade
from bot.features import FEATURES, build_router, pack_spec
from core.channel import Channel
from core.content import ContentPack
from core.content.loader import load_pack
from core.context import PackHolder, Services
from core.files import store_from_env
from core.feature import Feature, Host
from core.delivery import DeliveryPolicy
from core.inbox import Inbox, new_process_id
from core.outbox import Outbox
from core.pacing import Pacers
from core.render import to_plain
from core.storage.db import max_concurrent_turns, session_factory
from core.storage.repos import Store
from core.turns import Core
from core.web import create_web_app

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class Bot(Host):
    """Everything one process runs (a :class:`core.feature.Host` for the features). Built by `build_bot`,
    started by `serve`."""

    settings: Settings
    engine: AsyncEngine
    core: Core
    channels: list[Channel] = field(default_factory=list)
    policies: dict[str, DeliveryPolicy] = field(default_factory=dict)  # channel -> its delivery policy

    def web_app(self) -> web.Application:
        from dashboard import setup_dashboard

        pages = list(self.dashboard_pages)
        return create_web_app(self.services, [*self.web_routes, lambda app: setup_dashboard(app, pages),
                                              lambda app: install_operations(self, app)])

    async def close(self) -> None:
        await self.engine.dispose()


async def build_bot(settings: Settings, *, pack: ContentPack | None = None, migrate: bool = True,
                    engine: AsyncEngine | None = None, features: tuple[Feature, ...] = FEATURES) -> Bot:
    pack = pack or load_pack(settings.content_dir, pack_spec(features))
    engine = engine or settings.make_engine()
    if migrate:
        try:
            await upgrade(engine)
        except DatabaseAhead as exc:
            # An older release restarted against a database a newer one migrated: serve rather than crash-loop
            # (the newer schema only adds); /readyz answers 503 naming the mismatch until the code is upgraded.
            log.warning("database at migration %s, newer than this code (%s): not migrated; upgrade the code",
                        ",".join(exc.current), ",".join(exc.heads))
    store = Store(session_factory(engine))
    holder = PackHolder(pack)
    senders: dict[str, Any] = {}
    policies: dict[str, DeliveryPolicy] = {}
    services = Services(store=store, packs=holder)
    services.outbox = Outbox(store.sessions, senders, process_id=new_process_id(), policies=policies,
                             pacers=Pacers(rate_overrides(settings.extra)), on_blocked=store.mark_blocked,
                             dead_after=settings.inbox_dead_after)
    services.extra["secret_key"] = settings.secret_key or secrets.token_urlsafe(48)
    from core.jobs import Jobs  # single jobs across processes (issue 15)

    services.extra["jobs"] = Jobs(store.sessions, services.outbox.process_id)
    services.extra.setdefault("dashboard_config", DashboardConfig.from_env(settings.extra))
    core = Core(services, build_router(features))
    bot = Bot(settings=settings, engine=engine, services=services, core=core, env=settings.extra, senders=senders,
              policies=policies)
    services.extra["senders"] = bot.senders
    # Files citizens send are kept by the bot (core.files): CCHC_FILES_DIR, default data/files; each
    # receiving channel registers how to download its attachments in "downloaders" (channel -> callable).
    services.extra["files"] = store_from_env(settings.extra)
    services.extra["downloaders"] = {}
    # /readyz (core.web.readyz): async checks returning '' when ready, else one line why not
    async def migrations() -> str:  # named: /readyz lists each check by its name
        return await migrations_problem(engine)

    services.extra["readiness"] = [migrations]
    # what each channel can show (core.turns maps a typed number back to the numbered option it saw)
    services.extra["capabilities"] = {}
    if settings.content_reload_seconds > 0:
        from core.content.watch import watch_pack

        spec = pack_spec(features)
        bot.background.append(lambda: watch_pack(holder, settings.content_dir, settings.content_reload_seconds, spec))
    for feature in features:
        if feature.install is not None:
            feature.install(bot)
    return bot


def use_inbox(bot: Bot) -> Inbox:
    """The process's durable inbox (created once): receiving channels submit to it, and its runner
    handles the turns and sends the replies for the life of the process."""
    inbox = bot.services.extra.get("inbox")
    if inbox is None:
        inbox = Inbox(bot.services.store.sessions, bot.core.handle, bot.services.outbox, clock=bot.services.clock,
                      max_parallel=max_concurrent_turns(bot.engine), dead_after=bot.settings.inbox_dead_after,
                      keep_days=bot.settings.inbox_keep_days)
        bot.services.extra["inbox"] = inbox
        bot.background.append(inbox.run)
    return inbox


def add_telegram(bot: Bot, **channel_kwargs: Any) -> None:
    from channels.telegram import TelegramChannel

    s = bot.settings
    router = bot.core.router
    commands = [(name, bot.services.pack.texts.label(key)) for name, key in router.visible_commands]
    channel = TelegramChannel(
        token=s.telegram_token, submit=use_inbox(bot).submit, api_base_url=s.telegram_api_base_url,
        webhook_url=s.telegram_webhook_url, webhook_secret=s.telegram_webhook_secret,
        webhook_path=s.telegram_webhook_path,  # served where the configured URL points
        on_blocked=bot.services.store.mark_blocked, commands=commands,
        group_notice=lambda: to_plain(bot.services.pack.texts.render("errors/group")),  # then it leaves the group
        **channel_kwargs,
    )
    bot.channels.append(channel)
    bot.senders[channel.channel] = channel
    bot.services.extra["downloaders"][channel.channel] = channel.download  # attachments into the file store
    bot.services.extra["capabilities"][channel.channel] = channel.capabilities
    bot.web_routes.append(channel.register_routes)


class ChannelStartFailed(Exception):
    """A channel could not start: ``channel`` is its name ("telegram", "zalo_bot"...), ``api_host`` the
    host of the platform's API it calls ('' when it has none), ``__cause__`` the platform's error (a rejected
    token, the API out of reach). bot.failures turns it into one line for the operator."""

    def __init__(self, channel: str, api_host: str = "") -> None:
        super().__init__(channel)
        self.channel, self.api_host = channel, api_host


async def start_channel(channel: Any) -> None:
    """``channel.start()``, its failure named by the channel (see ChannelStartFailed)."""
    try:
        await channel.start()
    except Exception as exc:
        raise ChannelStartFailed(channel.channel, getattr(channel, "api_host", "")) from exc


async def add_senders(bot: Bot) -> None:
    """Start the configured channels in send-only mode (workers, CLI commands): they send, never receive."""
    s = bot.settings
    add_web_chat(bot, receive=False)  # web chat answers are stored; the web process pushes them to panels
    for channel in add_platform_channels(bot, receive=False):
        await start_channel(channel)
    if s.telegram_enabled:
        from channels.telegram import TelegramChannel

        channel = TelegramChannel(token=s.telegram_token, receive_updates=False,
                                  api_base_url=s.telegram_api_base_url, on_blocked=bot.services.store.mark_blocked)
        await start_channel(channel)
        bot.channels.append(channel)
        bot.senders[channel.channel] = channel


# --- web chat (issue 13) ---------------------------------------------------------------------------------
def add_web_chat(bot: Bot, *, receive: bool = True) -> Channel:
    """The `web` channel (widget API at /webchat/api, /webchat.js) and the public site (/, /duongdaynong).
    ``receive=False``: send-only (store answers for the visitors' panels). Raises ConfigError."""
    from bot.config import ConfigError
    from channels.web.adapter import WebChannel
    from channels.web.config import WebchatConfig
    from channels.web.site import register_site, site_links

    try:
        config = WebchatConfig.from_env(bot.env, bot.settings.secret_key)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    channel = WebChannel(sessions=bot.services.store.sessions, config=config, pack=lambda: bot.services.pack)

    bot.channels.append(channel)
    bot.senders[channel.channel] = channel
    if receive:
        channel.submit = use_inbox(bot).submit
        links = site_links(config)
        bot.services.extra.update(web_site=links, public_url=bot.env.get("CCHC_PUBLIC_URL", ""))
        bot.web_routes += [channel.register_routes, lambda app: register_site(app, lambda: bot.services.pack, links)]
    return channel
# --- end web chat -----------------------------------------------------------------------------------------


# --- Zalo OA, Zalo Bot, Messenger (issues 12, 14) -----------------------------------------------------------
# Each reads its variables from bot.env (ZALO_OA_*, ZALO_BOT_*, MESSENGER_*; see .env.example) through its
# adapter's build(); returns None when none of them is set; a wrong value raises ConfigError naming it.
# receive=False (workers, CLI): send-only, no webhook route, no polling. The caller starts the channel
# (`serve` does, `add_senders` does for send-only ones).
def _add_channel(bot: Bot, channel: Channel, *, receive: bool) -> Channel:
    bot.channels.append(channel)
    bot.senders[channel.channel] = channel
    bot.services.extra["downloaders"][channel.channel] = channel.download  # attachments into the file store
    bot.services.extra["capabilities"][channel.channel] = channel.capabilities
    if receive:
        bot.web_routes.append(channel.register_routes)
    return channel


def add_zalo_oa(bot: Bot, *, receive: bool = True, **channel_kwargs: Any) -> Channel | None:
    """The Zalo Official Account (webhook at ZALO_OA_WEBHOOK_PATH); its policy: 48 h / 8 free replies,
    then the monthly proactive quota (ZALO_OA_PROACTIVE_MONTHLY_QUOTA), else the message waits."""
    from bot.config import ConfigError
    from channels import zalo_oa
    from channels.zalo_oa.policy import ZaloOAPolicy
    from channels.zalo_oa.settings import ZaloOASettings

    if not ZaloOASettings.configured(bot.env):
        return None
    try:
        [channel] = zalo_oa.build(bot.env, use_inbox(bot).submit if receive else None, bot.services.store.sessions,
                                  receive=receive, **channel_kwargs)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    bot.policies[channel.channel] = ZaloOAPolicy(channel.settings.proactive_monthly_quota)  # type: ignore[attr-defined]
    return _add_channel(bot, channel, receive=receive)


def add_zalo_bot(bot: Bot, *, receive: bool = True, **channel_kwargs: Any) -> Channel | None:
    """The Zalo Bot Platform (webhook when ZALO_BOT_WEBHOOK_URL is set, else long polling): no buttons,
    choices are numbered text."""
    from bot.config import ZALO_BOT_SWITCHES, ConfigError
    from channels import zalo_bot

    if not any((bot.env.get(k) or "").strip() for k in ZALO_BOT_SWITCHES):
        return None
    try:
        [channel] = zalo_bot.build(bot.env, use_inbox(bot).submit if receive else None, receive=receive,
                                   **channel_kwargs)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return _add_channel(bot, channel, receive=receive)


def add_messenger(bot: Bot, *, receive: bool = True, **channel_kwargs: Any) -> Channel | None:
    """The Facebook Page (webhook at MESSENGER_WEBHOOK_PATH); its policy: 24 h, then MESSENGER_UPDATE_TAG
    where Meta's rules allow it, else the message waits. Its welcome says the bot is an automated
    assistant; a revoked token fails /readyz."""
    from bot.config import ConfigError
    from channels import messenger
    from channels.messenger.policy import MessengerPolicy

    try:
        settings = messenger.MessengerSettings.from_env(bot.env)
        if not settings.configured:
            return None
        if not receive:
            channel_kwargs.setdefault("set_get_started", False)  # the receiving process sets the button
        channel = messenger.MessengerChannel(settings, use_inbox(bot).submit if receive else _send_only,
                                             **channel_kwargs)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    bot.policies[channel.channel] = MessengerPolicy(settings.update_tag)
    # Meta's policy: automated experiences say so at the start of a conversation (core.menu's welcome)
    bot.services.extra.setdefault("disclose_automation", set()).add(channel.channel)

    async def messenger_ready() -> str:
        await channel.health()  # re-checks the token at most every few minutes
        return channel.ready_reason()

    bot.services.extra["readiness"].append(messenger_ready)
    return _add_channel(bot, channel, receive=receive)


async def _send_only(incoming: Any) -> None:
    raise RuntimeError("a send-only channel received an event")  # no route is registered: never called


def add_platform_channels(bot: Bot, *, receive: bool = True) -> list[Channel]:
    """Every platform channel whose settings are present (Zalo OA, Zalo Bot, Messenger); ConfigError
    names the first wrong variable."""
    added = [add_zalo_oa(bot, receive=receive), add_zalo_bot(bot, receive=receive),
             add_messenger(bot, receive=receive)]
    return [channel for channel in added if channel is not None]
# --- end Zalo OA, Zalo Bot, Messenger ---------------------------------------------------------------------


def add_console(bot: Bot, **console_kwargs: Any) -> Any:
    """The terminal chat (channels.console): the same handlers, choices as numbered text."""
    from channels.console import ConsoleChannel

    chat = ConsoleChannel(bot.core.handle, farewell=bot.services.pack.texts.render("smalltalk/goodbye"),
                          **console_kwargs)
    bot.senders.setdefault(chat.channel, chat)
    bot.services.extra["capabilities"][chat.channel] = chat.capabilities
    return chat


async def close_bot(bot: Bot) -> None:
    """Stop the channels a command started, then release the database."""
    for channel in bot.channels:
        try:
            await channel.stop()
        except Exception:  # noqa: BLE001 - closing must go on
            log.debug("stopping %s failed", channel.channel, exc_info=True)
    await bot.close()


async def serve(bot: Bot, *, console: bool, stop: asyncio.Event | None = None,
                ready: Callable[[], None] | None = None) -> None:
    """Run the web server, the channels and background workers until cancelled, the console quits or
    ``stop`` is set (SIGTERM: a graceful shutdown, see :func:`drain`). ``ready`` is called once the web
    server listens and every channel started (the operator's "serving" lines: never before a failure)."""
    try:
        await _serve(bot, console=console, stop=stop, ready=ready)
    finally:
        await bot.close()  # after the web server and the channels stopped (requests in flight need the database)


async def _serve(bot: Bot, *, console: bool, stop: asyncio.Event | None,
                 ready: Callable[[], None] | None = None) -> None:
    async with AsyncExitStack() as stack:
        app = bot.web_app()
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, bot.settings.web_host, bot.settings.web_port)
        await site.start()
        log.info("web server on http://%s:%s", bot.settings.web_host, bot.settings.web_port)
        if not bot.settings.secret_key:
            log.warning("Chưa đặt CCHC_SECRET_KEY: mỗi lần khởi động lại, các phiên đăng nhập trang quản trị "
                        "hết hiệu lực (đặt một chuỗi ngẫu nhiên 32 ký tự trở lên)")
        for channel in bot.channels:
            await start_channel(channel)
            stack.push_async_callback(channel.stop)
        if ready is not None:
            ready()
        tasks = [asyncio.create_task(factory()) for factory in bot.background]
        try:
            if console:
                chat = add_console(bot)
                await chat.run()
            else:
                await (stop or asyncio.Event()).wait()
                await drain(bot, app, tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


# --- production: graceful shutdown (issue 15) -------------------------------------------------------------
SHUTDOWN_GRACE_SECONDS = 20.0  # turns in flight at SIGTERM get this long; systemd/compose stop waits longer


async def drain(bot: Bot, app: web.Application, tasks: list[asyncio.Task[Any]]) -> None:
    """Graceful shutdown: the web server answers 503 to new events (the platform retries them, the proxy
    sends them to another process), the inbox stops claiming, the turns in flight finish (bounded) and
    this process's claims are released; the caller then stops the channels and the server."""
    from core.web import LIFECYCLE

    app[LIFECYCLE].draining = True
    inbox = bot.services.extra.get("inbox")
    if isinstance(inbox, Inbox):
        inbox.stop()
        runner = next((t for t in tasks if getattr(t.get_coro(), "__qualname__", "") == "Inbox.run"), None)
        if runner is not None:
            try:
                async with asyncio.timeout(SHUTDOWN_GRACE_SECONDS + 5):
                    await asyncio.shield(runner)
            except (TimeoutError, Exception):  # noqa: BLE001 - shutting down regardless
                log.warning("inbox runner did not stop in time")
    log.info("drained: claims released")
def rate_overrides(env: dict[str, str] | Any) -> dict[str, float]:
    """``CCHC_RATE_<CHANNEL>=<messages per second>``: this process's send cap for a channel (default: the
    platform's, core.pacing; e.g. Telegram 30/s per bot). Benchmarks lift it to measure the pipeline itself."""
    caps = {}
    for key, value in env.items():
        if key.startswith("CCHC_RATE_"):
            try:
                caps[key.removeprefix("CCHC_RATE_").lower()] = float(value)
            except ValueError:
                log.warning("%s: not a number, ignored", key)
    return {k: v for k, v in caps.items() if v > 0}


def install_operations(bot: Bot, app: web.Application) -> None:
    """/readyz checks of this process (migrations at head, each channel it runs connected) and /metrics."""
    from core.web import add_readiness_check

    add_readiness_check(app, "migrations", lambda: migrations_problem(bot.engine))
    for channel in bot.channels:
        if hasattr(channel, "running"):
            add_readiness_check(app, f"channel:{channel.channel}", _connected(channel))
    from core.metrics import add_collector, install_metrics

    if not bot.services.extra.get("metrics_collectors"):
        inbox = bot.services.extra.get("inbox")
        if isinstance(inbox, Inbox):
            add_collector(bot.services, inbox.gauges)
        add_collector(bot.services, lambda: _report_gauges(bot))
    install_metrics(app, bot.services, bot.env)


async def _report_gauges(bot: Bot) -> list[tuple[Any, dict[str, str], float]]:
    """Feedback reports by state, and open reports past their deadline by agency (for /metrics)."""
    from sqlalchemy import func, select

    from core.metrics import REPORTS, REPORTS_OVERDUE
    from core.storage.models import utcnow
    from features.feedback.models import OPEN_STATUSES, Report

    async with bot.services.store.sessions() as session:
        states = (await session.execute(select(Report.status, func.count()).group_by(Report.status))).all()
        overdue = (await session.execute(
            select(Report.agency_id, func.count()).where(Report.status.in_(OPEN_STATUSES),
                                                         Report.deadline_at < utcnow())
            .group_by(Report.agency_id))).all()
    return [*((REPORTS, {"state": state}, float(n)) for state, n in states),
            *((REPORTS_OVERDUE, {"agency": str(agency)}, float(n)) for agency, n in overdue)]


def _connected(channel: Channel) -> Callable[[], Awaitable[str | None]]:
    async def check() -> str | None:
        return None if getattr(channel, "running", True) else "not connected"
    return check
# --- end production ------------------------------------------------------------------------------------------


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False
