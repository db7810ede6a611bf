"""The dashboard's own pages, registered through the same registry other features use."""
from __future__ import annotations

from aiohttp import web

from bot.web.dashboard.registry import NavItem, add_page


def _routes(dash: web.Application) -> None:
    from bot.web.dashboard import queue, report, stats, unanswered

    dash.router.add_get("/", queue.queue_page, name="queue")
    dash.router.add_get("/export.csv", queue.export_csv, name="export")
    dash.router.add_get("/reports/{report_id}", report.detail_page, name="report")
    dash.router.add_post("/reports/{report_id}/{action}", report.action_submit, name="report-action")
    dash.router.add_get("/stats", stats.stats_page, name="stats")
    dash.router.add_get("/unanswered", unanswered.unanswered_page, name="unanswered")


def register_builtin() -> None:
    add_page(_routes, nav=NavItem("queue", "Phản ánh", "/dashboard/", order=10))
    add_page(nav=NavItem("stats", "Thống kê", "/dashboard/stats", order=20))
    add_page(nav=NavItem("unanswered", "Câu hỏi chưa trả lời", "/dashboard/unanswered", order=30))
