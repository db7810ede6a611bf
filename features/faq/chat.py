"""Questions in free text and the browsable "Hỏi đáp" menu, answered from the pack's FAQ.

The engine decides (answer / suggest / none); this module turns the decision into replies, logs the
question with its normalised form, decision and score, and records 👍/👎 on answers.
"""
from __future__ import annotations

from core.content.loader import PayloadId
from core.context import Context
from core.menu import back_to_menu, main_menu, stale_button
from core.router import Router, payload_args
from core.types import Button, ButtonKind, Reply

# FAQ actions (content pack) -> the menu entry that performs them.
ACTION_TARGETS = {
    "feedback": ("faq.action.feedback", "m:feedback"),
    "feedback_lookup": ("faq.action.feedback_lookup", "m:lookup"),
    "hotlines": ("faq.action.hotlines", "m:hotlines"),
    "subscribe": ("faq.action.subscribe", "m:subscribe"),
    "slogan": ("faq.action.slogan", "m:slogan"),
}
LABEL_MAX = 60
# Content ids in button payloads (checked by `content check` against the smallest payload limit).
ENTRY = PayloadId("faq/*.yaml", "entries[].id", "faq:a:")
GROUP = PayloadId("faq/*.yaml", "group.id", "faq:g:")
PAYLOAD_IDS = (ENTRY, GROUP)


def _short(text: str) -> str:
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1].rstrip() + "…"


async def answer_entry(ctx: Context, entry_id: str, *, interaction_id: int | None) -> list[Reply]:
    item = ctx.pack.faq_item(entry_id)
    if item is None:
        return await stale_button(ctx)
    rows: list[list[Button]] = [[Button(_short(link.title), kind=ButtonKind.URL, url=link.url)] for link in item.entry.links]
    if item.entry.action:
        label_key, payload = ACTION_TARGETS[item.entry.action]
        rows.append([Button(ctx.label(label_key), payload=payload)])
    if interaction_id is not None:
        rows.append([
            Button(ctx.label("faq.helpful"), payload=f"faq:r:{interaction_id}:1"),
            Button(ctx.label("faq.unhelpful"), payload=f"faq:r:{interaction_id}:0"),
        ])
    rows.append([Button(ctx.label("faq.more"), payload="m:faq"), back_to_menu(ctx)])
    text = ctx.text("faq/answer", item=item, answer=item.answer, ask_rating=interaction_id is not None)
    return [Reply(text=text, buttons=rows)]


async def _log(ctx: Context, *, answer: str, decision: str = "", score: float | None = None) -> int:
    ctx.log_kind = "logged"  # the core must not log this turn again
    return await ctx.services.store.log_interaction(
        user_id=ctx.user.id, channel=ctx.incoming.channel, kind="faq", text=ctx.incoming.text,
        normalized=ctx.log_normalized, answer=answer, decision=decision, score=score,
    )


async def answer_question(ctx: Context) -> list[Reply]:
    """Free text the features before it declined: small talk, otherwise the FAQ."""
    faq = ctx.services.extra["faq"]
    social = faq.smalltalk(ctx.incoming.text)
    if social:
        ctx.log_answer = f"smalltalk:{social}"
        return [Reply(text=ctx.text(f"smalltalk/{social}"), buttons=main_menu(ctx))]
    decision = faq.match(ctx.incoming.text)
    ctx.log_normalized = decision.normalized
    if decision.kind == "answer" and decision.answer_id:
        interaction_id = await _log(ctx, answer=f"faq:{decision.answer_id}", decision="answer", score=decision.score)
        return await answer_entry(ctx, decision.answer_id, interaction_id=interaction_id)
    if decision.kind == "suggest" and decision.suggestions:
        await _log(ctx, answer="faq-suggest:" + ",".join(decision.suggestions)[:100], decision="suggest", score=decision.score)
        rows = []
        for entry_id in decision.suggestions[:3]:
            item = ctx.pack.faq_item(entry_id)
            if item is not None:
                rows.append([Button(_short(item.entry.title), payload=ENTRY.payload(entry_id))])
        rows.append([Button(ctx.label("faq.none_of_these"), payload="faq:n")])
        return [Reply(text=ctx.text("faq/suggest"), buttons=rows)]
    await _log(ctx, answer="faq-none", decision="none", score=decision.score)
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
        rows = [[Button(_short(g.title), payload=GROUP.payload(g.id))] for g in ctx.pack.faq_groups]
        rows.append([back_to_menu(ctx)])
        return [Reply(text=ctx.text("faq/browse"), buttons=rows, edit=bool(ctx.incoming.payload))]

    @router.payload("faq")
    async def faq_button(ctx: Context) -> list[Reply]:
        args = payload_args(ctx.incoming.payload)
        if len(args) == 2 and args[0] == "g":
            group = next((g for g in ctx.pack.faq_groups if g.id == args[1]), None)
            if group is not None:
                ctx.log_answer = f"faq-group:{group.id}"
                items = [i for i in ctx.pack.faq if i.group.id == group.id]
                rows = [[Button(_short(i.entry.title), payload=ENTRY.payload(i.entry.id))] for i in items]
                rows.append([Button(ctx.label("faq.browse"), payload="m:faq"), back_to_menu(ctx)])
                return [Reply(text=ctx.text("faq/group", group=group), buttons=rows, edit=True)]
        if len(args) == 2 and args[0] == "a" and ctx.pack.faq_item(args[1]) is not None:
            interaction_id = await _log(ctx, answer=f"faq:{args[1]}", decision="chosen")
            return await answer_entry(ctx, args[1], interaction_id=interaction_id)
        if len(args) == 3 and args[0] == "r" and args[1].isdigit() and args[2] in ("0", "1"):
            value = 1 if args[2] == "1" else -1
            recorded = await ctx.services.store.rate_interaction(int(args[1]), ctx.user.id, value)
            ctx.log_answer = "faq-rating" if recorded else "faq-rating:unknown"
            return [Reply(notice=ctx.label("faq.thanks"), text=ctx.text("faq/thanks", helpful=value > 0),
                          buttons=[] if value > 0 else no_match(ctx)[0].buttons)]
        if args == ["n"]:
            ctx.log_answer = "faq-none-of-these"
            return no_match(ctx)
        return await stale_button(ctx)
