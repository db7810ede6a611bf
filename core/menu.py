"""Welcome, main menu and help; menu buttons open the feature behind them."""
from __future__ import annotations

from core.context import Context
from core.router import Router, payload_args
from core.types import Button, Reply

# Main menu: (label key, menu target). A target names the command that serves it.
MAIN_MENU: list[list[tuple[str, str]]] = [
    [("menu.faq", "faq"), ("menu.slogan", "slogan")],
    [("menu.hotlines", "hotlines"), ("menu.feedback", "feedback")],
    [("menu.bulletin", "bulletin")],
]


def main_menu(ctx: Context) -> list[list[Button]]:
    return [[Button(ctx.label(key), payload=f"m:{target}") for key, target in row] for row in MAIN_MENU]


def back_to_menu(ctx: Context) -> Button:
    return Button(ctx.label("menu.back"), payload="m:main")


def register(router: Router) -> None:
    """The core's own commands: /start, /menu, /trogiup and the main menu's buttons."""
    router.menu_target("main", "menu")

    @router.command("start", visible="cmd.start")
    async def start(ctx: Context) -> list[Reply]:
        ctx.log_answer = "start"
        name = ctx.incoming.display_name or ctx.user.display_name
        return [Reply(text=ctx.text("start/welcome", name=name), buttons=main_menu(ctx))]

    @router.command("menu", visible="cmd.menu")
    async def menu(ctx: Context) -> list[Reply]:
        ctx.log_answer = "menu"
        return [Reply(text=ctx.text("menu/main"), buttons=main_menu(ctx), edit=bool(ctx.incoming.payload))]

    @router.command("trogiup", "help", visible="cmd.help")
    async def help_(ctx: Context) -> list[Reply]:
        ctx.log_answer = "help"
        commands = [(name, ctx.label(key)) for name, key in router.visible_commands]
        return [Reply(text=ctx.text("menu/help", commands=commands), buttons=main_menu(ctx))]

    @router.payload("m")
    async def open_menu_entry(ctx: Context) -> list[Reply]:
        args = payload_args(ctx.incoming.payload)
        if not args:
            return await stale_button(ctx)
        target = router.menu_targets.get(args[0])
        handler = router.commands.get(target) if target else None
        if handler is None:  # a feature this deployment does not run (or a stale button)
            ctx.log_answer = f"menu:{args[0]}:unavailable"
            return [Reply(text=ctx.text("menu/unavailable"), buttons=main_menu(ctx))]
        return await handler(ctx)


async def stale_button(ctx: Context) -> list[Reply]:
    ctx.log_answer = "stale-button"
    return [Reply(text=ctx.text("errors/stale_button"), buttons=main_menu(ctx), notice=ctx.label("notice.stale"))]
