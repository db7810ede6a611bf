"""Dialect-aware INSERT .. ON CONFLICT, the one statement SQLite and PostgreSQL spell alike."""
from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


def insert_for(session: AsyncSession | AsyncConnection, table: Any) -> Any:
    """``INSERT`` of ``table`` in the dialect of ``session`` (a session, or a connection: a turn's closing
    transaction runs on its connection)."""
    if isinstance(session, AsyncConnection):
        dialect = session.dialect.name
    else:
        dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
