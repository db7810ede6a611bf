"""Shared fixtures: databases (SQLite and PostgreSQL), the shipped content pack, a whole Bot."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from bot.config import Settings
from core.content import ContentPack
from bot.features import load_pack
from core.storage.db import make_engine
from bot.database import upgrade
from tests.pgschema import PG_URL, pg_unreachable, throwaway_schema

REPO = Path(__file__).resolve().parents[1]
CONTENT = REPO / "content"
SHARED = REPO.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() == "true"

_pg_reason: list[str | None] = []


def pytest_configure(config: pytest.Config) -> None:
    # pytest restores the warning filters after collection, dropping the one channels.telegram installs
    from channels.telegram import DO_API_REQUEST_WARNING

    config.addinivalue_line("filterwarnings", f"ignore:{DO_API_REQUEST_WARNING}:telegram.warnings.PTBUserWarning")


async def require_pg() -> None:
    """Skip (or fail under CI=true) when PostgreSQL is not reachable."""
    if not _pg_reason:
        _pg_reason.append(await pg_unreachable(PG_URL))
    reason = _pg_reason[0]
    if reason:
        if IN_CI:
            pytest.fail(f"{reason} (required when CI=true)")
        pytest.skip(reason)


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
    async with throwaway_schema(PG_URL) as (engine, _schema):
        await upgrade(engine)
        yield engine


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


# Files citizens send (core.files) go to a temporary folder, never into the working tree.
FILES_DIR = Path(tempfile.mkdtemp(prefix="cchc-test-files-"))
atexit.register(shutil.rmtree, FILES_DIR, True)


def make_settings(**overrides: object) -> Settings:
    base = dict(database_url="sqlite+aiosqlite:///:memory:", content_dir=CONTENT,
                extra={"CCHC_FILES_DIR": str(FILES_DIR)})
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
