"""The queue page (filters, deadline order, keyset pagination) and its CSV export.

Filters live in the query string so a filtered view is bookmarkable and its export link is the same URL
with `/export.csv`. The service forces officers' scope to their own agency; the page never widens it.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from urllib.parse import urlencode

from aiohttp import web

from dashboard.auth import require_role
from features.feedback.dashboard.common import (
    actor,
    OPEN,
    STATUS_LABELS,
    agency_names,
    feedback_service,
    status_labels,
)
from dashboard.render import VN, render
from core.web import SERVICES

FILTER_KEYS = ("status", "category", "commune", "agency", "overdue", "code", "from", "to")


def _date(value: str, *, end: bool = False) -> dt.datetime | None:
    try:
        day = dt.date.fromisoformat(value)
        if end:
            day += dt.timedelta(days=1)
    except (ValueError, OverflowError):  # "2024-13-01", "9999-12-31" + one day
        return None
    return dt.datetime.combine(day, dt.time(), VN).astimezone(dt.UTC)


def parse_filters(query) -> tuple[object, dict[str, str]]:
    """(QueueFilter, the cleaned values of every filter key, to echo back into the form and links)."""
    from features.feedback.service import QueueFilter

    raw = {key: query.get(key, "").strip()[:64] for key in FILTER_KEYS}
    status = raw["status"]
    statuses: tuple[str, ...] = ()
    if status == "open":
        statuses = OPEN
    elif status in STATUS_LABELS:
        statuses = (status,)
    else:
        raw["status"] = ""
    overdue = {"1": True, "0": False}.get(raw["overdue"])
    if overdue is None:
        raw["overdue"] = ""
    commune = raw["commune"]
    filters = QueueFilter(
        statuses=statuses,
        category_id=raw["category"] or None,
        commune_id="" if commune == "-" else (commune or None),  # "-": commune "Không rõ"
        agency_id=raw["agency"] or None,
        overdue=overdue,
        code=raw["code"] or None,
        created_from=_date(raw["from"]) if raw["from"] else None,
        created_to=_date(raw["to"], end=True) if raw["to"] else None,
    )
    return filters, raw


@require_role("officer")
async def queue_page(request: web.Request) -> web.StreamResponse:
    from features.feedback.permissions import sees_all
    from features.feedback.service import InvalidInput

    service = feedback_service(request)
    me = actor(request)
    filters, raw = parse_filters(request.query)
    echo = {key: value for key, value in raw.items() if value}
    cursor = request.query.get("cursor") or None
    try:
        page = await service.list_queue(me, filters, limit=_page_size(request), cursor=cursor,
                                        with_total=True)
    except InvalidInput:  # a garbled or forged cursor= (never reaches the database)
        raise web.HTTPBadRequest(text="Liên kết trang không hợp lệ. Vui lòng mở lại danh sách phản ánh.") from None
    pack = request.config_dict[SERVICES].pack
    query = urlencode(echo)
    return render(request, "queue.html", {
        "page": page,
        "filters": raw,
        "statuses": status_labels(request),
        "categories": [(c.id, c.title) for c in pack.agencies.categories],
        "communes": sorted(((c.id, c.name) for c in pack.agencies.communes), key=lambda x: x[1]),
        "agencies": agency_names(request),
        "sees_all": sees_all(me, pack.agencies.default_agency),
        "query": query,
        "next_url": f"?{urlencode({**echo, 'cursor': page.next_cursor})}" if page.next_cursor else "",
        "first_url": f"?{query}" if cursor else "",
        "export_url": f"/dashboard/export.csv?{query}",
        "now": request.config_dict[SERVICES].clock(),
    }, active="queue")


def _page_size(request: web.Request) -> int:
    from dashboard.state import dashboard

    return dashboard(request).config.page_size


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """A CSV cell that spreadsheets will not execute: a leading formula character is neutralised."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def to_csv(columns: list[str], titles: dict[str, str], rows: list[dict[str, str]]) -> bytes:
    """UTF-8 with BOM (Excel detects the encoding), `;` separator (Vietnamese Excel's list separator),
    the csv module's quoting for `;`, quotes and line breaks inside citizen text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writerow([titles.get(column, column) for column in columns])
    for row in rows:
        writer.writerow([_cell(row.get(column, "")) for column in columns])
    return b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")


@require_role("officer")
async def export_csv(request: web.Request) -> web.StreamResponse:
    from features.feedback.service import EXPORT_COLUMNS

    service = feedback_service(request)
    filters, _ = parse_filters(request.query)
    rows = await service.export_rows(actor(request), filters)
    body = to_csv(list(EXPORT_COLUMNS), service.column_titles(), rows)
    stamp = request.config_dict[SERVICES].clock().astimezone(VN).strftime("%Y%m%d-%H%M")
    return web.Response(body=body, headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="phan-anh-{stamp}.csv"',
    })
