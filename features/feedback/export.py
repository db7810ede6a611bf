"""The officials' figures: statistics for the dashboard and the CSV export, in the actor's scope.

Personal data in exports is masked where the actor may not see it, and every export is audited.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import case, func, select

from core.masking import mask_numbers
from features.feedback import codes
from features.feedback.base import FeedbackBase
from features.feedback.models import OPEN_STATUSES, Report
from features.feedback.permissions import Actor, can_see_personal, mask_name, mask_phone
from features.feedback.queries import Queries
from features.feedback.views import QueueFilter, Stats

EXPORT_COLUMNS = (
    "code", "status", "category", "commune", "agency", "created_at", "due_date", "overdue", "resolved_at",
    "contact_name", "phone", "rating", "description",
)


class Export(FeedbackBase):
    """Statistics and CSV rows (see the module docstring); filters are the queue's (`Queries.scope`)."""

    def __init__(self, services: Any, queries: Queries) -> None:
        super().__init__(services)
        self.queries = queries

    def column_titles(self) -> dict[str, str]:
        """EXPORT_COLUMNS -> Vietnamese header (labels `fb.col.*`)."""
        return {key: self.pack.texts.labels.get(f"fb.col.{key}", key) for key in EXPORT_COLUMNS}

    async def stats(self, actor: Actor, *, created_from: dt.datetime | None = None,
                    created_to: dt.datetime | None = None) -> Stats:
        """Counts by status, agency, category; on-time rate; average satisfaction (actor's scope)."""
        conds = self.queries.scope(actor, QueueFilter(created_from=created_from, created_to=created_to))
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
        conds = self.queries.scope(actor, filters)
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
