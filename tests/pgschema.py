"""PostgreSQL for tests and benchmarks: is it reachable, and a throw-away schema per run.

One schema per test (or benchmark) keeps runs isolated and lets them run side by side on one database;
it is dropped afterwards. No pytest import here, so `bench/` uses it too.
"""
from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.storage.db import make_engine

PG_URL = os.environ.get("CCHC_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def pg_unreachable(url: str = PG_URL) -> str | None:
    """None when PostgreSQL answers at `url`, otherwise the reason (one line)."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), 5)
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"PostgreSQL unreachable at {url}: {type(exc).__name__}: {exc}"[:300]
    finally:
        await engine.dispose()


@asynccontextmanager
async def throwaway_schema(url: str = PG_URL, prefix: str = "t") -> AsyncIterator[tuple[AsyncEngine, str]]:
    """An engine whose search_path is a fresh schema (not migrated), and the schema's name."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = make_engine(url, pool_size=1, max_overflow=0)
    try:
        async with admin.begin() as conn:
            await asyncio.wait_for(conn.execute(text(f'CREATE SCHEMA "{schema}"')), 10)
        engine = make_engine(url, schema=schema)
        try:
            yield engine, schema
        finally:
            await engine.dispose()
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        await admin.dispose()
