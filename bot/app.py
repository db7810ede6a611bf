"""Assembly: settings → database → content pack → services → core → channels → web server."""
from __future__ import annotations

import asyncio
import logging
import secrets
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.channels.base import Channel, Sender
from bot.config import Settings
from bot.content import ContentPack, load_pack
from bot.faq_service import FaqService
from bot.storage.db import make_engine, max_concurrent_turns, session_factory, upgrade
from bot.storage.repos import Store
from bot.web.server import WebFeature, create_web_app
from handlers import build_router
from handlers.context import PackHolder, Services
from handlers.core import Core

log = logging.getLogger(__name__)

# Features hook in here: each gets the Bot and may add services, routes and background tasks.
Plugin = Callable[["Bot"], None]
PLUGINS: list[Plugin] = []


@dataclass
class Bot:
    """Everything one process runs. Built by `build_bot`, started by `serve`."""

    settings: Settings
    engine: AsyncEngine
    services: Services
    core: Core
    senders: dict[str, Sender] = field(default_factory=dict)
    channels: list[Channel] = field(default_factory=list)
    web_features: list[WebFeature] = field(default_factory=list)
    background: list[Callable[[], object]] = field(default_factory=list)  # coroutine factories

    def web_app(self) -> web.Application:
        return create_web_app(self.services, self.web_features)

    async def close(self) -> None:
        await self.engine.dispose()


async def build_bot(settings: Settings, *, pack: ContentPack | None = None, migrate: bool = True,
                    engine: AsyncEngine | None = None) -> Bot:
    pack = pack or load_pack(settings.content_dir)
    engine = engine or make_engine(settings.database_url, pool=settings.db_pool)
    if migrate:
        await upgrade(engine)
    store = Store(session_factory(engine))
    holder = PackHolder(pack)
    services = Services(store=store, packs=holder)
    faq = FaqService(pack)
    holder.listeners.append(faq.rebuild)
    services.extra["faq"] = faq
    services.extra["secret_key"] = settings.secret_key or secrets.token_urlsafe(48)
    core = Core(services, build_router())
    bot = Bot(settings=settings, engine=engine, services=services, core=core)
    services.extra["senders"] = bot.senders
    if settings.content_reload_seconds > 0:
        from bot.content.watch import watch_pack

        bot.background.append(lambda: watch_pack(holder, settings.content_dir, settings.content_reload_seconds))
    for plugin in PLUGINS:
        plugin(bot)
    return bot


def add_telegram(bot: Bot) -> None:
    from bot.channels.telegram import TelegramChannel

    s = bot.settings
    router = bot.core.router
    commands = [(name, bot.services.pack.texts.label(key)) for name, key in router.visible_commands]
    channel = TelegramChannel(
        token=s.telegram_token, handle=bot.core.handle, api_base_url=s.telegram_api_base_url,
        webhook_url=s.telegram_webhook_url, webhook_secret=s.telegram_webhook_secret,
        on_blocked=bot.services.store.mark_blocked, commands=commands,
        concurrent_updates=max_concurrent_turns(bot.engine),
    )
    bot.channels.append(channel)
    bot.senders[channel.channel] = channel
    bot.web_features.append(channel.register_routes)


async def serve(bot: Bot, *, console: bool) -> None:
    """Run the web server, the channels and background workers until cancelled (or the console quits)."""
    async with AsyncExitStack() as stack:
        runner = web.AppRunner(bot.web_app(), access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, bot.settings.web_host, bot.settings.web_port)
        await site.start()
        log.info("web server on http://%s:%s", bot.settings.web_host, bot.settings.web_port)
        for channel in bot.channels:
            await channel.start()
            stack.push_async_callback(channel.stop)
        tasks = [asyncio.create_task(factory()) for factory in bot.background]
        try:
            if console:
                from bot.channels.console import ConsoleChannel

                chat = ConsoleChannel(bot.core.handle, farewell=bot.services.pack.texts.render("smalltalk/goodbye"))
                bot.senders.setdefault(chat.channel, chat)
                await chat.run()
            else:
                await asyncio.Event().wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await bot.close()


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False
