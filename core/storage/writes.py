"""The writes of the turns that close together, gathered by statement (see ``Store.finish_turn``).

Turns that end at about the same time share one transaction (core/storage/group.py). Each of them writes
the same few rows — its event done, its interaction-log row, its replies owed — so each statement runs
once for the whole group with every turn's values (an "executemany": SQLAlchemy's insertmanyvalues sends
one multi-row INSERT; asyncpg pipelines an UPDATE's parameter sets), instead of once per turn: a statement
costs the process ~0.25 ms of CPU in SQLAlchemy and the driver whatever its number of rows.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

Returned = Callable[[Any], None]  # called with the row a statement's RETURNING gave for these values


class ClosingWrites:
    """Statements to run in the closing transaction, with their values.

    :meth:`add` gathers values per statement (statements built once, with bound parameters); :meth:`run`
    runs each statement once, in the order they were first added, for all their values. A statement with
    RETURNING must be built with ``returning(..., sort_by_parameter_order=True)``: ``returned`` is then
    called for each value set with its own row. ``conn`` is the transaction's connection, for a statement
    whose result the turn needs before the others (it runs at once)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self._pending: dict[Any, list[tuple[dict[str, Any], Returned | None]]] = {}

    def add(self, statement: Any, values: dict[str, Any], returned: Returned | None = None) -> None:
        self._pending.setdefault(statement, []).append((values, returned))

    async def run(self) -> None:
        pending, self._pending = self._pending, {}
        for statement, items in pending.items():
            params = [values for values, _ in items]
            result = await self.conn.execute(statement, params if len(params) > 1 else params[0])
            if any(returned is not None for _, returned in items):
                rows = result.all()
                if len(rows) != len(items):
                    raise RuntimeError(f"RETURNING gave {len(rows)} rows for {len(items)} value sets")
                for (_values, returned), row in zip(items, rows):
                    if returned is not None:
                        returned(row)

    @classmethod
    @asynccontextmanager
    async def on(cls, session: AsyncSession | AsyncConnection) -> AsyncIterator[ClosingWrites]:
        """``async with ClosingWrites.on(session) as writes:`` — what is added in the block is written when it
        ends, in ``session``'s transaction (a turn closed alone: tests, scripted turns)."""
        conn = session if isinstance(session, AsyncConnection) else await session.connection()
        writes = cls(conn)
        yield writes
        await writes.run()
