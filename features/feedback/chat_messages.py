"""Chat messages the feedback feature composes outside a conversation turn: what a citizen receives when
their report changes (an official's answer, a status change, the rating request), and the button rows the
chat's look-up shares with it. The workflow owes these messages through the core outbox; the payloads
(`fb:rt:`, `fb:ro:`, `fb:v:`) are the ones `chat.register` routes.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from features.feedback import codes
from features.feedback.models import Report, ReportEvent
from core.types import Button, Reply

Label = Callable[[str], str]  # label key -> text the citizen reads


def rate_row(raw: str, label: Label) -> list[Button]:
    """The 1–5 rating buttons for a report (tracking code without its dash)."""
    return [Button(label(f"fb.rate.{n}"), payload=f"fb:rt:{raw}:{n}") for n in range(1, 6)]


def reopen_row(raw: str, label: Label) -> list[Button]:
    """"Chưa hài lòng": reopen a resolved report."""
    return [Button(label("fb.reopen"), payload=f"fb:ro:{raw}")]


def citizen_message(service: Any, report: Report, event: ReportEvent) -> list[Reply]:
    """The chat message a citizen gets for an event (template feedback/notify); ``service``: the feedback
    service's pack helpers (names, status labels, settings)."""
    pack = service.pack
    text = pack.texts.render(
        "feedback/notify", kind=event.kind, code=codes.display(report.code),
        status=service.status_label(report.status), agency=service.agency_name(report.agency_id), text=event.text,
        original=(event.data or {}).get("original", ""), due_date=report.due_date.strftime("%d/%m/%Y"),
        reopen_days=service.settings.reopen_days)
    labels = pack.texts.labels
    fallback = {"fb.reopen": "Chưa hài lòng", "fb.view": "Xem phản ánh",
                **{f"fb.rate.{n}": str(n) for n in range(1, 6)}}

    def label(key: str) -> str:
        return labels.get(key, fallback[key])

    rows: list[list[Button]] = []
    if event.kind in ("resolved", "closed") and report.rating is None:
        rows.append(rate_row(report.code, label))
        if service.settings.reopen_days > 0:
            rows.append(reopen_row(report.code, label))
    rows.append([Button(label("fb.view"), payload=f"fb:v:{report.code}")])
    return [Reply(text=text, buttons=rows)]
