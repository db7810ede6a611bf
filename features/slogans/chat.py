"""Reform slogans: one at a time, never the same twice in a row for a user."""
from __future__ import annotations

import random

from core.context import Context
from core.menu import back_to_menu
from core.router import Router
from core.types import Button, Reply

MEMO_KEY = "last_slogan"


def pick_slogan(count: int, last: int | None, rng: random.Random | None = None) -> int:
    """A random index different from `last` whenever there is a choice."""
    rng = rng or random.SystemRandom()
    if count <= 1:
        return 0
    choices = [i for i in range(count) if i != last]
    return rng.choice(choices)


def register(router: Router) -> None:
    router.menu_target("slogan", "khauhieu")
    @router.command("khauhieu", visible="cmd.slogan")
    async def slogan(ctx: Context) -> list[Reply]:
        slogans = ctx.pack.slogans.slogans
        last = (ctx.user.memo or {}).get(MEMO_KEY)
        index = pick_slogan(len(slogans), last if isinstance(last, int) else None)
        await ctx.services.store.set_memo(ctx.user.id, MEMO_KEY, index)
        ctx.user.memo = {**(ctx.user.memo or {}), MEMO_KEY: index}
        ctx.log_answer = f"slogan:{index}"
        chosen = slogans[index]
        buttons = [[Button(ctx.label("slogan.next"), payload="sl:next")], [back_to_menu(ctx)]]
        return [Reply(text=ctx.text("slogans/show", slogan=chosen, number=index + 1, total=len(slogans)),
                      buttons=buttons, edit=ctx.incoming.payload == "sl:next")]

    @router.payload("sl")
    async def next_slogan(ctx: Context) -> list[Reply]:
        return await slogan(ctx)
