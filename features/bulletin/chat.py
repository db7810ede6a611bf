"""Chat side of the bulletin: subscribe with topics (/dangky), leave in one tap (/huydangky and the
button under every issue), read past issues (/bantin, menu "Bản tin")."""
from __future__ import annotations

import datetime as dt

from core.context import Context
from core.menu import back_to_menu, main_menu, stale_button
from core.router import Router, payload_args
from core.types import Button, Reply

FLOW = "bulletin"
TTL = dt.timedelta(minutes=30)


def _service(ctx: Context):  # noqa: ANN202
    return ctx.services.extra.get("bulletin")


def _unavailable(ctx: Context) -> list[Reply]:
    ctx.log_answer = "bulletin:unavailable"
    return [Reply(text=ctx.text("menu/unavailable"), buttons=main_menu(ctx))]


def _topic_titles(service, ids: list[str]) -> list[str]:  # noqa: ANN001
    return [t.title for t in service.topics() if t.id in ids]


async def _choose(ctx: Context, selected: list[str], *, edit: bool) -> list[Reply]:
    service = _service(ctx)
    active, current = await service.store.subscription(ctx.user.id)
    rows: list[list[Button]] = []
    for i, topic in enumerate(service.topics()):
        key = "bulletin.topic_on" if topic.id in selected else "bulletin.topic_off"
        rows.append([Button(ctx.label(key).format(title=topic.title), payload=f"bt:t:{i}")])
    rows.append([Button(ctx.label("bulletin.confirm"), payload="bt:ok")])
    rows.append([back_to_menu(ctx)])
    text = ctx.text("bulletin/subscribe_choose", active=active, current=_topic_titles(service, current),
                    per_month=len(service.settings.cadence.days))
    return [Reply(text=text, buttons=rows, edit=edit)]


async def subscribe_start(ctx: Context) -> list[Reply]:
    service = _service(ctx)
    if service is None:
        return _unavailable(ctx)
    active, current = await service.store.subscription(ctx.user.id)
    selected = current if active and current else service.settings.default_topics
    await ctx.set_state(FLOW, "choose", {"topics": selected}, TTL)
    ctx.log_answer = "bulletin:choose"
    return await _choose(ctx, selected, edit=bool(ctx.incoming.payload))


async def unsubscribe(ctx: Context) -> list[Reply]:
    service = _service(ctx)
    if service is None:
        return _unavailable(ctx)
    if ctx.state is not None and ctx.state.flow == FLOW:
        await ctx.clear_state()
    done = await service.unsubscribe(ctx.user.id)
    ctx.log_answer = "bulletin:unsubscribed" if done else "bulletin:not-subscribed"
    text = ctx.text("bulletin/unsubscribed" if done else "bulletin/not_subscribed")
    return [Reply(text=text, buttons=[[Button(ctx.label("bulletin.subscribe"), payload="m:subscribe")],
                                      [back_to_menu(ctx)]],
                  notice=ctx.label("bulletin.notice_unsubscribed") if done else "")]


async def archive(ctx: Context) -> list[Reply]:
    service = _service(ctx)
    if service is None:
        return _unavailable(ctx)
    ctx.log_answer = "bulletin:list"
    issues = await service.store.published(limit=service.settings.recent_issues)
    active, topics = await service.store.subscription(ctx.user.id)
    from features.bulletin.render import view

    views = [view(b) for b in issues]
    rows = [[Button(ctx.label("bulletin.read").format(number=b.number, title=_short(b.title)),
                    payload=f"bt:r:{b.id}")] for b in issues]
    if active:
        rows.append([Button(ctx.label("bulletin.change_topics"), payload="m:subscribe"),
                     Button(ctx.label("bulletin.unsubscribe"), payload="bt:unsub")])
    else:
        rows.append([Button(ctx.label("bulletin.subscribe"), payload="m:subscribe")])
    rows.append([back_to_menu(ctx)])
    per_month = len(service.settings.cadence.days)
    if not issues:
        return [Reply(text=ctx.text("bulletin/archive_empty", subscribed=active, per_month=per_month), buttons=rows,
                      edit=bool(ctx.incoming.payload))]
    text = ctx.text("bulletin/archive_list", issues=views, subscribed=active,
                    topics=_topic_titles(service, topics))
    return [Reply(text=text, buttons=rows, edit=bool(ctx.incoming.payload))]


def _short(title: str, limit: int = 40) -> str:
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


async def unsubscribe_all(ctx: Context) -> list[Reply]:
    """The person left the channel (e.g. unfollowed the Zalo OA): end their subscription quietly."""
    service = _service(ctx)
    if service is None:
        return []
    if ctx.state is not None and ctx.state.flow == FLOW:
        await ctx.clear_state()
    await service.unsubscribe(ctx.user.id)
    return []


def register(router: Router) -> None:
    router.entry("bulletin.unsubscribe_all")(unsubscribe_all)
    router.menu_target("bulletin", "bantin")
    router.menu_target("subscribe", "dangky")
    router.command("dangky", visible="cmd.subscribe")(subscribe_start)
    router.command("huydangky", visible="cmd.unsubscribe")(unsubscribe)
    router.command("bantin", visible="cmd.bulletin")(archive)

    @router.payload("bt")
    async def on_button(ctx: Context) -> list[Reply]:
        service = _service(ctx)
        if service is None:
            return _unavailable(ctx)
        args = payload_args(ctx.incoming.payload)
        action = args[0] if args else ""
        if action == "unsub":
            return await unsubscribe(ctx)
        if action == "list":
            return await archive(ctx)
        if action == "r" and len(args) == 2 and args[1].isdigit():
            return await _read(ctx, int(args[1]))
        if action in ("t", "ok"):
            if ctx.state is None or ctx.state.flow != FLOW:
                return await subscribe_start(ctx)  # state expired: start over with the current choice
            selected = list(ctx.state.data.get("topics", []))
            if action == "t":
                topics = service.topics()
                if len(args) != 2 or not args[1].isdigit() or int(args[1]) >= len(topics):
                    return await stale_button(ctx)
                topic = topics[int(args[1])].id
                selected = [t for t in selected if t != topic] if topic in selected else [*selected, topic]
                await ctx.set_state(FLOW, "choose", {"topics": selected}, TTL)
                ctx.log_answer = "bulletin:toggle"
                return await _choose(ctx, selected, edit=True)
            if not selected:
                ctx.log_answer = "bulletin:need-topic"
                replies = await _choose(ctx, selected, edit=True)
                replies[0].notice = ctx.label("bulletin.need_topic")
                return replies
            chosen = await service.subscribe(ctx.user.id, selected)
            await ctx.clear_state()
            ctx.log_answer = "bulletin:subscribed"
            text = ctx.text("bulletin/subscribed", topics=_topic_titles(service, chosen),
                            days=[str(d) for d in service.settings.cadence.days])
            return [Reply(text=text, buttons=[[Button(ctx.label("bulletin.archive"), payload="bt:list")],
                                              [back_to_menu(ctx)]],
                          edit=True, notice=ctx.label("bulletin.notice_saved"))]
        return await stale_button(ctx)

    @router.flow(FLOW)
    async def in_flow(ctx: Context) -> list[Reply]:
        # typed text while choosing topics: show the choice again
        selected = list(ctx.state.data.get("topics", [])) if ctx.state else []
        return await _choose(ctx, selected, edit=False)


async def _read(ctx: Context, bulletin_id: int) -> list[Reply]:
    from features.bulletin.models import SENDING, SENT
    from features.bulletin.render import chat_replies

    service = _service(ctx)
    bulletin = await service.store.get(bulletin_id)
    if bulletin is None or bulletin.status not in (SENDING, SENT):
        ctx.log_answer = "bulletin:read:unavailable"
        return [Reply(text=ctx.text("bulletin/unavailable"), buttons=[[back_to_menu(ctx)]])]
    ctx.log_answer = f"bulletin:read:{bulletin.number}"
    replies = chat_replies(ctx.pack, bulletin, ctx.incoming.channel)
    active, _ = await service.store.subscription(ctx.user.id)
    if not active:
        replies[-1].buttons = [[Button(ctx.label("bulletin.subscribe"), payload="m:subscribe"),
                                Button(ctx.label("bulletin.archive"), payload="bt:list")]]
    return replies
