"""The delivery engine with an in-memory Sender, on SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select, update

from features.bulletin.engine import DeliveryEngine
from features.bulletin.models import Delivery, Subscriber
from features.bulletin.store import BulletinStore
from core.channel import TransientError
from core.storage.db import session_factory
from core.storage.models import User, utcnow
from core.types import Reply
from tests.bulletin.helpers import FakeSender, add_subscribers, fast_config, make_bulletin, make_engine


async def test_broadcast_reaches_every_subscriber_once(db_engine):
    await add_subscribers(db_engine, 120)
    await add_subscribers(db_engine, 5, topics=("chuyen-doi-so",), start=9000)
    sender = FakeSender()
    engine, store = make_engine(db_engine, sender)
    bid = await make_bulletin(store, topics=["chung"])
    assert await store.start(bid, ["telegram"], utcnow(), from_=("draft",)) == 120
    assert await store.start(bid, ["telegram"], utcnow(), from_=("draft",)) is None  # only once
    await engine.run_until_idle(timeout=20)
    counts = sender.counts()
    assert len(counts) == 120 and set(counts.values()) == {1}
    assert not any(u.startswith("9") for u in counts)
    progress = await store.progress(bid)
    assert progress.status == "sent" and progress.sent == 120 and progress.pending == 0


async def test_blocked_user_is_marked_and_unsubscribed(db_engine):
    await add_subscribers(db_engine, 20)
    sender = FakeSender()
    sender.blocked = {"1003", "1007"}
    engine, store = make_engine(db_engine, sender)
    bid = await make_bulletin(store)
    await store.start(bid, ["telegram"], utcnow(), from_=("draft",))
    await engine.run_until_idle(timeout=20)
    progress = await store.progress(bid)
    assert (progress.sent, progress.blocked) == (18, 2)
    async with db_engine.connect() as conn:
        blocked = (await conn.execute(select(User.external_id).where(User.blocked_at.is_not(None)))).scalars().all()
        inactive = (await conn.execute(select(Subscriber.user_id).where(Subscriber.active.is_(False)))).scalars().all()
    assert sorted(blocked) == ["1003", "1007"] and len(inactive) == 2
    # the next issue skips them from the start
    bid2 = await make_bulletin(store, number=2)
    assert await store.start(bid2, ["telegram"], utcnow(), from_=("draft",)) == 18


async def test_transient_errors_retried_then_failed(db_engine):
    await add_subscribers(db_engine, 10)
    sender = FakeSender()
    sender.transient["1001"] = 2  # succeeds on the third attempt
    sender.transient["1002"] = 99  # never
    sender.permanent = {"1003"}
    engine, store = make_engine(db_engine, sender, max_attempts=3, error_min_sample=1000)
    bid = await make_bulletin(store)
    await store.start(bid, ["telegram"], utcnow(), from_=("draft",))
    await engine.run_until_idle(timeout=20)
    progress = await store.progress(bid)
    assert (progress.sent, progress.failed) == (8, 2)
    async with db_engine.connect() as conn:
        rows = dict((await conn.execute(select(Delivery.external_id, Delivery.attempts))).all())
    assert rows["1001"] == 3 and rows["1002"] == 3 and rows["1003"] == 1
    assert sender.counts()["1001"] == 1


async def test_rate_limited_pauses_channel_and_retries(db_engine):
    await add_subscribers(db_engine, 30)
    sender = FakeSender()
    sender.rate_limit_next = [0.5]
    engine, store = make_engine(db_engine, sender, max_in_flight=1)
    bid = await make_bulletin(store)
    await store.start(bid, ["telegram"], utcnow(), from_=("draft",))
    await engine.run_until_idle(timeout=20)
    assert len(sender.counts()) == 30 and set(sender.counts().values()) == {1}
    first_call = sender.calls[0][1]
    assert all(t - first_call >= 0.49 for _, t in sender.calls[1:])  # nobody sent during retry_after
    assert (await store.progress(bid)).sent == 30


async def test_error_rate_auto_pause(db_engine):
    await add_subscribers(db_engine, 100)
    sender = FakeSender()
    sender.fail_all = True
    engine, store = make_engine(db_engine, sender, error_min_sample=10, error_threshold=0.5, max_in_flight=4)
    bid = await make_bulletin(store)
    await store.start(bid, ["telegram"], utcnow(), from_=("draft",))
    await engine.run_until_idle(timeout=20)
    progress = await store.progress(bid)
    assert progress.status == "paused" and progress.paused_reason.startswith("auto")
    assert progress.pending + progress.sending > 50 and progress.sending == 0
    # an official fixes the cause and resumes: everyone gets it
    sender.fail_all = False
    assert await store.resume(bid)
    await engine.run_until_idle(timeout=20)
    progress = await store.progress(bid)
    assert progress.status == "sent" and progress.sent == 100


async def test_crash_with_claimed_rows_resumes_without_skipping(db_engine):
    await add_subscribers(db_engine, 200)
    sender = FakeSender(delay=0.002)
    engine, store = make_engine(db_engine, sender, rates={"telegram": 500.0})
    bid = await make_bulletin(store)
    await store.start(bid, ["telegram"], utcnow(), from_=("draft",))
    task = asyncio.create_task(engine.run())
    while len(sender.delivered) < 60:
        await asyncio.sleep(0.01)
    # kill -9: the task dies without cleanup (we cancel it, then undo the clean release it did by
    # simulating rows left claimed by a dead worker)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    before = sender.counts()
    async with db_engine.connect() as conn:
        states = dict((await conn.execute(select(Delivery.external_id, Delivery.status)
                                          .where(Delivery.external_id.in_(list(before))))).all())
    assert set(states.values()) == {"sent"}, {k: v for k, v in states.items() if v != "sent"}
    async with db_engine.begin() as conn:
        # a dead worker's claims: 25 pending rows look claimed an hour ago
        pending = (await conn.execute(select(Delivery.id).where(Delivery.status == "pending")
                                      .order_by(Delivery.id).limit(25))).scalars().all()
        await conn.execute(update(Delivery).where(Delivery.id.in_(pending)).values(
            status="sending", claim_token="dead", claimed_at=utcnow() - dt.timedelta(seconds=1),
            claimed_by="host:1:deadbeef"))  # a process with no heartbeat in `processes`
    engine2, _ = make_engine(db_engine, sender)
    await engine2.run_until_idle(timeout=30)
    counts = sender.counts()
    assert len(counts) == 200, "nobody skipped"
    dups = {u: c for u, c in counts.items() if c > 1}
    assert not dups, (dups, {u: before.get(u) for u in dups}, [(u, round(t - sender.calls[0][1], 3)) for u, t in sender.calls if u in dups])
    assert len(before) >= 60
    assert (await store.progress(bid)).status == "sent"


async def _second_engine(db_engine):
    from sqlalchemy import text

    from core.storage.db import make_engine as make_db

    if db_engine.dialect.name == "postgresql":
        async with db_engine.connect() as conn:
            schema = (await conn.execute(text("SHOW search_path"))).scalar_one().strip('"')
        return make_db(str(db_engine.url.render_as_string(hide_password=False)), schema=schema)
    return make_db(db_engine.url.render_as_string(hide_password=False))


async def test_two_workers_deliver_each_message_once(db_engine):
    """Two workers with their own connection pools share one broadcast: every row exactly once."""
    await add_subscribers(db_engine, 400)
    other_db = await _second_engine(db_engine)
    try:
        sender_a, sender_b = FakeSender(delay=0.001), FakeSender(delay=0.001)
        engine_a, store = make_engine(db_engine, sender_a, batch_size=20, rates={"telegram": 1000.0})
        engine_b, _ = make_engine(other_db, sender_b, batch_size=20, rates={"telegram": 1000.0})
        bid = await make_bulletin(store)
        await store.start(bid, ["telegram"], utcnow(), from_=("draft",))
        await asyncio.gather(engine_a.run_until_idle(timeout=30), engine_b.run_until_idle(timeout=30))
        a, b = sender_a.counts(), sender_b.counts()
        assert not set(a) & set(b), "a message went out from both workers"
        assert len(a) + len(b) == 400 and set((a + b).values()) == {1}
        assert a and b, ("both workers took part", engine_b._status, engine_b.pacer("telegram").rate, len(sender_b.calls))
        assert (await store.progress(bid)).sent == 400
    finally:
        await other_db.dispose()


async def test_pacer_never_exceeds_cap_in_any_window(sqlite_engine):
    """The limiter keeps every sliding one-second window under the cap (here 200 msg/s)."""
    await add_subscribers(sqlite_engine, 500)
    sender = FakeSender()
    engine, store = make_engine(sqlite_engine, sender, rates={"telegram": 200.0})
    bid = await make_bulletin(store)
    await store.start(bid, ["telegram"], utcnow(), from_=("draft",))
    await engine.run_until_idle(timeout=30)
    times = sorted(t for _, t in sender.calls)
    assert len(times) == 500
    j = 0
    worst = 0
    for i, t in enumerate(times):
        while times[j] <= t - 1.0:
            j += 1
        worst = max(worst, i - j + 1)
    assert worst <= 200, worst
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert rate >= 0.9 * 200, rate


async def test_paid_broadcast_passed_to_the_sender_only_when_configured(sqlite_engine) -> None:
    await add_subscribers(sqlite_engine, 5)
    for paid in (frozenset({"telegram"}), frozenset()):
        sender = FakeSender()
        engine, store = make_engine(sqlite_engine, sender, paid_broadcast=paid)
        bid = await make_bulletin(store, number=len(paid) + 1)
        await store.start(bid, ["telegram"], utcnow(), from_=("draft",))
        await engine.run_until_idle(timeout=20)
        assert sender.paid == [bool(paid)] * 5


class _PartialSender:
    """A sender that reports how many replies arrived before failing (DeliveryError.delivered)."""

    channel = "telegram"

    def __init__(self) -> None:
        self.got: list[tuple[str, str]] = []
        self.fail_at: dict[str, int] = {}  # external id -> reply index that fails once

    async def send(self, user_id, replies, *, retry=True):  # noqa: ANN001, ANN201 - no paid_broadcast
        for i, reply in enumerate(replies):
            if self.fail_at.get(user_id) == int(reply.text):
                del self.fail_at[user_id]
                exc = TransientError("timeout")
                exc.delivered = i
                raise exc
            self.got.append((user_id, reply.text))


async def test_partial_failure_resumes_with_remaining_parts(db_engine) -> None:
    await add_subscribers(db_engine, 4)
    sender = _PartialSender()
    sender.fail_at = {"1000": 1, "1001": 2, "1002": 0}

    async def three_parts(bulletin_id: int, channel: str) -> list[Reply]:
        return [Reply(text=str(i)) for i in range(3)]

    store = BulletinStore(session_factory(db_engine))
    engine = DeliveryEngine(store, {"telegram": sender}, three_parts, fast_config())
    bid = await make_bulletin(store)
    await store.start(bid, ["telegram"], utcnow(), from_=("draft",))
    await engine.run_until_idle(timeout=20)
    for user in ("1000", "1001", "1002", "1003"):  # every part exactly once, in order
        assert [t for u, t in sender.got if u == user] == ["0", "1", "2"], user
    assert (await store.progress(bid)).sent == 4
