"""Learning from what citizens ask: officials' decisions on unanswered questions, stored with who and when.

`LearnedStore` is the `faq_learned` table (features/faq/models.py). `FaqService.learn_variant`,
`propose_topic` and `withdraw` (features/faq/service.py) check a decision (personal data refused with the
reason, the entry must exist, no duplicates) and store it; the index of the process that took it is rebuilt
at once and every other process picks it up on its next poll of `LearnedStore.stamp()` (a cheap aggregate
query, `CCHC_FAQ_LEARNED_SECONDS`, default 10). The pack files stay the province's source of truth:
`cchc-bot content export-learned` (features/faq/export.py) writes the decisions into them.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.storage.models import utcnow
from features.faq.models import TOPIC, VARIANT, LearnedQuestion
from vntext.normalize import fold

__all__ = ["Learned", "LearnedStore", "Refused", "VARIANT", "TOPIC", "topic_id", "QUESTION_MAX"]

QUESTION_MIN, QUESTION_MAX = 4, 300
TITLE_MIN, TITLE_MAX = 4, 200
TOPIC_ID_MAX = 40  # "faq:a:" + id must fit the smallest button payload (64 bytes) with room to spare


class Refused(Exception):
    """A decision that cannot be stored; ``str(exc)`` tells the official why, in Vietnamese."""


@dataclass(frozen=True)
class Learned:
    id: int
    kind: str
    question: str
    source: str
    entry_id: str
    title: str
    group_id: str
    decided_by: str
    decided_at: dt.datetime
    withdrawn_by: str | None
    withdrawn_at: dt.datetime | None
    exported_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None

    @classmethod
    def of(cls, row: LearnedQuestion) -> Learned:
        return cls(row.id, row.kind, row.question, row.source, row.entry_id, row.title, row.group_id,
                   row.decided_by, row.decided_at, row.withdrawn_by, row.withdrawn_at, row.exported_at)


def topic_id(title: str, taken: Iterable[str]) -> str:
    """A pack id for a new topic from its title: folded, hyphenated, at most 40 characters, not taken."""
    base = re.sub(r"[^a-z0-9]+", "-", fold(title.lower())).strip("-")[:TOPIC_ID_MAX].rstrip("-") or "chu-de-moi"
    taken = set(taken)
    candidate, n = base, 2
    while candidate in taken:
        suffix = f"-{n}"
        candidate = base[: TOPIC_ID_MAX - len(suffix)].rstrip("-") + suffix
        n += 1
    return candidate


class LearnedStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def add(self, *, kind: str, question: str, entry_id: str, by: str, source: str = "", title: str = "",
                  group_id: str = "") -> Learned:
        async with self.sessions.begin() as session:
            row = LearnedQuestion(kind=kind, question=question, source=source[:512], entry_id=entry_id,
                                  title=title, group_id=group_id, decided_by=by[:64], decided_at=utcnow())
            session.add(row)
            await session.flush()
            return Learned.of(row)

    async def withdraw(self, learned_id: int, by: str) -> Learned | None:
        """Undo a decision (the row stays, with who withdrew it and when); None if unknown or already withdrawn."""
        async with self.sessions.begin() as session:
            done = await session.execute(
                update(LearnedQuestion).where(LearnedQuestion.id == learned_id, LearnedQuestion.withdrawn_at.is_(None))
                .values(withdrawn_by=by[:64], withdrawn_at=utcnow()))
            if done.rowcount != 1:
                return None
            return Learned.of(await session.get_one(LearnedQuestion, learned_id))

    async def list(self, *, active_only: bool = False, limit: int | None = None) -> list[Learned]:
        """Newest first."""
        async with self.sessions() as session:
            stmt = select(LearnedQuestion).order_by(LearnedQuestion.id.desc())
            if active_only:
                stmt = stmt.where(LearnedQuestion.withdrawn_at.is_(None))
            if limit is not None:
                stmt = stmt.limit(limit)
            return [Learned.of(row) for row in (await session.scalars(stmt))]

    async def stamp(self) -> tuple[int, int, int]:
        """Changes whenever a decision is added or withdrawn: (rows, newest id, withdrawn rows)."""
        async with self.sessions() as session:
            row = (await session.execute(select(
                func.count(), func.coalesce(func.max(LearnedQuestion.id), 0),
                func.count(LearnedQuestion.withdrawn_at)))).one()
            return int(row[0]), int(row[1]), int(row[2])

    async def mark_exported(self, ids: Iterable[int], when: dt.datetime | None = None) -> None:
        ids = list(ids)
        if not ids:
            return
        async with self.sessions.begin() as session:
            await session.execute(update(LearnedQuestion).where(LearnedQuestion.id.in_(ids))
                                  .values(exported_at=when or utcnow()))


def variants_by_entry(rows: Iterable[Learned]) -> dict[str, tuple[str, ...]]:
    """The active variants of each entry, oldest first (what the index adds to the pack's questions)."""
    out: dict[str, list[str]] = {}
    for row in sorted(rows, key=lambda r: r.id):
        if row.active and row.kind == VARIANT:
            out.setdefault(row.entry_id, []).append(row.question)
    return {entry: tuple(questions) for entry, questions in out.items()}
