"""A bulletin on a channel with a delivery policy (issue 12): Zalo OA followers inside the 48-hour window
get the issue as a free reply; the others are deferred with the reason and get "Bạn có bản tin mới" and
the issue first thing at their next message — through the inbox, or the outbox's release."""
from __future__ import annotations

import asyncio
import collections
import datetime as dt
from collections.abc import Sequence

from sqlalchemy import insert, select

from bot.app import use_inbox
from channels.zalo_oa.policy import ZaloOAPolicy
from core.channel import OutsideWindow
from core.storage.models import InboxEvent, OutboxMessage, utcnow
from core.types import Incoming, Reply
from features.bulletin.models import Delivery
from tests.bulletin.helpers import add_subscribers, make_bulletin

CHANNEL = "zalo_oa"


class ZaloLikeSender:
    """Zalo OA's rule, enforced: without a proactive quota only a reply to the person's last message
    within 48 hours goes out (anything else raises OutsideWindow, as channels.zalo_oa does)."""

    channel = CHANNEL

    def __init__(self) -> None:
        self.last_message: dict[str, tuple[str, dt.datetime]] = {}  # user -> (message id, when)
        self.got: list[tuple[str, str, list[str]]] = []  # (user, reply_to, texts)

    async def send(self, user_id: str, replies: Sequence[Reply], *, retry: bool = True,
                   paid_broadcast: bool = False, reply_to: str = "") -> None:
        last = self.last_message.get(user_id)
        if not reply_to or last is None or last[0] != reply_to or utcnow() - last[1] >= dt.timedelta(hours=48):
            raise OutsideWindow("outside the 48-hour window")
        self.got.append((user_id, reply_to, [r.text for r in replies]))

    def issues(self) -> collections.Counter[str]:
        return collections.Counter(u for u, _, texts in self.got if any("Bản tin 1 của" in t for t in texts))


async def _wrote(db_engine, sender: ZaloLikeSender, users: Sequence[str], ago: dt.timedelta, tag: str) -> None:
    """Each user wrote to the OA ``ago`` (an inbox event already handled)."""
    at = utcnow() - ago
    async with db_engine.begin() as conn:
        await conn.execute(insert(InboxEvent), [
            {"channel": CHANNEL, "event_id": f"{tag}-{u}", "external_id": u, "user_key": f"{CHANNEL}:{u}",
             "payload": {"message_id": f"{tag}-{u}"}, "status": "done", "attempts": 1, "error": "",
             "received_at": at, "handled_at": at} for u in users])
    for u in users:
        sender.last_message[u] = (f"{tag}-{u}", at)


async def test_bulletin_to_1000_zalo_followers_300_outside_the_window(bot, db_engine) -> None:
    sender = ZaloLikeSender()
    bot.senders[CHANNEL] = sender
    bot.policies[CHANNEL] = ZaloOAPolicy()  # no proactive quota: outside the window means deferred
    service = bot.services.extra["bulletin"]
    outbox = bot.services.outbox
    await add_subscribers(db_engine, 1000, channel=CHANNEL, start=5000)
    users = [str(5000 + i) for i in range(1000)]
    inside, outside = users[:700], users[700:]
    await _wrote(db_engine, sender, inside, dt.timedelta(hours=3), "m1")
    await _wrote(db_engine, sender, outside, dt.timedelta(hours=60), "m1")

    async def issue(bulletin_id: int, channel: str) -> list[Reply]:
        return [Reply(text=f"Bản tin 1 của kênh {channel}")]

    service.render_for_channel = issue  # (the shipped template's text is tested elsewhere)
    bid = await make_bulletin(service.store)
    assert await service.store.start(bid, [CHANNEL], utcnow(), from_=("draft",)) == 1000
    engine = service.make_engine(senders={CHANNEL: sender}, rates={CHANNEL: 1000.0}, idle_poll=0.05,
                                 housekeeping_interval=0.05)
    assert engine.pacer(CHANNEL) is outbox.pacers.get(CHANNEL) and engine.pacer(CHANNEL).cap == 1000.0
    await engine.run_until_idle(timeout=60)

    # 700 sent as free replies to their last message, 300 deferred with the reason, nothing lost
    progress = await service.progress(bid)
    assert progress.status == "sent"
    assert progress.by_channel[CHANNEL] == {"sent": 700, "deferred": 300, "failed": 0, "pending": 0}
    assert sender.issues() == collections.Counter(inside)
    assert all(reply_to == f"m1-{u}" for u, reply_to, _ in sender.got)
    async with db_engine.connect() as conn:
        reasons = set((await conn.execute(select(Delivery.last_error).where(Delivery.status == "deferred")))
                      .scalars())
        waiting = (await conn.execute(select(OutboxMessage.external_id, OutboxMessage.replies).where(
            OutboxMessage.ref == f"bulletin:{bid}", OutboxMessage.status == "deferred"))).all()
    assert len(reasons) == 1 and "48 giờ" in reasons.pop()
    assert sorted(u for u, _ in waiting) == sorted(outside)
    first_text = waiting[0][1][0]["text"]
    assert first_text.startswith("📬 Bạn có bản tin mới") and "số 1" in first_text
    report = await service.report(bid)
    assert report["by_channel"][CHANNEL]["deferred"] == 300

    # a sample writes again through the inbox: the issue goes first, then the answer to what they wrote
    inbox = use_inbox(bot)
    sample = outside[:5]
    for u in sample:
        sender.last_message[u] = (f"m2-{u}", utcnow())
        await inbox.submit(Incoming(channel=CHANNEL, user_id=u, text="xin chào", message_id=f"m2-{u}"))
    await inbox.run_until_idle(timeout=30)
    for u in sample:
        mine = [(reply_to, texts) for who, reply_to, texts in sender.got if who == u]
        assert len(mine) == 2, mine
        assert mine[0][0] == f"m2-{u}" and mine[0][1][0].startswith("📬 Bạn có bản tin mới")
        assert mine[0][1][1] == f"Bản tin 1 của kênh {CHANNEL}"
        assert not any("Bản tin 1" in t for t in mine[1][1])  # the turn's answer, after the issue

    # the rest write again too: the outbox releases what waited for them and sends it
    rest = outside[5:]
    await _wrote(db_engine, sender, rest, dt.timedelta(seconds=1), "m3")
    owed: list[int] = []
    async with outbox.sessions.begin() as session:
        for u in rest:
            mine = await outbox.release_deferred(session, CHANNEL, u, f"m3-{u}")
            assert len(mine) == 1
            owed += mine
    for i in range(0, len(owed), 25):  # (the outbox sends what it owes in parallel per person)
        assert sum(await asyncio.gather(*(outbox.deliver([row]) for row in owed[i:i + 25]))) == len(owed[i:i + 25])

    progress = await service.progress(bid)
    assert progress.by_channel[CHANNEL] == {"sent": 1000, "deferred": 0, "failed": 0, "pending": 0}
    assert sender.issues() == collections.Counter(users), "each follower got the issue exactly once"
    assert [s.label for s in await outbox.states(f"bulletin:{bid}")] == ["đã gửi"] * 300
    # an issue that went out through the outbox is one message since they wrote, not two
    reach = await outbox.reach_many(CHANNEL, rest[:20])
    assert {r.sent_since_inbound for r in reach.values()} == {1}


async def test_unsubscribing_drops_the_issue_waiting_for_the_next_message(bot, db_engine) -> None:
    sender = ZaloLikeSender()
    bot.senders[CHANNEL] = sender
    bot.policies[CHANNEL] = ZaloOAPolicy()
    service = bot.services.extra["bulletin"]
    [user_id] = await add_subscribers(db_engine, 1, channel=CHANNEL, start=7000)
    await _wrote(db_engine, sender, ["7000"], dt.timedelta(days=5), "m1")
    bid = await make_bulletin(service.store)
    await service.store.start(bid, [CHANNEL], utcnow(), from_=("draft",))
    await service.make_engine(senders={CHANNEL: sender}, idle_poll=0.05,
                              housekeeping_interval=0.05).run_until_idle(timeout=20)
    assert (await service.progress(bid)).deferred == 1
    assert await service.unsubscribe(user_id)
    async with bot.services.outbox.sessions.begin() as session:
        assert await bot.services.outbox.release_deferred(session, CHANNEL, "7000", "m9") == []
    progress = await service.progress(bid)
    assert (progress.deferred, progress.skipped, progress.sent) == (0, 1, 0)
    assert not sender.got


async def test_issues_the_engine_sent_count_toward_zalos_eight_replies_per_message(bot, db_engine) -> None:
    """Zalo OA allows 8 messages after each message of the person: a citizen who wrote once and then got
    five issues from the bulletin engine and three messages through the outbox gets the ninth deferred,
    whichever of the two sends it."""
    sender = ZaloLikeSender()
    bot.senders[CHANNEL] = sender
    bot.policies[CHANNEL] = ZaloOAPolicy()  # no proactive quota
    service = bot.services.extra["bulletin"]
    outbox = bot.services.outbox
    await add_subscribers(db_engine, 1, channel=CHANNEL, start=8100)
    await _wrote(db_engine, sender, ["8100"], dt.timedelta(hours=1), "m1")

    async def issue(bulletin_id: int, channel: str) -> list[Reply]:
        return [Reply(text=f"Bản tin {bulletin_id}")]

    service.render_for_channel = issue

    async def send_issue(number: int) -> int:
        bid = await make_bulletin(service.store, number=number)
        assert await service.store.start(bid, [CHANNEL], utcnow(), from_=("draft",)) == 1
        await service.make_engine(senders={CHANNEL: sender}, rates={CHANNEL: 1000.0}, idle_poll=0.05,
                                  housekeeping_interval=0.05).run_until_idle(timeout=20)
        return bid

    async def send_message(text: str) -> str:
        async with outbox.sessions.begin() as session:
            row = await outbox.enqueue(session, channel=CHANNEL, external_id="8100", replies=[Reply(text=text)])
        await outbox.deliver([row])
        async with db_engine.connect() as conn:
            return (await conn.execute(select(OutboxMessage.status, OutboxMessage.reason)
                                       .where(OutboxMessage.id == row))).one()

    for number in range(1, 6):
        await send_issue(number)
    assert len(sender.got) == 5
    for n in range(3):
        status, _ = await send_message(f"Phản ánh của bạn đã chuyển xử lý ({n})")
        assert status == "sent"
    assert len(sender.got) == 8

    status, reason = await send_message("Tin thứ chín")
    assert status == "deferred" and "đã gửi 8 tin" in reason, reason
    bid = await send_issue(6)
    assert (await service.progress(bid)).by_channel[CHANNEL]["deferred"] == 1
    assert len(sender.got) == 8  # nothing beyond Zalo's eight
