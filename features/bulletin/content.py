"""Bulletin content in the pack: settings in ``content/bulletin.yaml`` and issues as Markdown with YAML
front matter in ``content/bulletins/*.md``, validated with the rest of the pack (errors name file and line).

An issue file::

    ---
    number: 21
    date: 2026-11-01
    title: "..."
    summary: "..."
    topics: [chung, dich-vu-cong]
    links: [{title: "...", url: https://...}]
    image: https://...            # optional
    status: draft | scheduled      # scheduled: goes out at the cadence time of `date` (or `scheduled_at`)
    ---
    ## Section title
    Markdown-subset text (**bold**, [label](url), "- " bullets, "1. " lists)
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from core.content.loader import PackSpec, _validate
from core.content.report import Report
from core.content.yamlsource import YamlDoc, YamlSyntaxError, split_front_matter

SLUG = r"^[a-z0-9][a-z0-9-]*$"
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Topic(_Strict):
    id: str = Field(pattern=SLUG)
    title: str = Field(min_length=2, max_length=60)
    default: bool = False


class Cadence(_Strict):
    days: list[int] = Field(default=[1, 16], min_length=1)
    time: str = "08:00"

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[int]) -> list[int]:
        for day in value:
            if not 1 <= day <= 28:
                raise ValueError(f"ngày {day} phải từ 1 đến 28 (có trong mọi tháng)")
        return sorted(set(value))

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        if not _TIME.match(value):
            raise ValueError(f"giờ '{value}' phải có dạng HH:MM")
        return value

    @property
    def clock(self) -> dt.time:
        hours, minutes = self.time.split(":")
        return dt.time(int(hours), int(minutes))


# Channels with a paid broadcast mode, and their free bulk-sending limit (messages/s for the whole bot).
PAID_BROADCAST = {"telegram": 30.0}  # Telegram: allow_paid_broadcast, up to 1000 msg/s, Stars per message


class Delivery(_Strict):
    channels: list[str] = ["telegram"]
    # The pace of each channel (msg/s): the ONE setting the engine's limiter follows.
    rates: dict[str, float] = {"telegram": 30.0}
    # Channels whose bulletin messages go out as paid broadcasts (Telegram: allow_paid_broadcast). Only
    # then may the channel's rate exceed the platform's free limit (Telegram 30 msg/s, paid up to 1000).
    paid_broadcast: list[str] = []
    max_attempts: int = Field(default=5, ge=1, le=20)
    error_threshold: float = Field(default=0.5, gt=0, le=1)
    # No longer used (claims of a stopped process are taken over when its heartbeat stops); accepted so a
    # province's older bulletin.yaml stays valid.
    claim_timeout_s: float | None = Field(default=None, ge=10)

    @field_validator("rates")
    @classmethod
    def _rates(cls, value: dict[str, float]) -> dict[str, float]:
        for channel, rate in value.items():
            if not 0 < rate <= 1000:
                raise ValueError(f"tốc độ kênh {channel} phải trong khoảng (0, 1000] tin/giây")
        return value

    @field_validator("paid_broadcast")
    @classmethod
    def _paid(cls, value: list[str]) -> list[str]:
        for channel in value:
            if channel not in PAID_BROADCAST:
                raise ValueError(f"kênh {channel} không có chế độ gửi trả phí "
                                 f"(chỉ: {', '.join(sorted(PAID_BROADCAST))})")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _free_limits(self) -> Delivery:
        for channel, free in PAID_BROADCAST.items():
            rate = self.rates.get(channel)
            if rate is not None and rate > free and channel not in self.paid_broadcast:
                raise ValueError(f"tốc độ kênh {channel} {rate:g} tin/giây vượt giới hạn miễn phí {free:g}: "
                                 f"giảm xuống hoặc bật gửi trả phí (paid_broadcast: [{channel}])")
        return self


class BulletinSettings(_Strict):
    cadence: Cadence = Cadence()
    stale_after_hours: float = Field(default=12, gt=0)
    topics: list[Topic] = Field(min_length=1)
    delivery: Delivery = Delivery()
    recent_issues: int = Field(default=6, ge=1, le=20)

    @model_validator(mode="after")
    def _unique_topics(self) -> BulletinSettings:
        ids = [t.id for t in self.topics]
        if len(ids) != len(set(ids)):
            raise ValueError("chủ đề bị trùng mã")
        return self

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    @property
    def default_topics(self) -> list[str]:
        return [t.id for t in self.topics if t.default] or [self.topics[0].id]


class Link(_Strict):
    title: str = Field(min_length=1, max_length=100)
    url: str = Field(pattern=r"^https?://\S+$")


class IssueFront(_Strict):
    number: int = Field(ge=1)
    date: dt.date
    title: str = Field(min_length=3, max_length=300)
    summary: str = ""
    topics: list[str] = Field(min_length=1)
    links: list[Link] = []
    image: str | None = Field(default=None, pattern=r"^https://\S+$")
    status: Literal["draft", "scheduled"] = "scheduled"
    scheduled_at: dt.datetime | None = None  # local time in the pack's zone when naive


@dataclass
class IssueFile:
    slug: str
    path: Path
    front: IssueFront
    body: str
    content_hash: str

    def values(self, settings: BulletinSettings, zone: str) -> dict[str, Any]:
        """Column values for the ``bulletins`` table."""
        f = self.front
        scheduled = None
        if f.status == "scheduled":
            scheduled = f.scheduled_at or dt.datetime.combine(f.date, settings.cadence.clock)
            if scheduled.tzinfo is None:
                scheduled = scheduled.replace(tzinfo=ZoneInfo(zone))
            scheduled = scheduled.astimezone(dt.UTC)
        return {
            "slug": self.slug, "number": f.number, "issue_date": f.date, "title": f.title, "summary": f.summary,
            "body": self.body, "links": [link.model_dump() for link in f.links], "image_url": f.image or "",
            "topics": list(f.topics), "status": f.status, "scheduled_at": scheduled, "source": "file",
            "source_path": f"bulletins/{self.path.name}", "content_hash": self.content_hash,
        }


@dataclass
class BulletinContent:
    """``pack.extras["bulletin"]``."""

    settings: BulletinSettings
    issues: list[IssueFile] = field(default_factory=list)


def parse_sections(body: str) -> list[tuple[str, str]]:
    """'## Title' lines split the body into (title, text) sections; text before the first has no title."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    for line in body.splitlines():
        if line.startswith("## "):
            sections.append((line[3:].strip(), []))
        else:
            sections[-1][1].append(line)
    out = [(title, "\n".join(lines).strip()) for title, lines in sections]
    return [(t, b) for t, b in out if t or b]


def next_slot(after: dt.datetime, settings: BulletinSettings, zone: str) -> dt.datetime:
    """The first cadence time (days of month at the configured local time) at or after ``after`` (UTC)."""
    tz = ZoneInfo(zone)
    local = after.astimezone(tz)
    year, month = local.year, local.month
    for _ in range(3):
        for day in settings.cadence.days:
            slot = dt.datetime.combine(dt.date(year, month, day), settings.cadence.clock, tzinfo=tz)
            if slot >= local:
                return slot.astimezone(dt.UTC)
        month += 1
        if month > 12:
            year, month = year + 1, 1
    raise AssertionError("unreachable")  # pragma: no cover


def load_issue(path: Path, settings: BulletinSettings | None, report: Report) -> IssueFile | None:
    try:
        doc, body, body_line = split_front_matter(path)
    except YamlSyntaxError as exc:
        report.error(exc.file, exc.line, "", exc.message)
        return None
    except UnicodeDecodeError as exc:
        report.error(path, 1, "", f"không phải UTF-8 ({exc.reason})")
        return None
    front = _validate(doc, IssueFront, report)
    if front is None:
        return None
    ok = True
    if settings is not None:
        known = {t.id for t in settings.topics}
        for i, topic in enumerate(front.topics):
            if topic not in known:
                report.error(path, doc.line_of(("topics", i)), f"topics[{i}]",
                             f"chủ đề '{topic}' không có trong bulletin.yaml")
                ok = False
    if not body.strip():
        report.error(path, body_line, "", "bản tin chưa có nội dung")
        ok = False
    for n, line in enumerate(body.splitlines(), start=body_line):
        if line.startswith("#") and not line.startswith("## "):
            report.error(path, n, "", "chỉ dùng tiêu đề mục dạng '## Tiêu đề'")
            ok = False
    if not ok:
        return None
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return IssueFile(slug=path.stem, path=path, front=front, body=body.strip(), content_hash=digest)


def load_bulletin_section(doc: YamlDoc, report: Report) -> BulletinContent | None:
    settings = _validate(doc, BulletinSettings, report)
    issues: list[IssueFile] = []
    folder = doc.file.parent / "bulletins"
    numbers: dict[int, Path] = {}
    for path in sorted(folder.glob("*.md")) if folder.is_dir() else []:
        if path.name.startswith(("_", ".")) or path.name.lower() == "readme.md":
            continue
        if not re.match(SLUG, path.stem):
            report.error(path, 1, "", "tên tệp chỉ gồm chữ thường không dấu, số và dấu '-'")
            continue
        issue = load_issue(path, settings, report)
        if issue is None:
            continue
        if issue.front.number in numbers:
            report.error(path, 2, "number", f"số {issue.front.number} trùng với {numbers[issue.front.number].name}")
            continue
        numbers[issue.front.number] = path
        issues.append(issue)
    if settings is None:
        return None
    return BulletinContent(settings=settings, issues=issues)


SPEC = PackSpec(
    sections=(("bulletin", "bulletin.yaml", load_bulletin_section),),
    templates=(
        "bulletin/message", "bulletin/archive_list", "bulletin/archive_empty", "bulletin/subscribe_choose",
        "bulletin/subscribed", "bulletin/unsubscribed", "bulletin/not_subscribed", "bulletin/unavailable",
        "bulletin/test_note", "bulletin/new_issue",
    ),
    labels=(
        "bulletin.unsubscribe", "bulletin.subscribe", "bulletin.change_topics", "bulletin.confirm",
        "bulletin.topic_on", "bulletin.topic_off", "bulletin.archive", "bulletin.read", "bulletin.notice_saved",
        "bulletin.notice_unsubscribed", "bulletin.need_topic", "cmd.bulletin", "cmd.subscribe", "cmd.unsubscribe",
    ),
)


def bulletin_content(pack: Any) -> BulletinContent | None:
    return pack.extras.get("bulletin") if pack is not None else None
