"""Questions in free text and the browsable "Hỏi đáp" menu, answered from the pack's FAQ and its
procedures catalogue.

The interpreter decides (faq/intent.py: safety, small talk, too short, complaint, answer / suggest / none);
this module turns the decision into replies, logs the question with its normalised form, decision and score,
and records 👍/👎 on answers. A complaint (or a question that also wants to report) offers a report that
carries the citizen's text as its description; the text waits in the dialogue state, never in a log.
"""
from __future__ import annotations

import datetime as dt

from core.content.loader import PayloadId
from core.context import Context
from core.menu import back_to_menu, main_menu, stale_button
from core.router import Router, payload_args
from core.types import Button, ButtonKind, Reply
from features.faq.procedures import GROUP as PROCEDURES_GROUP

# FAQ actions (content pack) -> the menu entry that performs them.
ACTION_TARGETS = {
    "feedback": ("faq.action.feedback", "m:feedback"),
    "feedback_lookup": ("faq.action.feedback_lookup", "m:lookup"),
    "hotlines": ("faq.action.hotlines", "m:hotlines"),
    "subscribe": ("faq.action.subscribe", "m:subscribe"),
    "slogan": ("faq.action.slogan", "m:slogan"),
}
LABEL_MAX = 60
OFFER_FLOW = "faq_report_offer"  # holds the text a "report this" button will carry (no handler: free text
OFFER_TTL = dt.timedelta(minutes=30)  # and commands go on as usual while it waits)
# Content ids in button payloads (checked by `content check` against the smallest payload limit).
ENTRY = PayloadId("faq/*.yaml", "entries[].id", "faq:a:")
GROUP = PayloadId("faq/*.yaml", "group.id", "faq:g:")
PROCEDURE = PayloadId("procedures.yaml", "procedures[].id", "faq:a:")
PAYLOAD_IDS = (ENTRY, GROUP, PROCEDURE)


def _short(text: str) -> str:
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1].rstrip() + "…"


def _procedure(ctx: Context, entry_id: str):  # noqa: ANN202
    catalogue = ctx.pack.extras.get("procedures")
    return catalogue.get(entry_id) if catalogue is not None else None


def _title(ctx: Context, entry_id: str) -> str | None:
    item = ctx.pack.faq_item(entry_id)
    if item is not None:
        return item.entry.title
    proc = _procedure(ctx, entry_id)
    return proc.name if proc is not None else None


def _choice_rows(ctx: Context, ids) -> list[list[Button]]:  # noqa: ANN001
    rows = []
    for entry_id in list(ids)[:3]:
        title = _title(ctx, entry_id)
        if title is not None:
            rows.append([Button(_short(title), payload=ENTRY.payload(entry_id))])
    return rows


async def answer_entry(ctx: Context, entry_id: str, *, rated_turn: int | None,
                       extra: list[list[Button]] | None = None) -> list[Reply]:
    item = ctx.pack.faq_item(entry_id)
    proc = _procedure(ctx, entry_id) if item is None else None
    if item is None and proc is None:
        return await stale_button(ctx)
    rows: list[list[Button]] = []
    if item is not None:
        rows += [[Button(_short(link.title), kind=ButtonKind.URL, url=link.url)] for link in item.entry.links]
        if item.entry.action:
            label_key, payload = ACTION_TARGETS[item.entry.action]
            rows.append([Button(ctx.label(label_key), payload=payload)])
    rows += extra or []
    if rated_turn is not None:
        rows.append([
            Button(ctx.label("faq.helpful"), payload=f"faq:r:t{rated_turn}:1"),
            Button(ctx.label("faq.unhelpful"), payload=f"faq:r:t{rated_turn}:0"),
        ])
    rows.append([Button(ctx.label("faq.more"), payload="m:faq"), back_to_menu(ctx)])
    if item is not None:
        text = ctx.text("faq/answer", item=item, answer=item.answer, ask_rating=rated_turn is not None)
    else:
        catalogue = ctx.pack.extras["procedures"]
        sources = [f"{catalogue.sources[s].title} ({catalogue.sources[s].date:%d/%m/%Y})"
                   for s in proc.sources if s in catalogue.sources]
        text = ctx.text("faq/procedure", p=proc, sources=sources, ask_rating=rated_turn is not None)
    return [Reply(text=text, buttons=rows)]


async def _log(ctx: Context, *, answer: str, decision: str = "", score: float | None = None,
               text: str | None = None) -> int:
    """Fix the turn's log entry (written in the turn's closing transaction) and return the turn's number,
    which the rating buttons name."""
    ctx.log_now(kind="faq", text=ctx.incoming.text if text is None else text,
                normalized=ctx.log_normalized if text is None else "", answer=answer, decision=decision, score=score)
    return ctx.turn


async def _offer_report(ctx: Context) -> list[list[Button]]:
    """Keep the message for a "report this" button (when no other flow is open) and return its row."""
    if ctx.state is not None and ctx.state.flow != OFFER_FLOW:
        return [[Button(ctx.label("faq.action.feedback"), payload="m:feedback")]]
    await ctx.set_state(OFFER_FLOW, "offer", {"text": ctx.incoming.text}, OFFER_TTL)
    return [[Button(ctx.label("faq.report_this"), payload="faq:fb")]]


def group_rows(ctx: Context) -> list[list[Button]]:
    rows = [[Button(_short(g.title), payload=GROUP.payload(g.id))] for g in ctx.pack.faq_groups]
    if ctx.pack.extras.get("procedures") is not None:
        rows.append([Button(ctx.label("faq.procedures"), payload=GROUP.payload(PROCEDURES_GROUP))])
    return rows


async def answer_question(ctx: Context) -> list[Reply]:
    """Free text the features before it declined: small talk, otherwise the FAQ."""
    faq = ctx.services.extra["faq"]
    u = faq.understand(ctx.incoming.text)
    ctx.log_normalized = u.normalized
    if u.kind == "safety":
        # the message may hold a password or an ID number: it is not logged
        await _log(ctx, answer=f"safety:{u.safety}", decision="safety", text="")
        rows = [[Button(ctx.label("faq.login_help"), payload=ENTRY.payload("loi-dang-nhap"))]] if (
            u.safety == "credentials" and ctx.pack.faq_item("loi-dang-nhap") is not None) else []
        rows.append([Button(ctx.label("faq.action.hotlines"), payload="m:hotlines"), back_to_menu(ctx)])
        return [Reply(text=ctx.text("faq/safety", kind=u.safety), buttons=rows)]
    if u.kind == "smalltalk" and u.smalltalk:
        ctx.log_answer = f"smalltalk:{u.smalltalk}"
        return [Reply(text=ctx.text(f"smalltalk/{u.smalltalk}"), buttons=main_menu(ctx))]
    if u.kind == "complaint":
        # a complaint is the citizen's own story: logged without its text
        await _log(ctx, answer="faq-complaint", decision="complaint", score=u.score, text="")
        rows = await _offer_report(ctx)
        rows += _choice_rows(ctx, u.suggestions)
        rows.append([back_to_menu(ctx)])
        return [Reply(text=ctx.text("faq/complaint", guesses=bool(u.suggestions)), buttons=rows)]
    if u.kind == "clarify":
        await _log(ctx, answer="faq-clarify", decision="clarify", score=u.score)
        rows = _choice_rows(ctx, u.suggestions) + group_rows(ctx)
        rows.append([back_to_menu(ctx)])
        return [Reply(text=ctx.text("faq/clarify", guesses=bool(u.suggestions)), buttons=rows)]
    if u.kind == "answer" and u.answer_id:
        extra = await _offer_report(ctx) if u.report else []
        rated_turn = await _log(ctx, answer=f"faq:{u.answer_id}", decision="answer", score=u.score,
                                    text="" if u.report else None)
        replies = await answer_entry(ctx, u.answer_id, rated_turn=rated_turn, extra=extra)
        if u.report:
            replies[0].text += "\n\n" + ctx.text("faq/report_offer")
        return replies
    if u.kind == "suggest" and u.suggestions:
        await _log(ctx, answer="faq-suggest:" + ",".join(u.suggestions)[:100], decision="suggest", score=u.score)
        rows = _choice_rows(ctx, u.suggestions)
        rows.append([Button(ctx.label("faq.none_of_these"), payload="faq:n")])
        return [Reply(text=ctx.text("faq/suggest"), buttons=rows)]
    await _log(ctx, answer="faq-none", decision="none", score=u.score)
    return no_match(ctx)


def no_match(ctx: Context) -> list[Reply]:
    rows = [
        [Button(ctx.label("faq.action.hotlines"), payload="m:hotlines")],
        [Button(ctx.label("faq.action.feedback"), payload="m:feedback")],
        [Button(ctx.label("faq.browse"), payload="m:faq"), back_to_menu(ctx)],
    ]
    return [Reply(text=ctx.text("faq/no_match"), buttons=rows)]


def register(router: Router) -> None:
    router.text(answer_question, order=100)
    router.menu_target("faq", "hoidap")

    @router.command("hoidap", visible="cmd.faq")
    async def browse(ctx: Context) -> list[Reply]:
        ctx.log_answer = "faq-browse"
        rows = group_rows(ctx)
        rows.append([back_to_menu(ctx)])
        return [Reply(text=ctx.text("faq/browse"), buttons=rows, edit=bool(ctx.incoming.payload))]

    @router.payload("faq")
    async def faq_button(ctx: Context) -> list[Reply]:
        args = payload_args(ctx.incoming.payload)
        catalogue = ctx.pack.extras.get("procedures")
        if args == ["g", PROCEDURES_GROUP] and catalogue is not None:
            ctx.log_answer = f"faq-group:{PROCEDURES_GROUP}"
            rows = [[Button(_short(p.name), payload=PROCEDURE.payload(p.id))] for p in catalogue.procedures]
            rows.append([Button(ctx.label("faq.browse"), payload="m:faq"), back_to_menu(ctx)])
            return [Reply(text=ctx.text("faq/group", group={"title": ctx.label("faq.procedures")}), buttons=rows,
                          edit=True)]
        if args == ["fb"]:
            return await _report_offered_text(ctx)
        if len(args) == 2 and args[0] == "g":
            group = next((g for g in ctx.pack.faq_groups if g.id == args[1]), None)
            if group is not None:
                ctx.log_answer = f"faq-group:{group.id}"
                items = [i for i in ctx.pack.faq if i.group.id == group.id]
                rows = [[Button(_short(i.entry.title), payload=ENTRY.payload(i.entry.id))] for i in items]
                rows.append([Button(ctx.label("faq.browse"), payload="m:faq"), back_to_menu(ctx)])
                return [Reply(text=ctx.text("faq/group", group=group), buttons=rows, edit=True)]
        if len(args) == 2 and args[0] == "a" and _title(ctx, args[1]) is not None:
            rated_turn = await _log(ctx, answer=f"faq:{args[1]}", decision="chosen")
            return await answer_entry(ctx, args[1], rated_turn=rated_turn)
        turn = args[1][1:] if len(args) == 3 and args[1].startswith("t") else ""
        if len(args) == 3 and args[0] == "r" and (args[1].isdigit() or turn.isdigit()) and args[2] in ("0", "1"):
            value = 1 if args[2] == "1" else -1
            store = ctx.services.store
            # "t<N>": the answer of the user's turn N; a bare number: a log row id (buttons sent before 0014)
            recorded = await (store.rate_turn(ctx.user.id, int(turn), value) if turn
                              else store.rate_interaction(int(args[1]), ctx.user.id, value))
            ctx.log_answer = "faq-rating" if recorded else "faq-rating:unknown"
            return [Reply(notice=ctx.label("faq.thanks"), text=ctx.text("faq/thanks", helpful=value > 0),
                          buttons=[] if value > 0 else no_match(ctx)[0].buttons)]
        if args == ["n"]:
            ctx.log_answer = "faq-none-of-these"
            return no_match(ctx)
        return await stale_button(ctx)


async def _report_offered_text(ctx: Context) -> list[Reply]:
    """"Gửi phản ánh với nội dung này": a new report whose description is the message kept for it."""
    text = ""
    if ctx.state is not None and ctx.state.flow == OFFER_FLOW:
        text = str(ctx.state.data.get("text", ""))
        await ctx.clear_state()
    start = ctx.router.entries.get("feedback.start_with_description") if ctx.router else None
    if start is None:  # a deployment without the feedback feature
        ctx.log_answer = "faq-report:unavailable"
        return [Reply(text=ctx.text("menu/unavailable"), buttons=main_menu(ctx))]
    return await start(ctx, description=text)
