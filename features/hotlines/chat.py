"""Hotline directory: listed by group, found from typed text, each entry sendable as a contact card."""
from __future__ import annotations

from core.content.loader import PayloadId
from core.context import Context
from core.menu import back_to_menu, stale_button
from core.router import Router, payload_args
from core.types import Button, ContactCard, Reply


# Content ids in button payloads (checked by `content check` against the smallest payload limit).
GROUP = PayloadId("hotlines.yaml", "groups[].id", "hl:g:")
CONTACT = PayloadId("hotlines.yaml", "groups[].entries[].id", "hl:c:")
PAYLOAD_IDS = (GROUP, CONTACT)


def _visible_groups(ctx: Context) -> list[tuple[object, list[object]]]:
    """Groups with only the entries whose number the province has confirmed (never a placeholder)."""
    out = []
    for group in ctx.pack.hotlines.groups:
        entries = [e for e in group.entries if e.phone]
        if entries:
            out.append((group, entries))
    return out


def _entry_by_id(ctx: Context, entry_id: str):  # noqa: ANN202
    for group, entries in _visible_groups(ctx):
        for entry in entries:
            if entry.id == entry_id:
                return entry
    return None


def contact_buttons(ctx: Context, entries: list) -> list[list[Button]]:
    return [[Button(ctx.label("hotline.contact").format(agency=e.agency)[:60], payload=CONTACT.payload(e.id))] for e in entries]


def hotline_replies(ctx: Context, entries: list) -> list[Reply]:
    """The found entries with a contact button each; entries whose number the province has not
    confirmed are named as such (never a placeholder number)."""
    confirmed = [e for e in entries if e.phone]
    pending = [e for e in entries if not e.phone]
    buttons = contact_buttons(ctx, confirmed) + [
        [Button(ctx.label("hotline.all"), payload="m:hotlines")], [back_to_menu(ctx)]]
    return [Reply(text=ctx.text("hotlines/found", entries=confirmed, pending=pending), buttons=buttons)]


async def search(ctx: Context) -> list[Reply] | None:
    """Free text asking for a number ("sdt mot cua"): the entries found; None lets the FAQ answer."""
    entries = ctx.services.extra["hotlines"].find(ctx.incoming.text)
    if not entries:
        return None
    ctx.log_answer = "hotline-search:" + ",".join(e.id for e in entries)[:100]
    return hotline_replies(ctx, list(entries))


def register(router: Router) -> None:
    router.text(search, order=50)
    router.menu_target("hotlines", "duongdaynong")

    @router.command("duongdaynong", "hotline", visible="cmd.hotlines")
    async def directory(ctx: Context) -> list[Reply]:
        ctx.log_answer = "hotlines"
        groups = _visible_groups(ctx)
        buttons = [[Button(group.title, payload=GROUP.payload(group.id))] for group, _ in groups]
        buttons.append([back_to_menu(ctx)])
        return [Reply(text=ctx.text("hotlines/list", groups=groups), buttons=buttons)]

    @router.payload("hl")
    async def hotline_button(ctx: Context) -> list[Reply]:
        args = payload_args(ctx.incoming.payload)
        if len(args) == 2 and args[0] == "g":
            for group, entries in _visible_groups(ctx):
                if group.id == args[1]:
                    ctx.log_answer = f"hotlines:group:{group.id}"
                    buttons = contact_buttons(ctx, entries) + [
                        [Button(ctx.label("hotline.all"), payload="m:hotlines")], [back_to_menu(ctx)]]
                    return [Reply(text=ctx.text("hotlines/group", group=group, entries=entries), buttons=buttons)]
        if len(args) == 2 and args[0] == "c":
            entry = _entry_by_id(ctx, args[1])
            if entry is not None:
                ctx.log_answer = f"hotline:{entry.id}"
                note = entry.topic + (f" ({entry.hours})" if entry.hours else "")
                return [Reply(contact=ContactCard(phone=entry.phone, name=entry.agency, note=note))]
        return await stale_button(ctx)
