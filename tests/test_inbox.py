"""The durable inbox on its own: duplicates dropped, a failing turn parked with one polite reply,
ordering per user, and pruning that keeps what a report's page still shows."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from core.delivery import MessageKind
from core.inbox import Inbox
from core.outbox import Outbox
from core.storage.db import session_factory
from core.storage.models import InboxEvent, OutboxMessage
from core.storage.writes import ClosingWrites
from core.types import Incoming, Reply


class Recorder:
    channel = "telegram"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, user_id, replies, *, retry=True, paid_broadcast=False, reply_to=""):  # noqa: ANN001, ANN201
        self.sent += [(user_id, r.text) for r in replies]


def _pair(engine, handle):  # noqa: ANN001, ANN202
    sessions = session_factory(engine)
    sender = Recorder()
    outbox = Outbox(sessions, {"telegram": sender}, process_id="test-process")
    return Inbox(sessions, handle, outbox), sender, sessions


def said(user: str, text: str, message_id: str) -> Incoming:
    return Incoming(channel="telegram", user_id=user, text=text, message_id=message_id)


async def _count(sessions, model) -> int:  # noqa: ANN001
    async with sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)))


async def test_a_duplicate_delivery_is_stored_once_and_answered_once(sqlite_engine) -> None:
    async def echo(incoming, *, also=None):  # noqa: ANN001, ANN202
        replies = [Reply(text=f"đã nhận {incoming.text}")]
        async with sessions.begin() as s, ClosingWrites.on(s) as writes:
            await also(writes, replies)
        return replies

    inbox, sender, sessions = _pair(sqlite_engine, echo)
    for _ in range(3):  # the platform retries: same event id
        await inbox.submit(said("1", "một", "u1"))
    await inbox.submit(said("1", "hai", "u2"))
    await inbox.run_until_idle()
    assert sender.sent == [("1", "đã nhận một"), ("1", "đã nhận hai")]  # once each, in order
    assert await _count(sessions, InboxEvent) == 2


async def test_a_failing_turn_is_parked_with_one_polite_reply(sqlite_engine) -> None:
    async def broken(incoming, *, also=None):  # noqa: ANN001, ANN202
        return [Reply(text="Xin lỗi, hệ thống đang bận.")]  # what Core.handle answers when a handler raised

    inbox, sender, sessions = _pair(sqlite_engine, broken)
    await inbox.submit(said("2", "x", "u9"))
    await inbox.run_until_idle()
    async with sessions() as s:
        event = (await s.execute(select(InboxEvent))).scalar_one()
    assert event.status == "parked" and event.error
    assert sender.sent == [("2", "Xin lỗi, hệ thống đang bận.")]


async def test_pruning_keeps_recent_events_and_the_messages_of_a_report(sqlite_engine) -> None:
    async def echo(incoming, *, also=None):  # noqa: ANN001, ANN202
        replies = [Reply(text="ok")]
        async with sessions.begin() as s, ClosingWrites.on(s) as writes:
            await also(writes, replies)
        return replies

    inbox, _sender, sessions = _pair(sqlite_engine, echo)
    await inbox.submit(said("3", "cũ", "u-old"))
    await inbox.submit(said("3", "mới", "u-new"))
    await inbox.run_until_idle()
    async with sessions.begin() as s:
        answer = await inbox.outbox.enqueue(s, channel="telegram", external_id="3", replies=[Reply(text="trả lời")],
                                            kind=MessageKind.OFFICIAL_ANSWER, ref="feedback:1")
    await inbox.outbox.deliver([answer])
    old = dt.datetime.now(dt.UTC) - dt.timedelta(days=inbox.keep_days + 1)
    async with sessions.begin() as s:
        await s.execute(update(InboxEvent).where(InboxEvent.event_id == "u-old").values(received_at=old))
        await s.execute(update(OutboxMessage).values(created_at=old))  # every message is old now
    assert await inbox.prune() == 3  # the old event and both turn replies
    async with sessions() as s:
        assert list((await s.execute(select(InboxEvent.event_id))).scalars()) == ["u-new"]
        kept = list((await s.execute(select(OutboxMessage.ref))).scalars())
    assert kept == ["feedback:1"]  # the official's answer stays on the report's page


async def test_live_processes_split_each_channels_cap(sqlite_engine) -> None:
    async def echo(incoming, *, also=None):  # noqa: ANN001, ANN202
        return []

    first, _, sessions = _pair(sqlite_engine, echo)
    second = Inbox(sessions, echo, Outbox(sessions, {}, process_id="second-process"))
    pacer = first.outbox.pacers.get("telegram")  # Telegram's 30 messages/s for the whole installation
    await first.heartbeat()
    assert pacer.share == 1
    await second.heartbeat()
    await first.heartbeat()
    assert pacer.share == 2 and pacer.rate <= 15.0
    await second.release()  # a clean stop: the other process gets the whole cap back at its next beat
    await first.heartbeat()
    assert pacer.share == 1
