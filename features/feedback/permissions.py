"""Who may see and do what with a report. One place, shared by the service, the dashboard and the tests.

Rules (issue 4):
* an **officer** sees and works only the reports currently assigned to their own agency; they cannot reassign;
* a **supervisor** works their agency's reports and may reassign them; a supervisor of the **receiving
  unit** (the pack's `default_agency`, e.g. the provincial public administration service centre) sees
  every report and reassigns any of them;
* an **admin** sees and does everything.
Personal data (phone, name) is shown only to the agency the report is assigned to (and admins); everyone
else, and exports for them, get masked values.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

Role = Literal["officer", "supervisor", "admin"]
ROLES: tuple[str, ...] = ("officer", "supervisor", "admin")

# Actions an official performs on a report (the service's method names).
ACTIONS = ("view", "accept", "start", "reassign", "reply", "note", "resolve", "close", "reject", "duplicate")


@dataclass(frozen=True, slots=True)
class Actor:
    """The official acting, as the dashboard passes it (or a system actor for CLI/background jobs)."""

    official_id: int | None
    name: str
    agency_id: str
    role: Role = "officer"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class _HasAgency(Protocol):
    agency_id: str


def is_receiving_supervisor(actor: Actor, receiving_agency: str) -> bool:
    return actor.role == "supervisor" and actor.agency_id == receiving_agency


def sees_all(actor: Actor, receiving_agency: str) -> bool:
    """True when the actor's queue is every report (admin, supervisor of the receiving unit)."""
    return actor.is_admin or is_receiving_supervisor(actor, receiving_agency)


def can_view(actor: Actor, report: _HasAgency, receiving_agency: str) -> bool:
    return sees_all(actor, receiving_agency) or report.agency_id == actor.agency_id


def can_act(actor: Actor, report: _HasAgency, action: str, receiving_agency: str) -> bool:
    """May `actor` perform `action` (one of ACTIONS) on `report` now?"""
    if action not in ACTIONS or actor.role not in ROLES:
        return False
    if not can_view(actor, report, receiving_agency):
        return False
    if action == "reassign":
        return actor.role in ("supervisor", "admin")
    return True


def can_see_personal(actor: Actor, report: _HasAgency) -> bool:
    """Phone numbers and names: the assigned agency and admins only."""
    return actor.is_admin or report.agency_id == actor.agency_id


def mask_phone(phone: str | None) -> str:
    """'0912345678' -> '091****678' (enough to recognise, not to call)."""
    if not phone:
        return ""
    return phone[:3] + "*" * max(len(phone) - 6, 0) + phone[-3:] if len(phone) > 6 else "*" * len(phone)


def mask_name(name: str) -> str:
    """'Nguyễn Văn An' -> 'N*** V*** A***'."""
    return " ".join(part[:1] + "***" for part in name.split()) if name else ""
