"""The officials' "Bản tin" pages: list, create/edit, preview, "send to me", schedule/publish, confirm a
late issue, pause/resume/cancel, progress and the final report.

Every read and change goes through the bulletin service (``services.extra["bulletin"]``); this module only
parses forms, validates them (errors shown next to the fields, input kept) and maps results to pages.

Roles
    * officers (``officer``) may *view*: the list, an issue's preview, its progress and report — agencies
      answer citizens' questions about what was sent, but do not speak for the province;
    * supervisors and admins *author and send*: create, edit, send a test to themselves, schedule,
      publish now, confirm a late issue, pause, resume, cancel.

Audit
    The bulletin service keeps no audit trail, so every action is logged here (logger
    ``features.bulletin.dashboard``, message ``audit bulletin ...``) with the official's id and role,
    the bulletin id and the outcome — never a name, chat id or other personal data.

"Gửi thử cho tôi" (send to me)
    :meth:`BulletinService.send_test` needs a channel and the official's chat id, and dashboard accounts are
    not linked to a chat account. An operator declares the link in ``CCHC_BULLETIN_TEST_CHATS``::

        CCHC_BULLETIN_TEST_CHATS="nguyen.van.a=telegram:123456789; tran.thi.b=telegram:987654321"

    (dashboard user name = channel:chat id; the Telegram chat id of a private chat is the user's numeric id).
    Officials without an entry see what is needed instead of the button. Only the configured chat of the
    logged-in official can receive a test: the form takes no chat id, so it cannot message strangers.

Previews
    The Telegram form is what :func:`features.bulletin.render.chat_replies` sends (Telegram HTML per part:
    escaped text with ``<b>``/``<a>`` only, the image note, the buttons under the last part). The web form is
    the public archive's own page (:class:`features.bulletin.render.WebRenderer`) served at
    ``/dashboard/bulletins/{id}/web`` and framed by the detail page (that one response allows the archive
    template's inline stylesheet, still no script, sandboxed, frameable by the dashboard only).
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from markupsafe import Markup

from dashboard.auth import current_official, flash, require_role
from dashboard.registry import NavItem, Page, role_at_least
from dashboard.render import render
from dashboard.security import CSP
from core.feature import Host
from core.web import SERVICES, positive_int

log = logging.getLogger(__name__)

AUTHOR_ROLE = "supervisor"
TEST_CHATS_ENV = "CCHC_BULLETIN_TEST_CHATS"
TEST_CHATS_KEY = "bulletin_test_chats"
PAGE_SIZE = 50
ARCHIVE_BASE = "/bantin"

STATUS_LABELS = {
    "draft": "Bản nháp", "scheduled": "Đã lên lịch", "sending": "Đang gửi", "paused": "Tạm dừng",
    "sent": "Đã gửi xong", "cancelled": "Đã hủy",
}
HELD_LABEL = "Chờ xác nhận (trễ lịch)"
MAX = {"title": 300, "summary": 2000, "body": 20000, "links": 5000, "image_url": 1000}
URL_RE = re.compile(r"^https?://\S+$")
IMAGE_RE = re.compile(r"^https://\S+$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")

# The web preview is the public archive's page: its template carries an inline <style>; nothing else loads.
WEB_PREVIEW_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
                   "frame-ancestors 'self'; form-action 'none'; base-uri 'none'; sandbox")
DETAIL_CSP = CSP + "; frame-src 'self'"


# wiring ------------------------------------------------------------------------------------------------
def parse_test_chats(value: str) -> dict[str, tuple[str, str]]:
    """``"user=telegram:123; user2=telegram:456"`` → {user: (channel, chat id)}; malformed entries ignored."""
    out: dict[str, tuple[str, str]] = {}
    for entry in re.split(r"[;,\n]", value or ""):
        name, sep, target = entry.partition("=")
        channel, sep2, chat = target.strip().partition(":")
        if sep and sep2 and name.strip() and channel.strip() and chat.strip():
            out[name.strip().lower()] = (channel.strip(), chat.strip())
    return out


def install(host: Host) -> None:
    """The "Bản tin" pages of the dashboard, and the officials' test chats from the environment."""
    host.services.extra.setdefault(TEST_CHATS_KEY, parse_test_chats(host.env.get(TEST_CHATS_ENV, "")))
    host.dashboard_pages.append(PAGE)


def _routes(dash: web.Application) -> None:
    dash.router.add_get("/bulletins", list_page, name="bulletin-list")
    dash.router.add_get("/bulletins/new", new_page, name="bulletin-new")
    dash.router.add_post("/bulletins/new", create_submit)
    dash.router.add_get(r"/bulletins/{bulletin_id:\d+}", detail_page, name="bulletin")
    dash.router.add_get(r"/bulletins/{bulletin_id:\d+}/edit", edit_page, name="bulletin-edit")
    dash.router.add_post(r"/bulletins/{bulletin_id:\d+}/edit", edit_submit)
    dash.router.add_get(r"/bulletins/{bulletin_id:\d+}/web", web_preview, name="bulletin-web")
    dash.router.add_post(r"/bulletins/{bulletin_id:\d+}/{action}", action_submit, name="bulletin-action")


PAGE = Page(_routes, nav=(NavItem(key="bulletin", label="Bản tin", path="/dashboard/bulletins",
                                  min_role="officer", order=40),),
            templates=Path(__file__).with_name("templates"))


# helpers -----------------------------------------------------------------------------------------------
def _service(request: web.Request):
    service = request.config_dict[SERVICES].extra.get("bulletin")
    if service is None or service.content is None:
        raise web.HTTPServiceUnavailable(text="Chức năng bản tin chưa được bật (gói nội dung thiếu bulletin.yaml).")
    return service


def _me(request: web.Request):
    me = current_official(request)
    if me is None:  # pragma: no cover - require_role runs first
        raise web.HTTPForbidden()
    return me


def audit(request: web.Request, action: str, bulletin_id: int | None, ok: bool, **details: Any) -> None:
    """One log line per official action: who (id and role only), what, which issue, outcome."""
    me = _me(request)
    extra = "".join(f" {k}={v}" for k, v in details.items())
    log.info("audit bulletin action=%s bulletin=%s official=%s role=%s ok=%s%s",
             action, bulletin_id if bulletin_id is not None else "-", me.id, me.role, ok, extra)


def _bulletin_id(request: web.Request) -> int:
    bulletin_id = positive_int(request.match_info["bulletin_id"])
    if bulletin_id is None:  # "99999999999999999999" matches \d+ but fits no BIGINT
        raise web.HTTPNotFound()
    return bulletin_id


async def _get(service, bulletin_id: int):
    bulletin = await service.store.get(bulletin_id)
    if bulletin is None:
        raise web.HTTPNotFound(text="Không có bản tin này.")
    return bulletin


def zone_label(zone: str) -> str:
    """The pack's time zone as officials read it: "giờ Việt Nam (UTC+7)", not "Asia/Ho_Chi_Minh"."""
    if zone in ("Asia/Ho_Chi_Minh", "Asia/Saigon"):
        return "giờ Việt Nam (UTC+7)"
    offset = dt.datetime.now(ZoneInfo(zone)).strftime("%z")
    return f"{zone} (UTC{offset[:3]}:{offset[3:]})"


def _zone(service) -> ZoneInfo:
    return ZoneInfo(service.zone)


def _local(value: dt.datetime | None, zone: ZoneInfo, fmt: str = "%d/%m/%Y %H:%M") -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(zone).strftime(fmt)


def is_held(bulletin) -> bool:
    return bulletin.status == "scheduled" and bulletin.held_at is not None


def status_label(bulletin) -> str:
    return HELD_LABEL if is_held(bulletin) else STATUS_LABELS.get(bulletin.status, bulletin.status)


def can_author(request: web.Request) -> bool:
    me = current_official(request)
    return me is not None and role_at_least(me.role, AUTHOR_ROLE)


async def _progress_many(service, ids: list[int]) -> dict[int, dict[str, int]]:
    """Delivery counts per status for many bulletins in one query (for the list page)."""
    if not ids:
        return {}
    from sqlalchemy import func, select

    from features.bulletin.models import Delivery

    d = Delivery.__table__
    out: dict[int, dict[str, int]] = {}
    async with service.store.sessions() as session:
        rows = await session.execute(select(d.c.bulletin_id, d.c.status, func.count())
                                     .where(d.c.bulletin_id.in_(ids)).group_by(d.c.bulletin_id, d.c.status))
        for bulletin_id, status, count in rows:
            out.setdefault(int(bulletin_id), {})[str(status)] = int(count)
    return out


# form ----------------------------------------------------------------------------------------------------
@dataclass
class FormData:
    """What the form shows (raw strings, kept on errors) and the validated column values."""

    raw: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)


def links_text(links: list[dict[str, str]]) -> str:
    return "\n".join(f"{link.get('title', '')} | {link.get('url', '')}" for link in links or [])


def form_from_bulletin(bulletin) -> dict[str, Any]:
    return {
        "title": bulletin.title, "number": str(bulletin.number), "issue_date": bulletin.issue_date.isoformat(),
        "summary": bulletin.summary or "", "body": bulletin.body or "", "links": links_text(bulletin.links),
        "topics": list(bulletin.topics or []), "image_url": bulletin.image_url or "",
    }


async def parse_form(service, form, bulletin_id: int | None) -> FormData:
    """Validate like the content files are validated (bot/bulletin/content.py IssueFront + body rules)."""
    raw: dict[str, Any] = {key: str(form.get(key, "")).replace("\r\n", "\n").strip()
                           for key in ("title", "number", "issue_date", "summary", "body", "links", "image_url")}
    raw["topics"] = [str(t) for t in form.getall("topics", [])]
    errors: dict[str, str] = {}
    for key, limit in MAX.items():
        if len(raw[key]) > limit:
            errors[key] = f"Tối đa {limit} ký tự (hiện có {len(raw[key])})."
    title = raw["title"]
    if "title" not in errors and len(title) < 3:
        errors["title"] = "Nhập tiêu đề (ít nhất 3 ký tự)."
    number = None
    try:
        number = int(raw["number"])
        if number < 1:
            raise ValueError
    except ValueError:
        errors["number"] = "Số bản tin là số nguyên dương."
    if number is not None and "number" not in errors:
        from features.bulletin.models import DRAFT, PAUSED, SCHEDULED, SENDING, SENT

        other = await service.store.by_number(number, statuses=(DRAFT, SCHEDULED, SENDING, PAUSED, SENT))
        if other is not None and other.id != bulletin_id:
            errors["number"] = f"Số {number} đã dùng cho bản tin “{other.title}”."
    issue_date = None
    try:
        if not DATE_RE.match(raw["issue_date"]):
            raise ValueError
        issue_date = dt.date.fromisoformat(raw["issue_date"])
    except ValueError:
        errors["issue_date"] = "Chọn ngày phát hành (ngày/tháng/năm)."
    body = raw["body"]
    if "body" not in errors:
        if not body:
            errors["body"] = "Bản tin chưa có nội dung."
        else:
            bad = [n for n, line in enumerate(body.splitlines(), 1) if line.startswith("#") and not line.startswith("## ")]
            if bad:
                errors["body"] = f"Dòng {bad[0]}: chỉ dùng tiêu đề mục dạng “## Tiêu đề”."
    links: list[dict[str, str]] = []
    if "links" not in errors:
        for n, line in enumerate([ln for ln in raw["links"].splitlines() if ln.strip()], 1):
            label, sep, url = line.rpartition("|")
            label, url = label.strip(), url.strip()
            if not sep or not label:
                errors["links"] = f"Liên kết {n}: viết “Tiêu đề | https://địa-chỉ”."
                break
            if len(label) > 100:
                errors["links"] = f"Liên kết {n}: tiêu đề tối đa 100 ký tự."
                break
            if not URL_RE.match(url):
                errors["links"] = f"Liên kết {n}: địa chỉ phải bắt đầu bằng http:// hoặc https://."
                break
            links.append({"title": label, "url": url})
    image = raw["image_url"]
    if image and "image_url" not in errors and not IMAGE_RE.match(image):
        errors["image_url"] = "Địa chỉ ảnh phải bắt đầu bằng https:// (hoặc để trống)."
    known = [t.id for t in service.topics()]
    topics = [t for t in known if t in set(raw["topics"])]
    if not topics:
        errors["topics"] = "Chọn ít nhất một chủ đề."
    values = {"title": title, "number": number, "issue_date": issue_date, "summary": raw["summary"], "body": body,
              "links": links, "image_url": image, "topics": topics}
    return FormData(raw=raw, errors=errors, values=values)


def _form_page(request: web.Request, service, data: dict[str, Any], errors: dict[str, str], *,
               bulletin=None, status: int = 200) -> web.Response:
    return render(request, "bulletins/form.html", {
        "b": bulletin, "f": data, "errors": errors, "topics": service.topics(),
        "action": f"/dashboard/bulletins/{bulletin.id}/edit" if bulletin else "/dashboard/bulletins/new",
        "status_label": status_label(bulletin) if bulletin else "",
    }, status=status, active="bulletin")


# pages ---------------------------------------------------------------------------------------------------
@require_role("officer")
async def list_page(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    page = positive_int(request.query.get("page", "1"), maximum=100_000) or 1
    rows = await service.store.list(limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    counts = await _progress_many(service, [b.id for b in rows if b.audience])
    zone = _zone(service)
    items = []
    for b in rows:
        c = counts.get(b.id, {})
        done = sum(c.get(s, 0) for s in ("sent", "failed", "blocked", "skipped", "deferred"))
        items.append({
            "id": b.id, "number": b.number, "date": b.issue_date.strftime("%d/%m/%Y"), "title": b.title,
            "status": "held" if is_held(b) else b.status, "status_label": status_label(b),
            "scheduled": _local(b.scheduled_at, zone), "audience": b.audience, "done": done,
            "sent": c.get("sent", 0), "source": b.source,
        })
    held = await service.store.held()
    return render(request, "bulletins/list.html", {
        "items": items, "held": held, "can_author": can_author(request), "page": page,
        "prev_url": f"?page={page - 1}" if page > 1 else "", "next_url": f"?page={page + 1}" if more else "",
        "zone": zone_label(service.zone),
    }, active="bulletin")


@require_role(AUTHOR_ROLE)
async def new_page(request: web.Request) -> web.StreamResponse:
    from features.bulletin.content import next_slot

    service = _service(request)
    slot = next_slot(service.clock(), service.settings, service.zone).astimezone(_zone(service))
    data = {"title": "", "number": str(await service.next_number()), "issue_date": slot.date().isoformat(),
            "summary": "", "body": "", "links": "",
            "topics": list(service.settings.default_topics), "image_url": ""}
    return _form_page(request, service, data, {})


@require_role(AUTHOR_ROLE)
async def create_submit(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    parsed = await parse_form(service, await request.post(), None)
    if parsed.errors:
        audit(request, "create", None, False, invalid=",".join(sorted(parsed.errors)))
        return _form_page(request, service, parsed.raw, parsed.errors, status=422)
    row = await service.save({**parsed.values, "status": "draft", "source": "dashboard"})
    audit(request, "create", row.id, True)
    flash(request, f"Đã lưu bản nháp số {row.number}. Kiểm tra bản xem trước trước khi gửi.")
    raise web.HTTPSeeOther(f"/dashboard/bulletins/{row.id}")


@require_role(AUTHOR_ROLE)
async def edit_page(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    bulletin = await _get(service, _bulletin_id(request))
    if bulletin.status not in ("draft", "scheduled"):
        flash(request, "Bản tin đã gửi (hoặc đã hủy) không sửa được nữa.", "error")
        raise web.HTTPSeeOther(f"/dashboard/bulletins/{bulletin.id}")
    return _form_page(request, service, form_from_bulletin(bulletin), {}, bulletin=bulletin)


@require_role(AUTHOR_ROLE)
async def edit_submit(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    bulletin = await _get(service, _bulletin_id(request))
    parsed = await parse_form(service, await request.post(), bulletin.id)
    if parsed.errors:
        audit(request, "edit", bulletin.id, False, invalid=",".join(sorted(parsed.errors)))
        return _form_page(request, service, parsed.raw, parsed.errors, bulletin=bulletin, status=422)
    try:
        await service.save({**parsed.values, "source": "dashboard"}, bulletin.id)
    except ValueError:  # no longer a draft or scheduled (sent meanwhile)
        audit(request, "edit", bulletin.id, False, reason="status")
        flash(request, "Không lưu được: bản tin đã bắt đầu gửi hoặc đã hủy.", "error")
        raise web.HTTPSeeOther(f"/dashboard/bulletins/{bulletin.id}") from None
    audit(request, "edit", bulletin.id, True)
    flash(request, "Đã lưu thay đổi.")
    raise web.HTTPSeeOther(f"/dashboard/bulletins/{bulletin.id}")


def telegram_preview(pack, bulletin) -> list[dict[str, Any]]:
    """The chat replies subscribers get, as Telegram shows them (Telegram HTML is escaped text + b/a)."""
    from features.bulletin.render import chat_replies
    from core.render import to_telegram_html

    parts = []
    for reply in chat_replies(pack, bulletin, "telegram"):
        parts.append({
            "html": Markup(to_telegram_html(reply.text)), "chars": len(reply.text),
            "image_url": reply.image_url or "",
            "buttons": [[button.label for button in row] for row in (reply.buttons or [])],
        })
    return parts


@require_role("officer")
async def detail_page(request: web.Request) -> web.StreamResponse:
    from features.bulletin.content import next_slot
    from core.render import TELEGRAM_TEXT_LIMIT

    service = _service(request)
    bulletin = await _get(service, _bulletin_id(request))
    zone = _zone(service)
    report = await service.report(bulletin.id) if bulletin.audience or bulletin.started_at else None
    if report is not None:
        report["done"] = sum(report[k] for k in ("sent", "failed", "blocked", "skipped", "deferred"))
        report["sent_pct"] = round(100 * report["sent"] / report["audience"], 1) if report["audience"] else 0.0
    when = bulletin.scheduled_at if bulletin.status == "scheduled" and not is_held(bulletin) else None
    when = when or next_slot(service.clock(), service.settings, service.zone)
    me = _me(request)
    chats = request.config_dict[SERVICES].extra.get(TEST_CHATS_KEY) or {}
    test_target = chats.get(me.username.lower())
    late_hours = None
    if is_held(bulletin) and bulletin.scheduled_at:
        late_hours = round((service.clock() - bulletin.scheduled_at).total_seconds() / 3600, 1)
    topic_titles = {t.id: t.title for t in service.topics()}
    response = render(request, "bulletins/detail.html", {
        "b": bulletin, "status": "held" if is_held(bulletin) else bulletin.status,
        "status_label": status_label(bulletin), "held": is_held(bulletin), "late_hours": late_hours,
        "stale_after": service.settings.stale_after_hours,
        "date": bulletin.issue_date.strftime("%d/%m/%Y"),
        "scheduled": _local(bulletin.scheduled_at, zone), "held_at": _local(bulletin.held_at, zone),
        "started": _local(bulletin.started_at, zone), "finished": _local(bulletin.finished_at, zone),
        "topics": [topic_titles.get(t, t) for t in bulletin.topics or []],
        "parts": telegram_preview(service.pack, bulletin), "limit": TELEGRAM_TEXT_LIMIT,
        "report": report, "can_author": can_author(request),
        "editable": bulletin.status in ("draft", "scheduled"),
        "sched_date": when.astimezone(zone).date().isoformat(), "sched_time": when.astimezone(zone).strftime("%H:%M"),
        "zone": zone_label(service.zone), "cadence": service.settings.cadence,
        "test_target": test_target, "test_env": TEST_CHATS_ENV,
        "subscribers": await service.store.count_subscribers() if bulletin.status in ("draft", "scheduled") else 0,
        "archive_url": f"{ARCHIVE_BASE}/{bulletin.number}" if bulletin.status in ("sending", "paused", "sent") else "",
        "paused_reason": _pause_reason(bulletin.paused_reason),
    }, active="bulletin")
    response.headers["Content-Security-Policy"] = DETAIL_CSP
    return response


def _pause_reason(reason: str) -> str:
    if not reason:
        return ""
    if reason.startswith("official:") or reason == "operator":
        return "Cán bộ tạm dừng"
    if reason.startswith("auto:"):
        return "Tự động tạm dừng do tỷ lệ lỗi cao (" + reason[5:].strip() + ")"
    return reason


@require_role("officer")
async def web_preview(request: web.Request) -> web.StreamResponse:
    """The public archive's page for this issue, exactly as citizens will see it at /bantin/{number}."""
    from features.bulletin.render import WebRenderer

    service = _service(request)
    bulletin = await _get(service, _bulletin_id(request))
    html = WebRenderer(service.pack).issue(bulletin, ARCHIVE_BASE)
    response = web.Response(text=html, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = WEB_PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


# actions -------------------------------------------------------------------------------------------------
ACTIONS = ("test", "schedule", "unschedule", "publish", "confirm", "pause", "resume", "cancel")


@require_role(AUTHOR_ROLE)
async def action_submit(request: web.Request) -> web.StreamResponse:
    action = request.match_info["action"]
    if action not in ACTIONS:
        raise web.HTTPNotFound()
    service = _service(request)
    bulletin = await _get(service, _bulletin_id(request))
    target = f"/dashboard/bulletins/{bulletin.id}"
    form = await request.post()
    me = _me(request)
    ok, message = await _run(request, service, bulletin, action, form, me)
    flash(request, message, "ok" if ok else "error")
    raise web.HTTPSeeOther(target)


async def _run(request, service, bulletin, action: str, form, me) -> tuple[bool, str]:
    bid = bulletin.id
    if action == "test":
        return await _send_test(request, service, bulletin, me)
    if action == "schedule":
        at, error = _parse_when(service, str(form.get("date", "")).strip(), str(form.get("time", "")).strip())
        if error:
            audit(request, "schedule", bid, False, reason="invalid-time")
            return False, error
        when = await service.schedule(bid, at)
        audit(request, "schedule", bid, when is not None, at=when.isoformat() if when else "-")
        if when is None:
            return False, f"Không lên lịch được: bản tin đang ở trạng thái “{status_label(bulletin)}”."
        return True, f"Đã lên lịch gửi số {bulletin.number} lúc {_local(when, _zone(service))} ({zone_label(service.zone)})."
    if action == "publish":
        if form.get("confirm") != "1":
            audit(request, "publish", bid, False, reason="not-confirmed")
            return False, "Đánh dấu ô xác nhận trước khi gửi ngay."
        audience = await service.publish_now(bid)
        audit(request, "publish", bid, audience is not None, audience=audience if audience is not None else "-")
        if audience is None:
            return False, f"Không gửi được: bản tin đang ở trạng thái “{status_label(bulletin)}”."
        return True, f"Đã bắt đầu gửi số {bulletin.number} tới {audience} người đăng ký."
    if action == "confirm":
        ok = await service.confirm(bid, f"official:{me.id}")
        audit(request, "confirm", bid, ok)
        if not ok:
            return False, "Bản tin này không (còn) chờ xác nhận."
        return True, f"Đã xác nhận: số {bulletin.number} bắt đầu gửi ngay."
    if action == "cancel" and form.get("confirm") != "1":
        audit(request, "cancel", bid, False, reason="not-confirmed")
        return False, "Đánh dấu ô xác nhận trước khi hủy bản tin."
    calls = {
        "unschedule": (lambda: service.unschedule(bid), "Đã hủy lịch; bản tin trở về bản nháp."),
        "pause": (lambda: service.pause(bid, f"official:{me.id}"), "Đã tạm dừng gửi."),
        "resume": (lambda: service.resume(bid), "Đã tiếp tục gửi."),
        "cancel": (lambda: service.cancel(bid), "Đã hủy bản tin; những người chưa nhận sẽ không nhận nữa."),
    }
    call, done = calls[action]
    ok = await call()
    audit(request, action, bid, ok)
    if not ok:
        return False, f"Không thực hiện được: bản tin đang ở trạng thái “{status_label(bulletin)}”."
    return True, done


def _parse_when(service, date: str, time: str) -> tuple[dt.datetime | None, str]:
    """Local date/time in the pack's zone → UTC; both empty → None (the next cadence slot)."""
    if not date and not time:
        return None, ""
    if not DATE_RE.match(date) or not TIME_RE.match(time):
        return None, "Nhập đủ ngày và giờ gửi (giờ dạng HH:MM)."
    try:
        local = dt.datetime.combine(dt.date.fromisoformat(date), dt.time.fromisoformat(time), tzinfo=_zone(service))
    except ValueError:
        return None, "Ngày hoặc giờ gửi không hợp lệ."
    at = local.astimezone(dt.UTC)
    if at < service.clock() - dt.timedelta(minutes=1):
        return None, "Thời điểm gửi đã qua: chọn thời điểm sau hiện tại, hoặc dùng “Gửi ngay”."
    return at, ""


async def _send_test(request, service, bulletin, me) -> tuple[bool, str]:
    from core.channel import Blocked

    chats = request.config_dict[SERVICES].extra.get(TEST_CHATS_KEY) or {}
    target = chats.get(me.username.lower())
    if target is None:
        audit(request, "test", bulletin.id, False, reason="no-chat")
        return False, (f"Tài khoản của bạn chưa được gắn với tài khoản chat: quản trị viên cần khai báo "
                       f"{TEST_CHATS_ENV} (xem hướng dẫn dưới nút “Gửi thử cho tôi”).")
    channel, chat_id = target
    try:
        await service.send_test(bulletin.id, channel, chat_id)
    except LookupError:
        audit(request, "test", bulletin.id, False, channel=channel, reason="no-channel")
        return False, f"Kênh {channel} chưa được bật trên máy chủ này nên chưa gửi thử được."
    except Blocked:
        audit(request, "test", bulletin.id, False, channel=channel, reason="blocked")
        return False, "Không gửi được: bạn chưa mở cuộc trò chuyện với bot (bấm Bắt đầu /start) hoặc đã chặn bot."
    except Exception as exc:  # noqa: BLE001 - any channel failure is shown, not raised
        audit(request, "test", bulletin.id, False, channel=channel, reason=type(exc).__name__)
        return False, "Không gửi thử được do lỗi kênh nhắn tin; vui lòng thử lại sau."
    audit(request, "test", bulletin.id, True, channel=channel)
    return True, f"Đã gửi bản thử tới tài khoản {channel} của bạn."


__all__ = ["parse_test_chats", "telegram_preview"]
