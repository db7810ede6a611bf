"""Fixtures for the Zalo adapters: the fake platforms, a channel on a loopback web server, two engines on
one database (two "processes")."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.database import upgrade
from channels.zalo_oa.channel import ZaloOAChannel
from channels.zalo_oa.settings import ZaloOASettings
from core.storage.db import make_engine, session_factory
from core.types import Incoming
from tests.conftest import require_pg
from tests.fakes.zalo_oa_api import FakeZaloOA
from tests.pgschema import PG_URL, throwaway_schema


class Inbox:
    """A stand-in for the core's Submit: records every Incoming (optionally failing)."""

    def __init__(self) -> None:
        self.items: list[Incoming] = []
        self.fail: Exception | None = None

    async def __call__(self, incoming: Incoming) -> None:
        if self.fail is not None:
            raise self.fail
        self.items.append(incoming)

    @property
    def last(self) -> Incoming:
        return self.items[-1]


def oa_env(zalo: FakeZaloOA, **overrides: str) -> dict[str, str]:
    env = {
        "ZALO_OA_APP_ID": zalo.app_id,
        "ZALO_OA_SECRET_KEY": zalo.secret_key,
        "ZALO_OA_APP_SECRET": zalo.app_secret,
        "ZALO_OA_ACCESS_TOKEN": zalo.access_token,
        "ZALO_OA_REFRESH_TOKEN": zalo.refresh_token,
        "ZALO_OA_API_BASE_URL": zalo.base_url,
        "ZALO_OAUTH_BASE_URL": zalo.base_url,
    }
    env.update(overrides)
    return env


@asynccontextmanager
async def serve(*channels: Any) -> AsyncIterator[str]:
    """The channels' routes on one aiohttp app on 127.0.0.1; yields its base URL."""
    app = web.Application()
    for channel in channels:
        channel.register_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


FAST = {"retry_base_delay": 0.01, "retry_max_delay": 0.05, "rate_limit_retry_after": 0.01}


@asynccontextmanager
async def oa_channel(zalo: FakeZaloOA, engine: Any, *, env: dict[str, str] | None = None,
                     inbox: Inbox | None = None, **kwargs: Any) -> AsyncIterator[tuple[ZaloOAChannel, Inbox]]:
    """A started ZaloOAChannel on ``engine``, its webhook served and registered with the fake."""
    inbox = inbox or Inbox()
    settings = ZaloOASettings.from_env(env or oa_env(zalo))
    channel = ZaloOAChannel(settings, inbox, sessions=session_factory(engine), **{**FAST, **kwargs})
    async with serve(channel) as base:
        zalo.webhook_url = base + settings.webhook_path
        await channel.start()
        try:
            yield channel, inbox
        finally:
            await channel.stop()


@pytest.fixture
async def zalo() -> AsyncIterator[FakeZaloOA]:
    async with FakeZaloOA() as fake:
        yield fake


@pytest.fixture(params=["sqlite", "postgresql"])
async def two_engines(request: pytest.FixtureRequest, tmp_path: Path):
    """Two engines on one migrated database: two bot processes sharing it."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
        first, second = make_engine(url), make_engine(url)
        await upgrade(first)
        yield first, second
        await first.dispose()
        await second.dispose()
        return
    await require_pg()
    async with throwaway_schema(PG_URL) as (first, schema):
        await upgrade(first)
        second = make_engine(PG_URL, schema=schema)
        try:
            yield first, second
        finally:
            await second.dispose()
