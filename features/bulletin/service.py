"""The bulletin service: what chat handlers, the CLI, the scheduler and the dashboard call.

It owns the store, renders issues for the engine, and turns operator actions into atomic status
transitions (draft → scheduled → sending ⇄ paused → sent / cancelled).
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from features.bulletin.content import BulletinContent, BulletinSettings, Topic, bulletin_content, next_slot
from features.bulletin.engine import DeliveryEngine, EngineConfig
from features.bulletin.models import DRAFT, SCHEDULED, Bulletin
from features.bulletin.render import chat_replies, view
from features.bulletin.store import BulletinStore, Progress
from core.channel import Sender
from core.outbox import Outbox
from core.types import Reply

log = logging.getLogger(__name__)


def engine_config(settings: BulletinSettings | None, **overrides: Any) -> EngineConfig:
    cfg = EngineConfig()
    if settings is not None:
        d = settings.delivery
        cfg.rates = {**cfg.rates, **d.rates}
        cfg.paid_broadcast = frozenset(d.paid_broadcast)
        cfg.max_attempts = d.max_attempts
        cfg.error_threshold = d.error_threshold
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


class BulletinService:
    def __init__(self, store: BulletinStore, packs: Any, senders: Mapping[str, Sender],
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                 outbox: Outbox | None = None) -> None:
        """``outbox``: the process's outbound pipeline (``services.outbox``): the engine shares its pacers,
        policies and process id, and an issue deferred for a subscriber waits there as ``bulletin:<id>``
        (its hook marks the delivery sent when the issue finally goes out)."""
        self.store = store
        self.packs = packs  # core.context.PackHolder (or anything with .pack)
        self.senders = senders
        self.clock = clock
        self.outbox = outbox
        self.engine: DeliveryEngine | None = None
        if outbox is not None:
            outbox.on_finish["bulletin"] = store.outbox_finished
            # issues the engine sent (in any process) count toward Zalo OA's replies per citizen message
            outbox.sent_elsewhere["bulletin"] = store.sent_since

    # configuration --------------------------------------------------------------------------------
    @property
    def pack(self) -> Any:
        return self.packs.pack

    @property
    def content(self) -> BulletinContent | None:
        return bulletin_content(self.pack)

    @property
    def settings(self) -> BulletinSettings:
        content = self.content
        if content is None:
            raise RuntimeError("content pack has no bulletin.yaml")
        return content.settings

    @property
    def zone(self) -> str:
        return self.pack.config.timezone

    @property
    def channels(self) -> list[str]:
        return list(self.settings.delivery.channels)

    def topics(self) -> list[Topic]:
        return list(self.settings.topics)

    def make_engine(self, senders: Mapping[str, Sender] | None = None, **overrides: Any) -> DeliveryEngine:
        if senders is None:
            senders = {ch: s for ch, s in self.senders.items() if ch in self.channels}
        self.engine = DeliveryEngine(self.store, senders, self.render_for_channel,
                                     engine_config(self.settings, **overrides), clock=self.clock,
                                     outbox=self.outbox, notice=self.notice_for_channel)
        return self.engine

    # rendering -------------------------------------------------------------------------------------
    async def render_for_channel(self, bulletin_id: int, channel: str) -> list[Reply]:
        bulletin = await self.store.get(bulletin_id)
        if bulletin is None:
            raise LookupError(bulletin_id)
        return chat_replies(self.pack, bulletin, channel)

    async def notice_for_channel(self, bulletin_id: int, channel: str) -> list[Reply]:
        """"Bạn có bản tin mới": the line before an issue a subscriber gets at their next message."""
        bulletin = await self.store.get(bulletin_id)
        if bulletin is None:
            raise LookupError(bulletin_id)
        return [Reply(text=self.pack.texts.render("bulletin/new_issue", number=bulletin.number,
                                                  date=view(bulletin).date))]

    # content files --------------------------------------------------------------------------------
    async def import_files(self) -> ImportResult:
        """Load ``content/bulletins/*.md`` into the database (new files inserted; drafts/scheduled
        issues refreshed when their file changed; issues already sent are never touched)."""
        result = ImportResult()
        content = self.content
        if content is None:
            return result
        for issue in content.issues:
            outcome = await self.store.upsert_file(issue.values(content.settings, self.zone))
            setattr(result, outcome, getattr(result, outcome) + 1)
        return result

    # authoring -------------------------------------------------------------------------------------
    async def save(self, values: dict[str, Any], bulletin_id: int | None = None) -> Bulletin:
        known = {t.id for t in self.settings.topics}
        topics = [t for t in values.get("topics", []) if t in known]
        if not topics:
            raise ValueError("topics")
        values = {**values, "topics": topics}
        values.setdefault("source", "dashboard")
        return await self.store.save(values, bulletin_id)

    async def next_number(self) -> int:
        latest = await self.store.list(limit=200)
        return max((b.number for b in latest), default=0) + 1

    # operations ------------------------------------------------------------------------------------
    async def schedule(self, bulletin_id: int, at: dt.datetime | None = None) -> dt.datetime | None:
        """Schedule at ``at`` (UTC) or at the next cadence slot. Returns the time, None if not allowed."""
        when = at or next_slot(self.clock(), self.settings, self.zone)
        return when if await self.store.schedule(bulletin_id, when) else None

    async def unschedule(self, bulletin_id: int) -> bool:
        return await self.store.set_status(bulletin_id, DRAFT, from_=(SCHEDULED,), scheduled_at=None, held_at=None)

    async def publish_now(self, bulletin_id: int) -> int | None:
        """Start sending at once (from draft or scheduled). Returns the audience, None if not allowed."""
        audience = await self.store.start(bulletin_id, self.channels, self.clock(), from_=(DRAFT, SCHEDULED))
        if audience is not None:
            log.info("bulletin %s: sending to %d subscribers", bulletin_id, audience)
            self._wake()
        return audience

    async def confirm(self, bulletin_id: int, by: str) -> bool:
        """Confirm a late issue held by the scheduler: it goes out now."""
        ok = await self.store.confirm(bulletin_id, by, self.clock())
        if ok:
            await self.publish_now(bulletin_id)
        return ok

    async def pause(self, bulletin_id: int, reason: str = "operator") -> bool:
        return await self.store.pause(bulletin_id, reason)

    async def resume(self, bulletin_id: int) -> bool:
        ok = await self.store.resume(bulletin_id)
        if ok:
            self._wake()
        return ok

    async def cancel(self, bulletin_id: int) -> bool:
        return await self.store.cancel(bulletin_id)

    async def progress(self, bulletin_id: int) -> Progress | None:
        return await self.store.progress(bulletin_id)

    async def report(self, bulletin_id: int) -> dict[str, Any] | None:
        progress = await self.store.progress(bulletin_id)
        if progress is None:
            return None
        bulletin = await self.store.get(bulletin_id)
        data = progress.as_dict()
        data.update(number=bulletin.number, title=bulletin.title,
                    cap={ch: self.settings.delivery.rates.get(ch) for ch in self.channels},
                    paid_broadcast=[ch for ch in self.channels if ch in self.settings.delivery.paid_broadcast])
        return data

    async def send_test(self, bulletin_id: int, channel: str, external_id: str) -> None:
        """"Send to me": the issue as subscribers will see it, preceded by a one-line test note."""
        bulletin = await self.store.get(bulletin_id)
        if bulletin is None:
            raise LookupError(bulletin_id)
        sender = self.senders.get(channel)
        if sender is None:
            raise LookupError(channel)
        note = Reply(text=self.pack.texts.render("bulletin/test_note", number=bulletin.number, status=bulletin.status))
        await sender.send(external_id, [note, *chat_replies(self.pack, bulletin, channel)], retry=True)

    # subscriptions ---------------------------------------------------------------------------------
    async def subscribe(self, user_id: int, topics: Sequence[str]) -> list[str]:
        known = [t.id for t in self.settings.topics]
        chosen = [t for t in known if t in set(topics)] or self.settings.default_topics
        await self.store.subscribe(user_id, chosen)
        return chosen

    async def unsubscribe(self, user_id: int) -> bool:
        return await self.store.unsubscribe(user_id)

    def _wake(self) -> None:
        if self.engine is not None:
            self.engine.wake()
