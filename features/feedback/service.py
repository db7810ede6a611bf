"""The feedback service: the one API the chat handlers, the officials' dashboard, the CLI and tests use.

Every official-side method takes an `Actor` (see `permissions.py`), checks `can_view`/`can_act`, changes the
report in ONE transaction together with its history event, the audit entry and any message owed to the
citizen (outbox), and only then tries to deliver that message. So a failed Telegram call never loses an
event: the outbox row stays pending and the background retry sends it later.

Errors: `NotFound` (no such report), `Forbidden` (not allowed: the dashboard answers 403),
`InvalidTransition` (e.g. resolving a closed report: 409/flash message), `InvalidInput` (bad reason, unknown
agency...). All subclass `FeedbackError`.
"""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from core.content.holidays import calendar_of
from core.masking import mask_numbers
from features.feedback import codes
from features.feedback.config import FeedbackSettings, settings_of
from features.feedback.deadlines import WorkCalendar
from features.feedback.models import (
    ACCEPTED,
    CLOSED,
    DUPLICATE,
    IN_PROGRESS,
    NEW,
    OPEN_STATUSES,
    REJECTED,
    RESOLVED,
    Attachment,
    AuditEntry,
    Report,
    ReportEvent,
)
from features.feedback.notify import Notifier
from features.feedback.permissions import (  # noqa: F401 (re-exported for the dashboard)
    ACTIONS,
    Actor,
    can_act,
    can_see_personal,
    can_view,
    mask_name,
    mask_phone,
    sees_all,
)
from features.feedback.routing import route
from core.render import to_plain
from core.storage.models import User
from core.web import positive_int
from core.types import Button, Reply

log = logging.getLogger(__name__)

# action -> (statuses it may start from, status it leads to; None = unchanged)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "accept": (frozenset({NEW}), ACCEPTED),
    "start": (frozenset({NEW, ACCEPTED}), IN_PROGRESS),
    "reassign": (frozenset(OPEN_STATUSES), NEW),
    "resolve": (frozenset(OPEN_STATUSES), RESOLVED),
    "close": (frozenset({RESOLVED}), CLOSED),
    "reject": (frozenset(OPEN_STATUSES), REJECTED),
    "duplicate": (frozenset(OPEN_STATUSES), DUPLICATE),
    "reply": (frozenset({NEW, ACCEPTED, IN_PROGRESS, RESOLVED, CLOSED, REJECTED, DUPLICATE}), None),
    "note": (frozenset({NEW, ACCEPTED, IN_PROGRESS, RESOLVED, CLOSED, REJECTED, DUPLICATE}), None),
}
# Events whose text the citizen may read in /tracuu (an internal reassignment reason is not one of them).
CITIZEN_TEXT_EVENTS = frozenset({"reply", "resolved", "rejected", "duplicate", "citizen_comment", "reopened", "rated"})
# Citizen-visible history kinds.
PUBLIC_KINDS = frozenset({"submitted", "accepted", "in_progress", "reassigned", "reply", "resolved", "closed",
                          "rejected", "duplicate", "reopened", "rated", "citizen_comment"})
MAX_TEXT = 4000
VIEW_AUDIT_WINDOW = dt.timedelta(minutes=5)  # at most one "Xem" audit row per official per report in this time


class FeedbackError(Exception):
    """Base class; `str(exc)` is a short English reason for logs, never shown to citizens."""


class NotFound(FeedbackError):
    pass


class Forbidden(FeedbackError):
    pass


class NotPermitted(Forbidden):
    """The official may see the report but not perform this action (the dashboard answers 403). A plain
    `Forbidden` means the report is outside their scope and is answered exactly like `NotFound`."""


class InvalidTransition(FeedbackError):
    pass


class InvalidInput(FeedbackError):
    pass


# --- inputs ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueFilter:
    """Queue filters from the dashboard (all optional, combined with AND)."""

    statuses: tuple[str, ...] = ()  # empty: every status
    category_id: str | None = None
    commune_id: str | None = None  # "" = reports with commune "Không rõ"
    agency_id: str | None = None  # ignored (forced to the actor's agency) for actors who do not see all
    overdue: bool | None = None  # True: open and past deadline; False: not overdue
    code: str | None = None  # exact tracking code (any spelling: dashes, lower case)
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None


@dataclass(frozen=True)
class Draft:
    """What the chat flow collected; `submit` turns it into a report exactly once per (user_id, draft_id)."""

    draft_id: str
    user_id: int
    channel: str
    category_id: str
    commune_id: str | None
    description: str
    phone: str | None = None
    anonymous: bool = False
    contact_name: str = ""
    consent_version: str | None = None


# --- outputs --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class QueueItem:
    id: int
    code: str  # display form, e.g. "ABCD-EFGH"
    status: str
    category_id: str
    category_title: str
    commune_id: str | None
    commune_name: str
    agency_id: str
    agency_name: str
    created_at: dt.datetime
    due_date: dt.date
    deadline_at: dt.datetime
    overdue: bool
    summary: str  # first ~140 characters of the description (verbatim: escape when rendering)
    rating: int | None


@dataclass(frozen=True)
class QueuePage:
    items: list[QueueItem]
    next_cursor: str | None  # pass back as `cursor=` for the next page (keyset on deadline, id)
    total: int | None  # only when `with_total=True`


@dataclass(frozen=True)
class AttachmentView:
    id: int
    channel: str
    kind: str
    file_id: str
    file_name: str
    mime_type: str
    size: int
    created_at: dt.datetime
    sha256: str = ""  # the file store key; empty for attachments kept before the bot stored files (0007)

    @property
    def stored(self) -> bool:
        return bool(self.sha256)

    @property
    def inline(self) -> bool:
        """An image the dashboard may show inline (detected type, not the citizen's file name)."""
        from features.feedback.attachments import INLINE_TYPES

        return self.stored and self.mime_type in INLINE_TYPES


@dataclass(frozen=True)
class EventView:
    id: int
    created_at: dt.datetime
    kind: str
    actor_type: str
    actor_name: str
    actor_agency: str
    from_status: str | None
    to_status: str | None
    from_agency: str | None
    to_agency: str | None
    text: str
    public: bool
    data: dict[str, Any]


@dataclass(frozen=True)
class AuditView:
    id: int
    created_at: dt.datetime
    actor_id: int | None
    actor_name: str
    actor_agency: str
    actor_role: str
    action: str
    details: dict[str, Any]


@dataclass(frozen=True)
class ReportDetail:
    """A report as an official may see it: personal data already masked when `personal_visible` is False."""

    id: int
    code: str
    status: str
    category_id: str
    category_title: str
    commune_id: str | None
    commune_name: str
    agency_id: str
    agency_name: str
    routing_rule: str
    routing_reason: str
    description: str
    anonymous: bool
    contact_name: str
    phone: str
    personal_visible: bool
    channel: str
    created_at: dt.datetime
    updated_at: dt.datetime
    due_date: dt.date
    deadline_at: dt.datetime
    overdue: bool
    accepted_at: dt.datetime | None
    resolved_at: dt.datetime | None
    closed_at: dt.datetime | None
    duplicate_of_code: str | None
    reopen_count: int
    rating: int | None
    rating_comment: str
    attachments: list[AttachmentView]
    events: list[EventView]
    audit: list[AuditView]
    allowed_actions: frozenset[str]  # what this actor may do now (state machine ∩ permissions)
    version: int


@dataclass(frozen=True)
class Stats:
    total: int
    by_status: dict[str, int]
    by_agency: dict[str, int]
    by_category: dict[str, int]
    overdue_open: int
    answered: int  # resolved/closed/rejected/duplicate
    answered_on_time: int
    on_time_rate: float | None  # answered_on_time / answered
    rated: int
    average_rating: float | None


@dataclass(frozen=True)
class Submitted:
    report_id: int
    code: str  # display form
    agency_id: str
    agency_name: str
    due_date: dt.date
    created: bool  # False when this draft had already been submitted (double press)


@dataclass(frozen=True)
class CitizenView:
    """What `/tracuu` shows. `is_owner` decides whether description and phone are included."""

    code: str
    status: str
    category_title: str
    commune_name: str
    agency_name: str
    created_at: dt.datetime
    due_date: dt.date
    is_owner: bool
    description: str  # "" unless is_owner
    phone: str  # "" unless is_owner
    history: list[EventView]  # public events only
    can_rate: bool
    can_reopen: bool
    rating: int | None


EXPORT_COLUMNS = (
    "code", "status", "category", "commune", "agency", "created_at", "due_date", "overdue", "resolved_at",
    "contact_name", "phone", "rating", "description",
)



def _encode_cursor(deadline_at: dt.datetime, report_id: int) -> str:
    raw = f"{deadline_at.astimezone(dt.UTC).isoformat()}|{report_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, rid = raw.split("|", 1)
        moment = dt.datetime.fromisoformat(when)
        report_id = positive_int(rid)
        if moment.tzinfo is None or report_id is None:
            raise ValueError
        return moment, report_id
    except (ValueError, UnicodeDecodeError, OverflowError) as exc:
        raise InvalidInput("bad cursor") from exc


def _clean(text: str, limit: int = MAX_TEXT) -> str:
    return (text or "").strip()[:limit]


class FeedbackService:
    """See the module docstring. Build with `FeedbackService(services)` (the plugin does it)."""

    def __init__(self, services: Any) -> None:
        self._services = services
        self.sessions = services.store.sessions
        self.senders: dict[str, Any] = services.extra.setdefault("senders", {})
        self.notifier = Notifier(self.sessions, self.senders, self.now, lambda: list(self.settings.retry_minutes))
        self._calendar: tuple[int, WorkCalendar] | None = None

    # --- pack helpers -------------------------------------------------------------------------------
    def now(self) -> dt.datetime:
        return self._services.clock()

    @property
    def pack(self) -> Any:
        return self._services.pack

    @property
    def settings(self) -> FeedbackSettings:
        return settings_of(self.pack)

    @property
    def calendar(self) -> WorkCalendar:
        pack = self.pack
        if self._calendar is None or self._calendar[0] != id(pack):
            self._calendar = (id(pack), WorkCalendar(pack.agencies.holidays, self.settings.extra_working_days,
                                                     pack.config.timezone, official=calendar_of(pack)))
        return self._calendar[1]

    @property
    def receiving_agency(self) -> str:
        return self.pack.agencies.default_agency

    def agency_name(self, agency_id: str | None) -> str:
        for a in self.pack.agencies.agencies:
            if a.id == agency_id:
                return a.name
        return agency_id or ""

    def category_title(self, category_id: str) -> str:
        for c in self.pack.agencies.categories:
            if c.id == category_id:
                return c.title
        return category_id

    def commune_name(self, commune_id: str | None) -> str:
        if not commune_id:
            return ""
        for c in self.pack.agencies.communes:
            if c.id == commune_id:
                return c.name
        return commune_id

    def agencies(self) -> list[tuple[str, str]]:
        """(id, name) of every agency in the pack, for reassign menus and filters."""
        return [(a.id, a.name) for a in self.pack.agencies.agencies]

    def reply_templates(self, category_id: str) -> list[tuple[str, str]]:
        """(title, text) suggested replies for a category, from content/feedback.yaml ("*" applies to all)."""
        table = self.settings.reply_templates
        return [(t.title, t.text) for t in [*table.get(category_id, []), *table.get("*", [])]]

    def column_titles(self) -> dict[str, str]:
        """EXPORT_COLUMNS -> Vietnamese header (labels `fb.col.*`)."""
        return {key: self.pack.texts.labels.get(f"fb.col.{key}", key) for key in EXPORT_COLUMNS}

    def status_label(self, status: str) -> str:
        return self.pack.texts.labels.get(f"fb.status.{status}", status)

    def _render(self, name: str, **kw: Any) -> str:
        return self.pack.texts.render(name, **kw)

    def _overdue(self, report: Any, now: dt.datetime | None = None) -> bool:
        return report.status in OPEN_STATUSES and report.deadline_at < (now or self.now())

    # --- citizen side -------------------------------------------------------------------------------
    async def _draft_count(self, s: Any, user_id: int, draft_id: str) -> int:
        return int((await s.execute(
            select(func.count()).select_from(Attachment)
            .where(Attachment.user_id == user_id, Attachment.draft_id == draft_id, Attachment.report_id.is_(None))
        )).scalar_one())

    async def draft_attachment_count(self, user_id: int, draft_id: str) -> int:
        async with self.sessions() as s:
            return await self._draft_count(s, user_id, draft_id)

    async def discard_draft(self, user_id: int, draft_id: str) -> None:
        """Forget a cancelled draft's attachments."""
        from sqlalchemy import delete

        async with self.sessions.begin() as s:
            await s.execute(delete(Attachment).where(
                Attachment.user_id == user_id, Attachment.draft_id == draft_id, Attachment.report_id.is_(None)))

    def _submitted(self, report: Report, created: bool) -> Submitted:
        return Submitted(report.id, codes.display(report.code), report.agency_id, self.agency_name(report.agency_id),
                         report.due_date, created)

    async def submitted_draft(self, user_id: int, draft_id: str) -> Submitted | None:
        """The report made from this draft, if any (for a late second press of "Gửi")."""
        async with self.sessions() as s:
            report = (await s.execute(
                select(Report).where(Report.user_id == user_id, Report.draft_id == draft_id))).scalar_one_or_none()
            return self._submitted(report, False) if report else None

    async def submit(self, draft: Draft) -> Submitted:
        """Route, compute the deadline, save report + attachments + events in one transaction.
        Idempotent per (user_id, draft_id): a second call returns the first report with created=False.
        No look-up first: the unique (user_id, draft_id) constraint detects the rare second press, so the
        common case costs one transaction."""
        pack = self.pack
        category = next((c for c in pack.agencies.categories if c.id == draft.category_id), None)
        if category is None:
            existing = await self.submitted_draft(draft.user_id, draft.draft_id)
            if existing is not None:  # submitted before the category left the pack
                return existing
            raise InvalidInput(f"unknown category {draft.category_id!r}")
        decision = route(pack.agencies, draft.category_id, draft.commune_id, draft.description)
        reason = decision.reason or to_plain(self._render(  # stored and shown as plain text
            "feedback/routing_reason", rule=decision.rule, agency=self.agency_name(decision.agency_id),
            category=category.title, commune=self.commune_name(draft.commune_id), keyword=decision.matched_keyword))
        now = self.now()
        due_date, deadline_at = self.calendar.due(now, category.deadline_days)
        for _attempt in range(6):
            code = codes.new_code()
            try:
                async with self.sessions.begin() as s:
                    report = Report(
                        code=code, draft_id=draft.draft_id, user_id=draft.user_id, channel=draft.channel,
                        category_id=draft.category_id, commune_id=draft.commune_id or None,
                        agency_id=decision.agency_id, routing_rule=decision.rule, routing_reason=reason,
                        description=draft.description, anonymous=draft.anonymous,
                        contact_name="" if draft.anonymous else draft.contact_name[:256],
                        phone=None if draft.anonymous else draft.phone,
                        consent_version=draft.consent_version if draft.phone and not draft.anonymous else None,
                        consent_at=now if draft.phone and not draft.anonymous else None,
                        status=NEW, created_at=now, updated_at=now, due_date=due_date, deadline_at=deadline_at,
                    )
                    s.add(report)
                    await s.flush()
                    await s.execute(
                        update(Attachment)
                        .where(Attachment.user_id == draft.user_id, Attachment.draft_id == draft.draft_id,
                               Attachment.report_id.is_(None))
                        .values(report_id=report.id))
                    s.add(ReportEvent(report_id=report.id, created_at=now, kind="submitted", actor_type="citizen",
                                      actor_id=draft.user_id, to_status=NEW, to_agency=decision.agency_id,
                                      public=True))
                    s.add(ReportEvent(report_id=report.id, created_at=now, kind="routed", actor_type="system",
                                      to_agency=decision.agency_id, text=reason, public=False,
                                      data={"rule": decision.rule, "keyword": decision.matched_keyword}))
                    s.add(AuditEntry(report_id=report.id, created_at=now, actor_id=draft.user_id,
                                     actor_name="citizen", actor_role="citizen", action="submit",
                                     details={"channel": draft.channel, "agency": decision.agency_id,
                                              "rule": decision.rule}))
                return self._submitted(report, True)
            except IntegrityError:
                existing = await self.submitted_draft(draft.user_id, draft.draft_id)
                if existing is not None:
                    return existing
                log.warning("tracking code collision; retrying with a new code")
        raise FeedbackError("could not allocate a tracking code")

    async def _by_code(self, s: Any, code: str) -> Report | None:
        norm = codes.normalize(code)
        if norm is None:
            return None
        return (await s.execute(select(Report).where(Report.code == norm))).scalar_one_or_none()

    async def find_id(self, code: str) -> int | None:
        """Report id for a tracking code (any spelling), without permission checks or audit."""
        async with self.sessions() as s:
            report = await self._by_code(s, code)
            return report.id if report else None

    def _can_reopen(self, report: Report, now: dt.datetime) -> bool:
        if report.status not in (RESOLVED, CLOSED) or report.resolved_at is None:
            return False
        return now - report.resolved_at <= dt.timedelta(days=self.settings.reopen_days)

    async def citizen_view(self, code: str, user_id: int) -> CitizenView | None:
        """Look-up by tracking code (any spelling). None when no such report."""
        async with self.sessions() as s:
            report = await self._by_code(s, code)
            if report is None:
                return None
            events = list((await s.execute(
                select(ReportEvent).where(ReportEvent.report_id == report.id, ReportEvent.public.is_(True))
                .order_by(ReportEvent.id.desc()).limit(self.settings.history_max))).scalars())
        owner = report.user_id is not None and report.user_id == user_id
        history = []
        for e in reversed(events):
            view = self._event_view(e)
            # Only the submitter reads texts (answers, resolutions, rejection reasons, comments); anyone else
            # holding the code sees the status history without a word of content.
            if e.kind not in CITIZEN_TEXT_EVENTS or not owner:
                view = dataclasses.replace(view, text="", data={} if not owner else view.data)
            history.append(view)
        now = self.now()
        return CitizenView(
            code=codes.display(report.code), status=report.status, category_title=self.category_title(report.category_id),
            commune_name=self.commune_name(report.commune_id), agency_name=self.agency_name(report.agency_id),
            created_at=report.created_at, due_date=report.due_date, is_owner=owner,
            description=report.description if owner else "", phone=(report.phone or "") if owner else "",
            history=history, can_rate=owner and report.status in (RESOLVED, CLOSED),
            can_reopen=owner and self._can_reopen(report, now), rating=report.rating,
        )

    async def recent_for_user(self, user_id: int, limit: int = 5) -> list[tuple[str, str, dt.datetime]]:
        """(display code, status, created_at) of the user's latest reports."""
        async with self.sessions() as s:
            rows = (await s.execute(
                select(Report.code, Report.status, Report.created_at).where(Report.user_id == user_id)
                .order_by(Report.created_at.desc(), Report.id.desc()).limit(limit))).all()
        return [(codes.display(c), st, at) for c, st, at in rows]

    async def _citizen_change(self, code: str, user_id: int, kind: str, *, score: int | None = None,
                              text: str = "") -> bool:
        now = self.now()
        async with self.sessions.begin() as s:
            report = await self._by_code(s, code)
            if report is None or report.user_id != user_id:
                return False
            event = ReportEvent(report_id=report.id, created_at=now, kind=kind, actor_type="citizen",
                                actor_id=user_id, public=True, text=text)
            if kind == "rated":
                if report.status not in (RESOLVED, CLOSED) or score is None or not 1 <= score <= 5:
                    return False
                if report.rating is not None:  # one rating per resolution: old buttons cannot change it
                    return False
                report.rating, report.rated_at = score, now
                event.data = {"score": score}
                event.text = ""
            elif kind == "reopened":
                if not self._can_reopen(report, now):
                    return False
                category = next((c for c in self.pack.agencies.categories if c.id == report.category_id), None)
                days = category.deadline_days if category else 5
                event.from_status, event.to_status = report.status, IN_PROGRESS
                report.status = IN_PROGRESS
                report.reopen_count += 1
                report.resolved_at = report.closed_at = None
                # the next resolution gets its own rating (the old one stays in the history as a "rated" event)
                report.rating, report.rated_at, report.rating_comment = None, None, ""
                report.due_date, report.deadline_at = self.calendar.due(now, days)
            elif kind == "citizen_comment":
                if not text:
                    return False
                if report.rating is not None and report.rated_at is not None and not report.rating_comment:
                    report.rating_comment = text
            report.updated_at = now
            report.version += 1
            s.add(event)
            s.add(AuditEntry(report_id=report.id, created_at=now, actor_id=user_id, actor_name="citizen",
                             actor_role="citizen", action=kind, details={"score": score} if score else {}))
        return True

    async def rate(self, code: str, user_id: int, score: int) -> bool:
        """The submitter rates a resolved/closed report 1..5. False when not theirs or not ratable."""
        return await self._citizen_change(code, user_id, "rated", score=score)

    async def citizen_comment(self, code: str, user_id: int, text: str) -> bool:
        """An optional comment after rating or reopening (stored as a public citizen event)."""
        return await self._citizen_change(code, user_id, "citizen_comment",
                                          text=_clean(text, self.settings.comment_max))

    async def reopen(self, code: str, user_id: int, reason: str = "") -> bool:
        """'Chưa hài lòng': reopen a resolved/closed report within the pack's window. False otherwise."""
        return await self._citizen_change(code, user_id, "reopened", text=_clean(reason, self.settings.comment_max))

    # --- officials: reading ---------------------------------------------------------------------------
    def _scope(self, actor: Actor, filters: QueueFilter) -> list[Any]:
        conds: list[Any] = []
        if not sees_all(actor, self.receiving_agency):
            conds.append(Report.agency_id == actor.agency_id)
        elif filters.agency_id:
            conds.append(Report.agency_id == filters.agency_id)
        if filters.statuses:
            conds.append(Report.status.in_(list(filters.statuses)))
        if filters.category_id:
            conds.append(Report.category_id == filters.category_id)
        if filters.commune_id is not None:
            conds.append(Report.commune_id.is_(None) if filters.commune_id == "" else Report.commune_id == filters.commune_id)
        now = self.now()
        if filters.overdue is True:
            conds += [Report.status.in_(list(OPEN_STATUSES)), Report.deadline_at < now]
        elif filters.overdue is False:
            conds.append(or_(Report.status.not_in(list(OPEN_STATUSES)), Report.deadline_at >= now))
        if filters.code:
            conds.append(Report.code == (codes.normalize(filters.code) or "-"))
        if filters.created_from:
            conds.append(Report.created_at >= filters.created_from)
        if filters.created_to:
            conds.append(Report.created_at < filters.created_to)
        return conds

    async def list_queue(self, actor: Actor, filters: QueueFilter = QueueFilter(), *, limit: int = 50,
                         cursor: str | None = None, offset: int | None = None,
                         with_total: bool = False) -> QueuePage:
        """The actor's queue sorted by (deadline_at, id). Keyset pagination with `cursor` (preferred; use
        `next_cursor` of the previous page) or `offset`. Officers are limited to their own agency."""
        limit = max(1, min(limit, 500))
        conds = self._scope(actor, filters)
        cols = (Report.id, Report.code, Report.status, Report.category_id, Report.commune_id, Report.agency_id,
                Report.created_at, Report.due_date, Report.deadline_at, func.substr(Report.description, 1, 140),
                Report.rating)
        stmt = select(*cols).where(*conds)
        if cursor:
            when, rid = _decode_cursor(cursor)
            stmt = stmt.where(or_(Report.deadline_at > when, and_(Report.deadline_at == when, Report.id > rid)))
        stmt = stmt.order_by(Report.deadline_at, Report.id).limit(limit + 1)
        if offset and not cursor:
            stmt = stmt.offset(max(0, offset))
        now = self.now()
        async with self.sessions() as s:
            rows = (await s.execute(stmt)).all()
            total = None
            if with_total:
                total = int((await s.execute(select(func.count()).select_from(Report).where(*conds))).scalar_one())
        items = [
            QueueItem(id=r[0], code=codes.display(r[1]), status=r[2], category_id=r[3],
                      category_title=self.category_title(r[3]), commune_id=r[4], commune_name=self.commune_name(r[4]),
                      agency_id=r[5], agency_name=self.agency_name(r[5]), created_at=r[6], due_date=r[7],
                      deadline_at=r[8], overdue=r[2] in OPEN_STATUSES and r[8] < now, summary=r[9] or "",
                      rating=r[10])
            for r in rows[:limit]
        ]
        next_cursor = _encode_cursor(items[-1].deadline_at, items[-1].id) if len(rows) > limit else None
        return QueuePage(items, next_cursor, total)

    async def count_queue(self, actor: Actor, filters: QueueFilter = QueueFilter()) -> int:
        async with self.sessions() as s:
            return int((await s.execute(
                select(func.count()).select_from(Report).where(*self._scope(actor, filters)))).scalar_one())

    @staticmethod
    def _event_view(e: ReportEvent) -> EventView:
        return EventView(e.id, e.created_at, e.kind, e.actor_type, e.actor_name, e.actor_agency, e.from_status,
                         e.to_status, e.from_agency, e.to_agency, e.text, e.public, dict(e.data or {}))

    def allowed_actions(self, actor: Actor, report: Any) -> frozenset[str]:
        out = set()
        for action, (sources, _) in TRANSITIONS.items():
            if report.status in sources and can_act(actor, report, action, self.receiving_agency):
                out.add(action)
        return frozenset(out)

    async def _detail(self, s: Any, actor: Actor, report: Report) -> ReportDetail:
        attachments = (await s.execute(
            select(Attachment).where(Attachment.report_id == report.id).order_by(Attachment.id))).scalars()
        events = (await s.execute(
            select(ReportEvent).where(ReportEvent.report_id == report.id).order_by(ReportEvent.id))).scalars()
        audit = (await s.execute(
            select(AuditEntry).where(AuditEntry.report_id == report.id).order_by(AuditEntry.id.desc()).limit(500)
        )).scalars()
        duplicate_code = None
        if report.duplicate_of_id:
            original = await s.get(Report, report.duplicate_of_id)
            duplicate_code = codes.display(original.code) if original else None
        personal = can_see_personal(actor, report)
        return ReportDetail(
            id=report.id, code=codes.display(report.code), status=report.status, category_id=report.category_id,
            category_title=self.category_title(report.category_id), commune_id=report.commune_id,
            commune_name=self.commune_name(report.commune_id), agency_id=report.agency_id,
            agency_name=self.agency_name(report.agency_id), routing_rule=report.routing_rule,
            routing_reason=report.routing_reason, anonymous=report.anonymous,
            description=report.description if personal else mask_numbers(report.description),
            contact_name=report.contact_name if personal else mask_name(report.contact_name),
            phone=(report.phone or "") if personal else mask_phone(report.phone), personal_visible=personal,
            channel=report.channel, created_at=report.created_at, updated_at=report.updated_at,
            due_date=report.due_date, deadline_at=report.deadline_at, overdue=self._overdue(report),
            accepted_at=report.accepted_at, resolved_at=report.resolved_at, closed_at=report.closed_at,
            duplicate_of_code=duplicate_code, reopen_count=report.reopen_count, rating=report.rating,
            rating_comment=report.rating_comment,
            attachments=[AttachmentView(a.id, a.channel, a.kind, a.file_id, a.file_name, a.mime_type, a.size,
                                        a.created_at, a.sha256 or "") for a in attachments],
            events=[self._event_view(e) for e in events],
            audit=[AuditView(a.id, a.created_at, a.actor_id, a.actor_name, a.actor_agency, a.actor_role, a.action,
                             dict(a.details or {})) for a in reversed(list(audit))],
            allowed_actions=self.allowed_actions(actor, report), version=report.version,
        )

    def _audit(self, actor: Actor, report_id: int | None, action: str, details: dict[str, Any] | None = None) -> AuditEntry:
        return AuditEntry(report_id=report_id, created_at=self.now(), actor_id=actor.official_id,
                          actor_name=actor.name[:256], actor_agency=actor.agency_id[:64], actor_role=actor.role,
                          action=action, details=details or {})

    async def _deny(self, actor: Actor, report_id: int, action: str) -> None:
        """Refusals are audited too (who tried to see or touch what)."""
        async with self.sessions.begin() as s:
            s.add(self._audit(actor, report_id, "denied", {"action": action}))

    async def _viewed_recently(self, s: Any, actor: Actor, report_id: int) -> bool:
        """A "Xem" row already written for this official and report within VIEW_AUDIT_WINDOW (the redirect
        after each action shows the report again: one view, not one row per redirect)."""
        since = self.now() - VIEW_AUDIT_WINDOW
        who = (AuditEntry.actor_id == actor.official_id if actor.official_id is not None
               else and_(AuditEntry.actor_id.is_(None), AuditEntry.actor_name == actor.name[:256]))
        found = (await s.execute(select(AuditEntry.id).where(
            AuditEntry.report_id == report_id, AuditEntry.action == "view", who, AuditEntry.created_at >= since,
        ).limit(1))).first()
        return found is not None

    async def get_report(self, actor: Actor, report_id: int) -> ReportDetail:
        """Full detail with attachments, routing reason, history and audit trail; records a 'view' audit.
        Raises NotFound / Forbidden."""
        async with self.sessions.begin() as s:
            report = await s.get(Report, report_id)
            if report is None:
                raise NotFound(f"report {report_id}")
            allowed = can_view(actor, report, self.receiving_agency)
            if allowed:
                if not await self._viewed_recently(s, actor, report.id):
                    s.add(self._audit(actor, report.id, "view"))
                    await s.flush()
                return await self._detail(s, actor, report)
        await self._deny(actor, report_id, "view")
        raise Forbidden(f"report {report_id}")

    async def stats(self, actor: Actor, *, created_from: dt.datetime | None = None,
                    created_to: dt.datetime | None = None) -> Stats:
        """Counts by status, agency, category; on-time rate; average satisfaction (actor's scope)."""
        conds = self._scope(actor, QueueFilter(created_from=created_from, created_to=created_to))
        now = self.now()
        async with self.sessions() as s:
            async def group(col: Any) -> dict[str, int]:
                rows = await s.execute(select(col, func.count()).where(*conds).group_by(col))
                return {str(k or ""): int(n) for k, n in rows}

            by_status = await group(Report.status)
            by_agency = await group(Report.agency_id)
            by_category = await group(Report.category_id)
            overdue = int((await s.execute(select(func.count()).select_from(Report).where(
                *conds, Report.status.in_(list(OPEN_STATUSES)), Report.deadline_at < now))).scalar_one())
            answered, on_time = (await s.execute(select(
                func.count(Report.resolved_at),
                func.coalesce(func.sum(case((Report.resolved_at <= Report.deadline_at, 1), else_=0)), 0),
            ).where(*conds, Report.resolved_at.is_not(None)))).one()
            rated, avg = (await s.execute(select(func.count(Report.rating), func.avg(Report.rating)).where(
                *conds, Report.rating.is_not(None)))).one()
        answered, on_time, rated = int(answered or 0), int(on_time or 0), int(rated or 0)
        return Stats(
            total=sum(by_status.values()), by_status=by_status, by_agency=by_agency, by_category=by_category,
            overdue_open=overdue, answered=answered, answered_on_time=on_time,
            on_time_rate=(on_time / answered) if answered else None, rated=rated,
            average_rating=round(float(avg), 2) if avg is not None else None,
        )

    async def export_rows(self, actor: Actor, filters: QueueFilter = QueueFilter(),
                          *, max_rows: int = 100_000) -> list[dict[str, str]]:
        """Rows for CSV keyed by EXPORT_COLUMNS (strings, personal data masked where the actor may not see
        it). Column headers: `column_titles()`. Records an 'export' audit entry."""
        conds = self._scope(actor, filters)
        now = self.now()
        tz = self.calendar.tz
        async with self.sessions() as s:
            reports = (await s.execute(select(Report).where(*conds).order_by(Report.deadline_at, Report.id)
                                       .limit(max_rows))).scalars().all()
        rows = []
        for r in reports:
            personal = can_see_personal(actor, r)
            rows.append({
                "code": codes.display(r.code), "status": self.status_label(r.status),
                "category": self.category_title(r.category_id), "commune": self.commune_name(r.commune_id),
                "agency": self.agency_name(r.agency_id),
                "created_at": r.created_at.astimezone(tz).strftime("%d/%m/%Y %H:%M"),
                "due_date": r.due_date.strftime("%d/%m/%Y"),
                "overdue": "x" if (r.status in OPEN_STATUSES and r.deadline_at < now) else "",
                "resolved_at": r.resolved_at.astimezone(tz).strftime("%d/%m/%Y %H:%M") if r.resolved_at else "",
                "contact_name": r.contact_name if personal else mask_name(r.contact_name),
                "phone": (r.phone or "") if personal else mask_phone(r.phone),
                "rating": str(r.rating) if r.rating is not None else "",
                "description": r.description if personal else mask_numbers(r.description),
            })
        async with self.sessions.begin() as s:
            s.add(self._audit(actor, None, "export", {"rows": len(rows), "filters": {
                k: (v if not isinstance(v, dt.datetime) else v.isoformat()) for k, v in filters.__dict__.items()
                if v not in (None, (), "")}}))
        return rows

    # --- officials: actions ---------------------------------------------------------------------------
    async def _act(self, actor: Actor, report_id: int, action: str, *, text: str = "", public: bool = True,
                   require_text: bool = False, notify: bool = True, new_agency: str | None = None,
                   duplicate_of: int | str | None = None) -> ReportDetail:
        text = _clean(text)
        if require_text and not text:
            raise InvalidInput(f"{action} needs a text")
        sources, to_status = TRANSITIONS[action]
        now = self.now()
        outbox_ids: list[int] = []
        denied: type[Forbidden] | None = None
        async with self.sessions.begin() as s:
            report = await s.get(Report, report_id, with_for_update=True)
            if report is None:
                raise NotFound(f"report {report_id}")
            if not can_act(actor, report, action, self.receiving_agency):
                denied = NotPermitted if can_view(actor, report, self.receiving_agency) else Forbidden
            else:
                if report.status not in sources:
                    raise InvalidTransition(f"{action} from {report.status}")
                event = ReportEvent(report_id=report.id, created_at=now, kind=action, actor_type="official",
                                    actor_id=actor.official_id, actor_name=actor.name[:256],
                                    actor_agency=actor.agency_id[:64], text=text, public=public)
                details: dict[str, Any] = {}
                if action == "reassign":
                    if new_agency not in {a.id for a in self.pack.agencies.agencies}:
                        raise InvalidInput(f"unknown agency {new_agency!r}")
                    if new_agency == report.agency_id:
                        raise InvalidInput("already assigned to that agency")
                    event.kind = "reassigned"
                    event.from_agency, event.to_agency = report.agency_id, new_agency
                    details = {"from": report.agency_id, "to": new_agency, "reason": text}
                    report.agency_id = new_agency
                    report.accepted_at = None
                elif action == "duplicate":
                    original = (await s.get(Report, duplicate_of) if isinstance(duplicate_of, int)
                                else await self._by_code(s, str(duplicate_of or "")))
                    # Every report an action touches is access-checked, and an original the official may not
                    # see reads exactly like one that does not exist (no probing other agencies' codes).
                    if (original is None or original.id == report.id
                            or not can_view(actor, original, self.receiving_agency)):
                        raise InvalidInput("no such original report")
                    report.duplicate_of_id = original.id
                    event.data = {"original": codes.display(original.code)}
                    details = {"original": codes.display(original.code)}
                if to_status is not None and to_status != report.status:
                    event.from_status, event.to_status = report.status, to_status
                    report.status = to_status
                event.kind = {"start": "in_progress", "resolve": "resolved", "close": "closed", "accept": "accepted",
                              "reject": "rejected"}.get(action, event.kind)
                if action == "accept":
                    report.accepted_at = now
                if action in ("resolve", "reject", "duplicate"):
                    report.resolved_at = now  # "answered at": on-time statistics use it
                if action == "close":
                    report.closed_at = now
                report.updated_at = now
                report.version += 1
                s.add(event)
                await s.flush()
                if action == "reassign":
                    s.add(ReportEvent(report_id=report.id, created_at=now, kind="agency_notified", actor_type="system",
                                      to_agency=new_agency, text=text, public=False,
                                      data={"by": actor.name, "from": event.from_agency}))
                s.add(self._audit(actor, report.id, action, {**details, **({"text": text[:500]} if text else {}),
                                                             **({"from_status": event.from_status,
                                                                 "to_status": event.to_status}
                                                                if event.to_status else {})}))
                if notify and public:
                    row = await self._enqueue_citizen(s, report, event)
                    if row is not None:
                        await s.flush()
                        outbox_ids.append(row.id)
                await s.flush()
                detail = await self._detail(s, actor, report)
        if denied is not None:
            await self._deny(actor, report_id, action)
            raise denied(f"{action} on report {report_id}")
        if outbox_ids:
            await self.notifier.deliver(outbox_ids)
        return detail

    def citizen_message(self, report: Report, event: ReportEvent) -> list[Reply]:
        """The chat message a citizen gets for an event (templates feedback/notify)."""
        code = codes.display(report.code)
        text = self._render(
            "feedback/notify", kind=event.kind, code=code, status=self.status_label(report.status),
            agency=self.agency_name(report.agency_id), text=event.text,
            original=(event.data or {}).get("original", ""), due_date=report.due_date.strftime("%d/%m/%Y"),
            reopen_days=self.settings.reopen_days)
        labels = self.pack.texts.labels
        rows: list[list[Button]] = []
        if event.kind in ("resolved", "closed") and report.rating is None:
            rows.append([Button(labels.get(f"fb.rate.{n}", str(n)), payload=f"fb:rt:{report.code}:{n}") for n in range(1, 6)])
            if self.settings.reopen_days > 0:
                rows.append([Button(labels.get("fb.reopen", "Chưa hài lòng"), payload=f"fb:ro:{report.code}")])
        rows.append([Button(labels.get("fb.view", "Xem phản ánh"), payload=f"fb:v:{report.code}")])
        return [Reply(text=text, buttons=rows)]

    async def _enqueue_citizen(self, s: Any, report: Report, event: ReportEvent) -> Any:
        if report.user_id is None:
            return None
        user = await s.get(User, report.user_id)
        if user is None:
            return None
        return self.notifier.enqueue(s, report_id=report.id, event_id=event.id, user_id=user.id, channel=user.channel,
                                     external_id=user.external_id, replies=self.citizen_message(report, event))

    async def accept(self, actor: Actor, report_id: int, note: str = "") -> ReportDetail:
        return await self._act(actor, report_id, "accept", text=note)

    async def start(self, actor: Actor, report_id: int, note: str = "") -> ReportDetail:
        """Mark in progress."""
        return await self._act(actor, report_id, "start", text=note)

    async def reassign(self, actor: Actor, report_id: int, agency_id: str, reason: str) -> ReportDetail:
        """Move to another agency (status back to 'new'); reason required; the new agency gets an
        'agency_notified' event; the citizen is told the new agency (not the internal reason)."""
        return await self._act(actor, report_id, "reassign", text=reason, require_text=True, new_agency=agency_id)

    async def reply(self, actor: Actor, report_id: int, text: str) -> ReportDetail:
        """Send `text` to the citizen in their chat (public event + outbox)."""
        return await self._act(actor, report_id, "reply", text=text, require_text=True)

    async def note(self, actor: Actor, report_id: int, text: str) -> ReportDetail:
        """Internal note: never shown to the citizen."""
        return await self._act(actor, report_id, "note", text=text, require_text=True, public=False, notify=False)

    async def resolve(self, actor: Actor, report_id: int, text: str = "") -> ReportDetail:
        """Resolved; the citizen gets the answer and the 1–5 rating buttons."""
        return await self._act(actor, report_id, "resolve", text=text)

    async def close(self, actor: Actor, report_id: int, text: str = "") -> ReportDetail:
        return await self._act(actor, report_id, "close", text=text)

    async def reject(self, actor: Actor, report_id: int, reason: str) -> ReportDetail:
        return await self._act(actor, report_id, "reject", text=reason, require_text=True)

    async def mark_duplicate(self, actor: Actor, report_id: int, original: int | str, note: str = "") -> ReportDetail:
        """`original`: report id or tracking code of the report this one duplicates."""
        return await self._act(actor, report_id, "duplicate", text=note, duplicate_of=original)

    # --- background ---------------------------------------------------------------------------------
    async def retry_notifications(self, limit: int = 100) -> int:
        """Send due outbox messages again; returns how many were delivered."""
        return await self.notifier.retry_due(limit)

    async def expire_drafts(self) -> int:
        """Delete attachments of drafts abandoned longer than the pack's draft TTL (plus a margin)."""
        from sqlalchemy import delete

        cutoff = self.now() - dt.timedelta(minutes=self.settings.draft_ttl_minutes) - dt.timedelta(hours=1)
        async with self.sessions.begin() as s:
            result = await s.execute(delete(Attachment).where(Attachment.report_id.is_(None),
                                                               Attachment.created_at < cutoff))
            return int(result.rowcount or 0)
