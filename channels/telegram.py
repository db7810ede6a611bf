"""Telegram adapter: translates python-telegram-bot Updates to ``Incoming`` and ``Reply`` to Bot API calls.

It wraps (never subclasses) a PTB ``Application``:

* polling mode (no ``webhook_url``): our own ``getUpdates`` long-polling loop, which acknowledges an
  update (the next offset) only once it is stored;
* webhook mode: :meth:`TelegramChannel.register_routes` adds a POST route to *our* aiohttp app that
  checks ``X-Telegram-Bot-Api-Secret-Token`` in constant time and stores the update before answering
  200; ``start()`` calls ``setWebhook(url, secret_token)``;
* send-only mode (``receive_updates=False``, e.g. ``cchc-bot worker`` processes running beside the main
  bot): ``start()`` only initialises the Application and its HTTP client (``getMe``). It never calls
  ``getUpdates``, ``setWebhook``/``deleteWebhook`` or ``setMyCommands`` and adds no route, so it cannot
  steal the main bot's updates or change its registration; :meth:`send` works as usual.

Receiving, every update becomes an ``Incoming`` handed to ``submit`` (the core's durable inbox,
core/inbox.py), which runs the turns (one user's events in order) and sends the replies back through
:meth:`TelegramChannel.send`. Nothing personal (texts, names, phone numbers) is logged; user ids only at
DEBUG.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import secrets
import warnings
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiohttp import web
from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    EndPointNotFound,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import Application
from telegram.warnings import PTBUserWarning

from channels.telegram_http import AiohttpRequest

from core.channel import (
    Blocked,
    api_host,
    Capabilities,
    Submit,
    DeliveryError,
    PermanentError,
    RateLimited,
    TransientError,
    retry_call,
)
from core.render import telegram_parts
from core.types import Attachment, ButtonKind, Incoming, Location, Reply

__all__ = ["DO_API_REQUEST_WARNING", "SECRET_HEADER", "TelegramChannel", "plain_text_incoming", "to_incoming"]

log = logging.getLogger(__name__)

CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CHOOSE_TEXT = "Anh/chị vui lòng chọn một mục bên dưới:"
SHARE_PHONE_TEXT = "Anh/chị bấm nút bên dưới để chia sẻ số điện thoại."
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_URL_SCHEMES = ("http://", "https://", "tg://")
_MAX_CALLBACK_BYTES = 64
_NOTICE_LIMIT = 200
_PAID_METHODS = frozenset({"sendMessage", "sendPhoto", "sendContact"})  # accept allow_paid_broadcast

BlockedFn = Callable[[str, str], Awaitable[None]]

# `_call` sends through Bot.do_api_request on purpose (see there); PTB suggests the typed method every time.
DO_API_REQUEST_WARNING = r"Please use 'Bot\.(sendMessage|sendPhoto|sendContact|editMessageText)' instead"
warnings.filterwarnings("ignore", DO_API_REQUEST_WARNING, PTBUserWarning)


# ---------------------------------------------------------------------------------------------
# Update -> Incoming


def to_incoming(update: Update) -> Incoming | None:
    """Translate a PTB Update into an Incoming, or None for updates the core does not see
    (group chats, edits, membership changes...)."""
    cq = update.callback_query
    if cq is not None:
        user = cq.from_user
        return Incoming(
            channel=CHANNEL,
            user_id=str(user.id),
            display_name=user.full_name,
            payload=cq.data or "",
            # the callback to answer and the message its button belongs to (edited by an `edit` reply)
            message_id=f"cb:{cq.id}:{cq.message.message_id if cq.message is not None else ''}",
        )
    msg = update.message
    if msg is None or msg.from_user is None or msg.chat.type != "private":
        return None
    user = msg.from_user
    attachments: list[Attachment] = []
    if msg.photo:
        p = msg.photo[-1]  # largest size
        attachments.append(Attachment("photo", p.file_id, mime_type="image/jpeg", size=p.file_size or 0))
    if msg.document is not None:
        d = msg.document
        attachments.append(Attachment("document", d.file_id, d.file_name or "", d.mime_type or "", d.file_size or 0))
    if msg.sticker is not None:
        s = msg.sticker
        mime = "video/webm" if s.is_video else "application/x-tgsticker" if s.is_animated else "image/webp"
        attachments.append(Attachment("sticker", s.file_id, mime_type=mime, size=s.file_size or 0))
    for kind, media in (("audio", msg.audio), ("audio", msg.voice), ("video", msg.video),
                        ("video", msg.video_note), ("video", msg.animation)):
        if media is not None:
            attachments.append(Attachment(kind, media.file_id, getattr(media, "file_name", "") or "",
                                          getattr(media, "mime_type", "") or "", media.file_size or 0))
    contact_phone = ""
    if msg.contact is not None:
        if msg.contact.user_id == user.id:  # the user's own number (request_contact button)
            contact_phone = msg.contact.phone_number
        else:  # someone else's card: never treat it as the user's verified phone
            attachments.append(Attachment("other", mime_type="text/vcard"))
    location = None
    loc = msg.location or (msg.venue.location if msg.venue is not None else None)
    if loc is not None:
        location = Location(loc.latitude, loc.longitude)
    text = msg.text or msg.caption or ""
    # A message with nothing the core can read (empty text, poll, dice, game...) carries no attachment: the
    # core answers "I only read text" (errors/no_text), never "I received your file".
    return Incoming(
        channel=CHANNEL,
        user_id=str(user.id),
        display_name=user.full_name,
        text=text,
        contact_phone=contact_phone,
        location=location,
        attachments=tuple(attachments),
        message_id=str(msg.message_id),
    )


# The keys (and exact JSON types) of a plain private text message, the update a citizen sends most.
_USER_KEYS = {"id": int, "is_bot": bool, "first_name": str, "last_name": str, "username": str,
              "language_code": str, "is_premium": bool}
_CHAT_KEYS = {"id": int, "type": str, "first_name": str, "last_name": str, "username": str}
_MESSAGE_KEYS = {"message_id": int, "from": dict, "chat": dict, "date": int, "text": str, "entities": list}
_ENTITY_KEYS = {"type": str, "offset": int, "length": int}


def _only(data: Any, keys: dict[str, type], *required: str) -> bool:
    """``data`` is a dict with the required keys, no others than ``keys``, each of exactly its type."""
    return (isinstance(data, dict) and all(k in data for k in required)
            and all(type(v) is keys.get(k) for k, v in data.items()))


def plain_text_incoming(data: dict[str, Any]) -> Incoming | None:
    """The Incoming of a webhook update that is a plain text message from a private chat, read from its JSON;
    None for anything else (the caller then builds PTB's ``Update`` and calls :func:`to_incoming`).

    Only what PTB certainly parses, and into the same Incoming (user, full name, text, message id): every key
    known, every type exact. ``Update.de_json`` builds a ``Message`` of ~120 attributes for this, each set
    through ``TelegramObject.__setattr__``: 350 -> 40 µs CPU per webhook update (20,000 stub requests)."""
    msg = data.get("message")
    if len(data) != 2 or not _only(msg, _MESSAGE_KEYS, "message_id", "from", "chat", "date", "text"):
        return None
    user, chat, date = msg["from"], msg["chat"], msg["date"]
    if not (_only(user, _USER_KEYS, "id", "is_bot", "first_name") and user["first_name"]
            and _only(chat, _CHAT_KEYS, "id", "type") and chat["type"] == "private"
            and 0 <= date < 2**32 and all(_only(e, _ENTITY_KEYS, "type", "offset", "length")
                                          for e in msg.get("entities", ()))):
        return None
    last = user.get("last_name")
    return Incoming(
        channel=CHANNEL,
        user_id=str(user["id"]),
        display_name=f"{user['first_name']} {last}" if last else user["first_name"],
        text=msg["text"],
        message_id=f"u{data['update_id']}|{msg['message_id']}",
    )


# ---------------------------------------------------------------------------------------------
# helpers


class _KeyedLocks:
    """One asyncio.Lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def __call__(self, key: str) -> Any:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


@dataclass(slots=True)
class _Op:
    method: str  # Bot API method: sendMessage, sendPhoto, sendContact, editMessageText
    # its parameters; reply_markup as the Bot API's JSON (dicts): PTB's keyboard objects cost ~160 µs more
    # CPU to build and serialise per message
    kwargs: dict[str, Any]
    keyboard: bool | None = None  # after success: True = contact keyboard shown, False = removed
    fallback: _Op | None = None  # for edits: what to send when the edit fails
    reply: int = 0  # index of the Reply this call belongs to (DeliveryError.delivered on failure)

    @property
    def has_markup(self) -> bool:
        return self.kwargs.get("reply_markup") is not None


def _retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _translate(exc: TelegramError) -> DeliveryError:
    """Map a PTB error to our typed errors (messages are Telegram's descriptions, no user data)."""
    if isinstance(exc, RetryAfter):
        return RateLimited(_retry_seconds(exc))
    if isinstance(exc, Forbidden):
        return Blocked(str(exc))
    if isinstance(exc, BadRequest):  # (a NetworkError subclass in PTB: test it first)
        text = str(exc).lower()
        if "chat not found" in text or "user is deactivated" in text:
            return Blocked(str(exc))
        return PermanentError(str(exc))
    if isinstance(exc, (TimedOut, NetworkError)):
        return TransientError(f"{type(exc).__name__}: {exc}")
    return PermanentError(f"{type(exc).__name__}: {exc}")


# ---------------------------------------------------------------------------------------------
# the channel


class TelegramChannel:
    """Telegram channel (see module docstring). Implements ``core.channel.Channel``."""

    channel = CHANNEL
    capabilities = Capabilities(text_limit=4096, markup="telegram_html", max_buttons=100, button_label_limit=64,
                                payload_bytes=_MAX_CALLBACK_BYTES, can_edit=True, contact_cards=True,
                                request_phone=True)

    def __init__(
        self,
        token: str,
        *,
        submit: Submit | None = None,
        receive_updates: bool = True,
        api_base_url: str | None = None,
        api_base_file_url: str | None = None,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        webhook_path: str = "/telegram/webhook",
        on_blocked: BlockedFn | None = None,
        group_notice: Callable[[], str] | None = None,
        polling_timeout: float = 30.0,
        commands: Sequence[tuple[str, str]] = (),
        connect_timeout: float = 5.0,
        read_timeout: float = 10.0,
        write_timeout: float = 10.0,
        pool_timeout: float = 5.0,
        connection_pool_size: int = 256,
        max_attempts: int = 4,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 8.0,
        max_retry_after: float = 60.0,
    ) -> None:
        """
        ``api_base_url`` is PTB's ``base_url`` (the token and ``/method`` are appended, e.g.
        ``https://api.telegram.org/bot`` or ``FakeTelegramAPI.base_url``); ``api_base_file_url`` defaults
        to it with ``/bot`` replaced by ``/file/bot``. ``submit``: where received updates go (required
        unless ``receive_updates=False``: send-only, see the module docstring; the webhook and polling
        settings are then unused). Raises ValueError for a malformed ``webhook_secret`` or a missing
        ``submit``.
        """
        if webhook_secret is not None and not _SECRET_RE.match(webhook_secret):
            raise ValueError("webhook_secret must be 1-256 characters of A-Z a-z 0-9 _ -")
        if submit is None and receive_updates:
            raise ValueError("submit is required unless receive_updates=False")
        # Every update is stored (`submit`, the core's durable inbox) before Telegram is acknowledged
        # (webhook: before the 200; polling: before the next getUpdates offset); the replies come back
        # through `send`.
        self._submit = submit
        self._poller: asyncio.Task[None] | None = None
        self.receive_updates = receive_updates
        self.webhook_url = (webhook_url or None) if receive_updates else None
        self.webhook_path = webhook_path
        self._secret = webhook_secret
        self._on_blocked = on_blocked
        self._group_notice = group_notice  # the pack's one polite line before leaving a group (app wiring)
        self.polling_timeout = polling_timeout
        self.commands = list(commands)
        self._retry = {"max_attempts": max_attempts, "base_delay": retry_base_delay,
                       "max_delay": retry_max_delay, "max_retry_after": max_retry_after}
        timeouts = {"connect_timeout": connect_timeout, "read_timeout": read_timeout,
                    "write_timeout": write_timeout, "pool_timeout": pool_timeout}
        # kept: when getMe fails PTB's shutdown() skips a bot it never marked initialised, sessions left open
        self._requests = requests = (AiohttpRequest(pool_size=connection_pool_size, **timeouts),
                                     AiohttpRequest(pool_size=1, **timeouts))
        builder = (
            Application.builder()
            .token(token)
            .request(requests[0])  # channels/telegram_http.py
            .get_updates_request(requests[1])  # PTB adds the long poll to read
            .updater(None)  # polling is our own loop (the offset advances after storing), never PTB's Updater
        )
        if api_base_url:
            builder = builder.base_url(api_base_url)
            if api_base_file_url is None and api_base_url.endswith("/bot"):
                api_base_file_url = api_base_url[: -len("/bot")] + "/file/bot"
        if api_base_file_url:
            builder = builder.base_file_url(api_base_file_url)
        if self.webhook_url and webhook_secret is None:
            log.warning("telegram: webhook without secret token: anyone can post updates")
        self._app: Application = builder.build()  # type: ignore[type-arg]
        self._locks = _KeyedLocks()
        self._keyboard_open: set[str] = set()  # chats showing our request-contact keyboard
        self._listeners: list[Callable[[int, Incoming | None], None]] = []
        self._running = False
        # httpx logs every request URL at INFO, and the URL contains the bot token.
        httpx_log = logging.getLogger("httpx")
        if httpx_log.level == logging.NOTSET:
            httpx_log.setLevel(logging.WARNING)

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def application(self) -> Application:  # type: ignore[type-arg]
        """The wrapped PTB Application (for tests and diagnostics)."""
        return self._app

    @property
    def running(self) -> bool:
        return self._running

    @property
    def api_host(self) -> str:
        """The Bot API's host (the operator's start-failure line; PTB's base URL ends with the token)."""
        return api_host(self._app.bot.base_url)

    @property
    def mode(self) -> str:
        """"polling", "webhook" or "send-only"."""
        if not self.receive_updates:
            return "send-only"
        return "webhook" if self.webhook_url else "polling"

    async def start(self) -> None:
        if self._running:
            return
        try:
            await self._app.initialize()  # getMe: a rejected token or Telegram out of reach fails here
        except BaseException:
            await asyncio.gather(*(request.shutdown() for request in self._requests), return_exceptions=True)
            raise
        if not self.receive_updates:
            # Send-only: the Bot's HTTP client is ready after initialize(); no update processing, no
            # getUpdates, no setWebhook, no setMyCommands (the receiving process owns those).
            self._running = True
            log.info("telegram: started (send-only)")
            return
        try:
            if self.webhook_url:
                await self._app.bot.set_webhook(
                    url=self.webhook_url,
                    secret_token=self._secret,
                    allowed_updates=ALLOWED_UPDATES,
                    drop_pending_updates=False,
                )
            else:
                await self._app.bot.delete_webhook(drop_pending_updates=False)
                self._poller = asyncio.create_task(self._poll())
        except BaseException:
            await self._shutdown()
            raise
        self._running = True
        if self.commands:
            try:
                await self._app.bot.set_my_commands([BotCommand(c, d) for c, d in self.commands])
            except TelegramError as exc:
                log.warning("telegram: setMyCommands failed: %s", type(exc).__name__)
        log.info("telegram: started (%s)", self.mode)

    async def stop(self) -> None:
        """Stop processing (the webhook stays registered, so a restart loses nothing)."""
        if not self._running:
            return
        self._running = False
        await self._shutdown()
        log.info("telegram: stopped")

    async def _shutdown(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        await self._app.shutdown()

    def register_routes(self, app: web.Application) -> None:
        """Add the webhook POST route (webhook mode only; nothing in polling or send-only mode)."""
        if self.receive_updates and self.webhook_url:
            app.router.add_post(self.webhook_path, self._webhook)

    def add_update_listener(self, callback: Callable[[int, Incoming | None], None]) -> None:
        """``callback(update_id, incoming)`` once a received update is stored: ``incoming`` as handed to
        ``submit`` (its turn is the inbox's), or None when it starts no turn (membership changes, group
        chats, edits). Tests and benchmarks use it to follow an update to its turn without sleeping."""
        self._listeners.append(callback)

    # -- webhook -----------------------------------------------------------------------------------

    async def _webhook(self, request: web.Request) -> web.Response:
        header = request.headers.get(SECRET_HEADER)
        if self._secret is not None:
            if header is None or not secrets.compare_digest(header.encode(), self._secret.encode()):
                return web.Response(status=403)
        elif header is not None:
            return web.Response(status=403)
        if not self._running:
            return web.Response(status=503)  # Telegram retries later
        try:
            data = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.Response(status=400)
        incoming = plain_text_incoming(data)
        if incoming is not None:  # durable before the 200, as below
            await self._hand_over(data["update_id"], incoming)
            return web.Response(status=200)
        try:
            update = Update.de_json(data, self._app.bot)
        except Exception:  # noqa: BLE001 - malformed update objects
            return web.Response(status=400)
        await self._store(update)  # durable before the 200; a re-delivery is dropped by the inbox
        return web.Response(status=200)

    # -- update processing -----------------------------------------------------------------------

    async def _store(self, update: Update) -> None:
        """Hand a received update to the core's inbox (raises when it could not be stored: the webhook
        then answers 500 and Telegram delivers it again; polling does not advance its offset)."""
        member = update.my_chat_member
        incoming = to_incoming(update) if member is None else None
        if member is not None:
            await self._membership(member)
        elif incoming is None:
            if update.callback_query is not None:
                await self._answer(update.callback_query.id, "")
        else:
            incoming = dataclasses.replace(incoming, message_id=f"u{update.update_id}|{incoming.message_id}")
        await self._hand_over(update.update_id, incoming)

    async def _hand_over(self, update_id: int, incoming: Incoming | None) -> None:
        """Submit ``incoming`` (None: the update starts no turn), then tell the update listeners."""
        assert self._submit is not None
        if incoming is not None:
            await self._submit(incoming)
        for callback in self._listeners:
            try:
                callback(update_id, incoming)
            except Exception:  # noqa: BLE001 - a broken listener must not stop receiving
                log.exception("telegram: update listener failed")

    async def _poll(self) -> None:
        """getUpdates long polling that acknowledges (the next offset) only what the inbox has stored."""
        offset: int | None = None
        delay = 1.0
        while True:
            try:
                updates = await self._app.bot.get_updates(
                    offset=offset, timeout=int(self.polling_timeout), allowed_updates=ALLOWED_UPDATES)
                for update in updates:
                    await self._store(update)
                    offset = update.update_id + 1
                delay = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - network or storage trouble: back off, try again
                log.warning("telegram: getUpdates/store failed: %s", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(30.0, delay * 2)

    async def _answer(self, query_id: str, notice: str) -> None:
        text = notice[:_NOTICE_LIMIT] or None
        try:
            await self._app.bot.answer_callback_query(query_id, text=text)
        except TelegramError as exc:  # expired queries etc.: the spinner just stops by itself
            log.info("telegram: answerCallbackQuery failed: %s", type(exc).__name__)

    # -- sending -----------------------------------------------------------------------------------

    # -- files (core.channel.Downloader) -------------------------------------------------------------

    download_max_bytes = 20 * 1024 * 1024  # the Bot API serves bots files up to 20 MB
    download_timeout = 60.0  # seconds for getFile + the transfer, per attempt

    async def download(self, attachment: Attachment) -> bytes:
        """The bytes of a file a user sent (``attachment.file_id`` is Telegram's file id): getFile, then the
        file into memory. Raises ``FileTooLarge`` over ``download_max_bytes`` (declared or actual),
        PermanentError (unknown/expired id), TransientError (network, timeouts; retried with backoff)."""
        from core.channel import FileTooLarge

        limit = self.download_max_bytes
        if not attachment.file_id:
            raise PermanentError("attachment has no file id")
        if attachment.size and attachment.size > limit:
            raise FileTooLarge(f"file of {attachment.size} bytes exceeds {limit}")

        async def attempt() -> bytes:
            try:
                async with asyncio.timeout(self.download_timeout):
                    file = await self._app.bot.get_file(attachment.file_id)
                    if file.file_size and file.file_size > limit:
                        raise FileTooLarge(f"file of {file.file_size} bytes exceeds {limit}")
                    data = await file.download_as_bytearray(read_timeout=self.download_timeout)
            except TimeoutError:
                raise TransientError("file download timed out") from None
            except TelegramError as exc:
                if "too big" in str(exc).lower():
                    raise FileTooLarge("Telegram: file is too big") from None
                raise _translate(exc) from None
            if len(data) > limit:
                raise FileTooLarge(f"file exceeds {limit} bytes")
            return bytes(data)

        return await retry_call(attempt, **{**self._retry, "max_attempts": 3})  # type: ignore[arg-type]

    async def send(
        self, user_id: str, replies: Sequence[Reply], *, retry: bool = True, paid_broadcast: bool = False,
        reply_to: str = "",
    ) -> None:
        """Proactive delivery (see ``core.channel.Sender``). Raises DeliveryError subclasses whose
        ``delivered`` counts the replies that fully arrived before the failure.

        ``paid_broadcast=True`` adds ``allow_paid_broadcast`` to every message: Telegram then lets the bot
        send up to 1000 messages/s, for a fee in Telegram Stars per message."""
        if not self._running:
            raise RuntimeError("TelegramChannel.send() called before start()")
        chat_id = str(user_id)
        edit_id: int | None = None
        callback = reply_to.split("|", 1)[-1]
        if callback.startswith("cb:"):  # the reply to a button press: stop its spinner, edit its message
            _, query_id, message_id = (callback.split(":", 2) + ["", ""])[:3]
            await self._answer(query_id, next((r.notice for r in replies if r.notice), ""))
            edit_id = int(message_id) if message_id.isdigit() else None
        async with self._locks(chat_id):
            await self._deliver(chat_id, replies, retry=retry, edit_message_id=edit_id, paid_broadcast=paid_broadcast)

    async def _deliver(
        self, chat_id: str, replies: Sequence[Reply], *, retry: bool, edit_message_id: int | None,
        paid_broadcast: bool = False,
    ) -> None:
        target: int | str = int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id
        current = 0  # the reply being delivered: replies before it arrived in full
        try:
            for op in self._render(target, replies, edit_message_id):
                current = op.reply
                if paid_broadcast and op.method in _PAID_METHODS:
                    op.kwargs["allow_paid_broadcast"] = True
                if op.fallback is not None:  # an edit
                    try:
                        await self._call(op, retry)
                    except PermanentError as exc:
                        if "not modified" in str(exc).lower():
                            continue
                        log.debug("telegram: edit failed (%s), sending a new message", exc)
                        await self._call(op.fallback, retry)
                    continue
                await self._call(op, retry)
                if op.keyboard is True:
                    self._keyboard_open.add(chat_id)
                elif op.keyboard is False:
                    self._keyboard_open.discard(chat_id)
        except DeliveryError as exc:
            exc.delivered = current
            if isinstance(exc, Blocked):
                await self._notify_blocked(chat_id)
            raise

    async def _call(self, op: _Op, retry: bool) -> Any:
        """One Bot API call; returns Telegram's raw JSON ``result`` (unused: nothing reads the sent message).

        Through ``Bot.do_api_request`` rather than ``Bot.send_message`` & co.: the same request (PTB still
        serialises ``reply_markup`` and drops None values; we set no ``Defaults``), but the answer is not
        parsed into a ``telegram.Message`` (~120 attributes, each set through ``TelegramObject.__setattr__``):
        ~340 µs less CPU per call (3,000 sends against the fake Bot API in another process: 1,140 -> 800 µs)."""
        bot = self._app.bot

        async def attempt() -> Any:
            try:
                return await bot.do_api_request(op.method, api_kwargs=op.kwargs)
            except EndPointNotFound as exc:  # do_api_request's name for a 401/404 (InvalidToken) from Telegram
                raise _translate(exc.__cause__ if isinstance(exc.__cause__, TelegramError) else exc) from None
            except TelegramError as exc:
                raise _translate(exc) from None

        if retry:
            return await retry_call(attempt, **self._retry)  # type: ignore[arg-type]
        return await attempt()

    async def _membership(self, member: Any) -> None:
        """The bot's own membership changed. A private chat "kicked": the person blocked the bot — reported to
        the core at once (`on_blocked`: the user is marked blocked, the bulletin ends the subscription).
        Added to a group, supergroup or channel: one polite line (the pack's, given by the app) and leave —
        the bot serves people one to one."""
        chat_type, status = member.chat.type, member.new_chat_member.status
        if chat_type == "private":
            if status == "kicked":
                log.debug("telegram: a user blocked the bot")
                await self._notify_blocked(str(member.chat.id))
            return
        if status not in ("member", "administrator"):
            return
        chat_id = member.chat.id
        if self._group_notice is not None and chat_type != "channel":
            try:
                await self._app.bot.send_message(chat_id, self._group_notice())
            except Exception as exc:  # noqa: BLE001 - leaving matters more than the line
                log.warning("telegram: group notice not sent: %s", type(exc).__name__)
        try:
            await self._app.bot.leave_chat(chat_id)
        except Exception as exc:  # noqa: BLE001 - Telegram sends the update again if it stays
            log.warning("telegram: could not leave a group: %s", type(exc).__name__)

    async def _notify_blocked(self, user_id: str) -> None:
        self._keyboard_open.discard(user_id)
        if self._on_blocked is None:
            return
        try:
            await self._on_blocked(CHANNEL, user_id)
        except Exception as exc:  # noqa: BLE001 - a storage hiccup must not break delivery
            log.error("telegram: on_blocked callback failed: %s", type(exc).__name__)

    # -- rendering ---------------------------------------------------------------------------------

    def _render(self, chat_id: int | str, replies: Sequence[Reply], edit_message_id: int | None) -> Iterator[_Op]:
        keyboard_open = str(chat_id) in self._keyboard_open
        edit_used = edit_message_id is None
        for index, reply in enumerate(replies):
            ops = self._render_one(chat_id, reply)
            if not ops:
                continue
            for op in ops:
                op.reply = index
            first = ops[0]
            if (
                reply.edit
                and not edit_used
                and first.method == "sendMessage"
                and "keyboard" not in (first.kwargs.get("reply_markup") or {})  # edits cannot carry a reply keyboard
            ):
                edit_used = True
                kwargs = {k: v for k, v in first.kwargs.items() if k != "chat_id"}
                ops[0] = _Op(
                    "editMessageText",
                    {"chat_id": chat_id, "message_id": edit_message_id, **kwargs},
                    fallback=first,
                    reply=index,
                )
            if any(op.keyboard for op in ops):
                keyboard_open = True
            elif keyboard_open:
                for op in ops:
                    # hide the request-contact keyboard at the first chance (edits cannot carry it)
                    if op.fallback is None and not op.has_markup:
                        op.kwargs["reply_markup"] = {"remove_keyboard": True}
                        op.keyboard = False
                        keyboard_open = False
                        break
            yield from ops

    def _render_one(self, chat_id: int | str, reply: Reply) -> list[_Op]:
        from core.render import fit_reply, with_lines

        reply = fit_reply(reply, self.capabilities, channel=CHANNEL)  # payload size, label length, count
        extra: list[str] = []
        rows: list[list[dict[str, str]]] = []
        contact_label = reply.request_contact_label
        for row in reply.buttons:
            out: list[dict[str, str]] = []
            for b in row:
                if b.kind == ButtonKind.PAYLOAD:
                    out.append({"text": b.label, "callback_data": b.payload})
                elif b.kind == ButtonKind.URL:
                    if b.url.lower().startswith(_URL_SCHEMES):
                        out.append({"text": b.label, "url": b.url})
                    elif b.url:
                        extra.append(f"{b.label}: {b.url}")
                elif b.kind == ButtonKind.PHONE:
                    # Telegram rejects tel: URLs in buttons; a phone number in the text is tappable.
                    number = b.phone or b.url.removeprefix("tel:")
                    if number:
                        extra.append(f"📞 {b.label}: {number}")
                elif b.kind == ButtonKind.REQUEST_CONTACT:
                    contact_label = contact_label or b.label
            if out:
                rows.append(out)
        if reply.contact is not None and reply.contact.note:
            extra.append(reply.contact.note)
        body = with_lines(reply.text or "", extra)

        ops: list[_Op] = []
        if reply.image_url:
            ops.append(_Op("sendPhoto", {"chat_id": chat_id, "photo": reply.image_url}))
        for part in telegram_parts(body):
            ops.append(_Op("sendMessage", {"chat_id": chat_id, "text": part, "parse_mode": ParseMode.HTML}))
        if reply.contact is not None:
            ops.append(_Op("sendContact", {"chat_id": chat_id, "phone_number": reply.contact.phone,
                                            "first_name": reply.contact.name or reply.contact.phone}))
        if not ops and (rows or contact_label):
            ops.append(_Op("sendMessage", {"chat_id": chat_id, "text": CHOOSE_TEXT if rows else SHARE_PHONE_TEXT}))
        if rows:
            ops[-1].kwargs["reply_markup"] = {"inline_keyboard": rows}
        if contact_label:
            keyboard = {"keyboard": [[{"text": contact_label, "request_contact": True}]],
                        "one_time_keyboard": True, "resize_keyboard": True}
            if ops[-1].has_markup:
                ops.append(_Op("sendMessage", {"chat_id": chat_id, "text": SHARE_PHONE_TEXT}))
            ops[-1].kwargs["reply_markup"] = keyboard
            ops[-1].keyboard = True
        return ops
