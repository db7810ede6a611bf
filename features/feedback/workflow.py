"""The report's life: the citizen's draft and submission, the officials' actions (the state machine in
`base.TRANSITIONS`), the citizen's rating, comment and reopening, and the messages those owe the citizen.

Every official-side action takes an `Actor`, checks `can_view`/`can_act`, changes the report in ONE
transaction together with its history event, the audit entry and any message owed to the citizen (a row of
the core outbox, ref ``feedback:<report id>``, composed by `chat_messages.citizen_message`), and only then
tries to deliver that message (`Outbox.deliver`). A failed send never loses an event: the row stays pending
(or waits for the citizen's next message, as the channel's delivery policy decides) and the outbox's run
loop, run by every bot process, sends it later.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from core.delivery import MessageKind
from core.render import to_plain
from core.storage.models import User
from features.feedback import codes
from features.feedback.base import TRANSITIONS, FeedbackBase, clean, outbox_ref
from features.feedback.chat_messages import citizen_message
from features.feedback.errors import FeedbackError, Forbidden, InvalidInput, InvalidTransition, NotFound, NotPermitted
from features.feedback.models import CLOSED, IN_PROGRESS, NEW, RESOLVED, Attachment, AuditEntry, Report, ReportEvent
from features.feedback.permissions import Actor, can_act, can_view
from features.feedback.queries import Queries
from features.feedback.routing import route
from features.feedback.views import Draft, ReportDetail, Submitted

log = logging.getLogger(__name__)


class Workflow(FeedbackBase):
    """See the module docstring. The detail an action returns is the queries' (`Queries.detail`)."""

    def __init__(self, services: Any, queries: Queries) -> None:
        super().__init__(services)
        self.queries = queries

    # --- citizens: drafts and submission --------------------------------------------------------------
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

    # --- background ---------------------------------------------------------------------------------
    async def expire_drafts(self) -> int:
        """Delete attachments of drafts abandoned longer than the pack's draft TTL (plus a margin)."""
        cutoff = self.now() - dt.timedelta(minutes=self.settings.draft_ttl_minutes) - dt.timedelta(hours=1)
        async with self.sessions.begin() as s:
            result = await s.execute(delete(Attachment).where(Attachment.report_id.is_(None),
                                                               Attachment.created_at < cutoff))
            return int(result.rowcount or 0)

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
                                          text=clean(text, self.settings.comment_max))

    async def reopen(self, code: str, user_id: int, reason: str = "") -> bool:
        """'Chưa hài lòng': reopen a resolved/closed report within the pack's window. False otherwise."""
        return await self._citizen_change(code, user_id, "reopened", text=clean(reason, self.settings.comment_max))

    # --- officials: actions ---------------------------------------------------------------------------
    async def _act(self, actor: Actor, report_id: int, action: str, *, text: str = "", public: bool = True,
                   require_text: bool = False, notify: bool = True, new_agency: str | None = None,
                   duplicate_of: int | str | None = None) -> ReportDetail:
        text = clean(text)
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
                    outbox_ids += await self._enqueue_citizen(s, report, event)
                await s.flush()
                detail = await self.queries.detail(s, actor, report)
        if denied is not None:
            await self._deny(actor, report_id, action)
            raise denied(f"{action} on report {report_id}")
        if outbox_ids:
            await self.outbox.deliver(outbox_ids)
        return await self.queries.with_messages(detail)

    async def _enqueue_citizen(self, s: Any, report: Report, event: ReportEvent) -> list[int]:
        """The message this event owes the citizen, as an outbox row in the event's transaction."""
        if report.user_id is None:
            return []
        user = await s.get(User, report.user_id)
        if user is None:
            return []
        kind = MessageKind.OFFICIAL_ANSWER if event.kind == "reply" else MessageKind.STATUS_CHANGE
        return [await self.outbox.enqueue(s, channel=user.channel, external_id=user.external_id,
                                          replies=citizen_message(self, report, event), kind=kind,
                                          ref=outbox_ref(report.id), claim=True)]

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
