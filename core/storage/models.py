"""Tables. Each feature adds its own module of models on the same `Base` (see bot/storage/__init__)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

BigId = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops tzinfo otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use aware UTC datetimes")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dt.datetime: UTCDateTime, dict[str, Any]: JSON}


class User(Base):
    """A citizen on one channel. (channel, external_id) is the platform identity."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("channel", "external_id", name="uq_users_channel_external"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str] = mapped_column(String(256), default="")
    first_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[dt.datetime] = mapped_column(default=utcnow)
    blocked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Small per-user memory that outlives flows (e.g. the last slogan shown).
    memo: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Bumped by every turn's closing write, which checks it still has the value the turn read: two
    # processes can never both write the same user's turn (the loser's transaction is rolled back).
    turn_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class DialogueState(Base):
    """Where a user is in a multi-step flow: in the database so any worker continues it."""

    __tablename__ = "dialogue_states"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    flow: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Interaction(Base):
    """One turn: what the citizen said and what the bot answered (for analytics and FAQ gaps)."""

    __tablename__ = "interactions"
    __table_args__ = (
        Index("ix_interactions_created", "created_at"),
        Index("ix_interactions_answer", "answer"),
        Index("ix_interactions_user_created", "user_id", "created_at"),
        Index("ix_interactions_user_turn", "user_id", "turn_seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    channel: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))  # command, button, text, faq, attachment
    text: Mapped[str] = mapped_column(Text, default="")
    normalized: Mapped[str] = mapped_column(Text, default="")
    answer: Mapped[str] = mapped_column(String(128), default="")  # e.g. "faq:nop-ho-so-truc-tuyen", "menu"
    decision: Mapped[str] = mapped_column(String(16), default="")  # answer, suggest, none (FAQ)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    feedback: Mapped[int | None] = mapped_column(Integer, default=None)  # +1 / -1 "was this helpful"
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    turn_seq: Mapped[int | None] = mapped_column(Integer, default=None)  # the user's turn number (users.turn_seq)


class InboxEvent(Base):
    """An event a channel received, stored before the platform is acknowledged (see core/inbox.py).

    ``status``: pending (not handled yet, or handled by a process that died), done, parked (failed;
    ``error`` says why). ``user_key`` = channel + ":" + the platform's user id: one user's events are
    handled one at a time in ``id`` order. ``claimed_by``: the process handling it now.
    """

    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("channel", "event_id", name="uq_inbox_channel_event"),
        Index("ix_inbox_pending", "status", "user_key", "id"),
        Index("ix_inbox_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(160))
    external_id: Mapped[str] = mapped_column(String(128))  # the platform's id of the person
    user_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    error: Mapped[str] = mapped_column(String(200), default="")
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    handled_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class OutboxMessage(Base):
    """A message owed to a person (see core/outbox.py): written in the same transaction as what causes
    it (the turn, an official's action), sent by any live process; the row is the checkpoint.

    ``kind``: reply, official_answer, status_change, bulletin (``priority`` follows it); ``status``:
    pending, sent, deferred (waits for the person's next message), failed; ``reason`` says why in
    Vietnamese; ``ref`` names what it belongs to (``feedback:<report id>``); ``reply_to`` is the
    platform message it answers; ``tag`` how it went (a Messenger tag, "proactive" on Zalo).
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at", "priority", "id"),
        Index("ix_outbox_person", "channel", "external_id", "status"),
        Index("ix_outbox_ref", "ref"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16), default="reply")
    reply_to: Mapped[str] = mapped_column(String(160), default="")
    replies: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    error: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
    ref: Mapped[str] = mapped_column(String(64), default="")
    tag: Mapped[str] = mapped_column(String(32), default="")
    priority: Mapped[int] = mapped_column(Integer, default=10)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class Process(Base):
    """A live bot or worker process: its heartbeat says it still holds its claims. Claims of a process
    whose heartbeat stopped are taken over by the others within seconds."""

    __tablename__ = "processes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class JobRun(Base):
    """A single job (pruning, draft expiry, deadline digest...) across processes (core/jobs.py): claimed
    atomically for one run at a time, and not again before ``next_due_at``."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    next_due_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    runs: Mapped[int] = mapped_column(default=0)
