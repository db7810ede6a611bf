"""The app's database: migrations of every feature's tables (the core only knows how to run them)."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from core.storage.db import run_migrations

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to `revision` (default: the newest); safe to run on every start."""
    await run_migrations(engine, MIGRATIONS_DIR, revision)


async def migrations_problem(engine: AsyncEngine) -> str:
    """'' when the database is at the newest migration, else why not in one line (for /readyz)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from core.storage.db import alembic_config

    heads = set(ScriptDirectory.from_config(alembic_config(MIGRATIONS_DIR)).get_heads())
    async with engine.connect() as conn:
        current = set(await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_heads()))
    if current == heads:
        return ""
    return (f"database: migrations at {', '.join(sorted(current)) or 'none'}, newest {', '.join(sorted(heads))} "
            "(run: cchc-bot db upgrade)")
