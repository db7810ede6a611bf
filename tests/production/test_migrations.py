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


async def test_a_newer_release_migrating_while_this_one_waits_is_reported_as_ahead(sqlite_engine, monkeypatch) -> None:
    """Old and new code starting together: the new one migrates while the old waits for the lock; the old
    one's Alembic then finds an unknown revision, which is the database being ahead, not a crash."""
    import bot.database
    from bot.database import DatabaseAhead

    async def newer_release_got_there_first(engine, *_args) -> None:  # noqa: ANN001
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = '0099_newer'"))
        raise RuntimeError("Can't locate revision identified by '0099_newer'")

    monkeypatch.setattr(bot.database, "run_migrations", newer_release_got_there_first)
    try:
        await upgrade(sqlite_engine)
    except DatabaseAhead as exc:
        assert exc.current == ["0099_newer"]
    else:
        raise AssertionError("DatabaseAhead expected")


async def test_processes_starting_together_create_the_missing_schema_once() -> None:
    """CCHC_DATABASE_SCHEMA names a schema nobody created yet; three processes start at once."""
    import uuid

    await require_pg()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engines = [make_engine(PG_URL, schema=schema) for _ in range(3)]
    try:
        results = await asyncio.gather(*(upgrade(engine) for engine in engines), return_exceptions=True)
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert await at_head(engines[0]) is None
    finally:
        for engine in engines:
            await engine.dispose()
        admin = make_engine(PG_URL, pool_size=1, max_overflow=0)
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()
