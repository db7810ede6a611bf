"""Zalo Official Account adapter (Open API v3), on the bot's own aiohttp app.

Receiving: :meth:`ZaloOAChannel.register_routes` adds ``POST <ZALO_OA_WEBHOOK_PATH>``. Each request's
``X-ZEvent-Signature`` is checked (see ``events.py``) and its timestamp must be at most
``webhook_max_age`` seconds old (and not more than 5 minutes ahead); otherwise 401, logged without the
body. An accepted event becomes an ``Incoming`` (``message_id`` = Zalo's ``msg_id``) and is handed to the
injected ``submit`` *before* the 200: if ``submit`` fails or takes longer than ``submit_timeout`` the
answer is 503 and Zalo delivers the event again (the core de-duplicates on ``message_id``). The adapter
keeps no de-duplication state and no locks of its own.

Sending: ``POST /v3.0/oa/message/cs`` with header ``access_token``. ``send(..., reply_to=<the citizen's
message_id>)`` addresses the message to that message (``recipient.message_id``) so it counts as one of the
free replies (8 within 48 hours); without ``reply_to`` it is a proactive message (``recipient.user_id``),
which Zalo takes from the OA's paid/monthly quota: unless ``ZALO_OA_PROACTIVE_MONTHLY_QUOTA`` > 0 the
adapter refuses it locally with :class:`~core.channel.OutsideWindow` (no call, nothing spent; the core
counts the quota). Errors come back as HTTP 200 with ``error != 0`` and are mapped to the core's typed
errors (see :data:`ERROR_MAP`); -216/-220 refresh the token and retry once.

Rendering (``capabilities``): plain text ≤ 2000 characters per message, split on paragraph, line and
sentence ends; replies fitted to ``CAPABILITIES`` by ``core.render.fit`` (oversized payloads dropped with
a warning, more than 5 payload buttons as numbered text, titles ≤ 100 with the full label in the text);
up to 5 buttons (``oa.query.show`` for payloads, ``oa.open.url``, ``oa.open.phone``) on the last part; a
contact card becomes an ``oa.open.phone`` button; a phone request becomes a ``request_user_info`` form
(answered by the ``user_submit_info`` event). When links and numbers push a reply past 5 buttons it is
sent as numbered text (``core.channel.fallback_text``). No editing: ``Reply.edit`` is a new message.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
from aiohttp import web

from channels.download import fetch_bytes
from channels.zalo_oa.events import CHANNEL, encode_query, mac, parse_mac_header, signature_ok, to_incoming
from channels.zalo_oa.settings import ZaloOASettings
from channels.zalo_oa.tokens import TokenManager
from core.channel import (
    Blocked,
    Capabilities,
    DeliveryError,
    OutsideWindow,
    PermanentError,
    QuotaExceeded,
    RateLimited,
    Submit,
    TransientError,
    fallback_text,
    retry_call,
)
from core.render import fit_reply, plain_parts, shorten, with_lines
from core.types import Attachment, ButtonKind, Reply

__all__ = ["CAPABILITIES", "ERROR_MAP", "MESSAGE_PATH", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "ZaloOAChannel"]

log = logging.getLogger(__name__)

MESSAGE_PATH = "/v3.0/oa/message/cs"
SIGNATURE_HEADER = "X-ZEvent-Signature"
TIMESTAMP_HEADER = "X-ZEvent-Timestamp"
TEXT_LIMIT = 2000
MAX_BUTTONS = 5
TITLE_LIMIT = 100
CHOOSE_TEXT = "Anh/chị vui lòng chọn một mục bên dưới:"
CAPABILITIES = Capabilities(text_limit=TEXT_LIMIT, markup="plain", max_buttons=MAX_BUTTONS,
                            button_label_limit=TITLE_LIMIT, payload_bytes=64, can_edit=False,
                            contact_cards=True, request_phone=True, shared_button_slots=True)
TOKEN_ERRORS = frozenset({-216, -220})
# message ids events.py makes up for events without a Zalo msg_id (follow, unfollow, a form without one)
SYNTHETIC_IDS = ("follow:", "unfollow:", "info:")
# Zalo error code -> what it means for delivery (documented codes; others are PermanentError)
ERROR_MAP: dict[int, str] = {
    -32: "rate_limited",
    -213: "blocked",  # the user does not follow the OA / unreachable
    -227: "blocked",  # the user has been inactive for too long
    -230: "outside_window",
    -232: "outside_window",
    -211: "quota",
    -218: "quota",
    -234: "night_ban",  # this kind of message is not allowed at night (22:00-05:59)
}
_VN = dt.timezone(dt.timedelta(hours=7))  # Vietnam has no daylight saving time
_URL_SCHEMES = ("http://", "https://")


def _phone_code(number: str) -> str:
    digits = re.sub(r"\D", "", number)
    if digits.startswith("0") and len(digits) >= 9:
        return "84" + digits[1:]
    return digits


def _title(label: str) -> str:
    return shorten(label, TITLE_LIMIT)


def seconds_until_morning(now: dt.datetime, hour: int = 6) -> float:
    """Seconds from ``now`` until the next ``hour``:00 in Vietnam (end of Zalo's night ban)."""
    local = now.astimezone(_VN)
    target = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if target <= local:
        target += dt.timedelta(days=1)
    return (target - local).total_seconds()


class ZaloOAChannel:
    """The Zalo OA channel (see module docstring). Implements ``core.channel.Channel`` (``send`` also
    takes ``reply_to``)."""

    channel = CHANNEL
    capabilities = CAPABILITIES

    def __init__(
        self,
        settings: ZaloOASettings,
        submit: Submit | None,
        tokens: TokenManager | None = None,
        *,
        sessions: Any = None,
        receive: bool = True,
        connect_timeout: float = 5.0,
        request_timeout: float = 10.0,
        submit_timeout: float = 1.5,
        max_attempts: int = 4,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 8.0,
        max_retry_after: float = 60.0,
        rate_limit_retry_after: float = 2.0,
        max_download_bytes: int = 10 * 1024 * 1024,
        download_timeout: float = 30.0,
        request_info_image_url: str = "",
        future_skew: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if receive and submit is None:
            raise ValueError("submit is required unless receive=False")
        self.settings = settings
        self._submit = submit
        self.receive = receive
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.submit_timeout = submit_timeout
        self.rate_limit_retry_after = rate_limit_retry_after
        self.max_download_bytes = max_download_bytes
        self.download_timeout = download_timeout
        self.request_info_image_url = request_info_image_url
        self.future_skew = future_skew
        self.clock = clock
        self._retry = {"max_attempts": max_attempts, "base_delay": retry_base_delay,
                       "max_delay": retry_max_delay, "max_retry_after": max_retry_after}
        self._http: aiohttp.ClientSession | None = None
        if tokens is None:
            if sessions is None:
                raise ValueError("give tokens= or sessions= (the database the tokens live in)")
            from channels.zalo_oa.store import TokenStore

            tokens = TokenManager(TokenStore(sessions, settings.app_id), app_id=settings.app_id,
                                  app_secret=settings.app_secret, oauth_base_url=settings.oauth_base_url,
                                  session_getter=self._session)
        self.tokens = tokens
        self.url = settings.api_base_url.rstrip("/") + MESSAGE_PATH
        self._refresher: asyncio.Task[None] | None = None
        self._running = False

    # -- lifecycle -------------------------------------------------------------------------------

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.request_timeout, connect=self.connect_timeout))
        return self._http

    @property
    def running(self) -> bool:
        return self._running

    async def start(self) -> None:
        if self._running:
            return
        self._session()
        await self.tokens.seed(self.settings.access_token, self.settings.refresh_token)
        try:
            await self.tokens.current()
        except DeliveryError as exc:  # keep receiving; sends will report the problem
            log.warning("zalo_oa: no usable access token yet: %s", exc)
        self._refresher = asyncio.create_task(self._refresh_loop(), name="zalo-oa-token-refresh")
        self._running = True
        log.info("zalo_oa: started (%s)", "webhook " + self.settings.webhook_path if self.receive else "send-only")

    async def stop(self) -> None:
        self._running = False
        if self._refresher is not None:
            self._refresher.cancel()
            try:
                await self._refresher
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
            self._refresher = None
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _refresh_loop(self) -> None:
        """Refresh the access token before it expires (whichever process gets the lock does it)."""
        while True:
            await asyncio.sleep(self.tokens.seconds_until_due())
            try:
                await self.tokens.refresh_if_due()
            except Exception as exc:  # noqa: BLE001 - retried on the next round / on demand
                log.warning("zalo_oa: background token refresh failed: %s", type(exc).__name__)
                await asyncio.sleep(60)

    def register_routes(self, app: web.Application) -> None:
        if self.receive:
            app.router.add_post(self.settings.webhook_path, self._webhook)

    # -- webhook ---------------------------------------------------------------------------------

    def _reject(self, reason: str, size: int) -> web.Response:
        log.warning("zalo_oa: webhook rejected (%s, %d bytes)", reason, size)
        return web.Response(status=401)

    async def _webhook(self, request: web.Request) -> web.Response:
        raw = await request.read()
        given = parse_mac_header(request.headers.get(SIGNATURE_HEADER))
        if not given:
            return self._reject("no signature", len(raw))
        try:
            event = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            event = None
        s = self.settings
        if s.signature_timestamp == "header":
            timestamp = (request.headers.get(TIMESTAMP_HEADER) or "").strip()
        else:
            timestamp = str(event.get("timestamp") or "") if isinstance(event, dict) else ""
        if not timestamp:
            return self._reject("no timestamp", len(raw))
        ident = s.app_id if s.signature_id == "app_id" else s.oa_id
        if not signature_ok(mac(ident, raw, timestamp, s.signing_secret), given):
            return self._reject("wrong signature", len(raw))
        try:
            seconds = int(timestamp) / (1000 if int(timestamp) > 10**11 else 1)
        except ValueError:
            return self._reject("bad timestamp", len(raw))
        age = self.clock() - seconds
        if age > s.webhook_max_age or age < -self.future_skew:
            return self._reject(f"timestamp {age:.0f}s old", len(raw))
        if not isinstance(event, dict):
            return web.Response(status=400)
        incoming = to_incoming(event)
        if incoming is None:
            log.debug("zalo_oa: event %s ignored", str(event.get("event_name"))[:40])
            return web.Response(status=200)
        log.debug("zalo_oa: %s from user %s", event.get("event_name"), incoming.user_id)
        assert self._submit is not None
        try:
            await asyncio.wait_for(self._submit(incoming), self.submit_timeout)
        except Exception as exc:  # noqa: BLE001 - Zalo delivers again; the core de-duplicates
            log.error("zalo_oa: event not accepted by the core (%s); Zalo will retry", type(exc).__name__)
            return web.Response(status=503)
        return web.Response(status=200)

    # -- files -----------------------------------------------------------------------------------

    async def download(self, attachment: Attachment) -> bytes:
        """The bytes of an image/file a citizen sent (``attachment.file_id`` is Zalo's URL). Raises
        ``channels.download.FileTooLarge`` over ``max_download_bytes``, PermanentError/TransientError."""
        return await fetch_bytes(self._session(), attachment.file_id, max_bytes=self.max_download_bytes,
                                 timeout=self.download_timeout, connect_timeout=self.connect_timeout)

    # -- sending ---------------------------------------------------------------------------------

    async def send(
        self, user_id: str, replies: Sequence[Reply], *, retry: bool = True, paid_broadcast: bool = False,
        reply_to: str = "",
    ) -> None:
        """Deliver ``replies`` (see ``core.channel.Sender``); ``reply_to`` = the citizen's message_id this
        answers (a free reply). ``paid_broadcast`` is ignored. Raises DeliveryError subclasses with
        ``delivered`` = replies that fully arrived."""
        if reply_to.startswith(SYNTHETIC_IDS):  # a follow/form event: no Zalo message to reply to
            reply_to = ""
        if not reply_to and self.settings.proactive_monthly_quota <= 0:
            raise OutsideWindow("proactive Zalo OA messages are off (ZALO_OA_PROACTIVE_MONTHLY_QUOTA=0); "
                                "deliver with the citizen's next message")
        recipient = {"message_id": reply_to} if reply_to else {"user_id": str(user_id)}
        current = 0
        try:
            for index, message in self.render(replies):
                current = index
                await self._call({"recipient": recipient, "message": message}, retry)
        except DeliveryError as exc:
            exc.delivered = current
            raise

    async def _call(self, body: dict[str, Any], retry: bool) -> dict[str, Any]:
        async def attempt() -> dict[str, Any]:
            token = await self.tokens.current()
            answer = await self._post(token, body)
            code = _code(answer)
            if code in TOKEN_ERRORS:
                log.info("zalo_oa: access token rejected (%d), refreshing", code)
                token = await self.tokens.invalid(token)
                answer = await self._post(token, body)
                code = _code(answer)
                if code in TOKEN_ERRORS:
                    raise PermanentError(f"zalo access token rejected after a refresh (error {code})")
            if code != 0:
                raise self._translate(code, str(answer.get("message") or "")[:200])
            return answer

        if retry:
            return await retry_call(attempt, **self._retry)  # type: ignore[arg-type]
        return await attempt()

    async def _post(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            async with self._session().post(self.url, json=body, headers={"access_token": token}) as resp:
                if resp.status == 429:
                    raise RateLimited(self.rate_limit_retry_after)
                if resp.status >= 500:
                    raise TransientError(f"zalo HTTP {resp.status}")
                try:
                    answer = await resp.json(content_type=None)
                except ValueError:
                    answer = None
                if not isinstance(answer, dict):
                    if resp.status >= 400:
                        raise PermanentError(f"zalo HTTP {resp.status}")
                    raise TransientError("zalo: unreadable answer")
                return answer
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientError(f"zalo: {type(exc).__name__}") from None

    def _translate(self, code: int, message: str) -> DeliveryError:
        kind = ERROR_MAP.get(code)
        text = f"zalo error {code}: {message}"
        if kind == "rate_limited":
            return RateLimited(self.rate_limit_retry_after, text)
        if kind == "blocked":
            return Blocked(text)
        if kind == "outside_window":
            return OutsideWindow(text)
        if kind == "quota":
            return QuotaExceeded(text)
        if kind == "night_ban":
            now = dt.datetime.fromtimestamp(self.clock(), dt.UTC)
            return OutsideWindow(text, retry_after=seconds_until_morning(now))
        return PermanentError(text)

    # -- rendering -------------------------------------------------------------------------------

    def render(self, replies: Sequence[Reply]) -> list[tuple[int, dict[str, Any]]]:
        """(reply index, Zalo ``message`` object) for every call ``replies`` need, in order."""
        out: list[tuple[int, dict[str, Any]]] = []
        for index, reply in enumerate(replies):
            out.extend((index, m) for m in self._render_one(reply))
        return out

    def _render_one(self, reply: Reply) -> list[dict[str, Any]]:
        reply = fit_reply(reply, CAPABILITIES, channel=CHANNEL)  # payload size, labels, 5 payload buttons
        buttons: list[dict[str, Any]] = []
        extra: list[str] = []
        request_label = reply.request_contact_label
        for row in reply.buttons:
            for b in row:
                if b.kind == ButtonKind.PAYLOAD:
                    buttons.append({"title": b.label, "type": "oa.query.show",
                                    "payload": encode_query(b.label, b.payload)})
                elif b.kind == ButtonKind.URL and b.url:
                    if b.url.lower().startswith(_URL_SCHEMES):
                        buttons.append({"title": b.label, "type": "oa.open.url", "payload": {"url": b.url}})
                    else:
                        extra.append(f"{b.label}: {b.url}")
                elif b.kind == ButtonKind.PHONE and (b.phone or b.url):
                    number = b.phone or b.url.removeprefix("tel:")
                    buttons.append({"title": b.label, "type": "oa.open.phone",
                                    "payload": {"phone_code": _phone_code(number)}})
                elif b.kind == ButtonKind.REQUEST_CONTACT:
                    request_label = request_label or b.label
        if reply.contact is not None:
            buttons.append({"title": _title(reply.contact.name or reply.contact.phone), "type": "oa.open.phone",
                            "payload": {"phone_code": _phone_code(reply.contact.phone)}})
            if reply.contact.note:
                extra.append(reply.contact.note)
        body = reply.text or ""
        if len(buttons) > MAX_BUTTONS:  # links and numbers share Zalo's 5 buttons: all as text
            body = fallback_text(Reply(text=reply.text, buttons=reply.buttons, contact=reply.contact))
            buttons = []
            extra = []
        body = with_lines(body, extra)

        messages: list[dict[str, Any]] = []
        if reply.image_url:
            messages.append({"attachment": {"type": "template", "payload": {
                "template_type": "media", "elements": [{"media_type": "image", "url": reply.image_url}]}}})
        for part in plain_parts(body, TEXT_LIMIT):
            messages.append({"text": part})
        if buttons:
            if not messages or "text" not in messages[-1]:
                messages.append({"text": CHOOSE_TEXT})
            messages[-1]["attachment"] = {"type": "template", "payload": {"buttons": buttons}}
        if request_label:
            element: dict[str, Any] = {"title": _title(request_label), "subtitle": request_label[:500]}
            if self.request_info_image_url:
                element["image_url"] = self.request_info_image_url
            messages.append({"attachment": {"type": "template", "payload": {
                "template_type": "request_user_info", "elements": [element]}}})
        return messages


def _code(answer: dict[str, Any]) -> int:
    try:
        return int(answer.get("error") or 0)
    except (TypeError, ValueError):
        return -1
