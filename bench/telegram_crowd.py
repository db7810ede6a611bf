"""A crowd of simulated citizens filing feedback reports through the real Telegram adapter.

Used by `feedback_bench.py`. Every citizen is a sequence of Bot API updates put into the fake Telegram
(`tests.fakes.telegram_api.FakeTelegramAPI`, on loopback): the real `TelegramChannel` fetches them with
getUpdates and stores them in the durable inbox, the inbox runs the turns, and the adapter sends the replies
back to the fake (the production path). Like a person, a citizen reads the bot's answer before the next
step and presses buttons ON the messages the bot sent (by message id), shares a photo and their own
contact. All citizens run at once, interleaved.

A turn's latency is measured from enqueueing the update to the inbox reporting its turn finished (replies
handed to the adapter and accepted by the fake), i.e. to the last reply received.
"""
from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.inbox import Inbox
from core.types import Incoming
from tests.fakes.telegram_api import FakeTelegramAPI, SentMessage

CONFIRMED = "đã được gửi"
CODE_RE = re.compile(r"\b([A-Z0-9]{4}-[A-Z0-9]{4})\b")
USER_BASE = 7_000_000
# A minimal JFIF image: the file store keeps only files whose bytes are an accepted type (core/files.py).
_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"


def photo_of(i: int) -> bytes:
    """Citizen ``i``'s photo: a JPEG with bytes of its own (stored files are deduplicated by content)."""
    return _JPEG[:-2] + f"citizen {i}".encode() + _JPEG[-2:]


@dataclass
class CrowdResult:
    latencies: list[float] = field(default_factory=list)  # seconds per turn
    codes: list[str] = field(default_factory=list)  # tracking code of each confirmation received
    error_replies: int = 0  # turns answered with an internal-error / busy text
    completed: int = 0  # citizens whose last step got the confirmation
    failures: list[str] = field(default_factory=list)  # first few reasons a citizen stopped


class Crowd:
    """Drives `citizens` chats against the Telegram adapter (started on `api`) whose updates go to `inbox`
    (running). A citizen has one update in flight at a time, so a finished turn is known by its user."""

    def __init__(self, api: FakeTelegramAPI, inbox: Inbox, *, categories: int,
                 communes: Sequence[str], error_texts: Sequence[str], turn_timeout: float = 120.0,
                 think_seconds: float = 0.0) -> None:
        self.api = api
        self.categories = categories
        self.communes = list(communes)
        self.error_texts = [t for t in error_texts if t]
        self.turn_timeout = turn_timeout
        self.think_seconds = think_seconds
        self.result = CrowdResult()
        self._done: dict[str, asyncio.Future[float]] = {}  # user id -> the turn it waits for
        inbox.add_listener(self._on_done)

    def _on_done(self, incoming: Incoming) -> None:
        fut = self._done.pop(incoming.user_id, None)
        if fut is not None and not fut.done():
            fut.set_result(time.perf_counter())

    async def _turn(self, chat: int, update: dict[str, Any]) -> list[SentMessage]:
        """Wait for one update's turn; return what the bot sent to the chat for it."""
        before = len(self.api.sent_to(chat))
        fut = asyncio.get_running_loop().create_future()
        self._done[str(chat)] = fut
        started = time.perf_counter()
        self.api.enqueue(update)
        finished = await asyncio.wait_for(fut, self.turn_timeout)
        self.result.latencies.append(finished - started)
        msgs = self.api.sent_to(chat)[before:]
        if any(err in m.plain for m in msgs for err in self.error_texts):
            self.result.error_replies += 1
        if self.think_seconds:
            await asyncio.sleep(self.think_seconds)
        return msgs

    @staticmethod
    def _button(msgs: list[SentMessage], suffix: str) -> tuple[int, str] | None:
        """(message id, callback data) of the newest message carrying a button whose data ends with suffix."""
        for m in reversed(msgs):
            for data in m.callback_data:
                if data.endswith(suffix):
                    return m.message_id, data
        return None

    async def _press(self, chat: int, msgs: list[SentMessage], suffix: str) -> list[SentMessage]:
        found = self._button(msgs, suffix)
        if found is None:
            raise LookupError(f"no button *{suffix}: {[m.plain[:60] for m in msgs]}")
        message_id, data = found
        return await self._turn(chat, self.api.make_press(chat, data, message_id))

    async def citizen(self, i: int) -> bool:
        """/phananh → category button → typed commune (→ candidate button) → description → photo → "Xong"
        → shared contact → "Gửi". True when the confirmation with a tracking code arrived."""
        chat = USER_BASE + i
        api = self.api
        msgs = await self._turn(chat, api.make_text(chat, "/phananh", "Dân"))
        msgs = await self._press(chat, msgs, f":c:{i % self.categories}")
        msgs = await self._turn(chat, api.make_text(chat, self.communes[i % len(self.communes)], "Dân"))
        if self._button(msgs, ":m:0") is not None:
            msgs = await self._press(chat, msgs, ":m:0")
        text = f"Phản ánh số {i}: hồ sơ nộp trực tuyến bị yêu cầu bổ sung giấy tờ nhiều lần."
        msgs = await self._turn(chat, api.make_text(chat, text, "Dân"))
        msgs = await self._turn(chat, api.make_photo(chat, first_name="Dân", data=photo_of(i)))
        msgs = await self._press(chat, msgs, ":a:done")
        msgs = await self._turn(chat, api.make_contact(chat, f"09{i:08d}", "Dân"))
        msgs = await self._press(chat, msgs, ":s")
        confirmation = next((m.plain for m in msgs if CONFIRMED in m.plain), None)
        code = CODE_RE.search(confirmation or "")
        if code is None:
            raise LookupError(f"no confirmation: {[m.plain[:80] for m in msgs]}")
        self.result.codes.append(code.group(1).replace("-", ""))
        return True

    async def run(self, citizens: int) -> CrowdResult:
        outcomes = await asyncio.gather(*(self.citizen(i) for i in range(citizens)), return_exceptions=True)
        self.result.completed = sum(1 for o in outcomes if o is True)
        self.result.failures = [f"{type(o).__name__}: {o}"[:200] for o in outcomes if isinstance(o, BaseException)][:5]
        return self.result
