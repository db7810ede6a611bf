"""Migration 0004 goes down and up again cleanly on both databases."""
from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from bot.database import MIGRATIONS_DIR
from core.storage.db import alembic_config


async def test_0004_downgrade_and_upgrade(db_engine):
    def run(sync_conn, target: str, down: bool) -> None:
        cfg = alembic_config(MIGRATIONS_DIR)
        cfg.attributes["connection"] = sync_conn
        (command.downgrade if down else command.upgrade)(cfg, target)

    def tables(sync_conn) -> set[str]:
        return set(inspect(sync_conn).get_table_names())

    async with db_engine.begin() as conn:
        assert {"officials", "official_login_throttle"} <= await conn.run_sync(tables)
        await conn.run_sync(run, "0003", True)
        assert not {"officials", "official_login_throttle"} & await conn.run_sync(tables)
        await conn.run_sync(run, "head", False)
        assert {"officials", "official_login_throttle"} <= await conn.run_sync(tables)
