"""Deadline reminders (issue 15): each agency's daily digest of open reports due tomorrow and overdue.

* :func:`build_digests` — per agency, the open reports whose last day for an answer is tomorrow (the pack's
  time zone) and those already past their deadline, oldest deadline first. Only tracking codes, categories,
  communes, states and deadlines: no citizen's text, name or phone (an e-mail leaves the bot's servers).
  The dashboard's "Sắp đến hạn và quá hạn" page (``features/feedback/dashboard/due.py``) shows the same
  digests, narrowed by the service to what the official may see; :func:`count_digest` counts the same rows
  for its navigation link.
* :func:`send_digests` — one e-mail per agency with reports in its digest, through ``aiosmtplib`` when SMTP
  is configured (``CCHC_SMTP_HOST``...), to the addresses of ``CCHC_DIGEST_EMAILS``
  (``agency-id=a@x.gov.vn,b@x.gov.vn;other-id=c@y.gov.vn``).
* The daily run is a single job (core.jobs, ``feedback-deadline-digest``): one process sends it, once a day
  at ``CCHC_DIGEST_HOUR`` (pack time zone, default 7).
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select

from features.feedback import codes
from features.feedback.models import OPEN_STATUSES, Report

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DigestItem:
    """One report in a digest. ``deadline``: the first instant past the deadline, in the pack's time zone
    (a report due on 02/12 has 03/12 00:00); ``last_day``: the last day for an answer (02/12);
    ``days_overdue``: whole days since ``last_day`` (0 when not overdue)."""

    id: int
    code: str  # stored form, without the dash (``codes.display`` adds it)
    category_id: str
    commune_id: str | None
    status: str
    deadline: dt.datetime
    last_day: dt.date
    days_overdue: int = 0

    @property
    def display_code(self) -> str:
        return codes.display(self.code)

    @property
    def deadline_text(self) -> str:
        """'hết ngày 02/12/2026' (deadlines are the end of a day); a deadline at another hour keeps its time."""
        if self.deadline.time() == dt.time(0, 0):
            return f"hết ngày {self.last_day:%d/%m/%Y}"
        return f"{self.deadline:%H:%M} ngày {self.deadline:%d/%m/%Y}"


@dataclass
class AgencyDigest:
    agency_id: str
    due_tomorrow: list[DigestItem] = field(default_factory=list)
    overdue: list[DigestItem] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.due_tomorrow or self.overdue)

    @property
    def count(self) -> int:
        return len(self.due_tomorrow) + len(self.overdue)


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    username: str = ""
    password: str = ""
    sender: str = ""
    starttls: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SmtpConfig | None:
        host = env.get("CCHC_SMTP_HOST", "").strip()
        if not host:
            return None
        return cls(host=host, port=int(env.get("CCHC_SMTP_PORT", "587") or 587),
                   username=env.get("CCHC_SMTP_USER", ""), password=env.get("CCHC_SMTP_PASSWORD", ""),
                   sender=env.get("CCHC_SMTP_FROM", "") or f"cchc-bot@{host}",
                   starttls=env.get("CCHC_SMTP_STARTTLS", "true").lower() not in ("0", "false", "no"))


def recipients_from_env(env: Mapping[str, str]) -> dict[str, list[str]]:
    """``CCHC_DIGEST_EMAILS``: ``agency=a@x,b@x;agency2=c@y`` → {agency: [addresses]}."""
    out: dict[str, list[str]] = {}
    for part in env.get("CCHC_DIGEST_EMAILS", "").split(";"):
        agency, _, addresses = part.partition("=")
        emails = [a.strip() for a in addresses.split(",") if "@" in a]
        if agency.strip() and emails:
            out[agency.strip()] = emails
    return out


@dataclass(frozen=True)
class DigestWindow:
    """The digest's rule at one moment: an open report is **overdue** when its deadline (the first instant
    after its last day, see ``deadlines.WorkCalendar.end_of_day``) is before ``now``; it is **due tomorrow**
    when its last day is tomorrow in the pack's time zone, i.e. its deadline is in (``start``, ``end``]:
    after the start of tomorrow and at the latest the start of the day after. (A report whose last day is
    today has its deadline at ``start`` exactly: it is in neither list until it is overdue.)"""

    tz: ZoneInfo
    now: dt.datetime  # aware
    start: dt.datetime  # tomorrow 00:00, pack time zone
    end: dt.datetime  # the day after tomorrow 00:00

    @classmethod
    def at(cls, timezone: str, now: dt.datetime) -> DigestWindow:
        tz = ZoneInfo(timezone)
        start = dt.datetime.combine(now.astimezone(tz).date() + dt.timedelta(days=1), dt.time(), tz)
        return cls(tz, now, start, dt.datetime.combine(start.date() + dt.timedelta(days=1), dt.time(), tz))

    def conditions(self, agency_ids: Collection[str] | None = None) -> list[Any]:
        """WHERE conditions of the digest's reports (``agency_ids``: only these agencies; None: every one).
        The one definition both the list (:func:`build_digests`) and the count (:func:`count_digest`) use."""
        conds: list[Any] = [Report.status.in_(OPEN_STATUSES), Report.deadline_at <= self.end,
                            or_(Report.deadline_at < self.now, Report.deadline_at > self.start)]
        if agency_ids is not None:
            conds.append(Report.agency_id.in_(list(agency_ids)))
        return conds

    def item(self, report_id: int, code: str, category_id: str, commune_id: str | None, status: str,
             deadline: dt.datetime) -> DigestItem:
        local = (deadline if deadline.tzinfo else deadline.replace(tzinfo=dt.UTC)).astimezone(self.tz)
        last_day = (local - dt.timedelta(microseconds=1)).date()  # a deadline is the end of its last day
        overdue = local < self.now
        days = max(0, (self.now.astimezone(self.tz).date() - last_day).days) if overdue else 0
        return DigestItem(report_id, code, category_id, commune_id, status, local, last_day, days)


async def build_digests(sessions, timezone: str, now: dt.datetime,  # noqa: ANN001 - an async_sessionmaker
                        agency_ids: Collection[str] | None = None) -> list[AgencyDigest]:
    """Per agency with reports to list (ordered by agency id), its overdue and due-tomorrow open reports,
    earliest deadline first (rules: :class:`DigestWindow`). ``now``: aware; ``timezone``: the pack's IANA
    name; ``agency_ids``: narrow to these agencies (the dashboard passes the official's scope; None = all)."""
    window = DigestWindow.at(timezone, now)
    async with sessions() as session:
        rows = (await session.execute(
            select(Report.agency_id, Report.id, Report.code, Report.category_id, Report.commune_id, Report.status,
                   Report.deadline_at)
            .where(*window.conditions(agency_ids))
            .order_by(Report.agency_id, Report.deadline_at, Report.id))).all()
    digests: dict[str, AgencyDigest] = {}
    for agency, *columns in rows:
        item = window.item(*columns)
        digest = digests.setdefault(agency, AgencyDigest(agency))
        (digest.overdue if item.deadline < now else digest.due_tomorrow).append(item)
    return list(digests.values())


async def count_digest(sessions, timezone: str, now: dt.datetime,  # noqa: ANN001 - an async_sessionmaker
                       agency_ids: Collection[str] | None = None) -> int:
    """How many reports :func:`build_digests` would list with the same arguments (one COUNT query)."""
    conditions = DigestWindow.at(timezone, now).conditions(agency_ids)
    async with sessions() as session:
        return int((await session.execute(
            select(func.count()).select_from(Report).where(*conditions))).scalar_one())


def digest_names(pack, status_label) -> dict[str, dict[str, str]]:  # noqa: ANN001 - ContentPack, callable
    """The names a digest shows instead of ids, from the pack: ``agencies``, ``categories``, ``communes``,
    ``statuses`` (open statuses through ``status_label``). Used by the daily e-mail and the CLI."""
    from features.feedback.models import OPEN_STATUSES

    return {"agencies": {a.id: a.name for a in pack.agencies.agencies},
            "categories": {c.id: c.title for c in pack.agencies.categories},
            "communes": {c.id: c.name for c in pack.agencies.communes},
            "statuses": {s: status_label(s) for s in OPEN_STATUSES}}


def render_text(digest: AgencyDigest, agency_name: str, dashboard_url: str = "", *,
                categories: Mapping[str, str] | None = None, communes: Mapping[str, str] | None = None,
                statuses: Mapping[str, str] | None = None) -> str:
    """The e-mail's plain text (Vietnamese; names from the mappings id → name, the id when missing)."""
    categories, communes, statuses = categories or {}, communes or {}, statuses or {}
    lines = [f"Nhắc hạn xử lý phản ánh — {agency_name}", ""]
    for title, items in (("Quá hạn", digest.overdue), ("Đến hạn ngày mai", digest.due_tomorrow)):
        lines.append(f"{title}: {len(items)}")
        for i in items:
            late = f", quá hạn {i.days_overdue} ngày" if i.days_overdue else ""
            where = communes.get(i.commune_id or "", i.commune_id or "") or "xã/phường không rõ"
            lines.append(f"  {i.display_code}  hạn {i.deadline_text}{late}  "
                         f"({categories.get(i.category_id, i.category_id)}, {where}, {statuses.get(i.status, i.status)})")
        lines.append("")
    if dashboard_url:
        lines.append(f"Xem và xử lý: {dashboard_url.rstrip('/')}/dashboard/due")
    return "\n".join(lines)


async def send_digests(digests: Sequence[AgencyDigest], recipients: Mapping[str, list[str]], smtp: SmtpConfig,
                       agency_names: Mapping[str, str], dashboard_url: str = "", *,
                       categories: Mapping[str, str] | None = None, communes: Mapping[str, str] | None = None,
                       statuses: Mapping[str, str] | None = None) -> int:
    """One e-mail per agency that has recipients and reports to list; returns how many were sent. A failed
    send is logged (agency id and error type only) and the others go on."""
    import aiosmtplib

    sent = 0
    for digest in digests:
        to = recipients.get(digest.agency_id)
        if not to or digest.empty:
            continue
        message = EmailMessage()
        message["From"] = smtp.sender
        message["To"] = ", ".join(to)
        message["Subject"] = (f"[CCHC] {len(digest.overdue)} phản ánh quá hạn, "
                              f"{len(digest.due_tomorrow)} đến hạn ngày mai")
        message.set_content(render_text(digest, agency_names.get(digest.agency_id, digest.agency_id), dashboard_url,
                                        categories=categories, communes=communes, statuses=statuses))
        try:
            await aiosmtplib.send(message, hostname=smtp.host, port=smtp.port, username=smtp.username or None,
                                  password=smtp.password or None, start_tls=smtp.starttls, timeout=30)
            sent += 1
        except Exception as exc:  # noqa: BLE001 - one agency's failure must not stop the others
            log.warning("digest: e-mail for agency %s failed: %s", digest.agency_id, type(exc).__name__)
    return sent


def next_digest_time(timezone: str, hour: int):  # noqa: ANN201
    """A core.jobs NextDue: the next ``hour``:00 in the pack's time zone after now."""
    tz = ZoneInfo(timezone)

    def due(now: dt.datetime) -> dt.datetime:
        local = now.astimezone(tz)
        at = local.replace(hour=hour, minute=0, second=0, microsecond=0)
        if at <= local:
            at += dt.timedelta(days=1)
        return at.astimezone(dt.UTC)

    return due
