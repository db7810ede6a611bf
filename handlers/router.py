"""Which handler takes a message: commands, button payloads, an active flow, or free text."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from handlers.context import Context
from handlers.types import Reply

Handler = Callable[[Context], Awaitable[list[Reply]]]


@dataclass
class Router:
    commands: dict[str, Handler] = field(default_factory=dict)
    payloads: dict[str, Handler] = field(default_factory=dict)  # by prefix before the first ':'
    flows: dict[str, Handler] = field(default_factory=dict)
    free_text: Handler | None = None
    # Commands shown in the platform's command menu, in order: (command, description key in labels).
    visible_commands: list[tuple[str, str]] = field(default_factory=list)

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

    def text(self, handler: Handler) -> Handler:
        self.free_text = handler
        return handler

    def for_payload(self, payload: str) -> Handler | None:
        return self.payloads.get(payload.split(":", 1)[0])


def payload_args(payload: str) -> list[str]:
    """'hl:c:so-tu-phap' -> ['c', 'so-tu-phap']."""
    return payload.split(":")[1:]
