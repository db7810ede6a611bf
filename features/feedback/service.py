"""The feedback service: the one API the chat handlers, the officials' dashboard, the CLI and tests use.

A thin facade over the parts, split by job (issue 8 §5; shared helpers in `base.py`):
* `workflow.py` — intake, drafts, submit, the officials' actions (state machine, audit, the messages owed
  to the citizen through the core outbox), the citizen's rating, comment and reopening;
* `queries.py` — the officials' queue, filters and report detail (with each message's delivery state),
  the citizens' look-up;
* `export.py` — the CSV export and the statistics.
The chat messages a citizen receives are composed in the chat layer (`chat_messages.py`).

Errors (`errors.py`): `NotFound` (no such report), `Forbidden` (not allowed: the dashboard answers 404),
`NotPermitted` (may see, may not act: 403), `InvalidTransition` (e.g. resolving a closed report),
`InvalidInput` (bad reason, unknown agency...). All subclass `FeedbackError`.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from features.feedback.digest import AgencyDigest, build_digests, count_digest
from features.feedback.base import MAX_TEXT, TRANSITIONS, FeedbackBase, outbox_ref  # noqa: F401 (re-exported)
from features.feedback.errors import (  # noqa: F401 (re-exported)
    FeedbackError,
    Forbidden,
    InvalidInput,
    InvalidTransition,
    NotFound,
    NotPermitted,
)
from features.feedback.export import EXPORT_COLUMNS, Export  # noqa: F401 (re-exported)
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
from features.feedback.queries import CITIZEN_TEXT_EVENTS, VIEW_AUDIT_WINDOW, Queries  # noqa: F401 (re-exported)
from features.feedback.views import (  # noqa: F401 (re-exported)
    AttachmentView,
    AuditView,
    CitizenView,
    Draft,
    EventView,
    QueueFilter,
    QueueItem,
    QueuePage,
    ReportDetail,
    Stats,
    Submitted,
)
from features.feedback.workflow import Workflow


class FeedbackService(FeedbackBase):
    """See the module docstring. Build with `FeedbackService(services)` (the feature's install does it);
    the pack helpers (names, labels, settings, calendar) are its own, the rest is the parts'."""

    def __init__(self, services: Any) -> None:
        super().__init__(services)
        self.queries = Queries(services)
        self.workflow = Workflow(services, self.queries)
        self.export = Export(services, self.queries)

    # --- citizens ---------------------------------------------------------------------------------------
    async def draft_attachment_count(self, user_id: int, draft_id: str) -> int:
        return await self.workflow.draft_attachment_count(user_id, draft_id)

    async def discard_draft(self, user_id: int, draft_id: str) -> None:
        await self.workflow.discard_draft(user_id, draft_id)

    async def submitted_draft(self, user_id: int, draft_id: str) -> Submitted | None:
        return await self.workflow.submitted_draft(user_id, draft_id)

    async def submit(self, draft: Draft) -> Submitted:
        return await self.workflow.submit(draft)

    async def expire_drafts(self) -> int:
        return await self.workflow.expire_drafts()

    async def rate(self, code: str, user_id: int, score: int) -> bool:
        return await self.workflow.rate(code, user_id, score)

    async def citizen_comment(self, code: str, user_id: int, text: str) -> bool:
        return await self.workflow.citizen_comment(code, user_id, text)

    async def reopen(self, code: str, user_id: int, reason: str = "") -> bool:
        return await self.workflow.reopen(code, user_id, reason)

    async def citizen_view(self, code: str, user_id: int) -> CitizenView | None:
        return await self.queries.citizen_view(code, user_id)

    async def recent_for_user(self, user_id: int, limit: int = 5) -> list[tuple[str, str, dt.datetime]]:
        return await self.queries.recent_for_user(user_id, limit)

    async def find_id(self, code: str) -> int | None:
        return await self.queries.find_id(code)

    # --- officials: reading -----------------------------------------------------------------------------
    async def list_queue(self, actor: Actor, filters: QueueFilter = QueueFilter(), *, limit: int = 50,
                         cursor: str | None = None, offset: int | None = None,
                         with_total: bool = False) -> QueuePage:
        return await self.queries.list_queue(actor, filters, limit=limit, cursor=cursor, offset=offset,
                                             with_total=with_total)

    async def count_queue(self, actor: Actor, filters: QueueFilter = QueueFilter()) -> int:
        return await self.queries.count_queue(actor, filters)

    async def get_report(self, actor: Actor, report_id: int) -> ReportDetail:
        return await self.queries.get_report(actor, report_id)

    def allowed_actions(self, actor: Actor, report: Any) -> frozenset[str]:
        return self.queries.allowed_actions(actor, report)

    async def stats(self, actor: Actor, *, created_from: dt.datetime | None = None,
                    created_to: dt.datetime | None = None) -> Stats:
        return await self.export.stats(actor, created_from=created_from, created_to=created_to)

    async def export_rows(self, actor: Actor, filters: QueueFilter = QueueFilter(),
                          *, max_rows: int = 100_000) -> list[dict[str, str]]:
        return await self.export.export_rows(actor, filters, max_rows=max_rows)

    def column_titles(self) -> dict[str, str]:
        return self.export.column_titles()

    # --- officials: deadline reminders (issue 15) -------------------------------------------------------
    def digest_scope(self, actor: Actor) -> tuple[str, ...] | None:
        """The agencies whose deadline digest `actor` may read: their own, or None (every agency) for those
        whose queue is every report (admins, the receiving unit's supervisors; see `permissions.sees_all`)."""
        return None if sees_all(actor, self.receiving_agency) else (actor.agency_id,)

    async def deadline_digests(self, actor: Actor) -> list[AgencyDigest]:
        """The daily e-mail digest's lists (overdue, due tomorrow; `digest.build_digests`) as of now, one per
        agency with reports in it, narrowed to what `actor` may see."""
        return await build_digests(self.sessions, self.pack.config.timezone, self.now(), self.digest_scope(actor))

    async def deadline_count(self, actor: Actor) -> int:
        """How many reports `deadline_digests(actor)` lists, in one COUNT query (the dashboard's nav link)."""
        return await count_digest(self.sessions, self.pack.config.timezone, self.now(), self.digest_scope(actor))

    # --- officials: actions -----------------------------------------------------------------------------
    async def accept(self, actor: Actor, report_id: int, note: str = "") -> ReportDetail:
        return await self.workflow.accept(actor, report_id, note)

    async def start(self, actor: Actor, report_id: int, note: str = "") -> ReportDetail:
        return await self.workflow.start(actor, report_id, note)

    async def reassign(self, actor: Actor, report_id: int, agency_id: str, reason: str) -> ReportDetail:
        return await self.workflow.reassign(actor, report_id, agency_id, reason)

    async def reply(self, actor: Actor, report_id: int, text: str) -> ReportDetail:
        return await self.workflow.reply(actor, report_id, text)

    async def note(self, actor: Actor, report_id: int, text: str) -> ReportDetail:
        return await self.workflow.note(actor, report_id, text)

    async def resolve(self, actor: Actor, report_id: int, text: str = "") -> ReportDetail:
        return await self.workflow.resolve(actor, report_id, text)

    async def close(self, actor: Actor, report_id: int, text: str = "") -> ReportDetail:
        return await self.workflow.close(actor, report_id, text)

    async def reject(self, actor: Actor, report_id: int, reason: str) -> ReportDetail:
        return await self.workflow.reject(actor, report_id, reason)

    async def mark_duplicate(self, actor: Actor, report_id: int, original: int | str, note: str = "") -> ReportDetail:
        return await self.workflow.mark_duplicate(actor, report_id, original, note)
