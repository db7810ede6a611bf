"""What every part of the feedback service shares: the services, the pack's names and settings, the
working-day calendar, the report state machine, look-up by tracking code and the audit trail.

The service is split by job (issue 8 §5), each part a `FeedbackBase`: `workflow.Workflow` (intake, drafts,
submit, officials' actions, citizens' changes and the messages they owe), `queries.Queries` (queue,
filters, detail, look-up), `export.Export` (CSV and statistics); `service.FeedbackService` composes them.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from core.content.holidays import calendar_of
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
    AuditEntry,
    Report,
)
from features.feedback.permissions import Actor

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
MAX_TEXT = 4000


def outbox_ref(report_id: int) -> str:
    """What the report's messages to the citizen are filed under in the core outbox (`Outbox.states`)."""
    return f"feedback:{report_id}"


def clean(text: str, limit: int = MAX_TEXT) -> str:
    """What an official or citizen wrote, trimmed and cut to `limit` characters."""
    return (text or "").strip()[:limit]


class FeedbackBase:
    """Build with the app's `Services`; each part of the service is one (see the module docstring)."""

    def __init__(self, services: Any) -> None:
        self._services = services
        self.sessions = services.store.sessions
        self.outbox = services.outbox  # the core's one outbound pipeline (core/outbox.py)
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

    def status_label(self, status: str) -> str:
        return self.pack.texts.labels.get(f"fb.status.{status}", status)

    def _render(self, name: str, **kw: Any) -> str:
        return self.pack.texts.render(name, **kw)

    async def _by_code(self, s: Any, code: str) -> Report | None:
        norm = codes.normalize(code)
        if norm is None:
            return None
        return (await s.execute(select(Report).where(Report.code == norm))).scalar_one_or_none()

    def _can_reopen(self, report: Report, now: dt.datetime) -> bool:
        if report.status not in (RESOLVED, CLOSED) or report.resolved_at is None:
            return False
        return now - report.resolved_at <= dt.timedelta(days=self.settings.reopen_days)

    def _audit(self, actor: Actor, report_id: int | None, action: str, details: dict[str, Any] | None = None) -> AuditEntry:
        return AuditEntry(report_id=report_id, created_at=self.now(), actor_id=actor.official_id,
                          actor_name=actor.name[:256], actor_agency=actor.agency_id[:64], actor_role=actor.role,
                          action=action, details=details or {})

    async def _deny(self, actor: Actor, report_id: int, action: str) -> None:
        """Refusals are audited too (who tried to see or touch what)."""
        async with self.sessions.begin() as s:
            s.add(self._audit(actor, report_id, "denied", {"action": action}))
