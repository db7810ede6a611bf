"""What a handler gets besides the message: the user, their flow state, the pack and the services."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.types import Incoming, Reply

if TYPE_CHECKING:
    from core.content import ContentPack
    from core.storage.models import User
    from core.storage.repos import FlowState, Store


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
    # The one outbound pipeline (core.outbox.Outbox): features enqueue messages to people here.
    outbox: Any = None

    @property
    def pack(self) -> ContentPack:
        return self.packs.pack


@dataclass
class Context:
    incoming: Incoming
    user: User
    state: FlowState | None
    services: Services
    # The router of the running features (set by the core): `ctx.router.entries[...]` hands a conversation
    # to another feature's entry point.
    router: Any = None
    # Filled by handlers for the interaction log: what was answered and how.
    log_answer: str = ""
    log_decision: str = ""
    log_score: float | None = None
    log_normalized: str = ""
    log_kind: str = ""
    # A log entry fixed by the handler (`log_now`): later log_* assignments no longer change it.
    log_fixed: dict[str, Any] | None = None
    # Set by the core: set_state/clear_state only record the change, and the core saves it together with
    # the interaction log in the turn's closing transaction (before any reply reaches the user).
    defer_writes: bool = False
    state_changed: bool = False

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
        from core.storage.repos import FlowState

        expires = self.services.clock() + ttl if ttl else None
        self.state = FlowState(flow, step, data, expires)
        self.state_changed = True
        if not self.defer_writes:
            await self.services.store.save_state(self.user.id, self.state)

    async def clear_state(self) -> None:
        self.state = None
        self.state_changed = True
        if not self.defer_writes:
            await self.services.store.clear_state(self.user.id)

    @property
    def turn(self) -> int:
        """This turn's number for the user (``users.turn_seq`` once the turn is stored; its log row carries it):
        a button may name "the answer of turn N" before the row exists (the FAQ's rating buttons)."""
        return int(self.user.turn_seq) + 1

    def log_now(self, *, kind: str, answer: str, text: str = "", normalized: str = "", decision: str = "",
                score: float | None = None) -> None:
        """Fix this turn's interaction-log entry now (later log_* assignments are ignored). The core writes
        it at the end of the turn, in the same transaction as the state, so logging costs no round trip of
        its own. Pass `text=""` to keep personal data (descriptions, phone numbers) out of the log."""
        self.log_fixed = {"kind": kind, "answer": answer[:128], "text": text, "normalized": normalized,
                          "decision": decision, "score": score}
