"""The officials' queue and the report detail, and the citizens' look-up: reading, scoped by permission.

Every read takes an `Actor` (or, for citizens, the user id) and shows only what they may see: an officer
their agency's reports, personal data masked outside the assigned agency; the detail view is audited.
"""
from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import and_, func, or_, select

from core.masking import mask_numbers
from features.feedback import codes
from features.feedback.base import TRANSITIONS, FeedbackBase, outbox_ref
from features.feedback.errors import Forbidden, InvalidInput, NotFound
from features.feedback.models import OPEN_STATUSES, RESOLVED, CLOSED, Attachment, AuditEntry, Report, ReportEvent
from features.feedback.permissions import Actor, can_act, can_see_personal, can_view, mask_name, mask_phone, sees_all
from features.feedback.views import (
    AttachmentView,
    AuditView,
    CitizenView,
    EventView,
    QueueFilter,
    QueueItem,
    QueuePage,
    ReportDetail,
)
from core.web import positive_int

# Events whose text the citizen may read in /tracuu (an internal reassignment reason is not one of them).
CITIZEN_TEXT_EVENTS = frozenset({"reply", "resolved", "rejected", "duplicate", "citizen_comment", "reopened", "rated"})
VIEW_AUDIT_WINDOW = dt.timedelta(minutes=5)  # at most one "Xem" audit row per official per report in this time


def encode_cursor(deadline_at: dt.datetime, report_id: int) -> str:
    raw = f"{deadline_at.astimezone(dt.UTC).isoformat()}|{report_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
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


class Queries(FeedbackBase):
    """The queue, filters, report detail and look-up (see the module docstring)."""

    # --- officials: the queue -------------------------------------------------------------------------
    def scope(self, actor: Actor, filters: QueueFilter) -> list[Any]:
        """WHERE conditions for the reports the actor may see, narrowed by `filters` (queue, export, stats)."""
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
        conds = self.scope(actor, filters)
        cols = (Report.id, Report.code, Report.status, Report.category_id, Report.commune_id, Report.agency_id,
                Report.created_at, Report.due_date, Report.deadline_at, func.substr(Report.description, 1, 140),
                Report.rating)
        stmt = select(*cols).where(*conds)
        if cursor:
            when, rid = decode_cursor(cursor)
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
        next_cursor = encode_cursor(items[-1].deadline_at, items[-1].id) if len(rows) > limit else None
        return QueuePage(items, next_cursor, total)

    async def count_queue(self, actor: Actor, filters: QueueFilter = QueueFilter()) -> int:
        async with self.sessions() as s:
            return int((await s.execute(
                select(func.count()).select_from(Report).where(*self.scope(actor, filters)))).scalar_one())

    @staticmethod

    def event_view(e: ReportEvent) -> EventView:
        return EventView(e.id, e.created_at, e.kind, e.actor_type, e.actor_name, e.actor_agency, e.from_status,
                         e.to_status, e.from_agency, e.to_agency, e.text, e.public, dict(e.data or {}))

    def allowed_actions(self, actor: Actor, report: Any) -> frozenset[str]:
        out = set()
        for action, (sources, _) in TRANSITIONS.items():
            if report.status in sources and can_act(actor, report, action, self.receiving_agency):
                out.add(action)
        return frozenset(out)

    async def detail(self, s: Any, actor: Actor, report: Report) -> ReportDetail:
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
            due_date=report.due_date, deadline_at=report.deadline_at, overdue=report.status in OPEN_STATUSES and report.deadline_at < self.now(),
            accepted_at=report.accepted_at, resolved_at=report.resolved_at, closed_at=report.closed_at,
            duplicate_of_code=duplicate_code, reopen_count=report.reopen_count, rating=report.rating,
            rating_comment=report.rating_comment,
            attachments=[AttachmentView(a.id, a.channel, a.kind, a.file_id, a.file_name, a.mime_type, a.size,
                                        a.created_at, a.sha256 or "") for a in attachments],
            events=[self.event_view(e) for e in events],
            audit=[AuditView(a.id, a.created_at, a.actor_id, a.actor_name, a.actor_agency, a.actor_role, a.action,
                             dict(a.details or {})) for a in reversed(list(audit))],
            allowed_actions=self.allowed_actions(actor, report), version=report.version,
        )

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
                detail = await self.detail(s, actor, report)
        if allowed:
            return await self.with_messages(detail)
        await self._deny(actor, report_id, "view")
        raise Forbidden(f"report {report_id}")

    async def with_messages(self, detail: ReportDetail) -> ReportDetail:
        """The detail with its messages to the citizen and their delivery states (sent, waiting, failed)."""
        return dataclasses.replace(detail, messages=tuple(await self.outbox.states(outbox_ref(detail.id))))

    async def find_id(self, code: str) -> int | None:
        """Report id for a tracking code (any spelling), without permission checks or audit."""
        async with self.sessions() as s:
            report = await self._by_code(s, code)
            return report.id if report else None

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
            view = self.event_view(e)
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
