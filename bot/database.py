"""The app's database: migrations of every feature's tables (the core only knows how to run them)."""
from __future__ import annotations

import functools
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from core.storage.db import run_migrations

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to `revision` (default: the newest); safe to run on every start. On PostgreSQL
    the schema named by CCHC_DATABASE_SCHEMA (the engine's search_path) is created first when missing."""
    await _create_schema(engine)
    await run_migrations(engine, MIGRATIONS_DIR, revision)


async def _create_schema(engine: AsyncEngine) -> None:
    import re

    from sqlalchemy import text

    if engine.dialect.name != "postgresql":
        return
    async with engine.begin() as conn:
        if await conn.scalar(text("SELECT current_schema()")) is not None:
            return  # the search_path's schema exists
        wanted = str(await conn.scalar(text("SHOW search_path"))).split(",")[0].strip().strip('"')
        if re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", wanted):  # the name bot.config accepted; never "$user"
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{wanted}"'))


@functools.cache
def _heads() -> frozenset[str]:
    from alembic.script import ScriptDirectory

    from core.storage.db import alembic_config

    return frozenset(ScriptDirectory.from_config(alembic_config(MIGRATIONS_DIR)).get_heads())


async def at_head(engine: AsyncEngine) -> str | None:
    """None when the database's migration is the newest one here, else what differs (for /readyz)."""
    from sqlalchemy import text

    heads = _heads()
    async with engine.connect() as conn:
        current = {row[0] for row in (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()}
    return None if current == heads else f"database at {sorted(current)}, code at {sorted(heads)}"


async def migrations_problem(engine: AsyncEngine) -> str:
    """'' when the database is at the newest migration, else why not in one line (a readiness check)."""
    problem = await at_head(engine)
    return f"database: {problem} (run: cchc-bot db upgrade)" if problem else ""
