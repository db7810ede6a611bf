"""The web chat's own tables: every visitor's history (what they sent and what the bot answered) and
the photos/files they uploaded.

* ``webchat_messages``: one row per message shown in the panel. ``direction`` "in" (the visitor) or "out"
  (the bot); ``body`` the rendered message (JSON, see ``channels.web.adapter.render_reply``); ``client_id``
  the visitor's message id (a UUID from the browser; unique per visitor so a retried POST is stored once);
  ``reply_to`` the client id an answer belongs to. The row id is the SSE event id (``Last-Event-ID``).
* ``webchat_uploads``: the bytes of an upload until the core's file store keeps them (``download``).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Index, LargeBinary, String, UniqueConstraint, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base, BigId, utcnow


class WebchatMessage(Base):
    __tablename__ = "webchat_messages"
    __table_args__ = (
        UniqueConstraint("visitor_id", "client_id", name="uq_webchat_messages_client"),
        Index("ix_webchat_messages_visitor", "visitor_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    visitor_id: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8))  # "in" | "out"
    client_id: Mapped[str | None] = mapped_column(String(64), default=None)
    reply_to: Mapped[str] = mapped_column(String(64), default="")
    body: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class WebchatUpload(Base):
    __tablename__ = "webchat_uploads"
    __table_args__ = (Index("ix_webchat_uploads_created", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # random, the attachment's file_id tail
    visitor_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    mime_type: Mapped[str] = mapped_column(String(128))
    file_name: Mapped[str] = mapped_column(String(256), default="")
    size: Mapped[int] = mapped_column(default=0)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


@dataclass(frozen=True)
class StoredMessage:
    id: int
    direction: str
    body: dict[str, Any]
    reply_to: str
    client_id: str | None

    def as_json(self) -> dict[str, Any]:
        data = {"id": self.id, "dir": self.direction, "reply_to": self.reply_to, **self.body}
        if self.client_id:
            data["cid"] = self.client_id  # lets the visitor's own panel match the bubble it showed at once
        return data


def _view(row: WebchatMessage) -> StoredMessage:
    return StoredMessage(row.id, row.direction, dict(row.body or {}), row.reply_to or "", row.client_id)


class WebchatStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions

    async def add_out(self, visitor_id: str, bodies: list[dict[str, Any]], reply_to: str = "") -> list[int]:
        """Store the bot's messages to a visitor in one transaction; their ids, in order."""
        async with self.sessions.begin() as s:
            rows = [WebchatMessage(visitor_id=visitor_id, direction="out", body=b, reply_to=reply_to[:64])
                    for b in bodies]
            s.add_all(rows)
            await s.flush()
            return [r.id for r in rows]

    async def add_in(self, visitor_id: str, client_id: str, body: dict[str, Any]) -> bool:
        """Store what the visitor sent; False when that client id is already stored (a retried POST)."""
        try:
            async with self.sessions.begin() as s:
                s.add(WebchatMessage(visitor_id=visitor_id, direction="in", client_id=client_id, body=body))
        except IntegrityError:
            return False
        return True

    async def history(self, visitor_id: str, after: int = 0, limit: int = 200) -> list[StoredMessage]:
        """Messages after id ``after``, oldest first (with ``after=0``: the newest ``limit`` ones)."""
        async with self.sessions() as s:
            q = select(WebchatMessage).where(WebchatMessage.visitor_id == visitor_id)
            if after > 0:
                rows = (await s.execute(q.where(WebchatMessage.id > after).order_by(WebchatMessage.id)
                                        .limit(limit))).scalars().all()
            else:
                rows = list(reversed((await s.execute(q.order_by(WebchatMessage.id.desc()).limit(limit)))
                                     .scalars().all()))
            return [_view(r) for r in rows]

    async def last_id(self, visitor_id: str) -> int:
        async with self.sessions() as s:
            value = await s.scalar(select(func.max(WebchatMessage.id)).where(WebchatMessage.visitor_id == visitor_id))
            return int(value or 0)

    async def save_upload(self, upload_id: str, visitor_id: str, kind: str, mime_type: str, file_name: str,
                          data: bytes) -> None:
        async with self.sessions.begin() as s:
            s.add(WebchatUpload(id=upload_id, visitor_id=visitor_id, kind=kind, mime_type=mime_type,
                                file_name=file_name[:256], size=len(data), data=data))

    async def upload(self, upload_id: str) -> WebchatUpload | None:
        async with self.sessions() as s:
            return await s.get(WebchatUpload, upload_id)
