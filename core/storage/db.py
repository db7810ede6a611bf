"""Engine creation and migrations for SQLite (embedded default) and PostgreSQL (production)."""
from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


@dataclass(frozen=True)
class PoolSettings:
    """PostgreSQL connection pool. `capacity` (size + overflow) is how many transactions run at once;
    channel adapters cap their concurrency at twice it (`core.storage.db.max_concurrent_turns`), so a burst
    waits in their queue, not on the pool."""

    # Mostly steady: an overflow connection is closed as soon as it is returned and opened again at the
    # next burst (a new connection, TLS tried, statement cache cold) — the turn benchmark lost most of its
    # speed to that with 10 + 20. 30 per process keeps 3 processes under PostgreSQL's default 100.
    size: int = 25
    max_overflow: int = 5
    timeout: float = 30.0  # seconds a transaction may wait for a free connection before failing

    @property
    def capacity(self) -> int:
        return self.size + self.max_overflow


def make_engine(url: str, *, schema: str | None = None, pool: PoolSettings | None = None,
                **kwargs: Any) -> AsyncEngine:
    """Create the engine; for SQLite make the folder, enable WAL and foreign keys.

    `schema` (PostgreSQL only) sets the search_path: tests use one schema per test for isolation.
    `pool` (PostgreSQL only) sizes the connection pool; explicit `pool_size=`/`max_overflow=` win.
    """
    # Exceptions (and logs) never carry bound parameters: they hold citizens' descriptions, names, phones.
    kwargs.setdefault("hide_parameters", True)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")  # other processes (CLI, a second worker)
            # synchronous stays FULL: a confirmed report must survive a power cut, not only a crash.
            cursor.close()

        return engine
    pool = pool or PoolSettings()
    connect_args: dict[str, Any] = {"timeout": 10, "command_timeout": 60}
    if schema:
        connect_args["server_settings"] = {"search_path": schema}
    kwargs.setdefault("pool_size", pool.size)
    kwargs.setdefault("max_overflow", pool.max_overflow)
    kwargs.setdefault("pool_timeout", pool.timeout)
    if "prepared_statement_cache_size" not in parsed.query and parsed.get_driver_name() == "asyncpg":
        # every statement of every feature stays prepared on each pooled connection (SQLAlchemy's default
        # of 100 could be outgrown by a long-running process: each miss is a PREPARE round trip)
        parsed = parsed.update_query_dict({"prepared_statement_cache_size": str(PREPARED_STATEMENTS)})
    engine = create_async_engine(parsed, connect_args=connect_args, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        ping_when_idle(engine, IDLE_PING_SECONDS)
    return engine


IDLE_PING_SECONDS = 5.0
PREPARED_STATEMENTS = 500  # per pooled PostgreSQL connection


def ping_when_idle(engine: AsyncEngine, idle: float = IDLE_PING_SECONDS) -> None:
    """Check a pooled connection before use only when it sat unused for ``idle`` seconds.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: one more round trip for each transaction of a
    turn (~0.13 ms CPU each, measured). A connection in constant use cannot have gone stale unnoticed (its
    last statement succeeded moments ago; a failure invalidates it), so only an idle one is pinged — SQLAlchemy's
    documented "custom pessimistic ping" (a checkout event raising DisconnectionError; the pool then takes
    another connection, up to three times)."""
    from sqlalchemy import exc

    pool = engine.sync_engine.pool

    @event.listens_for(pool, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle:
            return
        try:
            dbapi_conn.ping()
        except Exception as error:  # noqa: BLE001 - any failure: this connection is gone, take another
            raise exc.DisconnectionError("stale pooled connection") from error


def pool_capacity(engine: AsyncEngine) -> int | None:
    """How many connections the engine's pool can hand out at once (None: not bounded by a pool)."""
    pool = engine.sync_engine.pool
    size, overflow = getattr(pool, "size", None), getattr(pool, "_max_overflow", None)
    if not callable(size) or not isinstance(overflow, int) or overflow < 0:
        return None
    return int(size()) + overflow


def max_concurrent_turns(engine: AsyncEngine, wanted: int = 64) -> int:
    """How many chat turns an adapter should process at once on this engine.

    On PostgreSQL at most twice the pool's capacity: a turn holds one connection at a time and only for its
    short transactions (most of a turn is Telegram HTTP), so 2x keeps every connection busy while a turn
    never waits long for one; further updates wait in the adapter's FIFO queue instead of timing out on
    the pool (the "busy, try again" reply). Measured: capping at 1x capacity (30) made the adapter
    benchmark slower (p99 41 s vs 26 s at 64). On SQLite write transactions queue on the writer lock
    before taking a connection, so the pool does not bound the turns."""
    if engine.dialect.name == "sqlite":
        return wanted
    capacity = pool_capacity(engine)
    return max(1, min(wanted, 2 * capacity)) if capacity else wanted


class _WriterLock:
    """One asyncio lock per event loop, re-entrant within a task.

    SQLite has a single writer. Without this, concurrent write transactions of one process collide on the
    database lock and wait in SQLite's busy handler, which polls with sleeps of up to 100 ms: under a burst
    most of the time is spent sleeping. Queueing them on an asyncio lock hands the database over at once.
    Re-entrant so a transaction opened inside another (same task) never deadlocks on it.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
        self._owners: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Task[Any]] = weakref.WeakKeyDictionary()

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is not None and self._owners.get(loop) is task:
            yield
            return
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        async with lock:
            if task is not None:
                self._owners[loop] = task
            try:
                yield
            finally:
                self._owners.pop(loop, None)


class SerializedWriteSessions(async_sessionmaker[AsyncSession]):
    """SQLite session factory: `begin()` (a write transaction) waits its turn on a per-process lock.
    Plain `sessions()` (reads) are not serialized: WAL lets readers run beside the writer."""

    def __init__(self, engine: AsyncEngine, **kwargs: Any) -> None:
        super().__init__(engine, **kwargs)
        self._writer = _WriterLock()

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncSession]:
        async with self._writer.hold(), super().begin() as session:
            yield session

    def begin(self) -> Any:  # the same `async with sessions.begin() as s:` contract
        return self._begin()

    @asynccontextmanager
    async def single(self, read: bool = False) -> AsyncIterator[AsyncConnection]:
        """See :func:`single`: a read on a plain connection; a write is a write transaction (the queue)."""
        if read:
            async with self.kw["bind"].connect() as conn:
                yield conn
            return
        async with self._writer.hold(), self.kw["bind"].begin() as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """See :func:`transaction`: a write transaction, in the writer's queue."""
        async with self._writer.hold(), self.kw["bind"].begin() as conn:
            yield conn


class ServerSessions(async_sessionmaker[AsyncSession]):
    """PostgreSQL session factory with :meth:`single` (see :func:`single`)."""

    def __init__(self, engine: AsyncEngine, **kwargs: Any) -> None:
        super().__init__(engine, **kwargs)
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def single(self, read: bool = False) -> AsyncIterator[AsyncConnection]:
        """See :func:`single`: a connection in autocommit."""
        async with self._autocommit.connect() as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """See :func:`transaction`."""
        async with self.kw["bind"].begin() as conn:
            yield conn


def single(sessions: async_sessionmaker[AsyncSession], *, read: bool = False) -> Any:
    """``async with single(sessions) as conn:`` — a connection (Core statements, no ORM session) for ONE
    statement that is atomic by itself (an INSERT, an UPDATE; ``read=True``: one SELECT): on PostgreSQL it
    runs in autocommit, without the BEGIN and COMMIT round trips of a transaction (the hot paths of a turn:
    storing events, reading users, claiming, marking messages sent); on SQLite a write is a write
    transaction in the single writer's queue and a read a plain connection. Never use it for two writes
    that must land together (:func:`transaction`)."""
    return sessions.single(read=read)  # type: ignore[attr-defined]


def transaction(sessions: async_sessionmaker[AsyncSession]) -> Any:
    """``async with transaction(sessions) as conn:`` — one write transaction on a connection (Core
    statements; the ORM session's own work per transaction is not needed on the hot paths): the closing
    writes of a group of turns. On SQLite it waits in the single writer's queue."""
    return sessions.transaction()  # type: ignore[attr-defined]


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that survive commit (expire_on_commit=False); SQLite's write transactions are serialized."""
    if engine.dialect.name == "sqlite":
        return SerializedWriteSessions(engine, expire_on_commit=False)
    return ServerSessions(engine, expire_on_commit=False)


def alembic_config(script_location: Path) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    return cfg


MIGRATION_LOCK = 0x43434843  # "CCHC": the first key of the migration lock, the second is the schema's hash


async def run_migrations(engine: AsyncEngine, script_location: Path, revision: str = "head") -> None:
    """Apply the Alembic migrations in `script_location` on this engine's connection (works inside a
    running event loop). The app owns the migrations (they know every feature's tables): see bot.database."""

    def run(sync_conn: Any) -> None:
        cfg = alembic_config(script_location)
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Processes starting together (two bots, a worker) migrate one after another: the others wait
            # here, then find the database at head. Held until this transaction ends; SQLite's single
            # writer already serialises them.
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key, hashtext(coalesce(current_schema(), '')))"),
                               {"key": MIGRATION_LOCK})
        await conn.run_sync(run)
