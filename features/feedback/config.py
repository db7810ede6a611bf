"""`content/feedback.yaml`: the feature's knobs a province sets without touching code."""
from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from core.content.report import Report as PackReport
from core.content.schema import Strict
from core.content.yamlsource import YamlDoc


class ReplyTemplate(Strict):
    title: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=4000)


# What citizens may attach by default: photos, scans, office documents, short videos and voice notes.
DEFAULT_ATTACHMENT_TYPES = (
    "image/jpeg", "image/png", "image/webp", "image/heic", "application/pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/msword",
    "video/mp4", "video/quicktime", "audio/ogg", "audio/mpeg", "audio/mp4", "audio/amr",
)


def _attachment_type(value: str) -> str:
    """A MIME type the bot can recognise from a file's bytes (checked by `content check`)."""
    from core.files import known_types

    value = value.strip().lower()
    if value == "application/octet-stream" or value not in known_types():
        raise ValueError(f"loại tệp '{value}' không nhận diện được từ nội dung tệp "
                         "(ví dụ dùng được: image/jpeg, image/png, application/pdf, video/mp4, audio/ogg)")
    return value


class FeedbackSettings(Strict):
    # How long an unfinished report waits for the citizen before it is dropped.
    draft_ttl_minutes: int = Field(default=240, ge=5, le=7 * 24 * 60)
    description_min: int = Field(default=15, ge=1, le=500)
    description_max: int = Field(default=3000, ge=50, le=4000)
    max_attachments: int = Field(default=5, ge=0, le=20)
    # Largest file a citizen may attach (MB; Telegram lets bots download at most 20 MB).
    attachment_max_mb: int = Field(default=10, ge=1, le=20)
    # File types accepted, recognised from the file's bytes (never from its name).
    attachment_types: list[Annotated[str, AfterValidator(_attachment_type)]] = Field(
        default_factory=lambda: list(DEFAULT_ATTACHMENT_TYPES), min_length=1)
    # "Chưa hài lòng" reopens a resolved report within this many calendar days of the answer.
    reopen_days: int = Field(default=7, ge=0, le=365)
    # Version of the consent text (templates/feedback/consent.j2) stored with each phone number.
    consent_version: str = Field(default="1", min_length=1, max_length=32)
    comment_max: int = Field(default=1000, ge=10, le=4000)
    history_max: int = Field(default=10, ge=1, le=50)
    commune_matches: int = Field(default=5, ge=1, le=8)
    # Tracking codes one person may look up in a minute (/tracuu): bounds guessing other people's codes;
    # counted in the interaction log, so every process shares it. Never off.
    lookups_per_minute: int = Field(default=5, ge=1, le=60)
    # Accepted so packs written before migration 0010 still load, and not read: messages to citizens are
    # rows of the core outbox, which retries every message with one policy (core/outbox.py).
    retry_minutes: list[int] = Field(default_factory=lambda: [1, 5, 30, 120, 720], min_length=1)
    # Saturdays/Sundays the province declares working days (make-up days for long holidays).
    extra_working_days: list[dt.date] = Field(default_factory=list)
    # Suggested answers for officials, by category id ("*" = every category).
    reply_templates: dict[str, list[ReplyTemplate]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _limits(self) -> FeedbackSettings:
        if self.description_min >= self.description_max:
            raise ValueError("description_min phải nhỏ hơn description_max")
        return self


    @property
    def attachment_max_bytes(self) -> int:
        return self.attachment_max_mb * 1024 * 1024


DEFAULTS = FeedbackSettings()


def load_section(doc: YamlDoc, report: PackReport) -> FeedbackSettings | None:
    from core.content.loader import _validate

    return _validate(doc, FeedbackSettings, report)


def settings_of(pack: object) -> FeedbackSettings:
    extras = getattr(pack, "extras", {}) or {}
    value = extras.get("feedback")
    return value if isinstance(value, FeedbackSettings) else DEFAULTS
