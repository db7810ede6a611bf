"""The app's database: migrations of every feature's tables (the core only knows how to run them)."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from core.storage.db import run_migrations

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database to `revision` (default: the newest); safe to run on every start."""
    await run_migrations(engine, MIGRATIONS_DIR, revision)
