"""The Zalo OA tokens in the database, and the one-refresher-at-a-time lock.

Zalo's refresh token is single-use and rotates on every refresh: a refresh that two processes run at once
burns the token for one of them. So the tokens live in the ``zalo_tokens`` table (one row per app id) and
a refresh runs inside :meth:`TokenStore.refresh_exclusive`, which holds

* on PostgreSQL ``pg_advisory_xact_lock`` (a transaction-scoped advisory lock, keyed on the app id),
* on SQLite ``BEGIN IMMEDIATE`` (the database's write lock, across processes),

re-reads the row under the lock and calls the refresh only if the row still holds the token the caller
found stale; otherwise another process refreshed meanwhile and its token is returned. The lock is held
for the OAuth call (a few seconds at most, bounded by its timeout, once a day): on SQLite other writers
wait that long (within their 30 s busy timeout).
"""
from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy import Integer, String, Text, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base, utcnow
from core.storage.upsert import insert_for

__all__ = ["TokenPair", "TokenStore", "ZaloToken"]


class ZaloToken(Base):
    """The current OA tokens of one Zalo app (secrets: never logged, never shown in the dashboard)."""

    __tablename__ = "zalo_tokens"

    app_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text, default="")
    refresh_token: Mapped[str] = mapped_column(Text, default="")
    access_expires_at: Mapped[dt.datetime] = mapped_column()
    refresh_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)  # +1 on every change


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access_expires_at: dt.datetime
    refresh_expires_at: dt.datetime | None = None
    version: int = 0

    def expires_within(self, seconds: float, now: dt.datetime) -> bool:
        return self.access_expires_at - now <= dt.timedelta(seconds=seconds)


def _pair(row: ZaloToken | None) -> TokenPair | None:
    if row is None:
        return None
    return TokenPair(row.access_token, row.refresh_token, row.access_expires_at, row.refresh_expires_at, row.version)


def _lock_key(app_id: str) -> int:
    """A stable signed 64-bit key for pg_advisory_xact_lock (namespaced so it collides with nothing else)."""
    high = zlib.crc32(b"cchc.zalo_tokens")
    low = zlib.crc32(app_id.encode())
    value = (high << 32) | low
    return value - (1 << 64) if value >= (1 << 63) else value


Refresh = Callable[[TokenPair], Awaitable[TokenPair]]


class TokenStore:
    """Reads and writes ``zalo_tokens``; see the module docstring for the refresh lock."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], app_id: str) -> None:
        self.sessions = sessions
        self.app_id = app_id

    @property
    def _engine(self):  # noqa: ANN202 - AsyncEngine
        bind = self.sessions.kw.get("bind")
        if bind is None:
            raise RuntimeError("TokenStore needs a session factory bound to an engine")
        return bind

    async def load(self) -> TokenPair | None:
        async with self.sessions() as session:
            return _pair(await session.get(ZaloToken, self.app_id))

    async def save(self, pair: TokenPair) -> TokenPair:
        """Replace the tokens (``cchc-bot zalo set-token``); returns them with the new version."""
        async with self.sessions.begin() as session:
            row = await session.get(ZaloToken, self.app_id, with_for_update=True)
            if row is None:
                row = ZaloToken(app_id=self.app_id, version=0)
                session.add(row)
            _assign(row, pair)
            await session.flush()
            return _pair(row)  # type: ignore[return-value]

    async def seed(self, pair: TokenPair) -> bool:
        """Store the configured first tokens unless tokens are already stored (the stored ones are newer:
        the refresh token rotates). True when inserted."""
        async with self.sessions.begin() as session:
            stmt = insert_for(session, ZaloToken.__table__).values(
                app_id=self.app_id, access_token=pair.access_token, refresh_token=pair.refresh_token,
                access_expires_at=pair.access_expires_at, refresh_expires_at=pair.refresh_expires_at,
                updated_at=utcnow(), version=1,
            ).on_conflict_do_nothing(index_elements=["app_id"])
            result = await session.execute(stmt)
            return bool(result.rowcount)

    async def refresh_exclusive(self, stale: TokenPair | None, refresh: Refresh) -> TokenPair:
        """Under the lock: if the stored tokens are still ``stale`` (same version), run ``refresh`` with them
        and store its result; otherwise return the stored (newer) tokens without refreshing.
        ``stale=None``: refresh whatever is stored. Raises LookupError when nothing is stored."""
        engine = self._engine
        if engine.dialect.name == "postgresql":
            async with engine.begin() as conn:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(self.app_id)})
                return await self._refresh_in(conn, stale, refresh)
        async with engine.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                result = await self._refresh_in(conn, stale, refresh)
            except BaseException:
                await conn.exec_driver_sql("ROLLBACK")
                raise
            await conn.exec_driver_sql("COMMIT")
            return result

    async def _refresh_in(self, conn: AsyncConnection, stale: TokenPair | None, refresh: Refresh) -> TokenPair:
        session = AsyncSession(bind=conn, expire_on_commit=False)
        try:
            row = (await session.execute(select(ZaloToken).where(ZaloToken.app_id == self.app_id))).scalar_one_or_none()
            current = _pair(row)
            if current is None or row is None:
                raise LookupError("no Zalo OA tokens stored")
            if stale is not None and current.version != stale.version:
                return current  # another process refreshed meanwhile
            fresh = await refresh(current)
            _assign(row, fresh)
            await session.flush()
            return _pair(row)  # type: ignore[return-value]
        finally:
            await session.close()


def _assign(row: ZaloToken, pair: TokenPair) -> None:
    row.access_token = pair.access_token
    row.refresh_token = pair.refresh_token
    row.access_expires_at = pair.access_expires_at
    row.refresh_expires_at = pair.refresh_expires_at
    row.updated_at = utcnow()
    row.version = (row.version or 0) + 1
