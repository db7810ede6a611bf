"""Helpers for the feedback tests: a chatting citizen, a recording Sender, an official actor."""
from __future__ import annotations

import re
from collections.abc import Sequence

import pytest

from features.feedback.permissions import Actor
from core.types import Attachment, Incoming, Reply


class RecordingSender:
    """A fake channel Sender: records what it was asked to send; can be told to fail."""

    def __init__(self, channel: str = "telegram") -> None:
        self.channel = channel
        self.sent: list[tuple[str, list[Reply]]] = []
        self.fail_with: Exception | None = None

    async def send(self, user_id: str, replies: Sequence[Reply], *, retry: bool = True, paid_broadcast: bool = False,
                   reply_to: str = "") -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append((user_id, list(replies)))

    def texts_for(self, user_id: str) -> list[str]:
        return [r.text for uid, rs in self.sent if uid == user_id for r in rs]


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"


async def fake_download(attachment: Attachment) -> bytes:
    """A channel's downloader for core-level chats: a small JPEG whose bytes differ per file id."""
    return JPEG + attachment.file_id.encode() + b"\xff\xd9"


class Chat:
    """One citizen talking to the bot through the platform-free core."""

    def __init__(self, bot, user_id: str = "1001", name: str = "Nguyễn Văn An", channel: str = "telegram") -> None:
        self.bot = bot
        self.user_id = user_id
        self.name = name
        self.channel = channel
        self.last: list[Reply] = []

    async def send(self, **kw) -> list[Reply]:
        self.last = await self.bot.core.handle(Incoming(channel=self.channel, user_id=self.user_id,
                                                        display_name=self.name, **kw))
        return self.last

    async def say(self, text: str) -> list[Reply]:
        return await self.send(text=text)

    async def press(self, payload: str) -> list[Reply]:
        return await self.send(payload=payload)

    async def photo(self, file_id: str, caption: str = "") -> list[Reply]:
        """A photo whose bytes the channel serves (a JPEG unique to ``file_id``; see ``fake_download``)."""
        self.bot.services.extra.setdefault("downloaders", {}).setdefault(self.channel, fake_download)
        return await self.send(text=caption, attachments=(Attachment("photo", file_id, mime_type="image/jpeg", size=1234),))

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.last)

    def buttons(self) -> list[tuple[str, str]]:
        return [(b.label, b.payload) for r in self.last for row in r.buttons for b in row]

    def payload(self, needle: str) -> str:
        """The payload of the first button whose label or payload contains `needle`; a needle starting with
        ':' is looked for after the random draft id ("fb:<draft>:s"), so it never matches inside the id."""
        for label, payload in self.buttons():
            if needle in label or payload_has(payload, needle):
                return payload
        raise AssertionError(f"no button {needle!r} in {self.buttons()}")

    def code(self) -> str:
        m = re.search(r"\b([2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4})\b", self.text)
        assert m, self.text
        return m.group(1)

    async def file_report(self, *, category: int = 0, commune: str | None = "Ba Tơ",
                          description: str = "Cán bộ yêu cầu nộp thêm giấy tờ không có trong quy định.",
                          photos: int = 0, phone: str | None = "0912 345 678") -> str:
        """Run the whole flow; returns the tracking code."""
        await self.say("/phananh")
        await self.press(self.payload(f":c:{category}"))
        if commune is None:
            await self.press(self.payload(":m:x"))
        else:
            await self.say(commune)
        await self.say(description)
        for i in range(photos):
            await self.photo(f"photo-{self.user_id}-{i}")
        await self.press(self.payload(":a:"))
        if phone is None:
            await self.press(self.payload(":p:anon"))
        else:
            await self.say(phone)
        assert "Kiểm tra lại" in self.text, self.text
        await self.press(self.payload(":s"))
        assert "đã được gửi" in self.text, self.text
        return self.code()


@pytest.fixture
def sender(bot) -> RecordingSender:
    s = RecordingSender("telegram")
    bot.services.extra["senders"]["telegram"] = s
    return s


@pytest.fixture
def service(bot):
    return bot.services.extra["feedback"]


def receiving_supervisor(pack) -> Actor:
    return Actor(1, "Trần Thị Giám Sát", pack.agencies.default_agency, "supervisor")


def officer(agency: str, name: str = "Lê Văn Cán Bộ", official_id: int = 2) -> Actor:
    return Actor(official_id, name, agency, "officer")


def payload_has(payload: str, needle: str) -> bool:
    """`needle` in the payload; for ':verb' needles only in the part after 'fb:<id>' or 'fb:rt:<code>' (ids and
    tracking codes are random: a code starting with 5 must not pass for the "5 stars" button)."""
    if not needle.startswith(":"):
        return needle in payload
    parts = payload.split(":", 2)
    if len(parts) == 3 and parts[1] in ("rt", "ro", "v"):  # fb:rt:<code>:<stars>: the random code is not searched
        parts[2] = parts[2].partition(":")[2]
    return len(parts) == 3 and needle in ":" + parts[2]
