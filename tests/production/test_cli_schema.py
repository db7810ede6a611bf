"""CCHC_DATABASE_SCHEMA is honoured by the CLI tools, not only by `run`: an operator whose bot lives in its
own PostgreSQL schema creates and migrates it, creates officials and stores the Zalo OA tokens there (issue 15)."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from tests.conftest import require_pg
from tests.pgschema import PG_URL, throwaway_schema

ROOT = Path(__file__).resolve().parents[2]


def cli(schema: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CCHC_DATABASE_URL": PG_URL, "CCHC_DATABASE_SCHEMA": schema,
           "CCHC_SECRET_KEY": "schema-test-secret-key-0123456789abcdef", "CCHC_CONTENT_DIR": str(ROOT / "content"),
           "CCHC_DB_POOL_SIZE": "2"}
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=90)


async def test_cli_commands_write_to_the_configured_schema() -> None:
    await require_pg()
    async with throwaway_schema(PG_URL, prefix="clischema") as (engine, schema):
        async with engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}"'))  # a new installation: `db upgrade` creates it
        upgrade = await asyncio.to_thread(cli, schema, "db", "upgrade")
        assert upgrade.returncode == 0, upgrade.stderr
        admin = await asyncio.to_thread(cli, schema, "admin", "add-user", "schema.admin", "--agency", "ttphhc",
                                        "--role", "admin", "--password-stdin", stdin="Mat-khau-rat-dai-2026\n")
        assert admin.returncode == 0, admin.stderr
        zalo = await asyncio.to_thread(cli, schema, "zalo", "set-token", "--app-id", "4242424242",
                                       "--access-token", "acc-token-1", "--refresh-token", "ref-token-1")
        assert zalo.returncode == 0, zalo.stderr
        async with engine.connect() as conn:  # the engine's search_path is the schema
            assert await conn.scalar(text("SELECT current_schema()")) == schema
            assert await conn.scalar(text("SELECT count(*) FROM alembic_version")) == 1
            assert await conn.scalar(text("SELECT username FROM officials")) == "schema.admin"
            assert await conn.scalar(text("SELECT app_id FROM zalo_tokens")) == "4242424242"
            tables = set((await conn.execute(text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"), {"s": schema})).scalars())
        assert {"officials", "zalo_tokens", "outbox_messages", "alembic_version"} <= tables
