"""Statistics for the six-month and yearly reports: by status, agency, category; on-time rate; satisfaction."""
from __future__ import annotations

from aiohttp import web

from dashboard.auth import require_role
from features.feedback.dashboard.charts import bar_chart
from features.feedback.dashboard.common import actor, agency_names, feedback_service, status_labels
from features.feedback.dashboard.queue import _date
from core.web import SERVICES


@require_role("officer")
async def stats_page(request: web.Request) -> web.StreamResponse:
    from dashboard.render import render

    service = feedback_service(request)
    date_from = request.query.get("from", "").strip()[:10]
    date_to = request.query.get("to", "").strip()[:10]
    stats = await service.stats(actor(request), created_from=_date(date_from) if date_from else None,
                                created_to=_date(date_to, end=True) if date_to else None)
    names = agency_names(request)
    categories = {c.id: c.title for c in request.config_dict[SERVICES].pack.agencies.categories}

    def ranked(counts: dict[str, int], labels: dict[str, str]) -> list[tuple[str, float]]:
        return [(labels.get(key, key or "Không rõ"), float(n))
                for key, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]

    by_status = [(label, float(stats.by_status.get(s, 0))) for s, label in status_labels(request).items()]
    rate = stats.on_time_rate
    charts = {
        "status": bar_chart(by_status, title="Phản ánh theo trạng thái"),
        "agency": bar_chart(ranked(stats.by_agency, names), title="Phản ánh theo đơn vị"),
        "category": bar_chart(ranked(stats.by_category, categories), title="Phản ánh theo lĩnh vực"),
        "on_time": bar_chart([("Đúng hạn", 100.0 * rate), ("Trễ hạn", 100.0 * (1 - rate))] if rate is not None else [],
                             title="Tỉ lệ trả lời đúng hạn", unit=" %", max_value=100, decimals=1, css="chart-ontime"),
        "rating": bar_chart([("Điểm hài lòng trung bình", stats.average_rating)] if stats.average_rating else [],
                            title="Mức độ hài lòng trung bình (1–5)", max_value=5, decimals=2),
    }
    return render(request, "stats.html", {"s": stats, "charts": charts, "date_from": date_from,
                                          "date_to": date_to}, active="stats")
