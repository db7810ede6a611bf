"""Helpers shared by the dashboard's page modules: the feedback service, labels, error mapping."""
from __future__ import annotations

from aiohttp import web

from core.web import SERVICES

STATUS_LABELS = {  # fallback only; the pack's `fb.status.*` labels win (see status_labels)
    "new": "Mới tiếp nhận",
    "accepted": "Đã nhận xử lý",
    "in_progress": "Đang xử lý",
    "resolved": "Đã giải quyết",
    "closed": "Đã đóng",
    "rejected": "Từ chối",
    "duplicate": "Trùng lặp",
}
OPEN = ("new", "accepted", "in_progress")
NOT_VISIBLE = "Không tìm thấy phản ánh này trong phạm vi của đơn vị bạn."


def actor(request: web.Request):
    """The feedback domain's `Actor` for the logged-in official (every service call passes it)."""
    from dashboard import current_official
    from features.feedback.permissions import Actor

    me = current_official(request)
    if me is None:
        raise web.HTTPForbidden()
    return Actor(official_id=me.id, name=me.name, agency_id=me.agency_id, role=me.role)  # type: ignore[arg-type]


def feedback_service(request: web.Request):
    """The feedback domain's service (`services.extra["feedback"]`, set by the feedback plugin)."""
    service = request.config_dict[SERVICES].extra.get("feedback")
    if service is None:
        raise web.HTTPServiceUnavailable(text="Chức năng phản ánh chưa được bật.")
    return service


def status_labels(request: web.Request) -> dict[str, str]:
    """Status → Vietnamese label from the pack (`fb.status.*`, what citizens also read), in workflow order."""
    service = request.config_dict[SERVICES].extra.get("feedback")
    if service is None:
        return dict(STATUS_LABELS)
    return {status: service.status_label(status) for status in STATUS_LABELS}


def agency_names(request: web.Request) -> dict[str, str]:
    pack = request.config_dict[SERVICES].pack
    return {a.id: a.short_name or a.name for a in pack.agencies.agencies}


def agency_full_names(request: web.Request) -> dict[str, str]:
    pack = request.config_dict[SERVICES].pack
    return {a.id: a.name for a in pack.agencies.agencies}


def domain_errors(exc: Exception) -> web.HTTPException | None:
    """Map the feedback service's permission errors to HTTP (others are shown as a flash message)."""
    from features.feedback.service import Forbidden, NotFound, NotPermitted

    if isinstance(exc, NotPermitted):  # the official sees this report, the action is above their role
        return web.HTTPForbidden(text="Tài khoản của bạn không có quyền thực hiện thao tác này với phản ánh.")
    if isinstance(exc, (Forbidden, NotFound)):
        # One answer for both: a 403 for an existing report would tell an outsider which ids exist.
        return web.HTTPNotFound(text=NOT_VISIBLE)
    return None


def int_param(value: str | None) -> int | None:
    """An id or index from the URL: a positive integer that fits a BIGINT, else None (see core.web)."""
    from core.web import positive_int

    return positive_int(value)
