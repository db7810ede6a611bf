"""Zalo Bot Platform adapter: a Telegram-like HTTP API at ``<base>/bot<TOKEN>/<method>`` (POST, JSON,
answers ``{"ok", "result"}`` or ``{"ok": false, "error_code", "description"}``).

* Webhook mode (``ZALO_BOT_WEBHOOK_URL`` set): ``start()`` calls ``setWebhook(url, secret_token)``;
  :meth:`register_routes` adds ``POST <path of the URL>``, which checks ``X-Bot-Api-Secret-Token`` with
  ``secrets.compare_digest`` (401 otherwise), hands the ``Incoming`` to ``submit`` and only then answers
  200 (503 when ``submit`` fails, so Zalo may deliver again).
* Polling mode (no webhook URL): ``start()`` calls ``deleteWebhook`` (getUpdates does not work while a
  webhook is set) and long-polls ``getUpdates``; an update fetched is gone from Zalo, so ``submit`` is
  retried a few times before the update is given up (logged, without content).
* Sending: ``sendMessage`` (plain text 1-2000 characters, split on paragraph/line/sentence ends) and
  ``sendPhoto``; there are no buttons, so buttons, contact cards and phone requests become numbered text
  (``core.channel.fallback_text``); no editing (``Reply.edit`` sends a new message).

Updates look like ``{"event_name": "message.text.received", "message": {"message_id", "date", "text",
"from": {"id", "display_name"}, "chat": {"id", "chat_type"}}}``, in a webhook wrapped in
``{"ok": true, "result": ...}``; ``getUpdates`` answers one update (or, per some sources, a list: both
are accepted). Images come as ``message.image.received`` with ``photo`` (URL) and ``caption``.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from channels.download import fetch_bytes
from core.channel import (
    Blocked,
    api_host,
    Capabilities,
    DeliveryError,
    PermanentError,
    RateLimited,
    Submit,
    TransientError,
    fallback_text,
    retry_call,
)
from core.render import plain_parts
from core.types import Attachment, Incoming, Reply

__all__ = ["CAPABILITIES", "SECRET_HEADER", "ZaloBotChannel", "ZaloBotSettings", "to_incoming"]

log = logging.getLogger(__name__)

CHANNEL = "zalo_bot"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
TEXT_LIMIT = 2000
CAPABILITIES = Capabilities(text_limit=TEXT_LIMIT, markup="plain", max_buttons=0, button_label_limit=0,
                            payload_bytes=64, can_edit=False, contact_cards=False, request_phone=False)
_SECRET_RE = re.compile(r"^.{8,256}$", re.DOTALL)
_TOKEN_RE = re.compile(r"^[A-Za-z0-9:_\-.]{10,200}$")


@dataclass(frozen=True)
class ZaloBotSettings:
    token: str
    webhook_url: str = ""
    webhook_secret: str = ""
    api_base_url: str = "https://bot-api.zaloplatforms.com"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ZaloBotSettings:
        token = (env.get("ZALO_BOT_TOKEN") or "").strip()
        if not _TOKEN_RE.match(token):
            raise ValueError("ZALO_BOT_TOKEN: không hợp lệ (dạng <bot_id>:<khóa>, lấy từ Zalo Bot Creator)")
        url = (env.get("ZALO_BOT_WEBHOOK_URL") or "").strip()
        if url and not url.startswith("https://"):
            raise ValueError(f"ZALO_BOT_WEBHOOK_URL: phải là địa chỉ https://, nhận {url!r}")
        secret = (env.get("ZALO_BOT_WEBHOOK_SECRET") or "").strip()
        if url and not _SECRET_RE.match(secret):
            raise ValueError("ZALO_BOT_WEBHOOK_SECRET: bắt buộc khi dùng webhook, 8-256 ký tự")
        base = (env.get("ZALO_BOT_API_BASE_URL") or "").strip() or "https://bot-api.zaloplatforms.com"
        if not base.startswith(("https://", "http://")):
            raise ValueError(f"ZALO_BOT_API_BASE_URL: phải là địa chỉ http(s)://, nhận {base!r}")
        return cls(token, url, secret, base.rstrip("/"))

    @property
    def webhook_path(self) -> str:
        return urlsplit(self.webhook_url).path or "/" if self.webhook_url else ""


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _url_of(value: Any) -> str:
    if isinstance(value, dict):
        return _s(value.get("url") or value.get("photo_url"))
    if isinstance(value, list) and value:
        return _url_of(value[-1])
    return _s(value)


def to_incoming(update: Mapping[str, Any]) -> Incoming | None:
    """One Zalo Bot update → Incoming, or None (group chats, updates without a message)."""
    if "result" in update and "event_name" not in update and isinstance(update.get("result"), dict):
        update = update["result"]
    message = update.get("message")
    if not isinstance(message, dict):
        return None
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    if str(chat.get("chat_type") or "PRIVATE").upper() != "PRIVATE":
        return None
    sender = message.get("from") if isinstance(message.get("from"), dict) else {}
    user = _s(sender.get("id") or chat.get("id"))
    if not user:
        return None
    name = _s(sender.get("display_name") or sender.get("first_name") or sender.get("name"))
    event = _s(update.get("event_name"))
    text = _s(message.get("text"))
    attachments: list[Attachment] = []
    if event == "message.image.received" or message.get("photo") or message.get("photo_url"):
        attachments.append(Attachment("photo", _url_of(message.get("photo") or message.get("photo_url")),
                                      mime_type="image/jpeg"))
        text = text or _s(message.get("caption"))
    elif event == "message.sticker.received":
        attachments.append(Attachment("sticker", _s(message.get("url") or message.get("sticker"))))
    elif event == "message.voice.received":
        attachments.append(Attachment("audio", _s(message.get("voice_url"))))
    elif event != "message.text.received":  # an unknown kind of content; an empty text is just "no text"
        attachments.append(Attachment("other"))
    return Incoming(channel=CHANNEL, user_id=user, display_name=name, text=text,
                    attachments=tuple(attachments), message_id=_s(message.get("message_id")))


class ZaloBotChannel:
    """See the module docstring. Implements ``core.channel.Channel``."""

    channel = CHANNEL
    capabilities = CAPABILITIES

    def __init__(
        self,
        settings: ZaloBotSettings,
        submit: Submit | None,
        *,
        receive: bool = True,
        polling_timeout: float = 30.0,
        connect_timeout: float = 5.0,
        request_timeout: float = 10.0,
        submit_timeout: float = 5.0,
        submit_attempts: int = 3,
        max_attempts: int = 4,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 8.0,
        max_retry_after: float = 60.0,
        rate_limit_retry_after: float = 1.0,
        poll_error_delay: float = 1.0,
        max_download_bytes: int = 10 * 1024 * 1024,
    ) -> None:
        if receive and submit is None:
            raise ValueError("submit is required unless receive=False")
        self.settings = settings
        self._submit = submit
        self.receive = receive
        self.polling_timeout = polling_timeout
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.submit_timeout = submit_timeout
        self.submit_attempts = submit_attempts
        self.rate_limit_retry_after = rate_limit_retry_after
        self.poll_error_delay = poll_error_delay
        self.max_download_bytes = max_download_bytes
        self._retry = {"max_attempts": max_attempts, "base_delay": retry_base_delay,
                       "max_delay": retry_max_delay, "max_retry_after": max_retry_after}
        self._base = f"{settings.api_base_url}/bot{settings.token}/"
        self._http: aiohttp.ClientSession | None = None
        self._poller: asyncio.Task[None] | None = None
        self._running = False

    @property
    def mode(self) -> str:
        if not self.receive:
            return "send-only"
        return "webhook" if self.settings.webhook_url else "polling"

    @property
    def running(self) -> bool:
        return self._running

    @property
    def api_host(self) -> str:
        """The Bot API's host (the operator's start-failure line)."""
        return api_host(self.settings.api_base_url)

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.request_timeout, connect=self.connect_timeout))
        return self._http

    async def start(self) -> None:
        if self._running:
            return
        self._session()
        try:
            if self.mode == "webhook":
                await self._call("setWebhook", {"url": self.settings.webhook_url,
                                                "secret_token": self.settings.webhook_secret})
            elif self.mode == "polling":
                await self._call("deleteWebhook", {})
                self._poller = asyncio.create_task(self._poll(), name="zalo-bot-polling")
        except BaseException:
            await self._close()
            raise
        self._running = True
        log.info("zalo_bot: started (%s)", self.mode)

    async def stop(self) -> None:
        """Stop receiving (the webhook stays registered, so a restart loses nothing)."""
        self._running = False
        if self._poller is not None:
            self._poller.cancel()
            try:
                await self._poller
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
            self._poller = None
        await self._close()

    async def _close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    def register_routes(self, app: web.Application) -> None:
        if self.mode == "webhook":
            app.router.add_post(self.settings.webhook_path, self._webhook)

    # -- API -------------------------------------------------------------------------------------

    async def _api(self, method: str, params: dict[str, Any], *, timeout: float | None = None) -> Any:
        """One call; raises typed errors. (The URL holds the token: it is never logged.)"""
        try:
            async with self._session().post(
                self._base + method, json=params,
                timeout=aiohttp.ClientTimeout(total=timeout or self.request_timeout, connect=self.connect_timeout),
            ) as resp:
                try:
                    body = await resp.json(content_type=None)
                except ValueError:
                    body = None
                status = resp.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"zalo bot {method}: {type(exc).__name__}") from None
        if isinstance(body, dict) and body.get("ok") is True:
            return body.get("result")
        code = int(body.get("error_code") or status) if isinstance(body, dict) else status
        description = str(body.get("description") or "")[:200] if isinstance(body, dict) else ""
        error = self._translate(method, code, description, body if isinstance(body, dict) else {})
        error.code = code  # type: ignore[attr-defined]
        raise error

    def _translate(self, method: str, code: int, description: str, body: dict[str, Any]) -> DeliveryError:
        text = f"zalo bot {method}: {code} {description}".strip()
        if code == 429:
            params = body.get("parameters") if isinstance(body.get("parameters"), dict) else {}
            return RateLimited(float(params.get("retry_after") or self.rate_limit_retry_after), text)
        if code == 403:
            return Blocked(text)
        if code == 408 or code >= 500:
            return TransientError(text)
        return PermanentError(text)

    async def _call(self, method: str, params: dict[str, Any], retry: bool = True) -> Any:
        if retry:
            return await retry_call(lambda: self._api(method, params), **self._retry)  # type: ignore[arg-type]
        return await self._api(method, params)

    # -- receiving -------------------------------------------------------------------------------

    async def _webhook(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not secrets.compare_digest(given.encode(), self.settings.webhook_secret.encode()):
            log.warning("zalo_bot: webhook with a wrong or missing secret rejected")
            return web.Response(status=401)
        try:
            data = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400)
        if not isinstance(data, dict):
            return web.Response(status=400)
        incoming = to_incoming(data)
        if incoming is None:
            return web.Response(status=200)
        assert self._submit is not None
        try:
            await asyncio.wait_for(self._submit(incoming), self.submit_timeout)
        except Exception as exc:  # noqa: BLE001 - Zalo may deliver again; the core de-duplicates
            log.error("zalo_bot: update not accepted by the core (%s)", type(exc).__name__)
            return web.Response(status=503)
        return web.Response(status=200)

    async def _poll(self) -> None:
        delay = self.poll_error_delay
        while True:
            try:
                result = await self._api("getUpdates", {"timeout": str(int(self.polling_timeout))},
                                         timeout=self.polling_timeout + 10)
            except TransientError as exc:
                if getattr(exc, "code", None) == 408:  # the long poll ended without updates
                    continue
                log.warning("zalo_bot: getUpdates failed: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            except DeliveryError as exc:
                log.error("zalo_bot: getUpdates refused: %s", exc)
                await asyncio.sleep(max(delay, 5.0))
                continue
            delay = self.poll_error_delay
            updates = result if isinstance(result, list) else [result] if isinstance(result, dict) else []
            for update in updates:
                if isinstance(update, dict):
                    await self._accept(update)

    async def _accept(self, update: dict[str, Any]) -> None:
        incoming = to_incoming(update)
        if incoming is None:
            return
        assert self._submit is not None
        for attempt in range(1, self.submit_attempts + 1):
            try:
                await asyncio.wait_for(self._submit(incoming), self.submit_timeout)
                return
            except Exception as exc:  # noqa: BLE001
                if attempt == self.submit_attempts:
                    log.error("zalo_bot: update %s lost: the core did not accept it (%s)",
                              incoming.message_id, type(exc).__name__)
                    return
                await asyncio.sleep(self.poll_error_delay * attempt)

    async def download(self, attachment: Attachment) -> bytes:
        """The bytes of a photo a citizen sent (``attachment.file_id`` is its URL)."""
        return await fetch_bytes(self._session(), attachment.file_id, max_bytes=self.max_download_bytes,
                                 connect_timeout=self.connect_timeout)

    # -- sending ---------------------------------------------------------------------------------

    async def send(
        self, user_id: str, replies: Sequence[Reply], *, retry: bool = True, paid_broadcast: bool = False,
        reply_to: str = "",
    ) -> None:
        """Deliver ``replies`` (``core.channel.Sender``); ``paid_broadcast`` and ``reply_to`` are ignored
        (the Bot Platform has neither). ``delivered`` on errors counts replies that fully arrived."""
        current = 0
        try:
            for index, (method, params) in self.render(str(user_id), replies):
                current = index
                await self._call(method, params, retry)
        except DeliveryError as exc:
            exc.delivered = current
            raise

    def render(self, chat_id: str, replies: Sequence[Reply]) -> list[tuple[int, tuple[str, dict[str, Any]]]]:
        out: list[tuple[int, tuple[str, dict[str, Any]]]] = []
        for index, reply in enumerate(replies):
            if reply.buttons or reply.contact is not None or reply.request_contact_label:
                text = fallback_text(reply)
            else:
                text = reply.text or ""
            if reply.image_url:
                out.append((index, ("sendPhoto", {"chat_id": chat_id, "photo": reply.image_url})))
            for part in plain_parts(text, TEXT_LIMIT):
                out.append((index, ("sendMessage", {"chat_id": chat_id, "text": part})))
        return out
