"""Repositories for the foundation tables: users, dialogue state, interaction log."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.models import DialogueState, Interaction, User, utcnow
from bot.storage.upsert import insert_for


@dataclass
class FlowState:
    """A user's position in a multi-step flow, detached from the session."""

    flow: str
    step: str
    data: dict[str, Any]
    expires_at: dt.datetime | None = None


class Store:
    """The foundation's data access. One short transaction per call; safe across workers."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    # users -------------------------------------------------------------------------------------------
    async def touch_user(self, channel: str, external_id: str, display_name: str = "") -> User:
        """Create or refresh the user row (one atomic upsert, race-free across workers)."""
        now = utcnow()
        async with self.sessions.begin() as session:
            stmt = insert_for(session, User.__table__).values(
                channel=channel, external_id=external_id, display_name=display_name[:256],
                first_seen=now, last_seen=now, memo={},
            )
            set_: dict[str, Any] = {"last_seen": now}
            if display_name:
                set_["display_name"] = display_name[:256]
            stmt = stmt.on_conflict_do_update(index_elements=["channel", "external_id"], set_=set_)
            await session.execute(stmt)
            user = (
                await session.execute(select(User).where(User.channel == channel, User.external_id == external_id))
            ).scalar_one()
            if user.blocked_at is not None:  # they wrote to us again: no longer blocked
                user.blocked_at = None
            return user

    async def get_user(self, user_id: int) -> User | None:
        async with self.sessions() as session:
            return await session.get(User, user_id)

    async def find_user(self, channel: str, external_id: str) -> User | None:
        async with self.sessions() as session:
            return (
                await session.execute(select(User).where(User.channel == channel, User.external_id == external_id))
            ).scalar_one_or_none()

    async def set_memo(self, user_id: int, key: str, value: Any) -> None:
        async with self.sessions.begin() as session:
            user = await session.get(User, user_id, with_for_update=True)
            if user is not None:
                user.memo = {**(user.memo or {}), key: value}

    async def mark_blocked(self, channel: str, external_id: str) -> None:
        async with self.sessions.begin() as session:
            await session.execute(
                update(User)
                .where(User.channel == channel, User.external_id == external_id)
                .values(blocked_at=utcnow())
            )

    # dialogue state ----------------------------------------------------------------------------------
    async def get_state(self, user_id: int) -> FlowState | None:
        """The user's live flow, or None (an expired one is removed)."""
        async with self.sessions.begin() as session:
            row = await session.get(DialogueState, user_id)
            if row is None:
                return None
            if row.expires_at is not None and row.expires_at <= utcnow():
                await session.delete(row)
                return None
            return FlowState(row.flow, row.step, dict(row.data or {}), row.expires_at)

    async def save_state(self, user_id: int, state: FlowState) -> None:
        now = utcnow()
        values = {
            "flow": state.flow, "step": state.step, "data": state.data,
            "expires_at": state.expires_at, "updated_at": now,
        }
        async with self.sessions.begin() as session:
            stmt = insert_for(session, DialogueState.__table__).values(user_id=user_id, version=1, **values)
            stmt = stmt.on_conflict_do_update(
                index_elements=["user_id"],
                set_={**values, "version": DialogueState.__table__.c.version + 1},
            )
            await session.execute(stmt)

    async def clear_state(self, user_id: int) -> None:
        async with self.sessions.begin() as session:
            await session.execute(delete(DialogueState).where(DialogueState.user_id == user_id))

    # interaction log ---------------------------------------------------------------------------------
    async def log_interaction(
        self,
        *,
        user_id: int | None,
        channel: str,
        kind: str,
        text: str = "",
        normalized: str = "",
        answer: str = "",
        decision: str = "",
        score: float | None = None,
    ) -> int:
        async with self.sessions.begin() as session:
            row = Interaction(
                user_id=user_id, channel=channel, kind=kind, text=text[:4096], normalized=normalized[:4096],
                answer=answer[:128], decision=decision, score=score,
            )
            session.add(row)
            await session.flush()
            return row.id

    async def rate_interaction(self, interaction_id: int, user_id: int, value: int) -> bool:
        """Record 👍 (+1) / 👎 (-1) on the user's own interaction; False if it is not theirs."""
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Interaction)
                .where(Interaction.id == interaction_id, Interaction.user_id == user_id)
                .values(feedback=value)
            )
            return result.rowcount == 1

    async def unanswered(self, *, since: dt.datetime | None = None, limit: int = 100) -> list[tuple[str, int]]:
        """Normalised questions the FAQ could not answer, most frequent first."""
        from sqlalchemy import func

        async with self.sessions() as session:
            stmt = (
                select(Interaction.normalized, func.count().label("n"))
                .where(Interaction.kind == "faq", Interaction.decision == "none", Interaction.normalized != "")
                .group_by(Interaction.normalized)
                .order_by(func.count().desc(), Interaction.normalized)
                .limit(limit)
            )
            if since is not None:
                stmt = stmt.where(Interaction.created_at >= since)
            return [(row[0], int(row[1])) for row in await session.execute(stmt)]
