"""Welcome, main menu and help; menu buttons open the feature behind them."""
from __future__ import annotations

from core.context import Context
from core.router import Router, payload_args
from core.types import Button, Reply
from vntext.normalize import phrase_matches, plain_words

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
        text = ctx.text("start/welcome", name=name)
        if discloses_automation(ctx):  # e.g. Messenger: Meta's policy asks automated experiences to say so
            text = f"{ctx.text('start/automated')}\n\n{text}"
        return [Reply(text=text, buttons=main_menu(ctx))]

    @router.payload("sys")
    async def platform_event(ctx: Context) -> list[Reply]:
        """Platform events adapters hand on as ``sys:<event>`` payloads: ``sys:follow`` (the person
        followed the account) is welcomed like /start; ``sys:unfollow`` leaves the bulletin (through the
        entry the bulletin feature registers) and says nothing: nothing can reach them any more."""
        event = payload_args(ctx.incoming.payload)[:1]
        if event == ["follow"]:
            return await start(ctx)
        if event == ["unfollow"]:
            ctx.log_answer = "unfollow"
            leave = router.entries.get("bulletin.unsubscribe_all")
            if leave is not None:
                await leave(ctx)
            return []
        return await stale_button(ctx)

    async def menu_word(ctx: Context) -> list[Reply] | None:
        """A message that is just a main-menu label ("phản ánh", "khau hieu", "📰 Bản tin") opens that
        entry, as pressing the button would; anything else goes on to the other free-text handlers."""
        words = plain_words(ctx.incoming.text)
        if not words or len(words) > 4:
            return None
        for row in MAIN_MENU:
            for key, target in row:
                if phrase_matches(words, " ".join(plain_words(ctx.label(key)))):
                    handler = router.commands.get(router.menu_targets.get(target, ""))
                    if handler is not None:
                        return await handler(ctx)
        return None

    router.text(menu_word, order=10)

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


def discloses_automation(ctx: Context) -> bool:
    """Whether this channel's welcome must say the bot is automated (the app wiring lists such channels
    in ``services.extra["disclose_automation"]``)."""
    return ctx.incoming.channel in ctx.services.extra.get("disclose_automation", ())


async def stale_button(ctx: Context) -> list[Reply]:
    ctx.log_answer = "stale-button"
    return [Reply(text=ctx.text("errors/stale_button"), buttons=main_menu(ctx), notice=ctx.label("notice.stale"))]
