"""Issue 9: per-user rate limits with a polite message, shared across processes (counted in the database's
interaction log), and fairness between users (one person's flood never delays another person's /start)."""
from __future__ import annotations

import time

from sqlalchemy import select

from bot.app import use_inbox
from core.storage.models import Interaction
from core.types import Incoming
from tests.feedback.conftest import Chat


def said(user: str, text: str, n: int = 0) -> Incoming:
    return Incoming(channel="telegram", user_id=user, display_name="An", text=text, message_id=f"{user}-{n}")


async def test_a_flood_gets_one_polite_message_then_silence_and_others_are_untouched(bot):
    bot.services.extra["turns_per_minute"] = 5
    answers = [await bot.core.handle(said("9951", f"câu hỏi {i}")) for i in range(7)]
    assert all(a and "nhanh quá" not in a[0].text for a in answers[:5])
    assert "nhanh quá" in answers[5][0].text and answers[6] == []
    [welcome] = await bot.core.handle(said("9952", "/start"))
    assert "Quảng Ngãi" in welcome.text


async def test_the_limit_is_counted_in_the_database_shared_by_every_process(bot, pack):
    from bot.app import build_bot
    from tests.conftest import make_settings

    other = await build_bot(make_settings(), pack=pack, engine=bot.engine, migrate=False)  # a second process
    for b in (bot, other):
        b.services.extra["turns_per_minute"] = 4
    for i in range(4):
        await (bot if i % 2 else other).core.handle(said("9953", f"xin chào {i}"))
    [reply] = await other.core.handle(said("9953", "thêm một câu"))
    assert "nhanh quá" in reply.text


class Sender:
    """Telegram stand-in for the outbox (records who was answered, in order)."""

    channel = "telegram"

    def __init__(self) -> None:
        self.order: list[str] = []

    async def send(self, user_id: str, replies, **_kw) -> None:
        self.order.append(user_id)


async def test_one_users_200_messages_do_not_delay_another_users_start(bot):
    bot.senders["telegram"] = Sender()
    inbox = use_inbox(bot)
    for i in range(200):
        await inbox.submit(said("9954", f"tin nhắn {i}", i))
    await inbox.submit(said("9955", "/start", 0))
    started = time.perf_counter()
    await inbox.run_until_idle(timeout=50)
    assert time.perf_counter() - started < 50
    async with bot.services.store.sessions() as s:
        users = list((await s.execute(select(Interaction.text).order_by(Interaction.id))).scalars())
    assert users.index("/start") <= 2  # claimed with the flood's first event, not after 200 turns
    assert len(users) == 201  # every event handled (most of the flood without an answer: rate-limited)


async def test_tracking_code_guesses_are_bounded_per_minute(bot, sender):
    chat = Chat(bot, user_id="9956")
    for guess in ("ABCD-EFGH", "ABCD-EFGJ", "ABCD-EFGK", "ABCD-EFGM", "ABCD-EFGN"):
        await chat.say(f"/tracuu {guess}")
        assert "vui lòng chờ" not in chat.text
    await chat.say("/tracuu ABCD-EFGP")
    assert "vui lòng chờ khoảng một phút" in chat.text
