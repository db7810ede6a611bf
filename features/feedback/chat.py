"""Chat side of the feedback feature (phản ánh, kiến nghị), channel-agnostic.

Flow "feedback": category → commune (typed, fuzzy) → description → attachments → phone/anonymous → summary
(Gửi / Sửa / Hủy). Each step is saved in the dialogue state (with the pack's TTL), so a restart or another
worker continues it. Every button carries the draft id (`fb:<draft>:<verb>...`): a button of an older or
expired draft is recognised and answered politely, and the report is created once per draft id (the
service's unique (user, draft) constraint makes a double "Gửi" harmless).

Other flows: "feedback_lookup" (waiting for a tracking code) and "feedback_comment" (optional comment after a
rating or a reopen). They remember the flow they interrupted and give it back when done, so looking up a
code never loses a half-written report.

Personal data never goes to the interaction log: turns inside the flow are logged as "feedback:<step>".
"""
from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any

from features.feedback import codes
from features.feedback.attachments import Intake, chat_name, intake
from features.feedback.chat_messages import rate_row, reopen_row
from features.feedback.config import settings_of
from features.feedback.places import index_for
from features.feedback.routing import suggest_categories
from vntext.normalize import phrase_matches, plain_words
from core.context import Context
from core.menu import back_to_menu, main_menu
from core.router import Router, payload_args
from core.types import Button, Reply

FLOW = "feedback"
LOOKUP_FLOW = "feedback_lookup"
COMMENT_FLOW = "feedback_comment"
SMALL_TTL = dt.timedelta(minutes=30)
COMMENT_TTL = dt.timedelta(minutes=10)  # a comment follows the rating at once; later text is a new question
# "huy" without the slash, and short ways of saying "stop, do not send", typed as the whole message.
# Matched diacritics-aware (vntext): "hủy"/"huy" cancel, a name "Huỳnh" does not.
CANCEL_PHRASES = (
    "hủy", "hủy bỏ", "huỷ phản ánh", "hủy phản ánh", "cancel", "stop", "thôi", "thôi nhé", "thôi nha", "dừng",
    "dừng lại", "thoát", "không gửi", "không gửi nữa", "không gửi nữa đâu", "thôi không gửi", "thôi không gửi nữa",
    "ko gửi nữa", "thôi ko gửi nữa", "không phản ánh nữa", "thôi không phản ánh nữa", "không cần nữa",
    "thôi không cần nữa",
)
# A tracking code attempt: one short "word" (with at most a dash or space inside), not a sentence.
_CODE_ATTEMPT = re.compile(r"^[\w-]{1,6}[\s-]?[\w-]{0,8}$")
STEPS = ("category", "commune", "description", "attachments", "phone")
LABEL_MAX = 60
_DRAFT_RE = re.compile(r"^[0-9a-f]{12}$")


# --- helpers ---------------------------------------------------------------------------------------------
def _service(ctx: Context) -> Any:
    return ctx.services.extra["feedback"]


def _settings(ctx: Context) -> Any:
    return settings_of(ctx.pack)


def _ttl(ctx: Context) -> dt.timedelta:
    return dt.timedelta(minutes=_settings(ctx).draft_ttl_minutes)


def _short(text: str) -> str:
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1].rstrip() + "…"


def _draft(ctx: Context) -> dict[str, Any] | None:
    """The live draft's data, or None."""
    state = ctx.state
    if state is not None and state.flow == FLOW and _DRAFT_RE.match(str(state.data.get("d", ""))):
        return state.data
    return None


def _local_date(ctx: Context, moment: dt.datetime | dt.date) -> str:
    if isinstance(moment, dt.datetime):
        moment = _service(ctx).calendar.local_date(moment)
    return moment.strftime("%d/%m/%Y")


def _btn(ctx: Context, key: str, d: str, verb: str) -> Button:
    return Button(ctx.label(key), payload=f"fb:{d}:{verb}")


def _cancel_row(ctx: Context, d: str) -> list[Button]:
    return [_btn(ctx, "fb.cancel", d, "x")]


async def _log(ctx: Context, answer: str) -> None:
    """Log the turn without its text (descriptions and phone numbers are personal data). The core writes
    the row with the turn's state, in one transaction."""
    ctx.log_now(kind="feedback", answer=answer, text="")


def wants_cancel(text: str) -> bool:
    """ "huy", "Hủy", "thôi không gửi nữa"... typed in place of an answer (the whole message)."""
    words = plain_words(text)
    return 0 < len(words) <= 6 and any(phrase_matches(words, phrase) for phrase in CANCEL_PHRASES)


def letter_count(text: str) -> int:
    """Letters and digits: emoji, punctuation and spaces do not describe anything."""
    return sum(ch.isalnum() for ch in text)


async def _save(ctx: Context, step: str, data: dict[str, Any]) -> None:
    await ctx.set_state(FLOW, step, data, _ttl(ctx))


# --- prompts per step ------------------------------------------------------------------------------------
def _category_buttons(ctx: Context, d: str, only: list[str] | None = None) -> list[list[Button]]:
    cats = ctx.pack.agencies.categories
    rows = []
    for i, cat in enumerate(cats):
        if only is None or cat.id in only:
            rows.append([Button(_short(cat.title), payload=f"fb:{d}:c:{i}")])
    return rows


def _commune_examples(ctx: Context) -> list[str]:
    """Two of the pack's own communes as a citizen would type them: one name with diacritics, one without
    (so a province's pack never shows another province's places)."""
    communes = ctx.pack.agencies.communes[:2]
    examples = [" ".join(c.name.split(" ")[1:]) if c.name.split(" ")[0] in ("Xã", "Phường") else c.name
                for c in communes[:1]]
    examples += [" ".join(plain_words(c.name)) for c in communes[1:2]]
    return examples


def prompt(ctx: Context, step: str, data: dict[str, Any]) -> list[Reply]:
    """The question of `step` with its buttons."""
    d = data["d"]
    s = _settings(ctx)
    if step == "category":
        return [Reply(text=ctx.text("feedback/ask_category"), buttons=[*_category_buttons(ctx, d), _cancel_row(ctx, d)])]
    if step == "commune":
        return [Reply(text=ctx.text("feedback/ask_commune", examples=_commune_examples(ctx)),
                      buttons=[[_btn(ctx, "fb.unknown_commune", d, "m:x")], _cancel_row(ctx, d)])]
    if step == "description":
        return [Reply(text=ctx.text("feedback/ask_description", min=s.description_min, max=s.description_max),
                      buttons=[_cancel_row(ctx, d)])]
    if step == "attachments":
        count = int(data.get("n", 0))
        verb, key = ("a:done", "fb.done") if count else ("a:skip", "fb.skip")
        return [Reply(text=ctx.text("feedback/ask_attachments", max=s.max_attachments, count=count),
                      buttons=[[_btn(ctx, key, d, verb)], _cancel_row(ctx, d)])]
    if step == "phone":
        return [Reply(text=ctx.text("feedback/ask_phone"), request_contact_label=ctx.label("fb.share_phone"),
                      buttons=[[_btn(ctx, "fb.anonymous", d, "p:anon")], _cancel_row(ctx, d)])]
    if step == "edit":
        rows = [[_btn(ctx, f"fb.field.{f}", d, f"f:{f}")] for f in STEPS
                if not (f == "attachments" and s.max_attachments == 0)]
        rows.append([_btn(ctx, "fb.back_summary", d, "f:back")])
        return [Reply(text=ctx.text("feedback/edit_which"), buttons=rows)]
    return [_summary(ctx, data)]


def _summary(ctx: Context, data: dict[str, Any]) -> Reply:
    service = _service(ctx)
    d = data["d"]
    text = ctx.text(
        "feedback/summary", category=service.category_title(data.get("cat", "")),
        commune=service.commune_name(data.get("cm") or None), description=data.get("desc", ""),
        attachments=int(data.get("n", 0)), phone=data.get("ph") or "", anonymous=not data.get("ph"),
    )
    return Reply(text=text, buttons=[[_btn(ctx, "fb.send", d, "s"), _btn(ctx, "fb.edit", d, "e")], _cancel_row(ctx, d)])


async def _advance(ctx: Context, data: dict[str, Any], done_step: str) -> list[Reply]:
    """After a step is answered: back to the summary when editing, else the next step."""
    if data.get("edit"):
        data["edit"] = False
        await _save(ctx, "summary", data)
        return [_summary(ctx, data)]
    order = list(STEPS)
    if _settings(ctx).max_attachments == 0:
        order.remove("attachments")
    nxt = order[order.index(done_step) + 1] if done_step in order[:-1] else "summary"
    if nxt == "description" and data.get("pre") and data.get("desc"):  # carried over from the FAQ
        nxt = order[order.index(nxt) + 1] if nxt in order[:-1] else "summary"
    await _save(ctx, nxt, data)
    return prompt(ctx, nxt, data)


# --- entry points -----------------------------------------------------------------------------------------
async def start(ctx: Context) -> list[Reply]:
    """/phananh, menu "Phản ánh", FAQ action: a new draft, or the choice to resume the open one."""
    data = _draft(ctx)
    if data is not None:
        await _log(ctx, "feedback:resume-offer")
        d = data["d"]
        return [Reply(text=ctx.text("feedback/start", resume=True),
                      buttons=[[_btn(ctx, "fb.continue", d, "k")], [Button(ctx.label("fb.new_report"), payload="fb:new")],
                               _cancel_row(ctx, d)])]
    return await _new_draft(ctx)


async def start_with_description(ctx: Context, description: str) -> list[Reply]:
    """A new report whose description is text the citizen already wrote (a complaint typed as a question):
    the flow skips the description step; the summary shows it and "Sửa" changes it."""
    s = _settings(ctx)
    text = description.strip()
    return await _new_draft(ctx, text if s.description_min <= len(text) <= s.description_max else "")


async def _new_draft(ctx: Context, description: str = "") -> list[Reply]:
    old = _draft(ctx)
    if old is not None:
        await _service(ctx).discard_draft(ctx.user.id, old["d"])
    data: dict[str, Any] = {"d": secrets.token_hex(6), "n": 0}
    if description:
        data.update(desc=description, pre=True)
    await _save(ctx, "category", data)
    await _log(ctx, "feedback:start")
    intro = Reply(text=ctx.text("feedback/start", resume=False))
    return [intro, *prompt(ctx, "category", data)]


async def cancel(ctx: Context) -> list[Reply]:
    """/huy: drop whatever flow is open (a feedback draft loses its stored attachments too)."""
    data = _draft(ctx)
    if ctx.state is None:
        ctx.log_answer = "cancel:nothing"
        return [Reply(text=ctx.text("feedback/nothing_to_cancel"), buttons=main_menu(ctx))]
    if data is not None:
        await _service(ctx).discard_draft(ctx.user.id, data["d"])
    ctx.log_answer = f"cancel:{ctx.state.flow}"
    await ctx.clear_state()
    return [Reply(text=ctx.text("feedback/cancelled"), buttons=main_menu(ctx))]


# --- free text inside the flow ----------------------------------------------------------------------------
def normalize_phone(text: str, *, own_contact: bool = False) -> str | None:
    """A phone number parsed with `phonenumbers` (region VN by default): Vietnamese numbers as the citizen
    and officials know them (0912345678, 02553822222), others in E.164 (+14155550123); None when invalid.

    Typed numbers must be valid Vietnamese mobile or landline numbers (+84/0084/84/0 prefixes, spaces, dots,
    dashes all fine). A contact the citizen shared with the "share my number" button is their own, verified
    by the platform (the adapters drop other people's cards), so any country is accepted.
    """
    import phonenumbers

    raw = (text or "").strip()
    if not raw or len(raw) > 32:
        return None
    if own_contact and raw[0].isdigit() and not raw.startswith("0"):
        raw = "+" + raw  # Telegram sends the shared contact's number without "+"
    try:
        number = phonenumbers.parse(raw, "VN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.region_code_for_number(number) == "VN":
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL).replace(" ", "")
    if not own_contact:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


async def _store_attachments(ctx: Context, data: dict[str, Any]) -> Intake:
    """Download the message's attachments into the file store and add them to the draft (see attachments.py)."""
    result = await intake(_service(ctx), _settings(ctx), ctx.user.id, data["d"], ctx.incoming.channel,
                          ctx.incoming.attachments)
    data["n"] = result.count
    return result


def _failed_text(ctx: Context, result: Intake, step: str) -> str:
    """Which attachments of the message could not be saved, and why (empty when all were saved)."""
    if not result.failed:
        return ""
    s = _settings(ctx)
    failed = [{"name": chat_name(f.name), "kind": f.kind, "reason": f.reason} for f in result.failed]
    return ctx.text("feedback/attachment_failed", failed=failed, count=result.count, max=s.max_attachments,
                    max_mb=s.attachment_max_mb, step=step)


async def _take_description(ctx: Context, data: dict[str, Any], text: str) -> list[Reply]:
    s = _settings(ctx)
    d = data["d"]
    if not text:
        return [Reply(text=ctx.text("feedback/hint", step="description"), buttons=[_cancel_row(ctx, d)])]
    if letter_count(text) < s.description_min:  # letters, so 16 "😡" are not a description
        return [Reply(text=ctx.text("feedback/description_short", length=letter_count(text), min=s.description_min),
                      buttons=[_cancel_row(ctx, d)])]
    if len(text) > s.description_max:
        return [Reply(text=ctx.text("feedback/description_long", length=len(text), max=s.description_max),
                      buttons=[_cancel_row(ctx, d)])]
    data["desc"] = text
    return await _advance(ctx, data, "description")


async def in_flow(ctx: Context) -> list[Reply]:
    data = _draft(ctx)
    if data is None:  # a "feedback" state without a draft id: start over rather than dead-end
        return await _new_draft(ctx)
    step = ctx.state.step if ctx.state else "category"
    await _log(ctx, f"feedback:{step}")
    d = data["d"]
    s = _settings(ctx)
    text = ctx.incoming.text
    service = _service(ctx)
    if text and wants_cancel(text):
        return await cancel(ctx)

    if step == "category":
        suggested = suggest_categories(ctx.pack.agencies, text) if text else []
        rows = _category_buttons(ctx, d, suggested or None) if suggested else _category_buttons(ctx, d)
        return [Reply(text=ctx.text("feedback/hint", step="category", suggested=bool(suggested)),
                      buttons=[*rows, _cancel_row(ctx, d)])]

    if step == "commune":
        if not text:
            return [Reply(text=ctx.text("feedback/hint", step="other"), buttons=prompt(ctx, "commune", data)[0].buttons)]
        exact, candidates = index_for(ctx.pack.agencies).search(text, limit=s.commune_matches)
        if exact:
            data["cm"] = exact
            data.pop("cands", None)
            return await _advance(ctx, data, "commune")
        unknown = [_btn(ctx, "fb.unknown_commune", d, "m:x")]
        if not candidates:
            return [Reply(text=ctx.text("feedback/commune_none", query=text[:60], examples=_commune_examples(ctx)),
                          buttons=[unknown, _cancel_row(ctx, d)])]
        data["cands"] = candidates
        await _save(ctx, "commune", data)
        rows = [[Button(_short(service.commune_name(cid)), payload=f"fb:{d}:m:{i}")] for i, cid in enumerate(candidates)]
        return [Reply(text=ctx.text("feedback/commune_matches"), buttons=[*rows, unknown, _cancel_row(ctx, d)])]

    if step == "description":
        note = ""  # attachments sent with the description that could not be saved
        if ctx.incoming.attachments:
            result = await _store_attachments(ctx, data)
            await _save(ctx, "description", data)
            note = _failed_text(ctx, result, step)
            if not text:
                said = note or ctx.text("feedback/attachment_saved", count=result.count, max=s.max_attachments)
                return [Reply(text=said + "\n\n" + ctx.text("feedback/hint", step="description"),
                              buttons=[_cancel_row(ctx, d)])]
        replies = await _take_description(ctx, data, text)
        if note:
            replies[0].text = note + "\n\n" + replies[0].text
        return replies

    if step == "attachments":
        if ctx.incoming.attachments:
            result = await _store_attachments(ctx, data)
            count, full, bad = result.count, result.full, result.bad
            if text and len(data.get("desc", "")) + len(text) + 1 <= s.description_max:
                data["desc"] = (data.get("desc", "") + "\n" + text).strip()  # a caption is part of the report
            await _save(ctx, "attachments", data)
            template = "feedback/attachments_full" if full else ("feedback/attachment_kind" if bad and not count else
                                                                 "feedback/attachment_saved")
            said = _failed_text(ctx, result, step)
            if not said or full:
                said = "\n\n".join(filter(None, [said, ctx.text(template, count=count, max=s.max_attachments)]))
            return [Reply(text=said,
                          buttons=[[_btn(ctx, "fb.done", d, "a:done")], _cancel_row(ctx, d)])]
        verb, key = ("a:done", "fb.done") if data.get("n") else ("a:skip", "fb.skip")
        return [Reply(text=ctx.text("feedback/hint", step="attachments"),
                      buttons=[[_btn(ctx, key, d, verb)], _cancel_row(ctx, d)])]

    if step == "phone":
        phone = normalize_phone(ctx.incoming.contact_phone, own_contact=True) if ctx.incoming.contact_phone else (
            normalize_phone(text) if text else None)
        if phone is None:
            return [Reply(text=ctx.text("feedback/phone_invalid"), request_contact_label=ctx.label("fb.share_phone"),
                          buttons=[[_btn(ctx, "fb.anonymous", d, "p:anon")], _cancel_row(ctx, d)])]
        data["ph"] = phone
        data["consent"] = s.consent_version
        return await _advance(ctx, data, "phone")

    # summary / edit: only buttons are expected here
    replies = prompt(ctx, step, data)
    hint = ctx.text("feedback/hint", step=step)
    replies[0].text = hint + "\n\n" + replies[0].text if step == "summary" else hint
    return replies


# --- buttons ----------------------------------------------------------------------------------------------
async def on_button(ctx: Context) -> list[Reply]:
    args = payload_args(ctx.incoming.payload)
    if not args:
        return await stale(ctx)
    head = args[0]
    if head == "new":
        return await _new_draft(ctx)
    if head == "v" and len(args) == 2:
        ctx.log_answer = "feedback:view"
        return await show_report(ctx, args[1])
    if head == "rt" and len(args) == 3 and args[2].isdigit():
        return await rate(ctx, args[1], int(args[2]))
    if head == "ro" and len(args) == 2:
        return await reopen(ctx, args[1])
    if head == "ck":
        return await finish_comment(ctx, skipped=True)
    if not _DRAFT_RE.match(head):
        return await stale(ctx)
    return await _draft_button(ctx, head, args[1:])


async def stale(ctx: Context, payload_draft: str | None = None) -> list[Reply]:
    """A button from an older/expired/submitted draft: say so and offer the way forward."""
    if payload_draft:
        done = await _service(ctx).submitted_draft(ctx.user.id, payload_draft)
        if done is not None:
            ctx.log_answer = "feedback:already-submitted"
            return [Reply(text=ctx.text("feedback/already_submitted", code=done.code, agency=done.agency_name,
                                        due_date=_local_date(ctx, done.due_date)),
                          buttons=[[Button(ctx.label("fb.view"), payload=f"fb:v:{codes.normalize(done.code)}")],
                                   [back_to_menu(ctx)]],
                          notice=ctx.label("notice.stale"))]
    ctx.log_answer = "feedback:stale"
    data = _draft(ctx)
    if data is not None:
        rows = [[_btn(ctx, "fb.continue", data["d"], "k")], _cancel_row(ctx, data["d"])]
    else:
        rows = [[Button(ctx.label("fb.new_report"), payload="fb:new")], [back_to_menu(ctx)]]
    return [Reply(text=ctx.text("feedback/stale", has_draft=data is not None), buttons=rows,
                  notice=ctx.label("notice.stale"))]


async def _draft_button(ctx: Context, d: str, args: list[str]) -> list[Reply]:
    data = _draft(ctx)
    verb = args[0] if args else ""
    if data is None or data["d"] != d:
        return await stale(ctx, d)
    step = ctx.state.step if ctx.state else ""
    await _log(ctx, f"feedback:btn:{verb}")
    service = _service(ctx)

    if verb == "x":
        await service.discard_draft(ctx.user.id, d)
        await ctx.clear_state()
        return [Reply(text=ctx.text("feedback/cancelled"), buttons=main_menu(ctx))]
    if verb == "k":
        return prompt(ctx, step, data)
    if verb == "c" and len(args) == 2 and step == "category" and args[1].isdigit():
        cats = ctx.pack.agencies.categories
        i = int(args[1])
        if i < len(cats):
            data["cat"] = cats[i].id
            return await _advance(ctx, data, "category")
    if verb == "m" and len(args) == 2 and step == "commune":
        if args[1] == "x":
            data["cm"] = ""
            data.pop("cands", None)
            return await _advance(ctx, data, "commune")
        cands = data.get("cands") or []
        if args[1].isdigit() and int(args[1]) < len(cands):
            data["cm"] = cands[int(args[1])]
            data.pop("cands", None)
            return await _advance(ctx, data, "commune")
    if verb == "a" and step == "attachments":
        data["n"] = await service.draft_attachment_count(ctx.user.id, d)
        return await _advance(ctx, data, "attachments")
    if verb == "p" and step == "phone":
        data["ph"] = None
        data.pop("consent", None)
        return await _advance(ctx, data, "phone")
    if verb == "e" and step == "summary":
        await _save(ctx, "edit", data)
        return prompt(ctx, "edit", data)
    if verb == "f" and len(args) == 2 and step == "edit":
        if args[1] == "back":
            await _save(ctx, "summary", data)
            return [_summary(ctx, data)]
        if args[1] in STEPS:
            data["edit"] = True
            data.pop("cands", None)
            await _save(ctx, args[1], data)
            return prompt(ctx, args[1], data)
    if verb == "s" and step == "summary":
        return await submit(ctx, data)
    # A button of this draft but for another step (pressed twice, or an earlier message): re-ask politely.
    ctx.log_answer = "feedback:out-of-step"
    replies = prompt(ctx, step, data)
    replies[0].notice = ctx.label("notice.stale")
    return replies


async def submit(ctx: Context, data: dict[str, Any]) -> list[Reply]:
    from features.feedback.service import Draft, FeedbackError

    service = _service(ctx)
    s = _settings(ctx)
    anonymous = not data.get("ph")
    draft = Draft(
        draft_id=data["d"], user_id=ctx.user.id, channel=ctx.incoming.channel, category_id=data.get("cat", ""),
        commune_id=data.get("cm") or None, description=data.get("desc", ""), phone=data.get("ph"),
        anonymous=anonymous, contact_name="" if anonymous else (ctx.user.display_name or ""),
        consent_version=data.get("consent") or s.consent_version,
    )
    try:
        done = await service.submit(draft)
    except FeedbackError:
        return [Reply(text=ctx.text("feedback/submit_failed"),
                      buttons=[[_btn(ctx, "fb.send", data["d"], "s")], _cancel_row(ctx, data["d"])])]
    await ctx.clear_state()  # only after the report is safely stored
    category = next((c for c in ctx.pack.agencies.categories if c.id == draft.category_id), None)
    name = "feedback/submitted" if done.created else "feedback/already_submitted"
    text = ctx.text(name, code=done.code, agency=done.agency_name, due_date=_local_date(ctx, done.due_date),
                    days=category.deadline_days if category else "")
    return [Reply(text=text, buttons=[[Button(ctx.label("fb.view"), payload=f"fb:v:{codes.normalize(done.code)}")],
                                      [back_to_menu(ctx)]], edit=False)]


# --- look-up, rating, reopen ------------------------------------------------------------------------------
async def _push(ctx: Context, flow: str, data: dict[str, Any], ttl: dt.timedelta = SMALL_TTL) -> None:
    """Enter a short flow, remembering the one it interrupts (a draft must survive a look-up)."""
    prev = None
    if ctx.state is not None and ctx.state.flow not in (LOOKUP_FLOW, COMMENT_FLOW):
        prev = {"flow": ctx.state.flow, "step": ctx.state.step, "data": ctx.state.data,
                "exp": ctx.state.expires_at.isoformat() if ctx.state.expires_at else None}
    elif ctx.state is not None:
        prev = ctx.state.data.get("prev")
    await ctx.set_state(flow, "wait", {**data, "prev": prev}, ttl)


async def _pop(ctx: Context) -> None:
    prev = ctx.state.data.get("prev") if ctx.state is not None else None
    if prev:
        exp = dt.datetime.fromisoformat(prev["exp"]) if prev.get("exp") else None
        ttl = exp - ctx.services.clock() if exp else None
        if ttl is None or ttl.total_seconds() > 0:
            await ctx.set_state(prev["flow"], prev["step"], prev["data"], ttl)
            return
    await ctx.clear_state()


def _continue_row(ctx: Context) -> list[list[Button]]:
    """After a side trip: the way back to the interrupted draft, if any."""
    data = _draft(ctx)
    return [[_btn(ctx, "fb.continue", data["d"], "k")]] if data is not None else []


async def lookup_command(ctx: Context) -> list[Reply]:
    """/tracuu <mã> shows the report; /tracuu alone asks for the code (and lists the user's reports)."""
    arg = ctx.incoming.command_args if not ctx.incoming.payload else ""
    if arg:
        return await show_report(ctx, arg)
    service = _service(ctx)
    recent = await service.recent_for_user(ctx.user.id)
    await _push(ctx, LOOKUP_FLOW, {})
    ctx.log_answer = "feedback:lookup-ask"
    rows = [[Button(code, payload=f"fb:v:{codes.normalize(code)}")] for code, _st, _at in recent]
    return [Reply(text=ctx.text("feedback/lookup_ask", recent=[(c, service.status_label(st), _local_date(ctx, at))
                                                               for c, st, at in recent], example=codes.example()),
                  buttons=[*rows, [back_to_menu(ctx)]])]


async def lookup_flow(ctx: Context) -> list[Reply] | None:
    text = ctx.incoming.text.strip()
    ctx.log_answer = "feedback:lookup"
    if not text:
        return [Reply(text=ctx.text("feedback/lookup_ask", recent=[], example=codes.example()))]
    if wants_cancel(text):
        return await cancel(ctx)
    if codes.normalize(text) is None:
        if not _CODE_ATTEMPT.match(text):  # a sentence, not a mistyped code: leave the look-up, answer it
            await _pop(ctx)
            return None
        return [Reply(text=ctx.text("feedback/lookup_bad", text=text[:40], example=codes.example()),
                      buttons=[[back_to_menu(ctx)]])]
    await _pop(ctx)
    return await show_report(ctx, text)


# Tracking codes a person may try per minute (issue 9: /tracuu accepted ~19 guesses a second): feedback.yaml
# ``lookups_per_minute``. Counted in the interaction log, so the limit holds across processes.
LOOKUP_ANSWERS = ("feedback:lookup-bad", "feedback:lookup-none", "feedback:lookup-show", "feedback:lookup-limited")


async def show_report(ctx: Context, code: str) -> list[Reply]:
    service = _service(ctx)
    per_minute = _settings(ctx).lookups_per_minute
    if await ctx.services.store.recent_turns(ctx.user.id, 60, LOOKUP_ANSWERS) >= per_minute:
        ctx.log_answer = "feedback:lookup-limited"
        return [Reply(text=ctx.text("feedback/lookup_limited", per_minute=per_minute),
                      buttons=[[back_to_menu(ctx)]])]
    if codes.normalize(code) is None:
        ctx.log_answer = "feedback:lookup-bad"
        return [Reply(text=ctx.text("feedback/lookup_bad", text=code[:40], example=codes.example()),
                      buttons=[[back_to_menu(ctx)]])]
    view = await service.citizen_view(code, ctx.user.id)
    if view is None:
        ctx.log_answer = "feedback:lookup-none"
        return [Reply(text=ctx.text("feedback/lookup_none", code=codes.display(codes.normalize(code) or code)),
                      buttons=[*_continue_row(ctx), [back_to_menu(ctx)]])]
    ctx.log_answer = "feedback:lookup-show"
    labels = ctx.pack.texts.labels
    history = [(_local_date(ctx, e.created_at), labels.get(f"fb.event.{e.kind}", e.kind),
                f"{e.data['score']}/5" if e.kind == "rated" and e.data.get("score") else e.text) for e in view.history]
    raw = codes.normalize(view.code)
    rows: list[list[Button]] = []
    if view.can_rate and view.rating is None:
        rows.append(rate_row(raw, ctx.label))
    if view.can_reopen:
        rows.append(reopen_row(raw, ctx.label))
    rows += _continue_row(ctx)
    rows.append([back_to_menu(ctx)])
    text = ctx.text("feedback/lookup_show", v=view, status=service.status_label(view.status),
                    created=_local_date(ctx, view.created_at), due=_local_date(ctx, view.due_date), history=history)
    return [Reply(text=text, buttons=rows)]


async def rate(ctx: Context, code: str, score: int) -> list[Reply]:
    ok = await _service(ctx).rate(code, ctx.user.id, score)
    ctx.log_answer = f"feedback:rate:{score if ok else 'denied'}"
    if not ok:
        return [Reply(text=ctx.text("feedback/rate_denied"), buttons=[[back_to_menu(ctx)]])]
    await _push(ctx, COMMENT_FLOW, {"code": code}, COMMENT_TTL)
    return [Reply(text=ctx.text("feedback/rate_thanks", score=score),
                  buttons=[[Button(ctx.label("fb.skip"), payload="fb:ck")]])]


async def reopen(ctx: Context, code: str) -> list[Reply]:
    service = _service(ctx)
    ok = await service.reopen(code, ctx.user.id)
    ctx.log_answer = f"feedback:reopen:{'ok' if ok else 'denied'}"
    if not ok:
        return [Reply(text=ctx.text("feedback/reopen_denied", days=_settings(ctx).reopen_days),
                      buttons=[[back_to_menu(ctx)]])]
    view = await service.citizen_view(code, ctx.user.id)
    await _push(ctx, COMMENT_FLOW, {"code": code}, COMMENT_TTL)
    return [Reply(text=ctx.text("feedback/reopened", code=codes.display(code),
                                due_date=_local_date(ctx, view.due_date) if view else ""),
                  buttons=[[Button(ctx.label("fb.skip"), payload="fb:ck")]])]


async def comment_flow(ctx: Context) -> list[Reply] | None:
    text = ctx.incoming.text.strip()
    if text and wants_cancel(text):
        return await finish_comment(ctx, skipped=True)
    if text.endswith("?"):  # a new question, not a comment on the rating: leave the flow and answer it
        await _pop(ctx)
        return None
    if not text:
        return [Reply(text=ctx.text("feedback/hint", step="other"), buttons=[[Button(ctx.label("fb.skip"), payload="fb:ck")]])]
    code = ctx.state.data.get("code", "") if ctx.state else ""
    await _service(ctx).citizen_comment(code, ctx.user.id, text)
    await _log(ctx, "feedback:comment")
    return await finish_comment(ctx, skipped=False)


async def finish_comment(ctx: Context, *, skipped: bool) -> list[Reply]:
    if ctx.state is not None and ctx.state.flow == COMMENT_FLOW:
        await _pop(ctx)
    ctx.log_answer = ctx.log_answer or "feedback:comment-skip"
    return [Reply(text=ctx.text("feedback/rate_comment_saved", skipped=skipped),
                  buttons=[*_continue_row(ctx), [back_to_menu(ctx)]])]


def register(router: Router) -> None:
    """Commands, buttons and flows of this feature."""
    router.menu_target("feedback", "phananh")
    router.entry("feedback.start_with_description")(start_with_description)
    router.menu_target("lookup", "tracuu")
    router.command("phananh", "gopy", visible="cmd.feedback")(start)
    router.command("tracuu", visible="cmd.lookup")(lookup_command)
    router.command("huy", "cancel", visible="cmd.cancel")(cancel)
    router.payload("fb")(on_button)
    router.flow(FLOW)(in_flow)
    router.flow(LOOKUP_FLOW)(lookup_flow)
    router.flow(COMMENT_FLOW)(comment_flow)
    # Commands that work inside these flows without ending them; any other command or menu button ends them.
    router.keeps_flow(FLOW, "phananh", "gopy", "tracuu", "huy", "cancel")
    router.keeps_flow(LOOKUP_FLOW, "tracuu", "huy", "cancel")
    router.keeps_flow(COMMENT_FLOW, "huy", "cancel")
