"""`cchc-bot worker`: a sending process beside the `run` processes (issue 15).

`run` processes sit behind the reverse proxy: they take the webhooks, run the inbox's turns and send
their replies. A worker takes no update and runs no turn; it sends:

* the outbound pipeline (core/outbox.py): every ``poll`` seconds it delivers the owed messages nobody alive
  holds — officials' answers and status changes written by a dashboard or a CLI command, retries, the
  replies a stopped process left — with its heartbeat in ``processes``, so the channels' caps are split
  among all live processes (core/inbox.py :class:`Inbox` with ``claim_events=False``);
* the bulletin engine and scheduler, and the single jobs (pruning, draft expiry, the deadline digest:
  core/jobs.py, each once at a time across every process), as the features installed them;
* every configured channel in send-only mode (:func:`bot.app.add_senders`): no polling, no webhook; the
  Zalo OA channel refreshes its tokens under its database lock.

No web server, unless ``CCHC_WORKER_PORT`` is set: then /healthz, /readyz and /metrics only, on
``CCHC_WEB_HOST`` (for the container's health check and the metrics scraper).

SIGTERM (or SIGINT) stops it cleanly: the bulletin engine flushes its results and releases its claims,
the outbox sweep ends after its current message, this process's claims are released and its
``processes`` row deleted, so the others take over at once; then the channels stop.
"""
from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.app import Bot, add_senders, build_bot, close_bot, install_operations
from bot.config import Settings
from core.content import ContentPack
from core.inbox import Inbox
from core.storage.db import max_concurrent_turns
from core.web import LIFECYCLE, create_web_app

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 25.0  # the outbox sweep's message in flight; below compose's / systemd's stop timeout


async def build_worker(settings: Settings, *, pack: ContentPack | None = None, poll: float = 0.5) -> Bot:
    """The worker's bot: features installed, channels started send-only, the sending runner in
    ``bot.background``. Raises ConfigError naming a wrong channel variable."""
    bot = await build_bot(settings, pack=pack)
    try:
        inbox = Inbox(bot.services.store.sessions, bot.core.handle, bot.services.outbox, clock=bot.services.clock,
                      max_parallel=max_concurrent_turns(bot.engine), dead_after=settings.inbox_dead_after,
                      keep_days=settings.inbox_keep_days, poll_interval=poll, claim_events=False)
        bot.services.extra["inbox"] = inbox  # its gauges feed /metrics; its prune is a single job
        await add_senders(bot)
    except BaseException:
        await close_bot(bot)
        raise
    bot.background.append(inbox.run)
    return bot


def platform_channels(bot: Bot) -> list[str]:
    """The channels this worker sends on other than the web chat (which every worker has)."""
    return [name for name in bot.senders if name != "web"]


async def run_worker(bot: Bot, stop: asyncio.Event, ready: Callable[[], None] | None = None) -> None:
    """Send until ``stop`` is set, then shut down cleanly (see the module docstring); closes ``bot``.
    ``ready`` is called once the operations port (if any) listens."""
    try:
        async with AsyncExitStack() as stack:
            app = await _ops_server(bot, stack)
            if ready is not None:
                ready()
            tasks = {factory: asyncio.create_task(factory()) for factory in bot.background}
            try:
                await stop.wait()
            finally:
                if app is not None:
                    app[LIFECYCLE].draining = True  # /readyz: 503 while stopping
                inbox: Inbox = bot.services.extra["inbox"]
                runner = next(task for factory, task in tasks.items() if factory == inbox.run)
                # first the others (the bulletin engine flushes and releases its claims when cancelled; its
                # heartbeat would otherwise write this process's row again after the release below)
                others = [task for task in tasks.values() if task is not runner]
                for task in others:
                    task.cancel()
                await asyncio.gather(*others, return_exceptions=True)
                inbox.stop()  # the sweep ends after its current message; claims released, row deleted
                try:
                    async with asyncio.timeout(STOP_GRACE_SECONDS):
                        await asyncio.shield(runner)
                except (TimeoutError, Exception):  # noqa: BLE001 - stopping regardless
                    log.warning("worker: the sending runner did not stop in time")
                    runner.cancel()
                    await asyncio.gather(runner, return_exceptions=True)
                log.info("worker stopped: claims released")
    finally:
        await close_bot(bot)


async def _ops_server(bot: Bot, stack: AsyncExitStack) -> web.Application | None:
    port = bot.settings.worker_port
    if port is None:
        return None
    app = create_web_app(bot.services, [lambda app: install_operations(bot, app)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    await web.TCPSite(runner, bot.settings.web_host, port).start()
    log.info("worker: /healthz /readyz /metrics on http://%s:%s", bot.settings.web_host, port)
    return app


def describe(bot: Bot) -> str:
    """One line for the operator: what this worker sends on."""
    names: dict[str, Any] = {"telegram": "Telegram", "zalo_oa": "Zalo OA", "zalo_bot": "Zalo Bot",
                             "messenger": "Messenger", "web": "trò chuyện trên web"}
    channels = ", ".join(names.get(ch, ch) for ch in bot.senders)
    port = bot.settings.worker_port
    ops = f"; /healthz /readyz /metrics tại http://{bot.settings.web_host}:{port}" if port is not None else ""
    return f"Worker {bot.services.outbox.process_id}: đang gửi ({channels}){ops}."
