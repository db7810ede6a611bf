"""Shared helpers for the bulletin tests: subscribers in bulk, an in-memory Sender, a bulletin row."""
from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from collections.abc import Sequence

from sqlalchemy import insert, select

from features.bulletin.engine import DeliveryEngine, EngineConfig
from features.bulletin.models import Subscriber, SubscriberTopic
from features.bulletin.store import BulletinStore
from core.channel import Blocked, PermanentError, RateLimited, TransientError
from core.storage.db import session_factory
from core.storage.models import User
from core.types import Reply


async def add_subscribers(engine, n: int, *, channel: str = "telegram", topics: Sequence[str] = ("chung",),
                          start: int = 1000) -> list[int]:
    """n users subscribed to `topics`; external ids start..start+n-1. Returns the user ids."""
    now = dt.datetime.now(dt.UTC)
    async with engine.begin() as conn:
        rows = [{"channel": channel, "external_id": str(start + i), "display_name": "", "first_seen": now,
                 "last_seen": now, "memo": {}} for i in range(n)]
        for i in range(0, n, 5000):
            await conn.execute(insert(User), rows[i:i + 5000])
        ids = list((await conn.execute(
            select(User.id).where(User.channel == channel, User.external_id.in_([r["external_id"] for r in rows]))
        )).scalars()) if n <= 5000 else list((await conn.execute(select(User.id).where(User.channel == channel))).scalars())
        for i in range(0, len(ids), 5000):
            chunk = ids[i:i + 5000]
            await conn.execute(insert(Subscriber), [{"user_id": u, "active": True, "subscribed_at": now,
                                                      "unsubscribe_reason": ""} for u in chunk])
            await conn.execute(insert(SubscriberTopic), [{"user_id": u, "topic": t} for u in chunk for t in topics])
    return ids


class FakeSender:
    """Records deliveries; fails on demand like a platform would."""

    channel = "telegram"

    def __init__(self, *, delay: float = 0.0) -> None:
        self.delivered: list[tuple[str, float]] = []
        self.blocked: set[str] = set()
        self.transient: Counter[str] = Counter()  # external id -> failures left
        self.permanent: set[str] = set()
        self.rate_limit_next: list[float] = []
        self.calls: list[tuple[str, float]] = []
        self.delay = delay
        self.fail_all = False
        self.paid: list[bool] = []  # paid_broadcast of every call

    async def send(self, user_id: str, replies: Sequence[Reply], *, retry: bool = True,
                   paid_broadcast: bool = False) -> None:
        assert retry is False
        self.calls.append((user_id, time.monotonic()))
        self.paid.append(paid_broadcast)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.rate_limit_next:
            raise RateLimited(self.rate_limit_next.pop(0))
        if user_id in self.blocked:
            raise Blocked("Forbidden: bot was blocked by the user")
        if self.fail_all:
            raise TransientError("boom")
        if self.transient[user_id] > 0:
            self.transient[user_id] -= 1
            raise TransientError("timeout")
        if user_id in self.permanent:
            raise PermanentError("bad request")
        self.delivered.append((user_id, time.monotonic()))

    def counts(self) -> Counter[str]:
        return Counter(u for u, _ in self.delivered)


async def simple_render(bulletin_id: int, channel: str) -> list[Reply]:
    return [Reply(text=f"Bản tin {bulletin_id}")]


async def make_bulletin(store: BulletinStore, number: int = 1, topics: Sequence[str] = ("chung",), **kw) -> int:
    values = dict(number=number, issue_date=dt.date(2026, 11, 1), title=f"Bản tin số {number}", summary="",
                  body="Nội dung", links=[], image_url="", topics=list(topics), status="draft", source="dashboard")
    values.update(kw)
    row = await store.save(values)
    return row.id


def fast_config(**kw) -> EngineConfig:
    base = dict(rates={"telegram": 2000.0}, idle_poll=0.05, housekeeping_interval=0.05, flush_interval=0.05,
                backoff_base=0.05, backoff_max=0.2, max_in_flight=32)
    base.update(kw)
    return EngineConfig(**base)


def make_engine(db_engine, sender, **kw) -> tuple[DeliveryEngine, BulletinStore]:
    store = BulletinStore(session_factory(db_engine))
    return DeliveryEngine(store, {"telegram": sender}, simple_render, fast_config(**kw)), store
