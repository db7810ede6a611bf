"""Feedback tables: reports, their public/internal history, attachments, the audit log.

Why this shape:
* `feedback_reports` carries everything the officials' queue filters and sorts on, so the queue is one indexed
  scan: (agency, status, deadline_at, id) for officers, (status, deadline_at, id) for the receiving unit.
* `(user_id, draft_id)` is unique: the draft id lives in the citizen's dialogue state and in the "Gửi" button,
  so a double press (or two workers racing) creates exactly one report.
* Attachments are rows of their own, inserted one per message while the report is still a draft (keyed by
  user and draft id), so photos sent as an album (several concurrent updates) are never lost to a
  read-modify-write race on the dialogue state. The bytes are downloaded at intake into the bot's file
  store (`core.files`, key = SHA-256); the row keeps that hash, the size and the type found in the bytes, the
  cleaned original name, and the platform id only as a reference (rows without a hash predate 0007).
* `feedback_events` is the report's history (what the citizen sees when `public`, plus internal notes);
  `feedback_audit` is who viewed or changed what (officials' accountability). Messages owed to a citizen are
  rows of the core outbox (`outbox_messages`, ref `feedback:<report id>`; the table `feedback_outbox` was
  merged into it by migration 0010).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base, BigId, utcnow

# Open311 / FixMyStreet-style states.
NEW, ACCEPTED, IN_PROGRESS, RESOLVED, CLOSED, REJECTED, DUPLICATE = (
    "new", "accepted", "in_progress", "resolved", "closed", "rejected", "duplicate",
)
STATUSES = (NEW, ACCEPTED, IN_PROGRESS, RESOLVED, CLOSED, REJECTED, DUPLICATE)
OPEN_STATUSES = (NEW, ACCEPTED, IN_PROGRESS)  # still owed an answer: these can be overdue
DONE_STATUSES = (RESOLVED, CLOSED, REJECTED, DUPLICATE)


class Report(Base):
    """One citizen report (phản ánh, kiến nghị)."""

    __tablename__ = "feedback_reports"
    __table_args__ = (
        UniqueConstraint("code", name="uq_feedback_reports_code"),
        UniqueConstraint("user_id", "draft_id", name="uq_feedback_reports_draft"),
        Index("ix_feedback_reports_agency_status_deadline", "agency_id", "status", "deadline_at", "id"),
        Index("ix_feedback_reports_status_deadline", "status", "deadline_at", "id"),
        Index("ix_feedback_reports_deadline", "deadline_at", "id"),
        Index("ix_feedback_reports_category", "category_id", "status"),
        Index("ix_feedback_reports_commune", "commune_id", "status"),
        Index("ix_feedback_reports_user", "user_id", "created_at"),
        Index("ix_feedback_reports_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(16))  # tracking code, stored without the display dash
    draft_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    channel: Mapped[str] = mapped_column(String(32), default="")  # where the citizen wrote from

    category_id: Mapped[str] = mapped_column(String(64))
    commune_id: Mapped[str | None] = mapped_column(String(64), default=None)  # None: "Không rõ"
    agency_id: Mapped[str] = mapped_column(String(64))  # the agency currently responsible
    routing_rule: Mapped[str] = mapped_column(String(128), default="")  # e.g. "rule:0", "category", "default"
    routing_reason: Mapped[str] = mapped_column(Text, default="")

    description: Mapped[str] = mapped_column(Text)  # verbatim; escaped only when rendered
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    contact_name: Mapped[str] = mapped_column(String(256), default="")
    phone: Mapped[str | None] = mapped_column(String(16), default=None)  # normalised 0xxxxxxxxx
    consent_version: Mapped[str | None] = mapped_column(String(32), default=None)
    consent_at: Mapped[dt.datetime | None] = mapped_column(default=None)

    status: Mapped[str] = mapped_column(String(16), default=NEW)
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("feedback_reports.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    due_date: Mapped[dt.date] = mapped_column(Date)  # last working day for the answer (pack timezone)
    deadline_at: Mapped[dt.datetime] = mapped_column()  # end of due_date in the pack timezone, as UTC
    accepted_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    reopen_count: Mapped[int] = mapped_column(Integer, default=0)

    rating: Mapped[int | None] = mapped_column(SmallInteger, default=None)  # 1..5
    rating_comment: Mapped[str] = mapped_column(Text, default="")
    rated_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)  # bumped on every change


class Attachment(Base):
    """A photo or document the citizen sent, kept in the file store under `sha256` (see module docstring)."""

    __tablename__ = "feedback_attachments"
    __table_args__ = (
        Index("ix_feedback_attachments_report", "report_id", "id"),
        Index("ix_feedback_attachments_draft", "user_id", "draft_id"),
        Index("ix_feedback_attachments_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    report_id: Mapped[int | None] = mapped_column(
        ForeignKey("feedback_reports.id", ondelete="CASCADE"), default=None)  # None while a draft
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), default=None)
    draft_id: Mapped[str] = mapped_column(String(32), default="")
    channel: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # photo, document, video, audio, other
    file_id: Mapped[str] = mapped_column(String(512))  # the platform's reference (not needed to serve the file)
    file_name: Mapped[str] = mapped_column(String(256), default="")  # the citizen's name for it, cleaned
    mime_type: Mapped[str] = mapped_column(String(128), default="")  # detected from the bytes (since 0007)
    size: Mapped[int] = mapped_column(BigId, default=0)  # bytes stored (since 0007)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)  # file store key; None before 0007
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ReportEvent(Base):
    """History of a report. `public` events are shown to the citizen on look-up."""

    __tablename__ = "feedback_events"
    __table_args__ = (Index("ix_feedback_events_report", "report_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("feedback_reports.id", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # submitted, accepted, in_progress, reassigned, agency_notified, reply, note, resolved, closed, rejected,
    # duplicate, rated, reopened, citizen_comment
    kind: Mapped[str] = mapped_column(String(32))
    actor_type: Mapped[str] = mapped_column(String(16), default="system")  # citizen, official, system
    actor_id: Mapped[int | None] = mapped_column(BigId, default=None)
    actor_name: Mapped[str] = mapped_column(String(256), default="")
    actor_agency: Mapped[str] = mapped_column(String(64), default="")
    from_status: Mapped[str | None] = mapped_column(String(16), default=None)
    to_status: Mapped[str | None] = mapped_column(String(16), default=None)
    from_agency: Mapped[str | None] = mapped_column(String(64), default=None)
    to_agency: Mapped[str | None] = mapped_column(String(64), default=None)
    text: Mapped[str] = mapped_column(Text, default="")
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AuditEntry(Base):
    """Who viewed or changed what, when (officials and the system). Append-only."""

    __tablename__ = "feedback_audit"
    __table_args__ = (
        Index("ix_feedback_audit_report", "report_id", "id"),
        Index("ix_feedback_audit_created", "created_at"),
        Index("ix_feedback_audit_actor", "actor_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_reports.id", ondelete="SET NULL"), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(BigId, default=None)
    actor_name: Mapped[str] = mapped_column(String(256), default="")
    actor_agency: Mapped[str] = mapped_column(String(64), default="")
    actor_role: Mapped[str] = mapped_column(String(16), default="")
    action: Mapped[str] = mapped_column(String(32))  # view, accept, reassign, reply, note, export, ...
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
