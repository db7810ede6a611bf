"""Facebook Messenger adapter: Meta's webhook deliveries → ``Incoming`` (handed to the core's ``submit``),
``Reply`` lists → Graph Send API calls.

* ``GET  MESSENGER_WEBHOOK_PATH`` — Meta's verification: ``hub.mode=subscribe`` and ``hub.verify_token``
  (constant-time compare) → the ``hub.challenge`` echoed; 403 otherwise.
* ``POST MESSENGER_WEBHOOK_PATH`` — ``X-Hub-Signature-256: sha256=<hex>`` must be the HMAC-SHA256 of the raw
  body with the app secret (constant-time); 401 and nothing handed on otherwise. Every event of the batch
  (``entry[].messaging[]``) becomes an ``Incoming`` awaited through ``submit`` *before* the 200, so an event
  is acknowledged only once the core stored it. Meta re-delivers what was not acknowledged; the
  ``message_id`` (the ``mid``, or a stable id for postbacks without one) lets the core drop repeats. If
  ``submit`` fails the answer is 500 and Meta delivers the batch again.
* :meth:`MessengerChannel.send` — one Send API call per message, ``messaging_type`` RESPONSE, or
  MESSAGE_TAG with ``tag`` (see :mod:`channels.messenger.policy`). Graph errors become the core's typed
  errors (:func:`translate_error`); a revoked token also makes :meth:`ready_reason` non-empty.

Nothing personal (texts, names, phone numbers, ids) is logged above DEBUG; Graph error messages are logged
as Meta sends them (they describe the request, not the person).
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp
import yarl
from aiohttp import web

from channels.download import read_limited
from channels.messenger.settings import MessengerSettings
from core.channel import (
    Blocked,
    Capabilities,
    DeliveryError,
    FileTooLarge,
    OutsideWindow,
    PermanentError,
    RateLimited,
    Submit,
    TokenInvalid,
    TransientError,
    retry_call,
)
from core.render import fit_reply, shorten, split_message, to_plain, with_lines
from core.types import Attachment, ButtonKind, Incoming, Location, Reply

__all__ = [
    "CHANNEL",
    "GET_STARTED_PAYLOAD",
    "MessengerChannel",
    "SIGNATURE_HEADER",
    "render_reply",
    "sign",
    "to_incoming",
    "translate_error",
]

log = logging.getLogger(__name__)

CHANNEL = "messenger"
SIGNATURE_HEADER = "X-Hub-Signature-256"
GET_STARTED_PAYLOAD = "GET_STARTED"

TEXT_LIMIT = 2000  # Send API: text message
TEMPLATE_TEXT_LIMIT = 640  # Send API: button template text
QUICK_REPLY_LIMIT = 13
TITLE_LIMIT = 20  # quick reply and button titles
PAYLOAD_LIMIT = 1000  # quick reply and postback payloads
TEMPLATE_BUTTON_LIMIT = 3

# Spoken by the adapter only when a reply has buttons but no text (Messenger needs text to attach them).
CHOOSE_TEXT = "Anh/chị vui lòng chọn một mục bên dưới:"

CAPABILITIES = Capabilities(
    text_limit=TEXT_LIMIT, markup="plain", max_buttons=QUICK_REPLY_LIMIT, button_label_limit=TITLE_LIMIT,
    payload_bytes=PAYLOAD_LIMIT, can_edit=False, contact_cards=True, request_phone=True,
)

# Graph error codes (Messenger Platform "Common Error Codes", checked 2026).
_RATE_CODES = frozenset({4, 17, 32, 613})  # app / user / page / API rate limits
_TOKEN_CODES = frozenset({190, 102})  # invalid, expired or revoked access token (session)
_WINDOW_SUBCODES = frozenset({2018278, 2018065, 2534022})  # "(#10) This message is sent outside of allowed window"
_UNAVAILABLE_CODES = frozenset({551})  # "This person isn't available right now"
_UNAVAILABLE_SUBCODES = frozenset({1545041})
_NO_USER_SUBCODES = frozenset({2018001})  # (#100) "No matching user found"
_TRANSIENT_CODES = frozenset({1, 2, 1200})

_PHONE_RE = re.compile(r"^\+?[0-9][0-9 ().-]{5,24}$")
_URL_SCHEMES = ("http://", "https://")
DEFAULT_DOWNLOAD_HOSTS = ("fbcdn.net", "fbsbx.com", "facebook.com")


# ---------------------------------------------------------------------------------------------
# signature


def sign(body: bytes, app_secret: str) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body``."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def _signature_ok(header: str | None, body: bytes, app_secret: str) -> bool:
    if not header:
        return False
    expected = sign(body, app_secret)
    return secrets.compare_digest(header.strip().lower().encode(), expected.encode())


# ---------------------------------------------------------------------------------------------
# webhook event -> Incoming


def _stable_id(kind: str, event: Mapping[str, Any], extra: str) -> str:
    sender = str((event.get("sender") or {}).get("id", ""))
    digest = hashlib.sha256(f"{sender}|{event.get('timestamp', '')}|{extra}".encode()).hexdigest()[:32]
    return f"{kind}:{digest}"


def _file_name(url: str) -> str:
    path = urlsplit(url).path
    return unquote(path.rsplit("/", 1)[-1])[:200] if path else ""


def _attachment(a: Mapping[str, Any], sticker: bool) -> tuple[Attachment | None, Location | None]:
    kind = str(a.get("type", ""))
    payload = a.get("payload") if isinstance(a.get("payload"), Mapping) else {}
    url = str(payload.get("url") or "")
    if kind == "location":
        coords = payload.get("coordinates") or {}
        try:
            return None, Location(float(coords["lat"]), float(coords["long"]))
        except (KeyError, TypeError, ValueError):
            return Attachment("other"), None
    if kind == "image":
        if sticker or payload.get("sticker_id"):
            return Attachment("sticker", url, mime_type="image/png"), None
        return Attachment("photo", url, _file_name(url), "image/*"), None
    if kind == "sticker":
        return Attachment("sticker", url), None
    if kind == "file":
        return Attachment("document", url, str(payload.get("title") or payload.get("name") or _file_name(url))[:200]), None
    if kind in ("audio", "video"):
        return Attachment(kind, url, _file_name(url), f"{kind}/*"), None
    return Attachment("other"), None  # fallback (shared link), template, reel, ig_post...


def to_incoming(event: Mapping[str, Any], *, get_started_payload: str = GET_STARTED_PAYLOAD) -> Incoming | None:
    """Translate one ``entry[].messaging[]`` event into an Incoming, or None for events the core does not
    see (echoes of the Page's own messages, deliveries, reads, reactions, referrals, opt-ins...)."""
    sender = event.get("sender")
    user_id = str(sender.get("id", "")) if isinstance(sender, Mapping) else ""
    if not user_id:
        return None
    postback = event.get("postback")
    if isinstance(postback, Mapping):
        payload = str(postback.get("payload") or "")
        message_id = str(postback.get("mid") or "") or _stable_id("pb", event, payload)
        if payload == get_started_payload:
            return Incoming(channel=CHANNEL, user_id=user_id, text="/start", message_id=message_id)
        return Incoming(channel=CHANNEL, user_id=user_id, payload=payload, message_id=message_id)
    message = event.get("message")
    if not isinstance(message, Mapping) or message.get("is_echo"):
        return None
    mid = str(message.get("mid") or "") or _stable_id("m", event, json.dumps(message, sort_keys=True))
    text = str(message.get("text") or "")
    payload = ""
    contact_phone = ""
    qr = message.get("quick_reply")
    if isinstance(qr, Mapping) and qr.get("payload") is not None:
        value = str(qr["payload"])
        if _PHONE_RE.match(value) and value.strip() == text.strip():
            contact_phone = value.strip()  # a user_phone_number quick reply: the person's own number
        else:
            payload = value
        text = ""  # the tapped title; the payload says what was meant
    attachments: list[Attachment] = []
    location: Location | None = None
    sticker = bool(message.get("sticker_id"))
    raw = message.get("attachments")
    for a in raw if isinstance(raw, list) else []:
        if not isinstance(a, Mapping):
            continue
        att, loc = _attachment(a, sticker)
        if att is not None:
            attachments.append(att)
        if loc is not None and location is None:
            location = loc
    # nothing readable: no attachment is made up, the core answers "I only read text" (errors/no_text)
    return Incoming(channel=CHANNEL, user_id=user_id, text=text, payload=payload, contact_phone=contact_phone,
                    location=location, attachments=tuple(attachments), message_id=mid)


def events_of(body: Any) -> list[Mapping[str, Any]]:
    """The messaging events of a webhook body, in delivery order (``entry[].messaging[]``; ``standby``
    events, sent while another app owns the thread, are not ours to answer)."""
    if not isinstance(body, Mapping) or body.get("object") != "page":
        return []
    out: list[Mapping[str, Any]] = []
    entries = body.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping):
            continue
        messaging = entry.get("messaging")
        out.extend(e for e in (messaging if isinstance(messaging, list) else []) if isinstance(e, Mapping))
    return out


# ---------------------------------------------------------------------------------------------
# Reply -> Send API messages


def _e164(phone: str, country_code: str) -> str:
    """'0236 3822 123' -> '+842363822123'; '' for short codes (1022, 113, 1900 xxxx) Messenger cannot dial."""
    digits = re.sub(r"[\s().-]", "", phone.removeprefix("tel:"))
    if digits.startswith("+") and digits[1:].isdigit() and 8 <= len(digits) <= 16:
        return digits
    if digits.startswith("00") and digits[2:].isdigit():
        return "+" + digits[2:] if 8 <= len(digits) - 1 <= 16 else ""
    if digits.startswith("0") and digits.isdigit() and 9 <= len(digits) <= 12:
        return f"+{country_code}{digits[1:]}"
    return ""


@dataclass(slots=True)
class _Parts:
    body: str = ""
    extra: list[str] = field(default_factory=list)
    quick: list[dict[str, Any]] = field(default_factory=list)
    template: list[dict[str, Any]] = field(default_factory=list)


def render_reply(reply: Reply, *, country_code: str = "84") -> list[dict[str, Any]]:
    """One Reply as the ``message`` objects of successive Send API calls (pure; tested directly).

    The reply is first fitted by ``core.render.fit_reply`` (payloads over 1000 bytes dropped with a
    warning; more than 13 payload buttons as numbered text; titles over 20 characters numbered, shortened
    and listed in full in the text). Text (Markdown subset rendered plain) is split at 2000 characters;
    payload buttons become quick replies on the last message; URL and phone buttons and the contact card
    go into a button template (≤ 3 buttons, the rest as "label: link" lines); a request for the phone number is the ``user_phone_number`` quick
    reply; an image is sent first as an image attachment. ``edit`` cannot be honoured (a new message);
    ``notice`` is sent as text only when the reply has nothing else.
    """
    contact_label = reply.request_contact_label or next(
        (b.label for row in reply.buttons for b in row if b.kind == ButtonKind.REQUEST_CONTACT), "")
    # payload size, titles ≤ 20 (numbered and listed in full), quick replies ≤ 13 (one for the phone)
    caps = replace(CAPABILITIES, max_buttons=QUICK_REPLY_LIMIT - (1 if contact_label else 0))
    reply = fit_reply(reply, caps, channel=CHANNEL)
    p = _Parts(body=reply.text or "")
    for row in reply.buttons:
        for b in row:
            if b.kind == ButtonKind.PAYLOAD:
                p.quick.append({"content_type": "text", "title": b.label, "payload": b.payload})
            elif b.kind == ButtonKind.URL:
                if b.url.lower().startswith(_URL_SCHEMES) and b.label.strip():
                    p.template.append({"type": "web_url", "url": b.url, "title": b.label})
                elif b.url:
                    p.extra.append(f"{b.label}: {b.url}")
            elif b.kind == ButtonKind.PHONE:
                number = b.phone or b.url.removeprefix("tel:")
                e164 = _e164(number, country_code) if number else ""
                if e164 and b.label.strip():
                    p.template.append({"type": "phone_number", "title": b.label, "payload": e164})
                elif number:
                    p.extra.append(f"📞 {b.label}: {number}")
    if reply.contact is not None:
        card = reply.contact
        e164 = _e164(card.phone, country_code)
        line = f"📞 {card.name}: {card.phone}" if card.name else f"📞 {card.phone}"
        p.extra.append(line + (f" ({card.note})" if card.note else ""))
        if e164:  # the card's line above already shows the full name and number
            p.template.insert(0, {"type": "phone_number", "title": card.name or card.phone, "payload": e164,
                                  "_listed": True})
    # template buttons beyond 3 and titles over 20 characters: the full text goes into the message
    for i, b in enumerate(p.template):
        listed = b.pop("_listed", False)
        if listed or (i < TEMPLATE_BUTTON_LIMIT and len(b["title"]) <= TITLE_LIMIT):
            continue
        p.extra.append(f"{b['title']}: {b['url']}" if b["type"] == "web_url" else f"📞 {b['title']}: {b['payload']}")
    p.template = p.template[:TEMPLATE_BUTTON_LIMIT]
    for b in p.template:
        b["title"] = shorten(b["title"], TITLE_LIMIT)
    if contact_label:
        p.quick.append({"content_type": "user_phone_number"})

    body = with_lines(p.body.strip(), p.extra)
    if not body and contact_label:
        body = contact_label
    if not body and (p.quick or p.template):
        body = CHOOSE_TEXT
    if not body and not reply.image_url and reply.notice:
        body = reply.notice

    messages: list[dict[str, Any]] = []
    if reply.image_url:
        messages.append({"attachment": {"type": "image", "payload": {"url": reply.image_url, "is_reusable": True}}})
    parts = split_message(body, TEXT_LIMIT)
    if p.template and parts:
        last = parts.pop()
        parts.extend(split_message(last, TEMPLATE_TEXT_LIMIT))
    texts = [to_plain(part) for part in parts]
    texts = [t for t in texts if t.strip()]
    if p.template:
        template_text = texts.pop() if texts else CHOOSE_TEXT
        messages.extend({"text": t} for t in texts)
        messages.append({"attachment": {"type": "template", "payload": {
            "template_type": "button", "text": template_text, "buttons": p.template}}})
    else:
        messages.extend({"text": t} for t in texts)
    if p.quick:
        if not messages:
            messages.append({"text": CHOOSE_TEXT})
        messages[-1]["quick_replies"] = p.quick
    return messages


# ---------------------------------------------------------------------------------------------
# Graph errors -> typed errors


def translate_error(status: int, body: Any, headers: Mapping[str, str] | None = None,
                    *, default_retry_after: float = 60.0) -> DeliveryError:
    """Map a failed Graph call (HTTP status, decoded JSON body, response headers) to the core's typed errors.

    Rate limits (codes 4, 17, 32, 613) → :class:`RateLimited` (``Retry-After`` or the Business Use Case
    header's ``estimated_time_to_regain_access`` when Meta sends one, else ``default_retry_after``);
    invalid/expired/revoked token (190, 102) → :class:`TokenInvalid`; outside the 24-hour window
    (10/2018278) and "person isn't available" (551, 200/1545041) → :class:`OutsideWindow`; no such
    person (100/2018001) → :class:`Blocked`; 5xx, codes 1, 2, 1200 or ``is_transient`` →
    :class:`TransientError`; anything else → :class:`PermanentError`.
    """
    err = body.get("error") if isinstance(body, Mapping) else None
    err = err if isinstance(err, Mapping) else {}
    code = _int(err.get("code"))
    sub = _int(err.get("error_subcode"))
    text = f"graph error {code}/{sub} (HTTP {status}): {str(err.get('message') or '')[:200]}"
    if code in _RATE_CODES or status == 429:
        return RateLimited(_retry_after(headers or {}, default_retry_after), text)
    if code in _TOKEN_CODES:
        return TokenInvalid(text)
    if sub in _WINDOW_SUBCODES or code in _UNAVAILABLE_CODES or sub in _UNAVAILABLE_SUBCODES:
        return OutsideWindow(text)
    if sub in _NO_USER_SUBCODES:
        return Blocked(text)
    if status >= 500 or code in _TRANSIENT_CODES or err.get("is_transient") is True:
        return TransientError(text)
    return PermanentError(text)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _retry_after(headers: Mapping[str, str], default: float) -> float:
    value = headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    usage = headers.get("X-Business-Use-Case-Usage")
    if usage:
        try:
            minutes = max(
                float(item.get("estimated_time_to_regain_access") or 0)
                for items in json.loads(usage).values() for item in items
            )
            if minutes > 0:
                return minutes * 60.0
        except (ValueError, TypeError, AttributeError):
            pass
    return default


# ---------------------------------------------------------------------------------------------
# the channel


class MessengerChannel:
    """The Messenger adapter (see the module docstring). ``start()`` before ``send``/``download``."""

    channel = CHANNEL
    capabilities = CAPABILITIES

    def __init__(
        self,
        settings: MessengerSettings,
        submit: Submit,
        *,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        max_attempts: int = 4,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 30.0,
        max_retry_after: float = 60.0,
        rate_limit_retry_after: float = 60.0,
        download_max_bytes: int = 25 * 1024 * 1024,
        download_timeout: float = 30.0,
        download_hosts: Sequence[str] = DEFAULT_DOWNLOAD_HOSTS,
        health_interval: float = 300.0,
        set_get_started: bool = True,
        get_started_payload: str = GET_STARTED_PAYLOAD,
        phone_country_code: str = "84",
    ) -> None:
        if not settings.configured:
            raise ValueError("MessengerChannel needs configured MessengerSettings (see MessengerSettings.from_env)")
        self.settings = settings
        self._submit = submit
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=connect_timeout)
        self._download_timeout = aiohttp.ClientTimeout(total=download_timeout, connect=connect_timeout)
        self._retry = {"max_attempts": max_attempts, "base_delay": retry_base_delay, "max_delay": retry_max_delay,
                       "max_retry_after": max_retry_after}
        self._rate_limit_retry_after = rate_limit_retry_after
        self.download_max_bytes = download_max_bytes
        self._download_hosts = tuple(h.lower().lstrip(".") for h in download_hosts)
        self._health_interval = health_interval
        self._set_get_started = set_get_started
        self.get_started_payload = get_started_payload
        self._country_code = phone_country_code
        self._proof = hmac.new(settings.app_secret.encode(), settings.page_access_token.encode(),
                               hashlib.sha256).hexdigest()
        self._session: aiohttp.ClientSession | None = None
        self._running = False
        self._token_problem = ""
        self._checked_at = 0.0

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the HTTP client, check the token (GET /me) and set the "Get started" button. Failures of
        those calls are logged and reported by :meth:`ready_reason`; they never stop the webhook."""
        if self._running:
            return
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        self._running = True
        await self.health(force=True)
        if self._set_get_started and not self._token_problem:
            try:
                await self._graph("POST", "me/messenger_profile",
                                  {"get_started": {"payload": self.get_started_payload}}, retry=True)
            except DeliveryError as exc:
                log.warning("messenger: setting the Get started button failed: %s", exc)
        log.info("messenger: started (Graph %s)", self.settings.api_version)

    async def stop(self) -> None:
        self._running = False
        if self._session is not None:
            await self._session.close()
            self._session = None
        log.info("messenger: stopped")

    def register_routes(self, app: web.Application) -> None:
        app.router.add_get(self.settings.webhook_path, self._verify)
        app.router.add_post(self.settings.webhook_path, self._webhook)

    # -- readiness -----------------------------------------------------------------------------------

    def ready_reason(self) -> str:
        """'' when the channel can send; otherwise why not, in one line for ``/readyz``."""
        if not self._running:
            return "messenger: not started"
        return self._token_problem

    async def health(self, *, force: bool = False) -> bool:
        """Check the page access token with ``GET /me`` (at most every ``health_interval`` seconds unless
        ``force``) and return whether the channel is ready (:meth:`ready_reason` says why not)."""
        if not self._running:
            return False
        now = time.monotonic()
        if force or now - self._checked_at >= self._health_interval:
            self._checked_at = now
            try:
                await self._graph("GET", "me", None, retry=False, params={"fields": "id"})
            except TokenInvalid:
                pass  # _graph recorded the reason
            except DeliveryError as exc:  # Meta unreachable: say nothing about the token
                log.info("messenger: token check inconclusive: %s", type(exc).__name__)
        return not self.ready_reason()

    # -- webhook -------------------------------------------------------------------------------------

    async def _verify(self, request: web.Request) -> web.Response:
        q = request.query
        token = q.get("hub.verify_token", "")
        challenge = q.get("hub.challenge", "")
        ok = secrets.compare_digest(token.encode(), self.settings.verify_token.encode())
        if q.get("hub.mode") != "subscribe" or not ok or not challenge or len(challenge) > 512:
            log.warning("messenger: webhook verification refused")
            return web.Response(status=403)
        log.info("messenger: webhook verified")
        return web.Response(text=challenge, content_type="text/plain")

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        if not _signature_ok(request.headers.get(SIGNATURE_HEADER), body, self.settings.app_secret):
            log.warning("messenger: webhook POST with a missing or wrong signature refused")
            return web.Response(status=401)
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return web.Response(status=400)
        events = events_of(data)
        count = 0
        for event in events:
            incoming = to_incoming(event, get_started_payload=self.get_started_payload)
            if incoming is None:
                continue
            log.debug("messenger: event %s from %s", incoming.message_id, incoming.user_id)
            try:
                await self._submit(incoming)
            except Exception as exc:  # noqa: BLE001 - not stored: let Meta deliver the batch again
                log.error("messenger: submit failed (%s); asking Meta to deliver again", type(exc).__name__)
                return web.Response(status=500)
            count += 1
        log.debug("messenger: batch of %d events, %d handed on", len(events), count)
        return web.Response(status=200, text="EVENT_RECEIVED")

    # -- sending -------------------------------------------------------------------------------------

    async def send(
        self, user_id: str, replies: Sequence[Reply], *, retry: bool = True, paid_broadcast: bool = False,
        reply_to: str = "", tag: str = "",
    ) -> None:
        """Deliver ``replies`` to the person ``user_id`` (a PSID) in order (see ``core.channel.Sender``).

        ``tag``: send as ``messaging_type=MESSAGE_TAG`` with this tag (outside the 24-hour window; decide
        with :func:`channels.messenger.policy.decide`); otherwise RESPONSE. ``reply_to`` and
        ``paid_broadcast`` are accepted for the common interface: Messenger's window is per person, not per
        message, and it has no paid broadcast. Raises typed DeliveryErrors with ``delivered`` set.
        """
        if not self._running or self._session is None:
            raise RuntimeError("MessengerChannel.send() called before start()")
        tag = tag.strip().upper()
        base: dict[str, Any] = {"recipient": {"id": str(user_id)}}
        if tag:
            base.update(messaging_type="MESSAGE_TAG", tag=tag)
        else:
            base["messaging_type"] = "RESPONSE"
        current = 0
        try:
            for index, reply in enumerate(replies):
                current = index
                for message in render_reply(reply, country_code=self._country_code):
                    await self._graph("POST", "me/messages", {**base, "message": message}, retry=retry)
        except DeliveryError as exc:
            exc.delivered = current
            raise

    async def _graph(self, method: str, path: str, payload: dict[str, Any] | None, *, retry: bool,
                     params: dict[str, str] | None = None) -> Any:
        session = self._session
        if session is None:
            raise RuntimeError("MessengerChannel used before start()")
        url = self.settings.graph_url(path)
        headers = {"Authorization": f"Bearer {self.settings.page_access_token}"}
        query = {"appsecret_proof": self._proof, **(params or {})}

        async def attempt() -> Any:
            try:
                async with session.request(method, url, json=payload, params=query, headers=headers) as resp:
                    raw = await resp.read()
                    try:
                        data = json.loads(raw) if raw else {}
                    except (ValueError, UnicodeDecodeError):
                        data = {}
                    if resp.status < 400 and not (isinstance(data, Mapping) and "error" in data):
                        self._token_problem = ""
                        return data
                    error = translate_error(resp.status, data, resp.headers,
                                            default_retry_after=self._rate_limit_retry_after)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                raise TransientError(f"graph request failed: {type(exc).__name__}") from None
            if isinstance(error, TokenInvalid):
                self._token_problem = (f"messenger: the page access token was rejected ({error}); "
                                       "set a new MESSENGER_PAGE_ACCESS_TOKEN")
                log.error("messenger: page access token rejected by Meta")
            raise error

        if retry:
            return await retry_call(attempt, **self._retry)  # type: ignore[arg-type]
        return await attempt()

    # -- attachments ---------------------------------------------------------------------------------

    def _download_allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host:
            return False
        if parts.scheme == "http" and host not in ("127.0.0.1", "localhost", "::1"):
            return False
        return any(host == h or host.endswith("." + h) for h in self._download_hosts)

    async def download(self, attachment: Attachment) -> bytes:
        """The bytes of an incoming attachment (its ``file_id`` is Meta's CDN URL).

        Only https URLs on Meta's CDN hosts (``download_hosts``) are fetched, redirects included (at most
        3, each checked); at most ``download_max_bytes`` are read (a larger file raises PermanentError);
        timeouts and 5xx are retried with backoff (TransientError when they persist); other 4xx (an expired
        CDN link) raise PermanentError.
        """
        session = self._session
        if session is None:
            raise RuntimeError("MessengerChannel.download() called before start()")
        if not self._download_allowed(attachment.file_id):
            raise PermanentError("attachment URL is not on an allowed host")
        limit = self.download_max_bytes

        async def attempt() -> bytes:
            url = attachment.file_id
            try:
                for _ in range(4):
                    async with session.get(url, timeout=self._download_timeout, allow_redirects=False) as resp:
                        if resp.status in (301, 302, 303, 307, 308):
                            url = str(resp.url.join(yarl.URL(resp.headers.get("Location", ""))))
                            if not self._download_allowed(url):
                                raise PermanentError("attachment redirected to a host that is not allowed")
                            continue
                        if resp.status >= 500 or resp.status == 429:
                            raise TransientError(f"attachment download: HTTP {resp.status}")
                        if resp.status != 200:
                            raise PermanentError(f"attachment download: HTTP {resp.status}")
                        return await read_limited(resp, limit)
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                raise TransientError(f"attachment download failed: {type(exc).__name__}") from None
            except ValueError:  # an unparsable redirect
                raise PermanentError("attachment download: bad redirect") from None
            raise PermanentError("attachment download: too many redirects")

        return await retry_call(attempt, **self._retry)  # type: ignore[arg-type]
