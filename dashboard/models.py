"""Officials' accounts and login throttling state (persisted so every worker and restart share them)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base, BigId, utcnow


class Official(Base):
    """A dashboard account: one agency (from content/agencies.yaml) and one role."""

    __tablename__ = "officials"
    __table_args__ = (
        UniqueConstraint("username", name="uq_officials_username"),
        CheckConstraint("role IN ('officer', 'supervisor', 'admin')", name="ck_officials_role"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))  # stored lower-case
    display_name: Mapped[str] = mapped_column(String(256), default="")
    agency_id: Mapped[str] = mapped_column(String(64), index=True)
    role: Mapped[str] = mapped_column(String(16))  # officer | supervisor | admin
    password_hash: Mapped[str] = mapped_column(String(512))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    password_changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LoginThrottle(Base):
    """Consecutive failed logins per key ("user:<name>" or "ip:<address>") and the lock they earned."""

    __tablename__ = "official_login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column(default=None)


class OfficialSession(Base):
    """One logged-in browser. The cookie carries a random token; only its SHA-256 is stored, so a database
    leak gives no usable session. Deleting the row ends the session at its next request (logout,
    deactivation, password change, "log out everywhere")."""

    __tablename__ = "official_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    official_id: Mapped[int] = mapped_column(BigId, ForeignKey("officials.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
