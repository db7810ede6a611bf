"""The "Sắp đến hạn và quá hạn" page (issue 15): the daily e-mail digest's lists, live, in the dashboard.

The lists come from `FeedbackService.deadline_digests` (the e-mail's own query, `digest.build_digests`),
narrowed to the official's agency unless their queue is every report (admins, the receiving unit's
supervisors), who get one group per agency. The nav link's number is `deadline_count`: the same rows counted.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from aiohttp import web

from core.web import SERVICES
from dashboard.auth import require_role
from features.feedback.dashboard.common import (
    actor,
    agency_full_names,
    agency_names,
    feedback_service,
    status_labels,
)


@require_role("officer")
async def due_page(request: web.Request) -> web.StreamResponse:
    from dashboard.render import render

    service = feedback_service(request)
    me = actor(request)
    digests = await service.deadline_digests(me)
    pack = request.config_dict[SERVICES].pack
    names = agency_full_names(request)
    local_now = service.now().astimezone(ZoneInfo(pack.config.timezone))
    groups = sorted(digests, key=lambda d: (d.agency_id != service.receiving_agency, names.get(d.agency_id, d.agency_id)))
    return render(request, "due.html", {
        "groups": groups,
        "all_agencies": service.digest_scope(me) is None,
        "agencies": names,
        "short_names": agency_names(request),  # the page title, as the queue's
        "categories": {c.id: c.title for c in pack.agencies.categories},
        "communes": {c.id: c.name for c in pack.agencies.communes},
        "statuses": status_labels(request),
        "now": local_now,
        "tomorrow": local_now.date() + dt.timedelta(days=1),
        "overdue_total": sum(len(d.overdue) for d in digests),
        "tomorrow_total": sum(len(d.due_tomorrow) for d in digests),
    }, active="due")


async def due_count(request: web.Request) -> int | None:
    """The nav link's number: the reports the page lists for the logged-in official (one COUNT query)."""
    service = request.config_dict[SERVICES].extra.get("feedback")
    if service is None:
        return None
    return await service.deadline_count(actor(request))
