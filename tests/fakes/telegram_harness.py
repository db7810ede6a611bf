"""One-line behaviour tests against the real python-telegram-bot stack and the fake Bot API.

    async with telegram_harness(handle) as h:
        msgs = await h.say(42, "/start")          # -> list[SentMessage] the bot sent for that input
        assert "Xin chào" in msgs[0].plain
        msgs = await h.press(42, "m:faq")         # presses the button on the latest message having it
        assert h.last_notice == ""                # answerCallbackQuery text of that press

``say``/``press``/``after`` wait until the TelegramChannel reports the update fully processed (handled
and every reply sent), so there are no sleeps or guessed quiet periods. With ``strict=True`` (default)
any request the fake rejected as a Bad Request (invalid HTML, too long, bad button...) during the turn
fails the test with Telegram's description (state errors such as "message to edit not found", which
the adapter handles, are exempt).
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from channels.telegram import TelegramChannel
from core.types import Incoming, Reply
from tests.fakes.telegram_api import FakeTelegramAPI, SentMessage

__all__ = ["TelegramHarness", "telegram_harness"]

# 400s about message state, which an adapter legitimately meets and handles (e.g. edit -> new message);
# strict mode flags every other Bad Request (markup, length, buttons...).
_STATE_ERRORS = (
    "message to edit not found",
    "message is not modified",
    "there is no text in the message to edit",
    "message to delete not found",
    "query is too old",
)


class TelegramHarness:
    def __init__(self, api: FakeTelegramAPI, channel: TelegramChannel, *, strict: bool = True,
                 turn_timeout: float = 5.0) -> None:
        self.api = api
        self.channel = channel
        self.strict = strict
        self.turn_timeout = turn_timeout
        self.last_notice: str | None = None  # text of the answerCallbackQuery of the last press
        self._done: set[int] = set()
        self._event = asyncio.Event()
        channel.add_update_listener(self._on_done)

    def _on_done(self, update_id: int) -> None:
        self._done.add(update_id)
        self._event.set()

    async def _wait_done(self, update_id: int, timeout: float) -> None:
        async def wait() -> None:
            while update_id not in self._done:
                self._event.clear()
                await self._event.wait()

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"update {update_id} was not processed within {timeout}s") from None

    async def after(self, update: dict[str, Any], *, timeout: float | None = None) -> list[SentMessage]:
        """Wait for the turn of an update already enqueued (e.g. ``h.api.user_sends_photo(7)``) and
        return what the bot sent to that chat since. Call it right after enqueueing."""
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


@asynccontextmanager
async def telegram_harness(
    handle: Callable[[Incoming], Awaitable[list[Reply]]],
    *,
    token: str = "123:ABC",
    commands: Sequence[tuple[str, str]] = (),
    strict: bool = True,
    turn_timeout: float = 5.0,
    **channel_kwargs: Any,
) -> AsyncIterator[TelegramHarness]:
    """Start the fake Bot API and a polling TelegramChannel wired to ``handle``; stop both on exit.
    ``channel_kwargs`` go to TelegramChannel (e.g. ``on_blocked=...``, ``read_timeout=...``)."""
    kwargs: dict[str, Any] = {"polling_timeout": 10, "read_timeout": 3, "connect_timeout": 2, "write_timeout": 3,
                              "retry_base_delay": 0.05, "retry_max_delay": 0.2}
    kwargs.update(channel_kwargs)
    async with FakeTelegramAPI(token=token) as api:
        channel = TelegramChannel(token, handle, api_base_url=api.base_url, api_base_file_url=api.base_file_url,
                                  commands=commands, **kwargs)
        harness = TelegramHarness(api, channel, strict=strict, turn_timeout=turn_timeout)
        await asyncio.wait_for(channel.start(), 10)
        try:
            yield harness
        finally:
            await asyncio.wait_for(channel.stop(), 10)
