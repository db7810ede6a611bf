""""Câu hỏi chưa trả lời": what citizens asked that the FAQ could not answer (content editors' to-do list).

Citizens paste phone and ID numbers into questions; nobody below admin owns these texts, so the numbers are
masked (`core.masking.mask_numbers`) for every other role."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from aiohttp import web

from core.masking import mask_numbers
from dashboard.auth import current_official, require_role
from dashboard.registry import NavItem, Page
from core.web import SERVICES

PERIODS = {"7": 7, "30": 30, "90": 90, "all": None}


@require_role("officer")
async def unanswered_page(request: web.Request) -> web.StreamResponse:
    from dashboard.render import render

    services = request.config_dict[SERVICES]
    period = request.query.get("days", "30")
    if period not in PERIODS:
        period = "30"
    days = PERIODS[period]
    since = services.clock() - dt.timedelta(days=days) if days else None
    rows = await services.store.unanswered(since=since, limit=200)
    me = current_official(request)
    if me is None or me.role != "admin":
        rows = [(mask_numbers(question), count) for question, count in rows]
    return render(request, "unanswered.html", {"rows": rows, "period": period, "periods": PERIODS},
                  active="unanswered")


def _routes(dash: web.Application) -> None:
    dash.router.add_get("/unanswered", unanswered_page, name="unanswered")


PAGE = Page(_routes, nav=(NavItem("unanswered", "Câu hỏi chưa trả lời", "/dashboard/unanswered", order=30),),
            templates=Path(__file__).with_name("templates"))
