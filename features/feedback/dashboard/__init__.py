"""The feedback feature's dashboard pages: the report queue, a report's page with its actions, the CSV
export, the statistics and the reports overdue or due tomorrow (issue 15)."""
from __future__ import annotations

from pathlib import Path

from aiohttp import web

from dashboard.registry import NavItem, Page


def _routes(dash: web.Application) -> None:
    from features.feedback.dashboard import due, files, queue, report, stats

    dash.router.add_get("/", queue.queue_page, name="queue")
    dash.router.add_get("/export.csv", queue.export_csv, name="export")
    dash.router.add_get("/reports/{report_id}", report.detail_page, name="report")
    dash.router.add_post("/reports/{report_id}/{action}", report.action_submit, name="report-action")
    dash.router.add_get("/reports/{report_id}/files/{attachment_id}", files.download, name="report-file")
    dash.router.add_get("/reports/{report_id}/files/{attachment_id}/view", files.view, name="report-file-view")
    dash.router.add_get("/stats", stats.stats_page, name="stats")
    dash.router.add_get("/due", due.due_page, name="due")


async def _due_count(request: web.Request) -> int | None:
    from features.feedback.dashboard.due import due_count

    return await due_count(request)


PAGE = Page(_routes, nav=(NavItem("queue", "Phản ánh", "/dashboard/", order=10),
                          NavItem("due", "Đến hạn", "/dashboard/due", order=15, count=_due_count),
                          NavItem("stats", "Thống kê", "/dashboard/stats", order=20)),
            templates=Path(__file__).with_name("templates"))
