"""What officials taught the FAQ from citizens' unanswered questions (`faq_learned`, migration 0013).

One row per decision taken on the "Câu hỏi chưa trả lời" page:

* ``kind = "variant"``: ``question`` becomes another way of asking the existing entry ``entry_id`` (an FAQ
  entry or a procedure of the catalogue); every bot process adds it to its index without a restart;
* ``kind = "topic"``: a draft new topic (``entry_id`` its proposed id, ``title``, ``group_id``) with
  ``question`` as its first question; it is not answered until the province writes the answer in the pack.

``source`` is the unanswered question it came from, normalised and masked (so the page stops listing it).
``decided_by``/``decided_at`` say who and when; ``withdrawn_by``/``withdrawn_at`` an undo (the row stays);
``exported_at`` when `cchc-bot content export-learned` last wrote it into the pack's YAML.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.storage.models import Base, BigId, utcnow

VARIANT, TOPIC = "variant", "topic"


class LearnedQuestion(Base):
    __tablename__ = "faq_learned"
    __table_args__ = (
        CheckConstraint("kind IN ('variant', 'topic')", name="ck_faq_learned_kind"),
        Index("ix_faq_learned_source", "source"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    question: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(512), default="")
    entry_id: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(256), default="")
    group_id: Mapped[str] = mapped_column(String(64), default="")
    decided_by: Mapped[str] = mapped_column(String(64))  # the official's username
    decided_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    withdrawn_by: Mapped[str | None] = mapped_column(String(64), default=None)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    exported_at: Mapped[dt.datetime | None] = mapped_column(default=None)
