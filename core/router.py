"""Which handler takes a message: commands, button payloads, an active flow, or free text."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from core.context import Context
from core.types import Reply

Handler = Callable[[Context], Awaitable[list[Reply]]]
# A free-text handler may decline a message (None) so the next one in order gets it.
TextHandler = Callable[[Context], Awaitable[list[Reply] | None]]


@dataclass
class Router:
    commands: dict[str, Handler] = field(default_factory=dict)
    payloads: dict[str, Handler] = field(default_factory=dict)  # by prefix before the first ':'
    flows: dict[str, Handler] = field(default_factory=dict)
    # Free-text handlers in ascending order (hotline look-up before the FAQ, ...): the first that does
    # not decline answers.
    text_handlers: list[tuple[int, TextHandler]] = field(default_factory=list)
    # Main-menu entries ("m:<target>" buttons) -> the command that serves them; a target whose feature
    # does not run gets "menu/unavailable".
    menu_targets: dict[str, str] = field(default_factory=dict)
    # Named entry points one feature offers others ("feedback.start_with_description"): how features
    # hand a conversation over without importing each other. Handlers take (ctx, **kwargs).
    entries: dict[str, Callable[..., Awaitable[list[Reply]]]] = field(default_factory=dict)
    # Commands shown in the platform's command menu, in order: (command, description key in labels).
    visible_commands: list[tuple[str, str]] = field(default_factory=list)
    # Commands that do NOT end a given active flow (its own commands: /phananh offers to resume the draft,
    # /huy cancels it itself). Any other command or main-menu button ends the flow (issue 9).
    flow_commands: dict[str, set[str]] = field(default_factory=dict)

    def command(self, *names: str, visible: str | None = None) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for name in names:
                self.commands[name] = handler
            if visible:
                self.visible_commands.append((names[0], visible))
            return handler

        return register

    def payload(self, prefix: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.payloads[prefix] = handler
            return handler

        return register

    def flow(self, name: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.flows[name] = handler
            return handler

        return register

    def keeps_flow(self, flow: str, *commands: str) -> None:
        """`commands` may be used inside `flow` without ending it."""
        self.flow_commands.setdefault(flow, set()).update(commands)

    def command_of(self, incoming) -> str | None:
        """The command a message invokes: "/x", or a main-menu button ("m:<target>") → its command."""
        if incoming.payload:
            head, _, target = incoming.payload.partition(":")
            return self.menu_targets.get(target, "menu") if head == "m" else None
        return incoming.command or None

    def leaves_flow(self, flow: str | None, incoming) -> bool:
        """True when the message (a command, a menu button) leaves the active `flow`: the flow ends and the
        message is handled as if no flow were open; a flow only consumes text answering its own question."""
        if flow is None:
            return False
        command = self.command_of(incoming)
        return command is not None and command not in self.flow_commands.get(flow, set())

    def text(self, handler: TextHandler, *, order: int = 100) -> TextHandler:
        self.text_handlers.append((order, handler))
        self.text_handlers.sort(key=lambda item: item[0])
        return handler

    def entry(self, name: str) -> Callable[[Callable[..., Awaitable[list[Reply]]]], Callable[..., Awaitable[list[Reply]]]]:
        def register(handler: Callable[..., Awaitable[list[Reply]]]) -> Callable[..., Awaitable[list[Reply]]]:
            self.entries[name] = handler
            return handler

        return register

    def menu_target(self, target: str, command: str) -> None:
        """The main-menu button ``m:<target>`` opens ``/<command>``."""
        self.menu_targets[target] = command

    async def answer_text(self, ctx: Context) -> list[Reply] | None:
        """The replies of the first free-text handler that takes the message; None when all decline."""
        for _, handler in self.text_handlers:
            replies = await handler(ctx)
            if replies is not None:
                return replies
        return None

    def for_payload(self, payload: str) -> Handler | None:
        return self.payloads.get(payload.split(":", 1)[0])


def payload_args(payload: str) -> list[str]:
    """'hl:c:so-tu-phap' -> ['c', 'so-tu-phap']."""
    return payload.split(":")[1:]
