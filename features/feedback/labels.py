"""What officials read instead of codes: Vietnamese names of channels, actions, events, audit details and
routing rules, one place for the dashboard and the `cchc-bot feedback` commands (issue 9: "Officials see
Vietnamese, local time, names not codes")."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from features.feedback.routing import rule_label

CHANNEL_LABELS = {
    "telegram": "Telegram", "zalo": "Zalo", "messenger": "Messenger", "web": "trang web (khung trò chuyện)",
    "console": "thử nghiệm trên máy chủ", "dashboard": "trang quản trị",
}
ACTION_LABELS = {
    "accept": "Nhận xử lý", "start": "Bắt đầu xử lý", "reassign": "Chuyển đơn vị", "reply": "Trả lời người dân",
    "note": "Ghi chú nội bộ", "resolve": "Đã giải quyết", "close": "Đóng", "reject": "Từ chối",
    "duplicate": "Đánh dấu trùng", "view": "Xem", "submit": "Gửi phản ánh", "denied": "Bị từ chối (không có quyền)",
    "export": "Xuất CSV", "download": "Tải tệp đính kèm", "rate": "Đánh giá", "rated": "Đánh giá",
    "reopen": "Mở lại", "reopened": "Mở lại", "comment": "Ý kiến người dân", "view_file": "Xem tệp đính kèm",
}
EVENT_LABELS = {
    "submitted": "Người dân gửi phản ánh", "accepted": "Nhận xử lý", "in_progress": "Đang xử lý",
    "reassigned": "Chuyển đơn vị", "agency_notified": "Thông báo đơn vị mới", "reply": "Trả lời người dân",
    "note": "Ghi chú nội bộ", "resolved": "Đã giải quyết", "closed": "Đã đóng", "rejected": "Từ chối",
    "duplicate": "Đánh dấu trùng", "rated": "Người dân đánh giá", "reopened": "Người dân mở lại",
    "citizen_comment": "Ý kiến người dân", "routed": "Tự động chuyển đơn vị",
}
FILTER_LABELS = {
    "status": "trạng thái", "statuses": "trạng thái", "agency": "đơn vị", "agency_id": "đơn vị",
    "category": "lĩnh vực", "category_id": "lĩnh vực", "commune": "xã/phường", "commune_id": "xã/phường",
    "overdue": "quá hạn", "q": "từ khóa", "query": "từ khóa", "since": "từ ngày", "until": "đến ngày",
    "code": "mã", "cursor": "trang",
}


def channel_label(channel: str | None) -> str:
    return CHANNEL_LABELS.get(channel or "", channel or "không rõ")


def describe_audit(details: Mapping[str, Any], statuses: Mapping[str, str], agencies: Mapping[str, str],
                   format_value: Callable[[Any], str] = str) -> str:
    """One Vietnamese line for an audit entry's details ("Trạng thái: Mới tiếp nhận → Đã nhận xử lý; ...")."""
    d = dict(details or {})
    parts: list[str] = []

    def agency(a: Any) -> str:
        return agencies.get(str(a), str(a))

    if "from_status" in d or "to_status" in d:
        before, after = d.pop("from_status", None), d.pop("to_status", None)
        parts.append(f"Trạng thái: {statuses.get(str(before), before or '—')} → {statuses.get(str(after), after or '—')}")
    if "from" in d and "to" in d:
        parts.append(f"Đơn vị: {agency(d.pop('from'))} → {agency(d.pop('to'))}")
    if "agency" in d:
        parts.append(f"Chuyển cho: {agency(d.pop('agency'))}")
    if "rule" in d:
        parts.append(f"Căn cứ: {rule_label(str(d.pop('rule')))}")
    if "keyword" in d:
        keyword = d.pop("keyword")
        if keyword:
            parts.append(f"Từ khóa: {keyword}")
    if "channel" in d:
        parts.append(f"Kênh: {channel_label(str(d.pop('channel')))}")
    if "score" in d:
        parts.append(f"Điểm: {d.pop('score')}/5")
    if "action" in d:
        action = str(d.pop("action"))
        parts.append(f"Thao tác bị từ chối: {ACTION_LABELS.get(action, action)}")
    if "attachment" in d:
        parts.append(f"Tệp đính kèm số {d.pop('attachment')}")
    if "rows" in d:
        parts.append(f"Số dòng: {d.pop('rows')}")
    if "filters" in d:
        filters = d.pop("filters") or {}
        shown = ", ".join(f"{FILTER_LABELS.get(k, k)} = {format_value(v)}" for k, v in dict(filters).items())
        parts.append(f"Bộ lọc: {shown or 'không có'}")
    if "original" in d:
        parts.append(f"Trùng với phản ánh: {d.pop('original')}")
    if "reason" in d:
        parts.append(f"Lý do: {d.pop('reason')}")
    if "text" in d:
        parts.append(f"Nội dung: {d.pop('text')}")
    parts += [f"{k}: {format_value(v)}" for k, v in d.items()]  # a key added later still shows
    return "; ".join(parts)
