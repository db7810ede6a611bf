"""The report detail page and its action forms (POST → service call → flash → 303 back to the detail).

Every read and change goes through the feedback service with the official's `Actor`, which checks
permissions and writes the audit trail; this module only parses forms and maps errors to HTTP.
"""
from __future__ import annotations

from aiohttp import web

from dashboard.auth import flash, require_role
from features.feedback.dashboard.common import (
    actor,
    agency_names,
    domain_errors,
    feedback_service,
    int_param,
    status_labels,
)
from dashboard.render import render
from features.feedback.labels import ACTION_LABELS, EVENT_LABELS, channel_label, describe_audit
from features.feedback.routing import rule_label

MAX_TEXT = 4000

# action → (success message, main form field (the service decides if it may be empty), optional field)
ACTIONS: dict[str, tuple[str, str, str]] = {
    "accept": ("Đã nhận xử lý phản ánh.", "", "note"),
    "start": ("Đã chuyển sang đang xử lý.", "", "note"),
    "reassign": ("Đã chuyển phản ánh sang đơn vị khác.", "reason", ""),
    "reply": ("Đã gửi trả lời cho người dân.", "text", ""),
    "note": ("Đã lưu ghi chú nội bộ.", "text", ""),
    "resolve": ("Đã đánh dấu đã giải quyết.", "", "text"),
    "close": ("Đã đóng phản ánh.", "", "text"),
    "reject": ("Đã từ chối phản ánh.", "reason", ""),
    "duplicate": ("Đã đánh dấu trùng lặp.", "original", "note"),
}

MESSAGE_KINDS = {"official_answer": "Trả lời của cán bộ", "status_change": "Thông báo thay đổi trạng thái"}


def _report_id(request: web.Request) -> int:
    report_id = int_param(request.match_info["report_id"])
    if report_id is None:
        raise web.HTTPNotFound()
    return report_id


@require_role("officer")
async def detail_page(request: web.Request) -> web.StreamResponse:
    service = feedback_service(request)
    try:
        report = await service.get_report(actor(request), _report_id(request))
    except Exception as exc:
        mapped = domain_errors(exc)
        if mapped is None:
            raise
        raise mapped from None
    templates = service.reply_templates(report.category_id)
    raw_tpl = request.query.get("tpl", "")
    chosen = int(raw_tpl) if raw_tpl.isascii() and raw_tpl.isdigit() and len(raw_tpl) < 4 else None
    prefill = templates[chosen][1] if chosen is not None and 0 <= chosen < len(templates) else ""
    statuses, agencies = status_labels(request), agency_names(request)
    return render(request, "report.html", {
        "r": report,
        "statuses": statuses,
        "agencies": agencies,
        "channel_label": channel_label,
        "audit_text": lambda details: describe_audit(details, statuses, agencies),
        "all_agencies": service.agencies(),
        "reply_templates": templates,
        "prefill": prefill,
        "chosen": chosen,
        "event_labels": EVENT_LABELS,
        "action_labels": ACTION_LABELS,
        "message_kinds": MESSAGE_KINDS,
        "routing_label": rule_label(report.routing_rule),
    }, active="queue")


@require_role("officer")
async def action_submit(request: web.Request) -> web.StreamResponse:
    from features.feedback.service import InvalidInput, InvalidTransition

    action = request.match_info["action"]
    if action not in ACTIONS:
        raise web.HTTPNotFound()
    report_id = _report_id(request)
    done, required, optional = ACTIONS[action]
    form = await request.post()
    fields = {name: str(form.get(name, "")).strip()[:MAX_TEXT] for name in ("note", "reason", "text", "original",
                                                                            "agency", "template")}
    if action == "reply" and not fields["text"]:
        templates = feedback_service(request).reply_templates(str(form.get("category", "")))
        raw = fields["template"]
        index = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 4 else None
        if index is not None and 0 <= index < len(templates):
            fields["text"] = templates[index][1]
    target = f"/dashboard/reports/{report_id}"
    service = feedback_service(request)
    me = actor(request)
    try:
        await _call(service, action, me, report_id, fields, optional)
    except (InvalidInput, InvalidTransition) as exc:
        flash(request, _explain(action, required, fields, exc), "error")
        raise web.HTTPSeeOther(target) from None
    except Exception as exc:
        mapped = domain_errors(exc)
        if mapped is None:
            raise
        raise mapped from None
    flash(request, done)
    raise web.HTTPSeeOther(target)


async def _call(service, action: str, me, report_id: int, f: dict[str, str], optional: str):
    if action == "reassign":
        return await service.reassign(me, report_id, f["agency"], f["reason"])
    if action == "reject":
        return await service.reject(me, report_id, f["reason"])
    if action == "duplicate":
        return await service.mark_duplicate(me, report_id, f["original"], f["note"])  # always a tracking code
    if action in ("reply", "note"):
        return await getattr(service, action)(me, report_id, f["text"])
    return await getattr(service, action)(me, report_id, f[optional])


def _explain(action: str, required: str, fields: dict[str, str], exc: Exception) -> str:
    from features.feedback.service import InvalidTransition

    if isinstance(exc, InvalidTransition):
        return f"Không thể “{ACTION_LABELS[action]}” ở trạng thái hiện tại của phản ánh."
    if required and not fields.get(required):
        names = {"reason": "lý do", "text": "nội dung", "original": "mã phản ánh gốc"}
        return f"Vui lòng nhập {names.get(required, required)}."
    return f"Không thực hiện được “{ACTION_LABELS[action]}”: dữ liệu chưa hợp lệ, vui lòng kiểm tra lại."
