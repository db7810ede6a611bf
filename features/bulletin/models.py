"""Bulletin tables: subscribers and their topics, bulletins, one delivery row per bulletin × subscriber,
plus a tiny coordination table shared by the processes (channel pauses).

The delivery rows are the broadcast's checkpoint: a process claims a batch (status ``sending`` with its
claim token, time and process id), sends, and records each result; a restart continues from the rows,
and claims of a process whose heartbeat stopped (``processes``, core/inbox.py) are handed back to
``pending`` within seconds. A subscriber the channel's delivery policy may not reach now is ``deferred``
(the reason in ``last_error``): the issue waits in the outbox and the row becomes ``sent`` when it goes
out with their next message; ``queued``: handed to the outbox to send now (a proactive message, whose
monthly quota only the outbox counts).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base, BigId, UTCDateTime, utcnow

# bulletin status
DRAFT, SCHEDULED, SENDING, PAUSED, SENT, CANCELLED = "draft", "scheduled", "sending", "paused", "sent", "cancelled"
BULLETIN_STATUSES = (DRAFT, SCHEDULED, SENDING, PAUSED, SENT, CANCELLED)

# delivery status
PENDING, CLAIMED, DELIVERED, FAILED, BLOCKED, SKIPPED = "pending", "sending", "sent", "failed", "blocked", "skipped"
DEFERRED, QUEUED = "deferred", "queued"
DELIVERY_STATUSES = (PENDING, CLAIMED, DELIVERED, FAILED, BLOCKED, SKIPPED, DEFERRED, QUEUED)


class Subscriber(Base):
    """A user who receives the bulletin. ``active`` false after /huydangky or a 403 (row kept for history)."""

    __tablename__ = "bulletin_subscribers"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    subscribed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    unsubscribed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    unsubscribe_reason: Mapped[str] = mapped_column(String(32), default="")  # "user", "blocked"


class SubscriberTopic(Base):
    """One row per (subscriber, topic): keeps audience selection a plain indexed SQL join."""

    __tablename__ = "bulletin_subscriber_topics"
    __table_args__ = (Index("ix_bulletin_subscriber_topics_topic", "topic", "user_id"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("bulletin_subscribers.user_id", ondelete="CASCADE"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(64), primary_key=True)


class Bulletin(Base):
    """One issue. ``body`` is Markdown-subset text with ``## `` section headings."""

    __tablename__ = "bulletins"
    __table_args__ = (
        Index("ix_bulletins_status_scheduled", "status", "scheduled_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    slug: Mapped[str | None] = mapped_column(String(128), unique=True, default=None)  # file name for files
    number: Mapped[int] = mapped_column(Integer)
    issue_date: Mapped[dt.date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    links: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)  # [{"title", "url"}]
    image_url: Mapped[str] = mapped_column(String(1000), default="")
    topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=DRAFT)
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # Found too late by the scheduler: waits for an official's confirmation (then scheduled_at = now).
    held_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    confirmed_by: Mapped[str] = mapped_column(String(128), default="")
    source: Mapped[str] = mapped_column(String(16), default="dashboard")  # "file" or "dashboard"
    source_path: Mapped[str] = mapped_column(String(500), default="")
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    paused_reason: Mapped[str] = mapped_column(String(200), default="")
    audience: Mapped[int] = mapped_column(Integer, default=0)  # delivery rows created at start
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """One bulletin to one subscriber. ``channel``/``external_id`` are copied at start so claiming
    needs no join; ``claim_token`` names the worker batch that holds a ``sending`` row."""

    __tablename__ = "bulletin_deliveries"
    __table_args__ = (
        UniqueConstraint("bulletin_id", "user_id", name="uq_bulletin_deliveries_bulletin_user"),
        # claiming: pending rows of one bulletin and channel in id order
        Index("ix_bulletin_deliveries_claim", "bulletin_id", "channel", "status", "id"),
        # reclaiming stale claims
        Index("ix_bulletin_deliveries_stale", "status", "claimed_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bulletin_id: Mapped[int] = mapped_column(ForeignKey("bulletins.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    claim_token: Mapped[str | None] = mapped_column(String(40), default=None)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)  # processes.id of the holder
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Parts (chat replies) of a multi-part issue known to have arrived: a retry resumes after them, so
    # an issue split into several messages never repeats the parts the subscriber already has.
    parts_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(300), default="")
    sent_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class ChannelPause(Base):
    """A platform's ``retry_after``, shared so every worker process on that channel waits."""

    __tablename__ = "bulletin_channel_pauses"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    paused_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")


def as_dict(row: Any) -> dict[str, Any]:
    return {c.name: getattr(row, c.key) for c in row.__table__.columns}
