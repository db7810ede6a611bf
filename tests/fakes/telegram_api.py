"""A fake Telegram Bot API server on loopback (aiohttp), for driving the real python-telegram-bot stack.

    async with FakeTelegramAPI(token="123:ABC") as api:
        app = ApplicationBuilder().token(api.token).base_url(api.base_url) \
            .base_file_url(api.base_file_url).build()
        api.user_sends(42, "/start")          # enqueue an update for getUpdates
        msgs = await api.wait_for(42, 1)      # bot output to chat 42

It answers like Telegram (``{"ok": true, "result": ...}`` / ``{"ok": false, "error_code", "description"}``),
validates what real Telegram rejects (text length, strict HTML, callback_data size, button URLs...),
records every request, and injects faults (blocked users, 429 with retry_after, 5xx, slow answers,
a global flood limit, optionally a separate one for paid broadcasts). Everything runs on the test's event
loop; nothing leaves 127.0.0.1.
"""
from __future__ import annotations

import asyncio
import collections
import itertools
import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import ClientSession, ClientTimeout, web

__all__ = [
    "FakeTelegramAPI",
    "HTMLParseError",
    "RequestRecord",
    "SentMessage",
    "parse_telegram_html",
]

# ---------------------------------------------------------------------------------------------
# strict Telegram HTML parsing

_ALLOWED_TAGS: dict[str, set[str]] = {
    "b": set(),
    "strong": set(),
    "i": set(),
    "em": set(),
    "u": set(),
    "ins": set(),
    "s": set(),
    "strike": set(),
    "del": set(),
    "a": {"href"},
    "code": {"class"},
    "pre": set(),
    "tg-spoiler": set(),
    "span": {"class"},  # only <span class="tg-spoiler">
    "blockquote": {"expandable"},
    "tg-emoji": {"emoji-id"},
}
_TAG_RE = re.compile(
    r"<(?P<end>/?)(?P<name>[A-Za-z][A-Za-z0-9-]*)"
    r"(?P<attrs>(?:\s+[A-Za-z][A-Za-z0-9-]*(?:\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'|[^\s\"'=<>`]+))?)*)"
    r"\s*>"
)
_ATTR_RE = re.compile(
    r"\s+(?P<k>[A-Za-z][A-Za-z0-9-]*)(?:\s*=\s*(?:\"(?P<v1>[^\"<>]*)\"|'(?P<v2>[^'<>]*)'|(?P<v3>[^\s\"'=<>`]+)))?"
)
_ENTITY_RE = re.compile(r"&(?:(?P<named>lt|gt|amp|quot)|#(?P<dec>[0-9]{1,7})|#[xX](?P<hex>[0-9a-fA-F]{1,6}));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPECIAL_RE = re.compile(r"[<>&]")


class HTMLParseError(ValueError):
    """Raised for text Telegram would answer with "can't parse entities"."""


def _offset(text: str, i: int) -> int:
    return len(text[:i].encode("utf-8"))


def _entity(text: str, i: int) -> tuple[str, int]:
    m = _ENTITY_RE.match(text, i)
    if not m:
        raise HTMLParseError(f"Unsupported HTML entity at byte offset {_offset(text, i)}")
    if m.group("named"):
        return _NAMED[m.group("named")], m.end()
    code = int(m.group("dec")) if m.group("dec") else int(m.group("hex"), 16)
    try:
        return chr(code), m.end()
    except (ValueError, OverflowError):
        raise HTMLParseError(f"Invalid numeric HTML entity at byte offset {_offset(text, i)}") from None


def _unescape_attr(value: str) -> str:
    out, pos = [], 0
    for m in re.finditer("&", value):
        if m.start() < pos:
            continue
        out.append(value[pos : m.start()])
        ch, pos = _entity(value, m.start())
        out.append(ch)
    out.append(value[pos:])
    return "".join(out)


def parse_telegram_html(text: str) -> str:
    """Parse ``text`` like Telegram's ``parse_mode=HTML`` (strictly) and return the visible plain text.

    Allowed: b strong i em u ins s strike del, a[href], code[class], pre, tg-spoiler,
    span[class=tg-spoiler], blockquote[expandable], tg-emoji[emoji-id]; tags balanced and properly
    nested; entities ``&lt; &gt; &amp; &quot;`` and numeric ones only; bare ``<``, ``>`` and ``&`` are
    errors. Raises :class:`HTMLParseError` otherwise.
    """
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    for m in _SPECIAL_RE.finditer(text):
        i = m.start()
        if i < pos:
            continue
        out.append(text[pos:i])
        ch = m.group()
        if ch == "&":
            plain, pos = _entity(text, i)
            out.append(plain)
            continue
        if ch == ">":
            raise HTMLParseError(f"Unexpected \">\" at byte offset {_offset(text, i)}")
        tag = _TAG_RE.match(text, i)
        if not tag:
            if ">" not in text[i:]:
                raise HTMLParseError(f"Unclosed start tag at byte offset {_offset(text, i)}")
            raise HTMLParseError(f"Unsupported start tag at byte offset {_offset(text, i)}")
        name = tag.group("name").lower()
        if tag.group("end"):
            if tag.group("attrs"):
                raise HTMLParseError(f"Unexpected end tag attributes at byte offset {_offset(text, i)}")
            if not stack:
                raise HTMLParseError(f'Unexpected end tag "{name}" at byte offset {_offset(text, i)}')
            if stack[-1] != name:
                raise HTMLParseError(
                    f'Unmatched end tag at byte offset {_offset(text, i)}, expected "</{stack[-1]}>", '
                    f'found "</{name}>"'
                )
            stack.pop()
        else:
            if name not in _ALLOWED_TAGS:
                raise HTMLParseError(f'Unsupported start tag "{name}" at byte offset {_offset(text, i)}')
            attrs: dict[str, str] = {}
            for a in _ATTR_RE.finditer(tag.group("attrs")):
                key = a.group("k").lower()
                if key not in _ALLOWED_TAGS[name]:
                    raise HTMLParseError(
                        f'Unsupported attribute "{key}" of tag "{name}" at byte offset {_offset(text, i)}'
                    )
                raw = a.group("v1") if a.group("v1") is not None else a.group("v2") or a.group("v3") or ""
                attrs[key] = _unescape_attr(raw)
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise HTMLParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {_offset(text, i)}')
            if name == "a" and "a" in stack:
                raise HTMLParseError(f"Nested links are not allowed at byte offset {_offset(text, i)}")
            stack.append(name)
        pos = tag.end()
    out.append(text[pos:])
    if stack:
        raise HTMLParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# ---------------------------------------------------------------------------------------------
# records


@dataclass(slots=True)
class RequestRecord:
    method: str  # as requested, e.g. "sendMessage"
    params: dict[str, Any]
    time: float  # time.monotonic() at arrival
    status: int = 0  # HTTP status answered (0 while in flight)
    description: str = ""  # error description when status != 200


@dataclass(slots=True)
class SentMessage:
    """Something the bot put in a chat: a message or an edit of one."""

    method: str  # sendMessage, sendContact, sendPhoto, sendDocument, editMessageText, editMessageReplyMarkup
    chat_id: str
    message_id: int
    text: str = ""  # text or caption as sent (HTML source when parse_mode=HTML)
    plain: str = ""  # what the user sees (entities parsed)
    parse_mode: str | None = None
    reply_markup: dict[str, Any] | None = None
    contact: dict[str, Any] | None = None
    photo: str | None = None
    document: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    time: float = 0.0
    paid_broadcast: bool = False  # sent with allow_paid_broadcast=true

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        return list((self.reply_markup or {}).get("inline_keyboard") or [])

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Inline buttons, flattened."""
        return [b for row in self.inline_keyboard for b in row]

    @property
    def button_labels(self) -> list[str]:
        return [b.get("text", "") for b in self.buttons]

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]

    @property
    def keyboard(self) -> list[list[dict[str, Any]]]:
        """Reply-keyboard rows (buttons as dicts, e.g. ``{"text", "request_contact": true}``)."""
        rows = (self.reply_markup or {}).get("keyboard") or []
        return [[{"text": b} if isinstance(b, str) else b for b in row] for row in rows]

    @property
    def removes_keyboard(self) -> bool:
        return bool((self.reply_markup or {}).get("remove_keyboard"))

    @property
    def is_edit(self) -> bool:
        return self.method.startswith("edit")


@dataclass(slots=True)
class _Fault:
    kind: str  # "fail" | "delay" | "pass" (answered normally: lets earlier calls through)
    status: int = 0
    retry_after: float | None = None
    description: str = ""
    seconds: float = 0.0
    deliver: bool = False


_SEND_METHODS = frozenset(
    m.lower()
    for m in (
        "sendMessage", "sendContact", "sendPhoto", "sendDocument", "sendSticker", "sendLocation",
        "sendVenue", "sendAudio", "sendVoice", "sendVideo", "sendAnimation", "sendMediaGroup",
        "copyMessage", "forwardMessage",
    )
)
# methods addressed to a chat (blocked users answer 403)
_CHAT_METHODS = _SEND_METHODS | {
    "sendchataction", "editmessagetext", "editmessagereplymarkup", "editmessagecaption", "deletemessage",
}
_JSON_KEYS = frozenset(
    {
        "reply_markup", "entities", "caption_entities", "commands", "allowed_updates", "scope",
        "link_preview_options", "reply_parameters", "media",
    }
)
_DEFAULT_ERRORS = {
    400: "Bad Request: fake failure",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict: terminated by other getUpdates request",
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
}
_ALLOWED_URL_SCHEMES = ("http://", "https://", "tg://")
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class _ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _bad(description: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {description}")


# ---------------------------------------------------------------------------------------------
# the server


def busiest_window(times: list[float], window: float = 1.0) -> int:
    """The most events in any sliding `window` seconds: what a flood limit compares with its cap."""
    times = sorted(times)
    start = busiest = 0
    for end, t in enumerate(times):
        while times[start] <= t - window:
            start += 1
        busiest = max(busiest, end - start + 1)
    return busiest


class FakeTelegramAPI:
    """Fake Bot API. See the module docstring. All public helpers are synchronous unless noted."""

    def __init__(
        self,
        token: str = "123:ABC",
        *,
        bot_username: str = "cchc_test_bot",
        bot_name: str = "CCHC Test Bot",
        strict_webhook_https: bool = True,
        max_long_poll: float = 50.0,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 1
        self.bot_user = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.strict_webhook_https = strict_webhook_https
        self.max_long_poll = max_long_poll

        self.requests: list[RequestRecord] = []
        self.messages: list[SentMessage] = []  # all bot output, in order
        self.callback_answers: list[dict[str, Any]] = []  # answerCallbackQuery params
        self.chat_actions: list[dict[str, Any]] = []
        self.left_chats: list[str] = []  # leaveChat calls
        self.bad_requests: list[RequestRecord] = []  # validation failures (not injected faults)
        self.commands: list[dict[str, Any]] = []
        self.webhook: dict[str, Any] = {}  # url, secret_token, allowed_updates, ...
        self.delivery_times: list[float] = []  # monotonic time of every accepted send* call
        self.flood_violations = 0
        self.files: dict[str, dict[str, Any]] = {}  # file_id -> {"file_path", "data", ...}

        self._by_chat: dict[str, list[SentMessage]] = collections.defaultdict(list)
        self._state: dict[tuple[str, int], dict[str, Any]] = {}  # current content of messages in chats
        self._next_mid: dict[str, int] = collections.defaultdict(int)
        self._update_ids = itertools.count(1)
        self._query_seq = 0
        self._file_ids = itertools.count(1)
        self._pending: collections.deque[dict[str, Any]] = collections.deque()
        self._wake = asyncio.Event()
        self._poll_generation = 0
        self._closing = False
        self._changed: asyncio.Condition | None = None
        self._blocked: set[str] = set()
        self._faults: dict[str, collections.deque[_Fault]] = collections.defaultdict(collections.deque)
        self._flood_cap: int | None = None
        self._flood_window = 1.0
        self._flood: collections.deque[float] = collections.deque()
        self._paid_cap: int | None = None  # separate cap for allow_paid_broadcast sends (None: shared)
        self._paid_flood: collections.deque[float] = collections.deque()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._dispatch)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024, reuse_address=True)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self._changed = asyncio.Condition()

    async def close(self) -> None:
        self._closing = True
        self._wake_pollers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: PTB appends the token and ``/method``."""
        return f"{self.root_url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.root_url}/file/bot"

    # -- fault injection -----------------------------------------------------------------------

    def block(self, chat_id: int | str) -> None:
        """Every later call addressed to ``chat_id`` answers 403 "bot was blocked by the user"."""
        self._blocked.add(str(chat_id))

    def unblock(self, chat_id: int | str) -> None:
        self._blocked.discard(str(chat_id))

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: float | None = 2,
        *,
        times: int = 1,
        description: str | None = None,
        after: int = 0,
    ) -> None:
        """The next ``times`` calls of ``method`` ("*" = any) fail with ``status``; with ``after=n`` the
        first ``n`` calls still succeed (e.g. ``after=1``: the second sendMessage fails).

        429 answers carry ``parameters.retry_after`` (floats are allowed here to keep tests fast)."""
        desc = description or _DEFAULT_ERRORS.get(status, f"Error {status}")
        if status == 429:
            desc = desc.format(retry_after=retry_after)
        for _ in range(after):
            self._faults[method.lower()].append(_Fault("pass"))
        for _ in range(times):
            self._faults[method.lower()].append(
                _Fault("fail", status=status, retry_after=retry_after if status == 429 else None, description=desc)
            )

    def delay_next(self, method: str, seconds: float, *, times: int = 1, deliver: bool = False) -> None:
        """The next ``times`` calls of ``method`` answer only after ``seconds`` (to trigger client
        timeouts). ``deliver=False``: the slow call is then dropped (504, nothing recorded as sent);
        ``deliver=True``: it is processed after the delay (a retrying client may cause a duplicate)."""
        for _ in range(times):
            self._faults[method.lower()].append(_Fault("delay", seconds=seconds, deliver=deliver))

    def clear_faults(self) -> None:
        self._faults.clear()

    def flood_limit(self, per_second: float | None, *, window: float = 1.0,
                    paid_per_second: float | None = None) -> None:
        """Global cap over send* methods: at most ``per_second * window`` accepted sends in any sliding
        ``window`` seconds; excess calls answer 429 with ``retry_after`` and count in
        ``flood_violations``. ``None`` removes the cap.

        ``paid_per_second`` (like Telegram's paid broadcasts, up to 1000 msg/s): sends carrying
        ``allow_paid_broadcast=true`` are counted against this cap instead of ``per_second``; without it
        they share the global cap."""
        if per_second is None:
            self._flood_cap = None
        else:
            self._flood_cap = max(1, round(per_second * window))
            self._flood_window = window
        self._paid_cap = None if paid_per_second is None else max(1, round(paid_per_second * window))
        self._flood.clear()
        self._paid_flood.clear()

    # -- inspection ----------------------------------------------------------------------------

    def sent_to(self, chat_id: int | str) -> list[SentMessage]:
        """Bot output to ``chat_id`` (messages and edits) in order."""
        return list(self._by_chat.get(str(chat_id), ()))

    def calls(self, method: str) -> list[RequestRecord]:
        m = method.lower()
        return [r for r in self.requests if r.method.lower() == m]

    def current(self, chat_id: int | str, message_id: int) -> dict[str, Any] | None:
        """The current state of a message in a chat (after edits), or None when deleted/unknown."""
        return self._state.get((str(chat_id), int(message_id)))

    @property
    def pending_updates(self) -> int:
        return len(self._pending)

    async def wait_for(self, chat_id: int | str, count: int = 1, timeout: float = 5.0) -> list[SentMessage]:
        """Wait until at least ``count`` messages/edits were sent to ``chat_id``; return them all."""
        key = str(chat_id)
        assert self._changed is not None, "server not started"
        try:
            async with self._changed:
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: len(self._by_chat.get(key, ())) >= count), timeout
                )
        except TimeoutError:
            got = self._by_chat.get(key, [])
            raise AssertionError(
                f"expected {count} message(s) to chat {key} within {timeout}s, got {len(got)}: "
                f"{[(m.method, m.plain[:60]) for m in got]}"
            ) from None
        return self.sent_to(key)

    async def wait_until(self, predicate: Any, timeout: float = 5.0) -> None:
        """Wait until ``predicate()`` is true; re-checked whenever the fake records anything."""
        assert self._changed is not None, "server not started"
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)

    async def _notify(self) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()

    # -- user activity -------------------------------------------------------------------------

    @staticmethod
    def _user(user_id: int, first_name: str) -> dict[str, Any]:
        return {"id": int(user_id), "is_bot": False, "first_name": first_name, "language_code": "vi"}

    @staticmethod
    def _chat(user_id: int, first_name: str) -> dict[str, Any]:
        return {"id": int(user_id), "type": "private", "first_name": first_name}

    def _message(self, user_id: int, first_name: str, **content: Any) -> dict[str, Any]:
        chat = str(user_id)
        self._next_mid[chat] += 1
        return {
            "message_id": self._next_mid[chat],
            "from": self._user(user_id, first_name),
            "chat": self._chat(user_id, first_name),
            "date": int(time.time()),
            **content,
        }

    def _update(self, **content: Any) -> dict[str, Any]:
        return {"update_id": next(self._update_ids), **content}

    def _new_file(self, data: bytes, path_prefix: str, ext: str, **meta: Any) -> dict[str, Any]:
        n = next(self._file_ids)
        file_id = f"F{n:06d}{path_prefix[:3]}"
        info = {"file_id": file_id, "file_unique_id": f"U{n:06d}", "file_size": len(data), **meta}
        self.files[file_id] = {**info, "file_path": f"{path_prefix}/file_{n}.{ext}", "data": data}
        return info

    def enqueue(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates (and wake long polls)."""
        self._pending.append(update)
        self._wake_pollers()
        return update

    def make_text(self, user_id: int, text: str, first_name: str = "An") -> dict[str, Any]:
        content: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            head = text.split(maxsplit=1)[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(head)}]
        return self._update(message=self._message(user_id, first_name, **content))

    def make_press(
        self, user_id: int, callback_data: str, message_id: int | None = None, first_name: str = "An",
        *, check: bool = True,
    ) -> dict[str, Any]:
        """A callback_query pressing ``callback_data`` on a message the bot sent to ``user_id`` (the
        latest message carrying that button unless ``message_id`` is given). With ``check`` the button
        must exist on that message's current keyboard (LookupError otherwise)."""
        chat = str(user_id)
        state = None
        if message_id is None:
            for (c, mid), st in sorted(self._state.items(), key=lambda kv: kv[0][1], reverse=True):
                if c == chat and callback_data in _callback_datas(st.get("reply_markup")):
                    state = st
                    break
            if state is None and check:
                raise LookupError(f"no message in chat {chat} has a button with callback_data {callback_data!r}")
        else:
            state = self._state.get((chat, int(message_id)))
            if state is None and check:
                raise LookupError(f"no message {message_id} in chat {chat}")
            if check and state is not None and callback_data not in _callback_datas(state.get("reply_markup")):
                raise LookupError(f"message {message_id} has no button with callback_data {callback_data!r}")
        self._query_seq += 1
        query: dict[str, Any] = {
            "id": str(self._query_seq),
            "from": self._user(user_id, first_name),
            "chat_instance": f"ci{user_id}",
            "data": callback_data,
        }
        if state is not None:
            query["message"] = _public_message(state)
        return self._update(callback_query=query)

    def make_photo(
        self, user_id: int, caption: str = "", first_name: str = "An", data: bytes = b"\xff\xd8\xff fake jpeg",
    ) -> dict[str, Any]:
        small = self._new_file(data[:16], "photos", "jpg", width=90, height=60)
        large = self._new_file(data, "photos", "jpg", width=1280, height=853)
        content: dict[str, Any] = {"photo": [small, large]}
        if caption:
            content["caption"] = caption
        return self._update(message=self._message(user_id, first_name, **content))

    def make_document(
        self, user_id: int, file_name: str = "to_khai.pdf", mime_type: str = "application/pdf",
        data: bytes = b"%PDF-1.4 fake", caption: str = "", first_name: str = "An",
    ) -> dict[str, Any]:
        doc = self._new_file(data, "documents", file_name.rsplit(".", 1)[-1] or "bin",
                             file_name=file_name, mime_type=mime_type)
        content: dict[str, Any] = {"document": doc}
        if caption:
            content["caption"] = caption
        return self._update(message=self._message(user_id, first_name, **content))

    def make_sticker(self, user_id: int, emoji: str = "👍", first_name: str = "An") -> dict[str, Any]:
        st = self._new_file(b"RIFF fake webp", "stickers", "webp", width=512, height=512, emoji=emoji,
                            type="regular", is_animated=False, is_video=False)
        return self._update(message=self._message(user_id, first_name, sticker=st))

    def make_contact(
        self, user_id: int, phone: str, first_name: str = "An", *, own: bool = True,
    ) -> dict[str, Any]:
        """A shared contact; ``own=True`` is what the request_contact button sends (contact.user_id ==
        sender), ``own=False`` a forwarded contact card of someone else."""
        contact: dict[str, Any] = {"phone_number": phone, "first_name": first_name}
        if own:
            contact["user_id"] = int(user_id)
        return self._update(message=self._message(user_id, first_name, contact=contact))

    def make_location(self, user_id: int, latitude: float, longitude: float, first_name: str = "An") -> dict[str, Any]:
        loc = {"latitude": latitude, "longitude": longitude}
        return self._update(message=self._message(user_id, first_name, location=loc))

    def make_block(self, user_id: int, first_name: str = "An") -> dict[str, Any]:
        """The my_chat_member update Telegram sends when the user blocks the bot."""
        member = {
            "chat": self._chat(user_id, first_name),
            "from": self._user(user_id, first_name),
            "date": int(time.time()),
            "old_chat_member": {"status": "member", "user": self.bot_user},
            "new_chat_member": {"status": "kicked", "user": self.bot_user, "until_date": 0},
        }
        return self._update(my_chat_member=member)

    def make_added_to_group(self, group_id: int, by_user: int = 4242, chat_type: str = "group") -> dict[str, Any]:
        """The my_chat_member update Telegram sends when someone adds the bot to a group."""
        member = {
            "chat": {"id": int(group_id), "type": chat_type, "title": "Nhóm tổ dân phố"},
            "from": self._user(by_user, "An"),
            "date": int(time.time()),
            "old_chat_member": {"status": "left", "user": self.bot_user},
            "new_chat_member": {"status": "member", "user": self.bot_user},
        }
        return self._update(my_chat_member=member)

    def make_empty(self, user_id: int, first_name: str = "An", **content: Any) -> dict[str, Any]:
        """A message with no text and nothing attached (a poll, dice, a text cleaned to nothing...)."""
        return self._update(message=self._message(user_id, first_name, **content))

    # enqueueing variants
    def user_sends(self, user_id: int, text: str, first_name: str = "An") -> dict[str, Any]:
        return self.enqueue(self.make_text(user_id, text, first_name))

    def user_presses(
        self, user_id: int, callback_data: str, message_id: int | None = None, first_name: str = "An",
        *, check: bool = True,
    ) -> dict[str, Any]:
        return self.enqueue(self.make_press(user_id, callback_data, message_id, first_name, check=check))

    def user_sends_photo(self, user_id: int, caption: str = "", first_name: str = "An", **kw: Any) -> dict[str, Any]:
        return self.enqueue(self.make_photo(user_id, caption, first_name, **kw))

    def user_sends_document(self, user_id: int, file_name: str = "to_khai.pdf", **kw: Any) -> dict[str, Any]:
        return self.enqueue(self.make_document(user_id, file_name, **kw))

    def user_sends_sticker(self, user_id: int, emoji: str = "👍", first_name: str = "An") -> dict[str, Any]:
        return self.enqueue(self.make_sticker(user_id, emoji, first_name))

    def user_shares_contact(self, user_id: int, phone: str, first_name: str = "An", *, own: bool = True) -> dict[str, Any]:
        return self.enqueue(self.make_contact(user_id, phone, first_name, own=own))

    def user_sends_location(self, user_id: int, latitude: float, longitude: float, first_name: str = "An") -> dict[str, Any]:
        return self.enqueue(self.make_location(user_id, latitude, longitude, first_name))

    def user_blocks_bot(self, user_id: int, first_name: str = "An") -> dict[str, Any]:
        """Block the chat (403 from now on) and enqueue the my_chat_member "kicked" update."""
        self.block(user_id)
        return self.enqueue(self.make_block(user_id, first_name))

    async def post_to_webhook(
        self, update: dict[str, Any], url: str | None = None, *, secret: str | None = ..., timeout: float = 5.0,  # type: ignore[assignment]
        raw: bytes | None = None,
    ) -> tuple[int, str]:
        """POST ``update`` like Telegram would (to the registered webhook unless ``url`` is given), with
        the registered secret header unless ``secret`` is given (None = no header). Returns
        (status, body)."""
        target = url or self.webhook.get("url")
        if not target:
            raise RuntimeError("no webhook registered and no url given")
        if secret is ...:
            secret = self.webhook.get("secret_token") or None
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        body = raw if raw is not None else json.dumps(update).encode()
        async with (
            ClientSession(timeout=ClientTimeout(total=timeout)) as s,
            s.post(target, data=body, headers=headers) as resp,
        ):
            return resp.status, await resp.text()

    # -- HTTP plumbing -------------------------------------------------------------------------

    def _wake_pollers(self) -> None:
        self._wake.set()
        self._wake = asyncio.Event()

    async def _file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return web.Response(status=404, text="Not Found")
        path = request.match_info["path"]
        for f in self.files.values():
            if f["file_path"] == path:
                return web.Response(body=f["data"], content_type="application/octet-stream")
        return web.Response(status=404, text="Not Found")

    @staticmethod
    def _json(status: int, payload: dict[str, Any]) -> web.Response:
        return web.Response(status=status, body=json.dumps(payload, ensure_ascii=False).encode(),
                            content_type="application/json")

    def _error(self, rec: RequestRecord | None, err: _ApiError) -> web.Response:
        payload: dict[str, Any] = {"ok": False, "error_code": err.status, "description": err.description}
        if err.parameters:
            payload["parameters"] = err.parameters
        if rec is not None:
            rec.status, rec.description = err.status, err.description
        return self._json(err.status, payload)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST" and request.can_read_body:
            ctype = request.content_type
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad("can't parse JSON object") from None
                if not isinstance(body, dict):
                    raise _bad("JSON object expected")
                params.update(body)
            else:
                form = await request.post()
                uploads: dict[str, Any] = {}
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        uploads[key] = {"filename": value.filename, "content_type": value.content_type,
                                        "data": value.file.read()}
                    else:
                        params[key] = value
                for key, value in list(params.items()):  # resolve attach://name references
                    if isinstance(value, str) and value.startswith("attach://") and value[9:] in uploads:
                        params[key] = uploads.pop(value[9:])
                params.update(uploads)
        for key in _JSON_KEYS & params.keys():
            if isinstance(params[key], str):
                try:
                    params[key] = json.loads(params[key])
                except ValueError:
                    raise _bad(f"can't parse {key} JSON object") from None
        return params

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._json(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
        method = request.match_info["method"]
        key = method.lower()
        handler = getattr(self, f"_m_{key}", None)
        if handler is None:
            return self._json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
        try:
            params = await self._params(request)
        except _ApiError as err:
            return self._error(None, err)
        rec = RequestRecord(method, params, time.monotonic())
        self.requests.append(rec)
        try:
            fault = self._take_fault(key)
            if fault is not None:
                if fault.kind == "pass":
                    pass
                elif fault.kind == "delay":
                    await asyncio.sleep(fault.seconds)
                    if not fault.deliver:
                        raise _ApiError(504, "Gateway Timeout (fake: delayed request dropped)")
                else:
                    raise _ApiError(
                        fault.status, fault.description,
                        {"retry_after": fault.retry_after} if fault.retry_after is not None else None,
                    )
            if key in _CHAT_METHODS and str(params.get("chat_id", "")) in self._blocked:
                raise _ApiError(403, "Forbidden: bot was blocked by the user")
            paid = key in _SEND_METHODS and _flag(params, "allow_paid_broadcast")
            cap, flood = (self._paid_cap, self._paid_flood) if paid and self._paid_cap is not None \
                else (self._flood_cap, self._flood)
            if key in _SEND_METHODS and cap is not None:
                now = time.monotonic()
                while flood and flood[0] <= now - self._flood_window:
                    flood.popleft()
                if len(flood) >= cap:
                    self.flood_violations += 1
                    wait = max(1, math.ceil(flood[0] + self._flood_window - now))
                    raise _ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
                flood.append(now)
            try:
                result = await handler(params)
            except _ApiError as err:
                if err.status == 400:
                    rec.status, rec.description = err.status, err.description
                    self.bad_requests.append(rec)
                raise
            if key in _SEND_METHODS:
                self.delivery_times.append(time.monotonic())
        except _ApiError as err:
            await self._notify()
            return self._error(rec, err)
        rec.status = 200
        await self._notify()
        return self._json(200, {"ok": True, "result": result})

    def _take_fault(self, key: str) -> _Fault | None:
        for k in (key, "*"):
            q = self._faults.get(k)
            if q:
                return q.popleft()
        return None

    # -- validation helpers --------------------------------------------------------------------

    def _chat_id(self, p: dict[str, Any]) -> str:
        chat = p.get("chat_id")
        if chat is None or str(chat).strip() == "":
            raise _bad("chat_id is empty")
        chat = str(chat).strip()
        if not (chat.lstrip("-").isdigit() or chat.startswith("@")):
            raise _bad("chat not found")
        return chat

    @staticmethod
    def _text(p: dict[str, Any], key: str = "text", limit: int = 4096, required: bool = True) -> tuple[str, str]:
        text = p.get(key)
        if text is None or text == "":
            if required:
                raise _bad("message text is empty")
            return "", ""
        text = str(text)
        mode = (p.get("parse_mode") or "").upper()
        plain = text
        if mode == "HTML":
            try:
                plain = parse_telegram_html(text)
            except HTMLParseError as exc:
                raise _bad(f"can't parse entities: {exc}") from None
        if required and not plain.strip():
            raise _bad("message text is empty")
        if utf16_len(plain) > limit:
            raise _bad("message is too long" if key == "text" else "message caption is too long")
        return text, plain

    @staticmethod
    def _markup(p: dict[str, Any], inline_only: bool = False) -> dict[str, Any] | None:
        markup = p.get("reply_markup")
        if markup is None or markup == "":
            return None
        if not isinstance(markup, dict):
            raise _bad("object expected as reply markup")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays")
            for row in rows:
                for b in row:
                    if not isinstance(b, dict) or not b.get("text"):
                        raise _bad("text buttons are unallowed in the inline keyboard")
                    kinds = [k for k in ("url", "callback_data", "switch_inline_query", "login_url",
                                         "web_app", "pay", "copy_text", "callback_game",
                                         "switch_inline_query_current_chat") if k in b]
                    if len(kinds) != 1:
                        raise _bad("text buttons are unallowed in the inline keyboard")
                    if "callback_data" in b:
                        data = b["callback_data"]
                        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                            raise _bad("BUTTON_DATA_INVALID")
                    if "url" in b:
                        url = str(b["url"])
                        if not url.lower().startswith(_ALLOWED_URL_SCHEMES) or len(url) < 8:
                            raise _bad(f"inline keyboard button URL '{url}' is invalid: Unsupported URL protocol")
            return markup
        if inline_only:
            raise _bad("inline keyboard expected")
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise _bad("field \"keyboard\" of the ReplyKeyboardMarkup must be an Array of Arrays")
            for row in rows:
                for b in row:
                    label = b if isinstance(b, str) else (b.get("text") if isinstance(b, dict) else None)
                    if not label:
                        raise _bad("keyboard button text is empty")
            return markup
        if markup.get("remove_keyboard") is True or markup.get("force_reply") is True:
            return markup
        raise _bad("unsupported reply markup")

    def _new_message(self, chat: str, method: str, p: dict[str, Any], **fields: Any) -> tuple[dict[str, Any], SentMessage]:
        self._next_mid[chat] += 1
        mid = self._next_mid[chat]
        state: dict[str, Any] = {
            "message_id": mid,
            "from": self.bot_user,
            "chat": {"id": int(chat) if chat.lstrip("-").isdigit() else chat, "type": "private"},
            "date": int(time.time()),
        }
        rec = SentMessage(method=method, chat_id=chat, message_id=mid, parse_mode=p.get("parse_mode"),
                          params=p, time=time.monotonic(), paid_broadcast=_flag(p, "allow_paid_broadcast"),
                          **fields)
        if rec.plain:
            state["caption" if method not in ("sendMessage",) else "text"] = rec.plain
        if rec.reply_markup is not None and "inline_keyboard" in rec.reply_markup:
            state["reply_markup"] = rec.reply_markup
        if rec.contact is not None:
            state["contact"] = rec.contact
        self._state[(chat, mid)] = state
        self._record(rec)
        return state, rec

    def _record(self, rec: SentMessage) -> None:
        self.messages.append(rec)
        self._by_chat[rec.chat_id].append(rec)

    # -- methods ---------------------------------------------------------------------------------

    async def _m_getme(self, p: dict[str, Any]) -> Any:
        return self.bot_user

    async def _m_logout(self, p: dict[str, Any]) -> Any:
        return True

    async def _m_close(self, p: dict[str, Any]) -> Any:
        return True

    async def _m_getupdates(self, p: dict[str, Any]) -> Any:
        if self.webhook.get("url"):
            raise _ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                 "use deleteWebhook to delete the webhook first")
        try:
            offset = int(p.get("offset") or 0)
            limit = min(100, max(1, int(p.get("limit") or 100)))
            timeout = min(self.max_long_poll, max(0.0, float(p.get("timeout") or 0)))
        except (TypeError, ValueError):
            raise _bad("wrong parameter") from None
        allowed = p.get("allowed_updates")
        if allowed is not None:
            self.webhook["allowed_updates"] = allowed
        if offset > 0:
            while self._pending and self._pending[0]["update_id"] < offset:
                self._pending.popleft()
        elif offset < 0:
            while len(self._pending) > -offset:
                self._pending.popleft()
        self._poll_generation += 1
        generation = self._poll_generation
        deadline = time.monotonic() + timeout
        while not self._pending and not self._closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            wake = self._wake
            try:
                await asyncio.wait_for(wake.wait(), remaining)
            except TimeoutError:
                break
            if generation != self._poll_generation:
                raise _ApiError(409, "Conflict: terminated by other getUpdates request; "
                                     "make sure that only one bot instance is running")
        result = list(itertools.islice(self._pending, 0, limit))
        if isinstance(allowed, list) and allowed:
            result = [u for u in result if any(k in allowed for k in u if k != "update_id")]
        return result

    async def _m_setwebhook(self, p: dict[str, Any]) -> Any:
        url = str(p.get("url") or "")
        secret = p.get("secret_token")
        if secret is not None and secret != "" and not _SECRET_RE.match(str(secret)):
            raise _bad("secret token contains unallowed characters")
        if url and self.strict_webhook_https and not url.startswith("https://"):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if str(p.get("drop_pending_updates", "")).lower() == "true":
            self._pending.clear()
        self.webhook = {
            "url": url,
            "secret_token": str(secret) if secret else "",
            "allowed_updates": p.get("allowed_updates"),
            "max_connections": p.get("max_connections"),
        }
        self._wake_pollers()
        return True

    async def _m_deletewebhook(self, p: dict[str, Any]) -> Any:
        if str(p.get("drop_pending_updates", "")).lower() == "true":
            self._pending.clear()
        self.webhook = {k: v for k, v in self.webhook.items() if k == "allowed_updates"}
        return True

    async def _m_getwebhookinfo(self, p: dict[str, Any]) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.webhook.get("allowed_updates"):
            info["allowed_updates"] = self.webhook["allowed_updates"]
        return info

    async def _m_sendmessage(self, p: dict[str, Any]) -> Any:
        chat = self._chat_id(p)
        text, plain = self._text(p)
        markup = self._markup(p)
        state, _ = self._new_message(chat, "sendMessage", p, text=text, plain=plain, reply_markup=markup)
        return state

    async def _m_sendcontact(self, p: dict[str, Any]) -> Any:
        chat = self._chat_id(p)
        phone, first = str(p.get("phone_number") or ""), str(p.get("first_name") or "")
        if not phone:
            raise _bad("phone number is not specified")
        if not first:
            raise _bad("first name is not specified")
        contact = {"phone_number": phone, "first_name": first}
        if p.get("last_name"):
            contact["last_name"] = str(p["last_name"])
        if p.get("vcard"):
            contact["vcard"] = str(p["vcard"])
        markup = self._markup(p)
        state, _ = self._new_message(chat, "sendContact", p, contact=contact, reply_markup=markup)
        return state

    async def _media(self, p: dict[str, Any], kind: str, method: str) -> Any:
        chat = self._chat_id(p)
        media = p.get(kind)
        if media is None or media == "":
            raise _bad(f"there is no {kind} in the request")
        if isinstance(media, dict):  # uploaded file
            info = self._new_file(media["data"], f"{kind}s", "bin", file_name=media.get("filename") or "")
            ref = info["file_id"]
        else:
            ref = str(media)
        caption, plain = self._text(p, "caption", limit=1024, required=False)
        markup = self._markup(p)
        state, _ = self._new_message(chat, method, p, text=caption, plain=plain, reply_markup=markup, **{kind: ref})
        if kind == "photo":
            state["photo"] = [{"file_id": ref, "file_unique_id": f"u{ref}"[:32], "width": 800, "height": 600}]
        else:
            state["document"] = {"file_id": ref, "file_unique_id": f"u{ref}"[:32]}
        return state

    async def _m_sendphoto(self, p: dict[str, Any]) -> Any:
        return await self._media(p, "photo", "sendPhoto")

    async def _m_senddocument(self, p: dict[str, Any]) -> Any:
        return await self._media(p, "document", "sendDocument")

    async def _m_leavechat(self, p: dict[str, Any]) -> Any:
        self.left_chats.append(str(p.get("chat_id")))
        return True

    async def _m_sendchataction(self, p: dict[str, Any]) -> Any:
        self._chat_id(p)
        if not p.get("action"):
            raise _bad("wrong parameter action in request")
        self.chat_actions.append(p)
        return True

    async def _m_answercallbackquery(self, p: dict[str, Any]) -> Any:
        qid = str(p.get("callback_query_id") or "")
        if not qid.isdigit() or not 1 <= int(qid) <= self._query_seq:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = p.get("text")
        if text is not None and len(str(text)) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        self.callback_answers.append(p)
        return True

    def _edit_target(self, p: dict[str, Any]) -> tuple[str, int, dict[str, Any]]:
        if p.get("inline_message_id"):
            raise _bad("inline messages are not supported by the fake")
        chat = self._chat_id(p)
        try:
            mid = int(p.get("message_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _bad("message identifier is not specified") from None
        state = self._state.get((chat, mid))
        if state is None:
            raise _bad("message to edit not found")
        return chat, mid, state

    async def _m_editmessagetext(self, p: dict[str, Any]) -> Any:
        chat, mid, state = self._edit_target(p)
        if "text" not in state:
            raise _bad("there is no text in the message to edit")
        text, plain = self._text(p)
        markup = self._markup(p, inline_only=True)
        if plain == state.get("text") and markup == state.get("reply_markup"):
            raise _bad("message is not modified: specified new message content and reply markup of the "
                       "message are exactly the same as a current content and reply markup of the message")
        state["text"] = plain
        if markup is None:
            state.pop("reply_markup", None)
        else:
            state["reply_markup"] = markup
        self._record(SentMessage("editMessageText", chat, mid, text=text, plain=plain,
                                 parse_mode=p.get("parse_mode"), reply_markup=markup, params=p, time=time.monotonic()))
        return state

    async def _m_editmessagereplymarkup(self, p: dict[str, Any]) -> Any:
        chat, mid, state = self._edit_target(p)
        markup = self._markup(p, inline_only=True)
        if markup == state.get("reply_markup"):
            raise _bad("message is not modified: specified new message content and reply markup of the "
                       "message are exactly the same as a current content and reply markup of the message")
        if markup is None:
            state.pop("reply_markup", None)
        else:
            state["reply_markup"] = markup
        self._record(SentMessage("editMessageReplyMarkup", chat, mid, plain=state.get("text", ""),
                                 reply_markup=markup, params=p, time=time.monotonic()))
        return state

    async def _m_deletemessage(self, p: dict[str, Any]) -> Any:
        chat = self._chat_id(p)
        try:
            mid = int(p.get("message_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise _bad("message identifier is not specified") from None
        if self._state.pop((chat, mid), None) is None:
            raise _bad("message to delete not found")
        return True

    async def _m_setmycommands(self, p: dict[str, Any]) -> Any:
        commands = p.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("commands must be an array of at most 100 BotCommand")
        for c in commands:
            if not isinstance(c, dict) or not _COMMAND_RE.match(str(c.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(c.get("description", ""))) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands = commands
        return True

    async def _m_deletemycommands(self, p: dict[str, Any]) -> Any:
        self.commands = []
        return True

    async def _m_getmycommands(self, p: dict[str, Any]) -> Any:
        return self.commands

    async def _m_getfile(self, p: dict[str, Any]) -> Any:
        f = self.files.get(str(p.get("file_id") or ""))
        if f is None:
            raise _bad("invalid file_id")
        return {k: v for k, v in f.items() if k in ("file_id", "file_unique_id", "file_size", "file_path")}


def _flag(p: dict[str, Any], key: str) -> bool:
    """A Boolean parameter as Telegram reads it (JSON true/false, or "true"/"false"/"1"/"0" in forms)."""
    value = p.get(key)
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise _bad(f"wrong parameter {key} in request")


def _callback_datas(markup: dict[str, Any] | None) -> list[str]:
    if not markup:
        return []
    return [b.get("callback_data") for row in markup.get("inline_keyboard") or [] for b in row if "callback_data" in b]


def _public_message(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items()}
