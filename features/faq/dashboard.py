""""Câu hỏi chưa trả lời": what citizens asked that the FAQ could not answer (content editors' to-do list),
and the learning loop on it.

Officers read the list. A supervisor or an admin turns a question, in one action, into another way of asking
an existing FAQ entry or procedure (the bot answers it at once, in every process) or into a draft new topic
(kept for the pack: `cchc-bot content export-learned`); each decision is stored with who and when and can be
withdrawn. Questions are shown with phone and ID numbers masked (features/faq/privacy.py); a question that
still holds personal data is refused with the reason.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from aiohttp import web

from core.masking import mask_numbers
from core.web import SERVICES
from dashboard.auth import current_official, flash, require_role
from dashboard.registry import NavItem, Page, role_at_least
from features.faq.learning import TOPIC, Refused
from features.faq.privacy import mask_personal
from vntext.normalize import fold

PERIODS = {"7": 7, "30": 30, "90": 90, "all": None}
LEARN_ROLE = "supervisor"


def _entries(pack) -> list[tuple[str, list[tuple[str, str]]]]:  # noqa: ANN001
    """(group title, [(entry id, title)]) for the "attach to" choice: FAQ groups, then the procedures."""
    out = [(g.title, [(i.entry.id, i.entry.title) for i in pack.faq if i.group.id == g.id]) for g in pack.faq_groups]
    catalogue = pack.extras.get("procedures")
    if catalogue is not None:
        out.append(("Thủ tục hành chính", [(p.id, p.name) for p in catalogue.procedures]))
    return out


def _titles(pack) -> dict[str, str]:  # noqa: ANN001
    return {entry_id: title for _, items in _entries(pack) for entry_id, title in items}


@require_role("officer")
async def unanswered_page(request: web.Request) -> web.StreamResponse:
    from dashboard.render import render

    services = request.config_dict[SERVICES]
    faq = services.extra["faq"]
    period = request.query.get("days", "30")
    if period not in PERIODS:
        period = "30"
    days = PERIODS[period]
    since = services.clock() - dt.timedelta(days=days) if days else None
    learned = await faq.learned.list(limit=200) if faq.learned is not None else []
    # `source` is the masked question (never a phone or ID number, not even in a hidden field or the table)
    done = {fold(r.source) for r in learned if r.active and r.source}
    masked = [(mask_numbers(mask_personal(question)), count)  # placeholders; spaced ID numbers too
              for question, count in await services.store.unanswered(since=since, limit=200 + len(done))]
    rows = [(question[:512], question, count) for question, count in masked if fold(question[:512]) not in done][:200]
    me = current_official(request)
    return render(request, "unanswered.html", {
        "rows": rows, "period": period, "periods": PERIODS, "can_learn": role_at_least(me.role, LEARN_ROLE),
        "entries": _entries(services.pack), "groups": services.pack.faq_groups, "learned": learned,
        "titles": _titles(services.pack), "mask": mask_personal,
    }, active="unanswered")


def _back(form) -> web.HTTPFound:  # noqa: ANN001
    period = str(form.get("days", "30"))
    return web.HTTPFound(f"/dashboard/unanswered?days={period if period in PERIODS else '30'}")


@require_role(LEARN_ROLE)
async def learn(request: web.Request) -> web.StreamResponse:
    """One decision on one unanswered question: a new variant of an entry, or a draft new topic."""
    services = request.config_dict[SERVICES]
    faq = services.extra["faq"]
    me = current_official(request)
    form = await request.post()
    action = str(form.get("action", ""))
    question, source = str(form.get("question", ""))[:2000], mask_personal(str(form.get("source", "")))[:512]
    titles = _titles(services.pack)
    try:
        if action == "variant":
            entry_id = str(form.get("entry", ""))
            row = await faq.learn_variant(question, entry_id, by=me.username, source=source)
            flash(request, f"Đã thêm “{row.question}” làm một cách hỏi của “{titles.get(entry_id, entry_id)}”; "
                           "bot trả lời câu này ngay (mọi tiến trình cập nhật trong vài giây).")
        elif action == "topic":
            row = await faq.propose_topic(question, str(form.get("title", "")), str(form.get("group", "")),
                                          by=me.username, source=source)
            flash(request, f"Đã ghi đề xuất chủ đề mới “{row.title}” (mã {row.entry_id}). Bot chưa trả lời chủ đề "
                           "này cho đến khi tỉnh viết câu trả lời trong gói nội dung (cchc-bot content export-learned).")
        else:
            raise Refused("Thao tác không hợp lệ.")
    except Refused as exc:
        flash(request, f"Chưa thêm được: {exc}", "error")
    raise _back(form)


@require_role(LEARN_ROLE)
async def withdraw(request: web.Request) -> web.StreamResponse:
    services = request.config_dict[SERVICES]
    me = current_official(request)
    form = await request.post()
    try:
        learned_id = int(request.match_info["learned_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    row = await services.extra["faq"].withdraw(learned_id, by=me.username)
    if row is None:
        flash(request, "Không tìm thấy quyết định này hoặc nó đã được hủy.", "error")
    elif row.kind == TOPIC:
        flash(request, f"Đã hủy đề xuất chủ đề “{row.title}”.")
    else:
        flash(request, f"Đã hủy cách hỏi “{row.question}”; bot không dùng câu này nữa.")
    raise _back(form)


def _routes(dash: web.Application) -> None:
    dash.router.add_get("/unanswered", unanswered_page, name="unanswered")
    dash.router.add_post("/unanswered/learn", learn, name="unanswered_learn")
    dash.router.add_post("/unanswered/learned/{learned_id}/withdraw", withdraw, name="unanswered_withdraw")


PAGE = Page(_routes, nav=(NavItem("unanswered", "Câu hỏi chưa trả lời", "/dashboard/unanswered", order=30),),
            templates=Path(__file__).with_name("templates"))
