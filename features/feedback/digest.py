"""Deadline reminders (issue 15): each agency's daily digest of open reports due tomorrow and overdue.

* :func:`build_digests` — per agency, the open reports whose deadline falls on tomorrow (the pack's time
  zone) and those already past it, oldest deadline first. Only tracking codes, categories, states and
  deadlines: no citizen's text, name or phone (an e-mail leaves the bot's servers).
* :func:`send_digests` — one e-mail per agency with reports in its digest, through ``aiosmtplib`` when SMTP
  is configured (``CCHC_SMTP_HOST``...), to the addresses of ``CCHC_DIGEST_EMAILS``
  (``agency-id=a@x.gov.vn,b@x.gov.vn;other-id=c@y.gov.vn``).
* The daily run is a single job (core.jobs, ``feedback-deadline-digest``): one process sends it, once a day
  at ``CCHC_DIGEST_HOUR`` (pack time zone, default 7).
* ``cchc-bot feedback digest [--send]`` prints it (and sends it).
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from zoneinfo import ZoneInfo

from sqlalchemy import select

from features.feedback.models import OPEN_STATUSES, Report

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DigestItem:
    code: str
    category_id: str
    status: str
    deadline: dt.datetime  # local time


@dataclass
class AgencyDigest:
    agency_id: str
    due_tomorrow: list[DigestItem] = field(default_factory=list)
    overdue: list[DigestItem] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.due_tomorrow or self.overdue)


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


async def build_digests(sessions, timezone: str, now: dt.datetime) -> list[AgencyDigest]:  # noqa: ANN001
    tz = ZoneInfo(timezone)
    local_now = now.astimezone(tz)
    start = dt.datetime.combine(local_now.date() + dt.timedelta(days=1), dt.time(), tz)
    end = start + dt.timedelta(days=1)
    async with sessions() as session:
        rows = (await session.execute(
            select(Report.agency_id, Report.code, Report.category_id, Report.status, Report.deadline_at)
            .where(Report.status.in_(OPEN_STATUSES), Report.deadline_at < end)
            .order_by(Report.agency_id, Report.deadline_at, Report.id))).all()
    digests: dict[str, AgencyDigest] = {}
    for agency, code, category, status, deadline in rows:
        deadline = deadline if deadline.tzinfo else deadline.replace(tzinfo=dt.UTC)
        item = DigestItem(code, category, status, deadline.astimezone(tz))
        digest = digests.setdefault(agency, AgencyDigest(agency))
        if deadline < now:
            digest.overdue.append(item)
        elif deadline >= start:
            digest.due_tomorrow.append(item)
    return [d for d in digests.values() if not d.empty]


def _code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}" if len(code) == 8 else code


def render_text(digest: AgencyDigest, agency_name: str, dashboard_url: str = "") -> str:
    lines = [f"Nhắc hạn xử lý phản ánh — {agency_name}", ""]
    for title, items in (("Quá hạn", digest.overdue), ("Đến hạn ngày mai", digest.due_tomorrow)):
        lines.append(f"{title}: {len(items)}")
        lines += [f"  {_code(i.code)}  hạn {i.deadline:%d/%m/%Y %H:%M}  ({i.category_id}, {i.status})" for i in items]
        lines.append("")
    if dashboard_url:
        lines.append(f"Xem và xử lý: {dashboard_url.rstrip('/')}/dashboard/reports")
    return "\n".join(lines)


async def send_digests(digests: Sequence[AgencyDigest], recipients: Mapping[str, list[str]], smtp: SmtpConfig,
                       agency_names: Mapping[str, str], dashboard_url: str = "") -> int:
    """One e-mail per agency that has recipients; returns how many were sent."""
    import aiosmtplib

    sent = 0
    for digest in digests:
        to = recipients.get(digest.agency_id)
        if not to:
            continue
        message = EmailMessage()
        message["From"] = smtp.sender
        message["To"] = ", ".join(to)
        message["Subject"] = (f"[CCHC] {len(digest.overdue)} phản ánh quá hạn, "
                              f"{len(digest.due_tomorrow)} đến hạn ngày mai")
        message.set_content(render_text(digest, agency_names.get(digest.agency_id, digest.agency_id), dashboard_url))
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
