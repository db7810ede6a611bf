"""Migrations when several processes start at once (two bots and a worker after an upgrade)."""
from __future__ import annotations

import asyncio

from sqlalchemy import text

from bot.database import at_head, upgrade
from core.storage.db import make_engine
from tests.conftest import require_pg
from tests.pgschema import PG_URL, throwaway_schema


async def test_processes_starting_together_migrate_once_without_failing() -> None:
    await require_pg()
    async with throwaway_schema(PG_URL) as (first, schema):
        others = [make_engine(PG_URL, schema=schema) for _ in range(2)]
        try:
            results = await asyncio.gather(*(upgrade(engine) for engine in (first, *others)), return_exceptions=True)
        finally:
            for engine in others:
                await engine.dispose()
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert await at_head(first) is None
        async with first.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM alembic_version"))).scalar_one() == 1
