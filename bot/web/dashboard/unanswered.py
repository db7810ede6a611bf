""""Câu hỏi chưa trả lời": what citizens asked that the FAQ could not answer (content editors' to-do list)."""
from __future__ import annotations

import datetime as dt

from aiohttp import web

from bot.web.dashboard.auth import require_role
from bot.web.server import SERVICES

PERIODS = {"7": 7, "30": 30, "90": 90, "all": None}


@require_role("officer")
async def unanswered_page(request: web.Request) -> web.StreamResponse:
    from bot.web.dashboard.render import render

    services = request.config_dict[SERVICES]
    period = request.query.get("days", "30")
    if period not in PERIODS:
        period = "30"
    days = PERIODS[period]
    since = services.clock() - dt.timedelta(days=days) if days else None
    rows = await services.store.unanswered(since=since, limit=200)
    return render(request, "unanswered.html", {"rows": rows, "period": period, "periods": PERIODS},
                  active="unanswered")
