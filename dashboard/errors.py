"""Friendly Vietnamese error pages for 403/404/405 that keep the layout (and the security headers)."""
from __future__ import annotations

from aiohttp import web

TITLES = {400: "Yêu cầu không hợp lệ", 403: "Không có quyền truy cập", 404: "Không tìm thấy trang", 405: "Thao tác không hợp lệ"}


@web.middleware
async def error_pages(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status not in TITLES:
            raise
        from dashboard.render import render

        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else ""
        return render(request, "error.html", {"status": exc.status, "title": TITLES[exc.status],
                                              "message": message}, status=exc.status)
