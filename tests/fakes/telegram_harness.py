"""Telegram-specific behaviour tests on the production path: the real `TelegramChannel` against the fake Bot
API on loopback, every update stored in the durable inbox (core/inbox.py, ``submit=``), the inbox running
the turns and sending the replies back through the adapter (the outbox).

    async with telegram_harness(bot) as h:          # the whole bot, Telegram wired as bot/app.py wires it
        msgs = await h.say(42, "/start")           # -> list[SentMessage] the bot sent for that input
        assert "Xin chào" in msgs[0].plain
        msgs = await h.press(42, "m:faq")          # presses the button on the latest message having it
        assert h.last_notice == ""                 # answerCallbackQuery text of that press

    async with scripted_telegram(answer) as h:      # the adapter under a scripted core (what Telegram
        ...                                         # shows for given replies: HTML, splitting, edits...)

``say``/``press``/``after`` return once the adapter stored the update and the inbox finished its turn
(replies handed to the adapter and sent), or at once for an update that starts no turn (membership
changes, group chats): no sleeps or guessed quiet periods. With ``strict=True`` (default) any request the
fake rejected as a Bad Request (invalid HTML, too long, bad button...) during the turn fails the test with
Telegram's description (state errors such as "message to edit not found", which the adapter handles, are
exempt). Conversations that are the same on every channel belong in tests/fakes/citizen.py.
"""
from __future__ import annotations

import asyncio
import atexit
import dataclasses
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from channels.telegram import TelegramChannel
from core.inbox import Inbox, new_process_id
from core.outbox import Outbox
from core.storage.db import make_engine, session_factory
from core.storage.writes import ClosingWrites
from core.types import Incoming, Reply
from tests.fakes.telegram_api import FakeTelegramAPI, SentMessage

__all__ = ["ScriptedTurns", "TelegramHarness", "scripted_telegram", "telegram_harness"]

Answer = Callable[[Incoming], Awaitable[list[Reply]]]

# 400s about message state, which an adapter legitimately meets and handles (e.g. edit -> new message);
# strict mode flags every other Bad Request (markup, length, buttons...).
_STATE_ERRORS = (
    "message to edit not found",
    "message is not modified",
    "there is no text in the message to edit",
    "message to delete not found",
    "query is too old",
)
# Short timeouts and backoff on loopback (the adapter's own defaults are for the real Bot API).
_FAST = {"polling_timeout": 10, "read_timeout": 3, "connect_timeout": 2, "write_timeout": 3,
         "retry_base_delay": 0.05, "retry_max_delay": 0.2}


class TelegramHarness:
    """``api``: the fake Bot API; ``channel``: the adapter; ``inbox``: the inbox running the turns;
    ``webhook``: the local URL of the adapter's webhook route (webhook mode only, else "")."""

    def __init__(self, api: FakeTelegramAPI, channel: TelegramChannel, inbox: Inbox, *, strict: bool = True,
                 turn_timeout: float = 5.0) -> None:
        self.api = api
        self.channel = channel
        self.inbox = inbox
        self.strict = strict
        self.turn_timeout = turn_timeout
        self.webhook = ""
        self.last_notice: str | None = None  # text of the answerCallbackQuery of the last press
        self._stored: dict[int, Incoming | None] = {}  # update id -> what the adapter submitted
        self._turns_done: set[str] = set()  # message ids (event ids) of the finished turns
        self._event = asyncio.Event()
        channel.add_update_listener(self._on_stored)
        inbox.add_listener(self._on_turn)

    def _on_stored(self, update_id: int, incoming: Incoming | None) -> None:
        self._stored[update_id] = incoming
        self._event.set()

    def _on_turn(self, incoming: Incoming) -> None:
        self._turns_done.add(incoming.message_id)
        self._event.set()

    def _finished(self, update_id: int) -> bool:
        if update_id not in self._stored:
            return False
        incoming = self._stored[update_id]
        return incoming is None or incoming.message_id in self._turns_done

    async def _wait_done(self, update_id: int, timeout: float) -> None:
        async def wait() -> None:
            while not self._finished(update_id):
                self._event.clear()
                await self._event.wait()

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            stage = "its turn did not finish" if update_id in self._stored else "it was not stored"
            raise AssertionError(f"update {update_id}: {stage} within {timeout}s") from None

    async def after(self, update: dict[str, Any], *, timeout: float | None = None) -> list[SentMessage]:
        """Wait for the turn of an update already given to the adapter (enqueued, e.g.
        ``h.api.user_sends_photo(7)``, or posted to the webhook) and return what the bot sent to that chat
        since. Call it right after enqueueing."""
        chat = _chat_of(update)
        before = len(self.api.sent_to(chat)) if chat is not None else 0
        bad_before = len(self.api.bad_requests)
        await self._wait_done(update["update_id"], timeout or self.turn_timeout)
        bad = [r for r in self.api.bad_requests[bad_before:] if not any(s in r.description for s in _STATE_ERRORS)]
        if self.strict and bad:
            raise AssertionError(f"the fake Telegram rejected: {[(r.method, r.description) for r in bad]}")
        return self.api.sent_to(chat)[before:] if chat is not None else []

    async def say(self, user_id: int, text: str, *, first_name: str = "An", timeout: float | None = None) -> list[SentMessage]:
        return await self.after(self.api.user_sends(user_id, text, first_name), timeout=timeout)

    async def press(
        self, user_id: int, payload: str, *, message_id: int | None = None, first_name: str = "An",
        timeout: float | None = None,
    ) -> list[SentMessage]:
        answers_before = len(self.api.callback_answers)
        update = self.api.user_presses(user_id, payload, message_id, first_name)
        msgs = await self.after(update, timeout=timeout)
        answers = [a for a in self.api.callback_answers[answers_before:]
                   if str(a.get("callback_query_id")) == update["callback_query"]["id"]]
        self.last_notice = (answers[-1].get("text") or "") if answers else None
        return msgs

    async def share_contact(self, user_id: int, phone: str, **kw: Any) -> list[SentMessage]:
        return await self.after(self.api.user_shares_contact(user_id, phone, **kw))

    async def send_photo(self, user_id: int, caption: str = "", **kw: Any) -> list[SentMessage]:
        return await self.after(self.api.user_sends_photo(user_id, caption, **kw))

    async def send_location(self, user_id: int, latitude: float, longitude: float) -> list[SentMessage]:
        return await self.after(self.api.user_sends_location(user_id, latitude, longitude))


def _chat_of(update: dict[str, Any]) -> int | None:
    if "message" in update:
        return update["message"]["chat"]["id"]
    if "callback_query" in update:
        q = update["callback_query"]
        return q["message"]["chat"]["id"] if "message" in q else q["from"]["id"]
    if "my_chat_member" in update:
        return update["my_chat_member"]["chat"]["id"]
    return None


class ScriptedTurns:
    """``Core.handle``'s contract (core/turns.py) around a script ``answer(incoming) -> replies``: the
    replies, with ``also(writes, replies)`` run in the turn's closing transaction (where the inbox marks
    the event done and owes the replies). For tests of what Telegram shows for given replies; a turn that
    fails is the core's business (tested with the whole bot)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], answer: Answer) -> None:
        self.sessions = sessions
        self.answer = answer

    async def __call__(self, incoming: Incoming, *, also: Any = None) -> list[Reply]:
        replies = list(await self.answer(incoming))
        if also is not None:
            async with self.sessions.begin() as session, ClosingWrites.on(session) as writes:
                await also(writes, replies)
        return replies


_db: dict[str, Any] = {}  # this process's database for scripted harnesses: template, path, engine
# In memory where the system offers it: these databases only carry the turns of a test (a commit's fsync
# is what durability costs, and it is not what these tests are about).
_TMP = "/dev/shm" if Path("/dev/shm").is_dir() else None


async def _empty_sqlite() -> AsyncEngine:
    """A migrated, empty SQLite database: one per process, emptied for each harness by copying back the
    file as migrated (migrating takes ~0.5 s, a copy ~1 ms; the engine, kept, keeps its compiled
    statements). One scripted harness at a time per process; the caller disposes of the connections."""
    from bot.database import upgrade

    if not _db:
        folder = Path(tempfile.mkdtemp(prefix="cchc-tg-", dir=_TMP))
        atexit.register(shutil.rmtree, folder, True)
        template = make_engine(f"sqlite+aiosqlite:///{folder / 'template.db'}")
        await upgrade(template)
        await template.dispose()
        _db.update(template=folder / "template.db", path=folder / "test.db", in_use=False,
                   engine=make_engine(f"sqlite+aiosqlite:///{folder / 'test.db'}"))
    assert not _db["in_use"], "one scripted_telegram at a time"
    path: Path = _db["path"]
    for leftover in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(_db["template"], path)
    return _db["engine"]


async def _serve(channel: TelegramChannel) -> tuple[web.AppRunner, str]:
    app = web.Application()
    channel.register_routes(app)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}{channel.webhook_path}"


@asynccontextmanager
async def _running(api: FakeTelegramAPI, channel: TelegramChannel, inbox: Inbox, *, strict: bool,
                   turn_timeout: float) -> AsyncIterator[TelegramHarness]:
    harness = TelegramHarness(api, channel, inbox, strict=strict, turn_timeout=turn_timeout)
    server: web.AppRunner | None = None
    if channel.webhook_url:
        server, harness.webhook = await _serve(channel)
    runner: asyncio.Task[None] | None = None
    try:
        await asyncio.wait_for(channel.start(), 10)
        runner = asyncio.create_task(inbox.run())
        yield harness
    finally:
        if runner is not None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
        await asyncio.wait_for(channel.stop(), 10)
        if server is not None:
            await server.cleanup()


@asynccontextmanager
async def _fake(api: FakeTelegramAPI | None, token: str) -> AsyncIterator[FakeTelegramAPI]:
    """``api`` as it is (started and closed by the caller), or a fresh fake for the harness's lifetime."""
    if api is not None:
        yield api
        return
    async with FakeTelegramAPI(token=token) as fresh:
        yield fresh


@asynccontextmanager
async def telegram_harness(
    bot: Any, *, api: FakeTelegramAPI | None = None, token: str = "123:ABC", strict: bool = True,
    turn_timeout: float = 5.0, **channel_kwargs: Any,
) -> AsyncIterator[TelegramHarness]:
    """The whole ``bot`` (``bot.app.build_bot``) with Telegram wired as `cchc-bot run` wires it
    (``bot.app.add_telegram``: the inbox, the file downloader, the commands) against the fake Bot API
    ``api`` (one Telegram across a restart: its update ids go on) or a fresh one; the inbox runs until
    exit. ``channel_kwargs`` go to TelegramChannel (e.g. ``read_timeout=...``)."""
    from bot.app import add_telegram, use_inbox

    async with _fake(api, token) as api:
        token = api.token
        bot.settings = dataclasses.replace(bot.settings, telegram_token=token, telegram_api_base_url=api.base_url)
        add_telegram(bot, api_base_file_url=api.base_file_url, **{**_FAST, **channel_kwargs})
        async with _running(api, bot.senders["telegram"], use_inbox(bot), strict=strict,
                            turn_timeout=turn_timeout) as harness:
            yield harness


@asynccontextmanager
async def scripted_telegram(
    answer: Answer, *, token: str = "123:ABC", strict: bool = True, turn_timeout: float = 5.0,
    on_blocked: Callable[[str, str], Awaitable[None]] | None = None, **channel_kwargs: Any,
) -> AsyncIterator[TelegramHarness]:
    """A TelegramChannel (polling, or webhook mode with ``webhook_url=``: the route is then served on
    loopback at ``harness.webhook``) storing updates in an inbox on a fresh SQLite database, whose turns
    are ``answer`` (see :class:`ScriptedTurns`) and whose replies go out through the channel, as in
    production. ``on_blocked`` is given to the channel and the outbox, as bot/app.py does."""
    engine = await _empty_sqlite()
    _db["in_use"] = True
    try:
        sessions = session_factory(engine)
        senders: dict[str, Any] = {}
        outbox = Outbox(sessions, senders, process_id=new_process_id(), on_blocked=on_blocked)
        inbox = Inbox(sessions, ScriptedTurns(sessions, answer), outbox)
        async with FakeTelegramAPI(token=token) as api:
            channel = TelegramChannel(token, submit=inbox.submit, api_base_url=api.base_url,
                                      api_base_file_url=api.base_file_url, on_blocked=on_blocked,
                                      **{**_FAST, **channel_kwargs})
            senders[channel.channel] = channel
            async with _running(api, channel, inbox, strict=strict, turn_timeout=turn_timeout) as harness:
                yield harness
    finally:
        await engine.dispose()  # its connections belong to this test's event loop
        _db["in_use"] = False
