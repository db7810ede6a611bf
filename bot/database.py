"""The app's database: migrations of every feature's tables (the core only knows how to run them)."""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from core.storage.db import MIGRATION_LOCK, run_migrations

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class DatabaseAhead(Exception):
    """The database is at a migration this code does not know: a newer release migrated it (a rollback of
    the code, or an old process restarted during a rolling upgrade). Nothing is changed; ``args[0]`` lists
    the database's revisions, ``args[1]`` this code's heads."""

    def __init__(self, current: list[str], heads: list[str]) -> None:
        super().__init__(current, heads)
        self.current, self.heads = current, heads


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to `revision` (default: the newest); safe to run on every start. On PostgreSQL
    the schema named by CCHC_DATABASE_SCHEMA (the engine's search_path) is created first when missing.

    Raises DatabaseAhead, before changing anything, when the database is at a revision these migrations do
    not contain (Alembic itself would fail with "Can't locate revision"): there is no downgrade across
    releases, the code must be upgraded again (or the backup taken before the upgrade restored)."""
    await _create_schema(engine)
    if ahead := _ahead(await _revisions(engine)):
        raise ahead
    try:
        await run_migrations(engine, MIGRATIONS_DIR, revision)
    except Exception as exc:
        if ahead := _ahead(await _revisions(engine)):  # a newer release migrated while this one waited for the lock
            raise ahead from exc
        raise


def _ahead(current: set[str]) -> DatabaseAhead | None:
    """DatabaseAhead when ``current`` holds revisions these migrations do not contain, else None."""
    unknown = sorted(current - _known())
    return DatabaseAhead(unknown, sorted(_heads())) if unknown else None


async def current_revisions(engine: AsyncEngine) -> list[str]:
    """The database's migration revisions, sorted (one, except on a branched history); [] before the first."""
    return sorted(await _revisions(engine))


async def _revisions(engine: AsyncEngine) -> set[str]:
    """The database's current revisions; empty before the first migration."""
    from sqlalchemy import inspect, text

    async with engine.connect() as conn:
        if not await conn.run_sync(lambda sync: inspect(sync).has_table("alembic_version")):
            return set()
        return {row[0] for row in (await conn.execute(text("SELECT version_num FROM alembic_version"))).all()}


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
            # processes starting together: CREATE SCHEMA IF NOT EXISTS alone can still collide (a unique
            # violation) when both find it missing; the second waits here, then finds it made
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key, hashtext(:schema))"),
                               {"key": MIGRATION_LOCK, "schema": wanted})
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{wanted}"'))


@functools.cache
def _script() -> Any:
    from alembic.script import ScriptDirectory

    from core.storage.db import alembic_config

    return ScriptDirectory.from_config(alembic_config(MIGRATIONS_DIR))


@functools.cache
def _heads() -> frozenset[str]:
    return frozenset(_script().get_heads())


@functools.cache
def _known() -> frozenset[str]:
    return frozenset(rev.revision for rev in _script().walk_revisions())


async def at_head(engine: AsyncEngine) -> str | None:
    """None when the database's migration is the newest one here, else what differs (for /readyz)."""
    return _difference(await _revisions(engine))


def _difference(current: set[str]) -> str | None:
    heads = _heads()
    return None if current == heads else f"database at {sorted(current)}, code at {sorted(heads)}"


async def migrations_problem(engine: AsyncEngine) -> str:
    """'' when the database is at the newest migration, else why not in one line (a readiness check)."""
    current = await _revisions(engine)  # one read for both questions
    problem = _difference(current)
    if not problem:
        return ""
    if _ahead(current):
        return f"database: {problem} (the database is newer than this code: upgrade the code)"
    return f"database: {problem} (run: cchc-bot db upgrade)"
