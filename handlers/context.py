"""What a handler gets besides the message: the user, their flow state, the pack and the services."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from handlers.types import Incoming, Reply

if TYPE_CHECKING:
    from bot.content import ContentPack
    from bot.storage.models import User
    from bot.storage.repos import FlowState, Store


class PackHolder:
    """The current content pack; swapped atomically on reload so handlers always see a whole pack."""

    def __init__(self, pack: ContentPack) -> None:
        self.pack = pack
        self.listeners: list[Callable[[ContentPack], None]] = []

    def replace(self, pack: ContentPack) -> None:
        for listener in self.listeners:
            listener(pack)
        self.pack = pack


@dataclass
class Services:
    """Shared, long-lived collaborators. Features attach theirs in `extra` (feedback, bulletin...)."""

    store: Store
    packs: PackHolder
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pack(self) -> ContentPack:
        return self.packs.pack


@dataclass
class Context:
    incoming: Incoming
    user: User
    state: FlowState | None
    services: Services
    # Filled by handlers for the interaction log: what was answered and how.
    log_answer: str = ""
    log_decision: str = ""
    log_score: float | None = None
    log_normalized: str = ""
    log_kind: str = ""

    @property
    def pack(self) -> ContentPack:
        return self.services.pack

    def text(self, template: str, /, **kwargs: Any) -> str:
        return self.pack.texts.render(template, **kwargs)

    def label(self, key: str) -> str:
        return self.pack.texts.label(key)

    def say(self, template: str, /, **kwargs: Any) -> Reply:
        return Reply(text=self.text(template, **kwargs))

    async def set_state(self, flow: str, step: str, data: dict[str, Any], ttl: dt.timedelta | None = None) -> None:
        from bot.storage.repos import FlowState

        expires = self.services.clock() + ttl if ttl else None
        self.state = FlowState(flow, step, data, expires)
        await self.services.store.save_state(self.user.id, self.state)

    async def clear_state(self) -> None:
        self.state = None
        await self.services.store.clear_state(self.user.id)
