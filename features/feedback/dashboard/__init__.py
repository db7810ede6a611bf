"""The feedback feature's dashboard pages: the report queue, a report's page with its actions, the CSV
export and the statistics."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

from dashboard.registry import NavItem, Page


def _routes(dash: web.Application) -> None:
    from features.feedback.dashboard import files, queue, report, stats

    dash.router.add_get("/", queue.queue_page, name="queue")
    dash.router.add_get("/export.csv", queue.export_csv, name="export")
    dash.router.add_get("/reports/{report_id}", report.detail_page, name="report")
    dash.router.add_post("/reports/{report_id}/{action}", report.action_submit, name="report-action")
    dash.router.add_get("/reports/{report_id}/files/{attachment_id}", files.download, name="report-file")
    dash.router.add_get("/reports/{report_id}/files/{attachment_id}/view", files.view, name="report-file-view")
    dash.router.add_get("/stats", stats.stats_page, name="stats")


PAGE = Page(_routes, nav=(NavItem("queue", "Phản ánh", "/dashboard/", order=10),
                          NavItem("stats", "Thống kê", "/dashboard/stats", order=20)),
            templates=Path(__file__).with_name("templates"))
