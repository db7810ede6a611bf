"""Shared fixtures: databases (SQLite and PostgreSQL), the shipped content pack, a whole Bot."""
from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.config import Settings
from bot.content import ContentPack, load_pack
from bot.storage.db import make_engine, upgrade

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "content"
SHARED = REPO.parent / "shared"
PG_URL = os.environ.get("CCHC_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"

_pg_reason: list[str | None] = []


async def _probe_pg() -> str | None:
    engine = make_engine(PG_URL, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), 5)
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"PostgreSQL unreachable at CCHC_TEST_PG_URL={PG_URL}: {type(exc).__name__}: {exc}"[:300]
    finally:
        await engine.dispose()


async def require_pg() -> None:
    """Skip (or fail under CI=true) when PostgreSQL is not reachable."""
    if not _pg_reason:
        _pg_reason.append(await _probe_pg())
    reason = _pg_reason[0]
    if reason:
        if IN_CI:
            pytest.fail(f"{reason} (required when CI=true)")
        pytest.skip(reason)


class PgSchema:
    """A throw-away PostgreSQL schema so tests are isolated and can run side by side."""

    def __init__(self) -> None:
        self.name = f"t_{uuid.uuid4().hex[:12]}"
        self._admin = make_engine(PG_URL, pool_size=1, max_overflow=0)

    async def create(self) -> None:
        async with self._admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{self.name}"'))

    async def drop(self) -> None:
        async with self._admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))
        await self._admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_engine(request: pytest.FixtureRequest, tmp_path: Path):
    """A migrated, empty database: every database test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
        await upgrade(engine)
        yield engine
        await engine.dispose()
        return
    await require_pg()
    schema = PgSchema()
    await schema.create()
    engine = make_engine(PG_URL, schema=schema.name)
    try:
        await upgrade(engine)
        yield engine
    finally:
        await engine.dispose()
        await schema.drop()


@pytest.fixture
async def sqlite_engine(tmp_path: Path):
    """SQLite only, for tests about behaviour that does not depend on the database."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    await upgrade(engine)
    yield engine
    await engine.dispose()


_pack_cache: dict[str, ContentPack] = {}


@pytest.fixture
def pack() -> ContentPack:
    """The shipped content pack (loaded once per test session)."""
    if "pack" not in _pack_cache:
        _pack_cache["pack"] = load_pack(CONTENT)
    return _pack_cache["pack"]


def make_settings(**overrides: object) -> Settings:
    base = dict(database_url="sqlite+aiosqlite:///:memory:", content_dir=CONTENT)
    base.update(overrides)
    return Settings(**base)  # type: ignore[arg-type]


@pytest.fixture
async def bot(db_engine, pack):
    """The whole bot (core, services, features) on each database."""
    from bot.app import build_bot

    built = await build_bot(make_settings(), pack=pack, engine=db_engine, migrate=False)
    yield built


@pytest.fixture
async def bot_sqlite(sqlite_engine, pack):
    from bot.app import build_bot

    built = await build_bot(make_settings(), pack=pack, engine=sqlite_engine, migrate=False)
    yield built
