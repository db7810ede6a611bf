"""What the feedback service takes and returns: queue filters and chat drafts in, read-only views out
(`features.feedback.service` re-exports them). Views carry text verbatim: escape when rendering."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from core.outbox import MessageState


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
    # Every message owed to the citizen for this report and how it stands (sent, waiting and why, failed),
    # from the core outbox (`Outbox.states`), oldest first.
    messages: tuple[MessageState, ...] = ()


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
