"""The platform-free core: one entry point every channel adapter calls with a normalised message."""
from __future__ import annotations

import logging
import time
from dataclasses import replace
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from core.storage.repos import UNCHANGED, StaleTurn
from core.context import Context, Services
from core.channel import numbered_options
from core.menu import discloses_automation, main_menu, stale_button
from core.router import Router
from core.sanitize import clean_incoming
from core.types import Button, Incoming, Reply

log = logging.getLogger(__name__)

STALE_RETRIES = 5  # the same user's turns run concurrently only outside the inbox (tests, the terminal)
# The per-user limit of turns a minute is the pack's ``limits.turns_per_minute`` (pack.yaml; 0: off);
# services.extra["turns_per_minute"], when set, overrides it (tests, an operator's emergency setting).
TURNS_PER_MINUTE_KEY = "turns_per_minute"
RATE_LIMITED = "rate-limited"  # the interaction-log answer of a turn refused by the limit
AlsoWithReplies = Callable[..., Awaitable[None]]  # (writes, replies, *, deferred: bool)

# Last resort when even the templates cannot be rendered (a broken pack reload): never show a traceback.
# users.memo key: the payloads of the numbered options the user was last shown (core.channel.numbered_options)
OPTIONS_MEMO = "options"
OPTION_LABELS_MEMO = "option_labels"  # their labels, to show them again after a number outside them
OPTION_PROMPT_MEMO = "option_prompt"  # inside a flow, the step's question, asked again after such a number
NO_SUCH_OPTION = "no-such-option"  # the interaction-log answer of such a number

LAST_RESORT = "Xin lỗi, hệ thống đang bận. Bạn vui lòng thử lại sau ít phút."


class Core:
    """Routes each message to a handler; never raises to the adapter."""

    def __init__(self, services: Services, router: Router) -> None:
        self.services = services
        self.router = router

    async def handle(self, incoming: Incoming, *, also: AlsoWithReplies | None = None) -> list[Reply]:
        """The replies to ``incoming``. ``also(writes, replies, deferred=...)`` adds to the turn's closing
        write transaction (core/storage/writes.py) (the inbox marks the event done and stores the replies owed there; ``deferred``:
        whether the person had messages waiting for their next message when the turn began); it is not called
        when the turn failed, whose replies are then the polite error message. A turn that lost the race
        for the user's state to another process (:class:`StaleTurn`) is run again on the fresh state."""
        started = time.perf_counter()
        try:
            for _ in range(STALE_RETRIES - 1):
                try:
                    return await self._handle(incoming, also)
                except StaleTurn:
                    log.debug("turn of %s lost the race for the user's state; running it again", incoming.channel)
            return await self._handle(incoming, also)
        except Exception:
            log.exception("handler failed: channel=%s kind=%s", incoming.channel, _kind(incoming))
            try:
                return [Reply(text=self.services.pack.texts.render("errors/internal"))]
            except Exception:
                log.exception("could not render the error message")
                return [Reply(text=LAST_RESORT)]
        finally:
            log.debug("handled %s in %.1f ms", _kind(incoming), (time.perf_counter() - started) * 1000)

    async def _handle(self, incoming: Incoming, also: AlsoWithReplies | None = None) -> list[Reply]:
        """One turn = a read (begin_turn) and ONE write transaction (finish_turn: last_seen, state, log) of the
        core, plus whatever the feature's own service needs. The state and the log are committed before the
        replies are returned, so nothing the user is told can be lost."""
        incoming = clean_incoming(incoming)  # issue 9: every string from outside cleaned (core/sanitize.py)
        store = self.services.store
        user, state = await store.begin_turn(incoming.channel, incoming.user_id, incoming.display_name)
        first_turn = user.turn_seq == 0
        incoming = chosen_option(incoming, user.memo)
        ctx = Context(incoming=incoming, user=user, state=state, services=self.services, defer_writes=True,
                      router=self.router)
        replies = await self._limited(ctx)
        if replies is None:
            replies = await self._route(ctx)
        if first_turn and discloses_automation(ctx) and incoming.command != "start" and replies:
            replies = [Reply(text=ctx.text("start/automated")), *replies]  # the start of a conversation
        memo = self._remember_options(incoming.channel, user.memo, replies, in_flow=ctx.state is not None,
                                      asked_again=ctx.log_answer == NO_SUCH_OPTION)
        await store.finish_turn(user, state=ctx.state if ctx.state_changed else UNCHANGED, log=_log_entry(ctx),
                                also=(lambda writes: also(writes, replies,
                                                           deferred=getattr(user, "has_deferred", True)))
                                if also is not None else None,
                                memo=memo)
        return replies

    def _remember_options(self, channel: str, memo: dict[str, Any] | None, replies: list[Reply], *,
                          in_flow: bool = False, asked_again: bool = False) -> dict[str, Any] | None:
        """The user's memo with the numbered options this turn's last reply with buttons shows on this
        channel (None when nothing changes): a typed number then presses that option next turn. Inside a
        flow (``in_flow``) that reply's text too: the step's question, asked again after a number outside
        the options (a free-text step says there what else may be typed); ``asked_again`` (that answer
        itself) keeps the question it repeated."""
        caps = self.services.extra.get("capabilities", {}).get(channel)
        shown: tuple[Button, ...] = ()
        prompt = ""
        if caps is not None:
            for reply in reversed(replies):
                if reply.buttons:
                    shown = numbered_options(reply, caps)
                    prompt = reply.text if in_flow else ""
                    break
        if asked_again:
            prompt = str((memo or {}).get(OPTION_PROMPT_MEMO) or "") if in_flow else ""
        options, labels = [b.payload for b in shown], [b.label for b in shown]
        memo = memo or {}
        if options == memo.get(OPTIONS_MEMO, []) and labels == memo.get(OPTION_LABELS_MEMO, []) \
                and prompt == memo.get(OPTION_PROMPT_MEMO, ""):
            return None
        new = {k: v for k, v in memo.items() if k not in (OPTIONS_MEMO, OPTION_LABELS_MEMO, OPTION_PROMPT_MEMO)}
        if options:
            new[OPTIONS_MEMO], new[OPTION_LABELS_MEMO] = options, labels
            if prompt:
                new[OPTION_PROMPT_MEMO] = prompt
        return new

    async def _limited(self, ctx: Context) -> list[Reply] | None:
        """Per-user rate limit (issue 9): more than ``turns_per_minute`` turns in a minute (pack.yaml
        ``limits``, read at each turn so a reloaded pack applies at once) and the person is told once,
        politely, to slow down; further messages in that minute get no answer (they are logged, so the
        count is shared by every process through the database). Other users are never delayed by it: the
        inbox runs one event per user at a time and different users in parallel."""
        override = self.services.extra.get(TURNS_PER_MINUTE_KEY)
        limit = int(override) if override is not None else ctx.pack.config.limits.turns_per_minute
        if limit <= 0 or getattr(ctx.user, "recent_turns", 0) < limit:  # counted by begin_turn's one read
            return None
        warned = await self.services.store.recent_turns(ctx.user.id, 60, (RATE_LIMITED,))
        ctx.log_answer = RATE_LIMITED
        if warned:
            return []
        return [Reply(text=ctx.text("errors/rate_limited"))]

    async def _route(self, ctx: Context) -> list[Reply]:
        incoming, router = ctx.incoming, self.router
        if ctx.state is not None and router.leaves_flow(ctx.state.flow, incoming):
            await ctx.clear_state()  # issue 9: any other command or menu button ends the open flow (router.py)
        if incoming.payload:
            handler = router.for_payload(incoming.payload)
            return await (handler(ctx) if handler else stale_button(ctx))
        if incoming.command:
            handler = router.commands.get(incoming.command)
            if handler is None:
                ctx.log_answer = "unknown-command"
                return [Reply(text=ctx.text("errors/unknown_command", command=incoming.command[:32]),
                              buttons=main_menu(ctx))]
            return await handler(ctx)
        number = typed_number(incoming, ctx.user.memo)
        if number is not None:  # a number outside the options just shown (chosen_option took those inside);
            # before an open flow: its step would take "9" for an answer (a commune named "9") or re-ask
            return [no_such_option(ctx, number)]
        if ctx.state is not None and ctx.state.flow in router.flows:
            replies = await router.flows[ctx.state.flow](ctx)
            if replies is not None:  # issue 9: a flow returns None for text that does not answer it
                return replies
        if incoming.text and any(ch.isalnum() for ch in incoming.text):
            replies = await router.answer_text(ctx)
            if replies is not None:
                return replies
        ctx.log_answer = "unsupported"
        template = "errors/attachment" if (incoming.attachments or incoming.location or incoming.contact_phone) else "errors/no_text"
        return [Reply(text=ctx.text(template), buttons=main_menu(ctx))]


def typed_number(incoming: Incoming, memo: dict[str, Any] | None) -> int | None:
    """The bare number (0–999, "2" or "2.") the user typed after a reply that showed numbered options;
    None for anything else, or when the last reply showed none."""
    options = (memo or {}).get(OPTIONS_MEMO) or []
    text = incoming.text.strip().rstrip(".")
    if incoming.payload or not options or not text.isascii() or not text.isdigit() or len(text) > 3:
        return None
    return int(text)


def chosen_option(incoming: Incoming, memo: dict[str, Any] | None) -> Incoming:
    """A bare number the user typed after a reply that showed numbered options ("1. …") is the option's
    button: ``Incoming(payload=…)``. Any other text, or a number outside the options, stays text."""
    n = typed_number(incoming, memo)
    options = (memo or {}).get(OPTIONS_MEMO) or []
    if n is None or not 1 <= n <= len(options):
        return incoming
    return replace(incoming, text="", payload=str(options[n - 1]))


def no_such_option(ctx: Context, number: int) -> Reply:
    """The answer to a typed ``number`` outside the numbered options the user was last shown: there is no
    such option (template ``errors/no_option``) and the same options again, numbered as before; the main
    menu when their labels are unknown (a memo written before labels were kept)."""
    memo = ctx.user.memo or {}
    options, labels = memo.get(OPTIONS_MEMO) or [], memo.get(OPTION_LABELS_MEMO) or []
    ctx.log_answer = NO_SUCH_OPTION
    if len(labels) != len(options):
        return Reply(text=ctx.text("errors/no_option", number=number, count=0), buttons=main_menu(ctx))
    # inside a flow the step's question again (``step``: the template then says only that there is no such option)
    prompt = str(memo.get(OPTION_PROMPT_MEMO) or "") if ctx.state is not None else ""
    text = ctx.text("errors/no_option", number=number, count=len(options), step=bool(prompt))
    return Reply(text=f"{text}\n\n{prompt}" if prompt else text,
                 buttons=[[Button(label=str(label), payload=str(payload))] for label, payload in zip(labels, options)])


def _log_entry(ctx: Context) -> dict[str, Any]:
    """The turn's interaction-log row (keywords of `Store.log_interaction`): the one the handler fixed
    (`ctx.log_now`, e.g. the FAQ), or one made of the turn's `log_*` fields."""
    incoming = ctx.incoming
    base = {"user_id": ctx.user.id, "channel": incoming.channel}
    if ctx.log_fixed is not None:
        return {**base, **ctx.log_fixed}
    return {**base, "kind": ctx.log_kind or _kind(incoming),
            "text": incoming.text if not incoming.payload else incoming.payload, "answer": ctx.log_answer,
            "normalized": ctx.log_normalized, "decision": ctx.log_decision, "score": ctx.log_score}


def _kind(incoming: Incoming) -> str:
    if incoming.payload:
        return "button"
    if incoming.command:
        return "command"
    if incoming.text:
        return "text"
    return "attachment" if incoming.attachments else "other"
