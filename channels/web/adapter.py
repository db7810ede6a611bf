"""The ``web`` channel adapter: the chat widget's HTTP API.

The browser (``static/webchat.js``, embedded in any allowed portal) talks to these routes::

    GET  /webchat/api/session   → sets/refreshes the visitor cookie; the per-visitor token, labels, limits
    GET  /webchat/api/history   → the visitor's messages after ?after=<id>
    GET  /webchat/api/events    → Server-Sent Events: new messages as they are stored (Last-Event-ID resume)
    POST /webchat/api/messages  → {"id": uuid, "text": ...} or {"id": uuid, "payload": ..., "label": ...}
    POST /webchat/api/upload    → multipart "id" + "file" (a photo or document)

Every POST is checked in this order: Origin allowed (the portals of ``CCHC_WEBCHAT_ORIGINS`` and the bot's
own pages), a genuine visitor cookie, the per-visitor token header (CSRF), the per-visitor and per-IP rate
limits; then the event becomes an :class:`~core.types.Incoming` (``message_id`` = visitor + the browser's
UUID, so a retried POST carries the same id) handed to the injected ``submit``, and the POST answers 202.
Answers and later messages arrive through :meth:`WebChannel.send`, are stored in ``webchat_messages``
and pushed to open panels at once.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.web.config import WebchatConfig
from channels.web.content import LABELS, settings_of
from channels.web.identity import COOKIE, COOKIE_MAX_AGE, Signer
from channels.web.limits import SlidingWindow
from channels.web.store import WebchatStore
from channels.web.uploads import sniff
from core.channel import Capabilities, PermanentError, Submit, TransientError, retry_call
from core.render import to_web_html
from core.types import Attachment, ButtonKind, Incoming, Reply
from core.web import forwarded_client

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
API = "/webchat/api"
TOKEN_HEADER = "X-Webchat-Token"
MAX_JSON_BYTES = 16 * 1024
MAX_TEXT = 4096
_CLIENT_ID_RE = re.compile(r"^[0-9a-fA-F-]{8,40}$")
_UPLOAD_RE = re.compile(r"^web:([A-Za-z0-9_-]{16,64})$")
ACCEPT_ATTR = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif",
               "heic": "image/heic,.heic", "pdf": "application/pdf", "docx": ".docx", "xlsx": ".xlsx", "doc": ".doc"}

CAPABILITIES = Capabilities(text_limit=20_000, markup="web_html", max_buttons=24, button_label_limit=64,
                            payload_bytes=64, can_edit=False, contact_cards=True, request_phone=False)


def render_reply(reply: Reply, caps: Capabilities = CAPABILITIES) -> dict[str, Any]:
    """One reply as the widget's message: safe HTML, button rows, a contact card, an image, a notice."""
    body: dict[str, Any] = {}
    if reply.text.strip():
        body["html"] = to_web_html(reply.text)
    rows: list[list[dict[str, str]]] = []
    for row in reply.buttons:
        out: list[dict[str, str]] = []
        for b in row:
            label = b.label[: caps.button_label_limit]
            if b.kind == ButtonKind.PAYLOAD and b.payload:
                out.append({"label": label, "payload": b.payload[: caps.payload_bytes]})
            elif b.kind == ButtonKind.URL and b.url.lower().startswith(("https://", "http://")):
                out.append({"label": label, "url": b.url})
            elif b.kind == ButtonKind.PHONE and (b.phone or b.url):
                out.append({"label": label, "tel": tel_href(b.phone or b.url)})
        if out:
            rows.append(out)
    if rows:
        body["buttons"] = rows
    if reply.contact is not None:
        body["contact"] = {"name": reply.contact.name, "phone": reply.contact.phone,
                           "tel": tel_href(reply.contact.phone), "note": reply.contact.note}
    if reply.image_url.lower().startswith(("https://", "http://")):
        body["image"] = reply.image_url
    if reply.notice and not body:
        body["notice"] = reply.notice
    return body


def tel_href(phone: str) -> str:
    digits = re.sub(r"[^0-9+]", "", phone.removeprefix("tel:"))
    return f"tel:{digits}"


class Hub:
    """Wakes the open event streams of a visitor when a message for them is stored in this process."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self.closing = False

    def subscribe(self, visitor_id: str) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters.setdefault(visitor_id, set()).add(event)
        return event

    def unsubscribe(self, visitor_id: str, event: asyncio.Event) -> None:
        waiters = self._waiters.get(visitor_id)
        if waiters is not None:
            waiters.discard(event)
            if not waiters:
                del self._waiters[visitor_id]

    def notify(self, visitor_id: str) -> None:
        for event in self._waiters.get(visitor_id, ()):
            event.set()

    def close(self) -> None:
        self.closing = True
        for waiters in self._waiters.values():
            for event in waiters:
                event.set()


class WebChannel:
    channel = "web"
    capabilities = CAPABILITIES

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], config: WebchatConfig,
                 pack: Callable[[], Any], submit: Submit | None = None,
                 clock: Callable[[], float] | None = None) -> None:
        self.store = WebchatStore(sessions)
        self.config = config
        self.pack = pack
        self.submit = submit
        self.signer = Signer(config.secrets)
        kw = {"clock": clock} if clock else {}
        self.per_visitor = SlidingWindow(*config.rate_visitor, **kw)
        self.per_ip = SlidingWindow(*config.rate_ip, **kw)
        self.hub = Hub()

    # --- Channel protocol ---------------------------------------------------------------------------
    async def start(self) -> None:
        self.hub.closing = False

    async def stop(self) -> None:
        self.hub.close()

    async def send(self, user_id: str, replies: Sequence[Reply], *, retry: bool = True,
                   paid_broadcast: bool = False, reply_to: str = "") -> None:
        """Store the replies in the visitor's history and push them to their open panels."""
        bodies = [b for b in (render_reply(r, self.capabilities) for r in replies) if b]
        if not bodies:
            return
        prefix = f"{user_id}:"
        reply_to = reply_to[len(prefix):] if reply_to.startswith(prefix) else ""

        async def once() -> None:
            try:
                await self.store.add_out(user_id, bodies, reply_to)
            except SQLAlchemyError as exc:
                raise TransientError("web chat history could not be written") from exc

        await (retry_call(once) if retry else once())
        self.hub.notify(user_id)

    async def download(self, attachment: Attachment) -> bytes:
        """The bytes of an upload (``attachment.file_id`` = ``web:<id>``), for the core's file store."""
        match = _UPLOAD_RE.match(attachment.file_id)
        if not match:
            raise PermanentError("not a web chat upload")
        try:
            upload = await self.store.upload(match.group(1))
        except SQLAlchemyError as exc:
            raise TransientError("web chat upload could not be read") from exc
        if upload is None:
            raise PermanentError("web chat upload not found")
        return bytes(upload.data)

    def register_routes(self, app: web.Application) -> None:
        app.router.add_get("/webchat.js", self._static("webchat.js", "text/javascript"))
        app.router.add_get("/webchat.css", self._static("webchat.css", "text/css"))
        app.router.add_get(f"{API}/session", self.session)
        app.router.add_get(f"{API}/history", self.history)
        app.router.add_get(f"{API}/events", self.events)
        app.router.add_post(f"{API}/messages", self.message)
        app.router.add_post(f"{API}/upload", self.upload)
        app.router.add_route("OPTIONS", API + "/{tail:.*}", self.preflight)

        async def on_shutdown(_app: web.Application) -> None:
            self.hub.close()

        app.on_shutdown.append(on_shutdown)

    # --- helpers -----------------------------------------------------------------------------------
    def _static(self, name: str, content_type: str) -> Callable[[web.Request], Any]:
        data = (STATIC / name).read_bytes()

        async def handler(request: web.Request) -> web.Response:
            return web.Response(body=data, content_type=content_type, charset="utf-8", headers={
                "Cache-Control": "public, max-age=3600", "Cross-Origin-Resource-Policy": "cross-origin",
                "X-Content-Type-Options": "nosniff", "Access-Control-Allow-Origin": "*"})

        return handler

    def _text(self, name: str, **kw: Any) -> str:
        return self.pack().texts.render(name, **kw)

    def _origin_ok(self, request: web.Request) -> tuple[bool, str]:
        """(allowed, origin). No Origin header: a same-origin GET or a non-browser client (allowed for
        GETs; POSTs require one)."""
        origin = request.headers.get("Origin", "")
        if not origin:
            return True, ""
        if origin.lower() in self.config.origins:
            return True, origin
        host = origin.split("://", 1)[-1].lower()
        return host == request.host.lower(), origin

    def _cors(self, origin: str) -> dict[str, str]:
        if not origin:
            return {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
        return {"Access-Control-Allow-Origin": origin, "Access-Control-Allow-Credentials": "true",
                "Vary": "Origin", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

    def _error(self, status: int, code: str, template: str, origin: str = "",
               headers: dict[str, str] | None = None, **kw: Any) -> web.Response:
        try:
            text = self._text(template, **kw)
        except Exception:  # noqa: BLE001 - a broken pack must not turn a refusal into a 500
            log.exception("web chat message %s could not be rendered", template)
            text = ""
        return web.json_response({"error": code, "message": text}, status=status,
                                 headers={**self._cors(origin), **(headers or {})})

    def _client_ip(self, request: web.Request) -> str:
        if self.config.trust_proxy:
            return forwarded_client(request, self.config.trusted_proxies)
        return request.remote or "?"

    def _set_cookie(self, request: web.Request, response: web.StreamResponse, visitor_id: str) -> None:
        secure = self.config.samesite == "None" or request.secure \
            or request.headers.get("X-Forwarded-Proto", "") == "https"
        response.set_cookie(COOKIE, self.signer.cookie(visitor_id), max_age=COOKIE_MAX_AGE, path="/webchat/",
                            httponly=True, samesite=self.config.samesite, secure=secure)

    def _visitor(self, request: web.Request) -> str | None:
        visitor_id, _old = self.signer.visitor(request.cookies.get(COOKIE))
        return visitor_id

    async def _guard_post(self, request: web.Request) -> tuple[str, str] | web.Response:
        """(visitor id, origin) of an acceptable POST, or the refusal to send."""
        allowed, origin = self._origin_ok(request)
        if not allowed or not origin:
            log.info("web chat POST refused: origin not allowed")
            return self._error(403, "origin", "web/refused")
        visitor_id = self._visitor(request)
        if visitor_id is None or not self.signer.token_ok(visitor_id, request.headers.get(TOKEN_HEADER)):
            return self._error(401, "session", "web/session_expired", origin)
        wait = max(self.per_ip.hit(self._client_ip(request)), self.per_visitor.hit(visitor_id))
        if wait:
            return self._error(429, "rate_limited", "web/rate_limited", origin,
                               {"Retry-After": str(max(1, round(wait)))})
        return visitor_id, origin

    async def _hand_over(self, visitor_id: str, client_id: str, incoming: Incoming, shown: dict[str, Any] | None,
                         origin: str) -> web.Response:
        try:
            if shown is not None:
                await self.store.add_in(visitor_id, client_id, shown)
            if self.submit is None:
                raise RuntimeError("the web channel runs send-only here")
            await self.submit(incoming)
        except Exception:  # noqa: BLE001 - the browser retries with the same id
            log.exception("web chat message could not be handed to the core")
            return self._error(503, "unavailable", "web/unavailable", origin, {"Retry-After": "3"})
        return web.json_response({"ok": True, "id": client_id}, status=202, headers=self._cors(origin))

    # --- routes ------------------------------------------------------------------------------------
    async def preflight(self, request: web.Request) -> web.Response:
        allowed, origin = self._origin_ok(request)
        if not allowed or not origin:
            return web.Response(status=403)
        return web.Response(status=204, headers={
            **self._cors(origin), "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": f"Content-Type, {TOKEN_HEADER}, Last-Event-ID",
            "Access-Control-Max-Age": "600"})

    async def session(self, request: web.Request) -> web.Response:
        allowed, origin = self._origin_ok(request)
        if not allowed:
            return self._error(403, "origin", "web/refused")
        visitor_id, old = self.signer.visitor(request.cookies.get(COOKIE))
        fresh = visitor_id is None
        if fresh:
            if self.per_ip.hit(self._client_ip(request)):
                return self._error(429, "rate_limited", "web/rate_limited", origin, {"Retry-After": "60"})
            visitor_id = self.signer.new_visitor()
        assert visitor_id is not None
        pack = self.pack()
        limits = settings_of(pack)
        body = {
            "token": self.signer.token(visitor_id),
            "last_id": 0 if fresh else await self.store.last_id(visitor_id),
            "bot_name": pack.config.bot_name,
            "labels": {key.removeprefix("web."): pack.texts.label(key) for key in LABELS},
            "max_bytes": limits.max_bytes,
            "max_file_mb": limits.max_file_mb,
            "accept": ",".join(ACCEPT_ATTR[t] for t in limits.accept),
        }
        response = web.json_response(body, headers=self._cors(origin))
        if fresh or old:
            self._set_cookie(request, response, visitor_id)  # new visitor, or re-signed with the newest secret
        return response

    def _reader(self, request: web.Request) -> tuple[str, str] | web.Response:
        """(visitor id, origin) of a read from an allowed origin by a known visitor, else the refusal
        (403 for another origin, 401 for a missing or forged visitor cookie)."""
        allowed, origin = self._origin_ok(request)
        if not allowed:
            return self._error(403, "origin", "web/refused")
        visitor_id = self._visitor(request)
        if visitor_id is None:
            return self._error(401, "session", "web/session_expired", origin)
        return visitor_id, origin

    async def history(self, request: web.Request) -> web.Response:
        known = self._reader(request)
        if isinstance(known, web.Response):
            return known
        visitor_id, origin = known
        after = _int(request.query.get("after"))
        messages = await self.store.history(visitor_id, after)
        return web.json_response({"messages": [m.as_json() for m in messages]}, headers=self._cors(origin))

    async def events(self, request: web.Request) -> web.StreamResponse:
        known = self._reader(request)
        if isinstance(known, web.Response):
            return known
        visitor_id, origin = known
        last = _int(request.headers.get("Last-Event-ID")) or _int(request.query.get("after"))
        response = web.StreamResponse(headers={**self._cors(origin), "Content-Type": "text/event-stream",
                                               "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        await response.prepare(request)
        wake = self.hub.subscribe(visitor_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.stream_seconds
        try:
            await response.write(b"retry: 3000\n\n")
            while not self.hub.closing and loop.time() < deadline:
                wake.clear()
                for message in await self.store.history(visitor_id, last):
                    data = json.dumps(message.as_json(), ensure_ascii=False)
                    await response.write(f"id: {message.id}\nevent: message\ndata: {data}\n\n".encode())
                    last = message.id
                try:
                    await asyncio.wait_for(wake.wait(), timeout=self.config.poll_seconds)
                except asyncio.TimeoutError:
                    await response.write(b": ping\n\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.hub.unsubscribe(visitor_id, wake)
        return response

    async def message(self, request: web.Request) -> web.Response:
        guarded = await self._guard_post(request)
        if isinstance(guarded, web.Response):
            return guarded
        visitor_id, origin = guarded
        if (request.content_length or 0) > MAX_JSON_BYTES:
            return self._error(413, "too_big", "web/unavailable", origin)
        try:
            data = json.loads(await request.content.read(MAX_JSON_BYTES + 1) or b"{}")
        except (ValueError, UnicodeDecodeError):
            data = None
        client_id = str(data.get("id", "")) if isinstance(data, dict) else ""
        if not isinstance(data, dict) or not _CLIENT_ID_RE.match(client_id):
            return web.json_response({"error": "bad_request"}, status=400, headers=self._cors(origin))
        text = str(data.get("text") or "")[:MAX_TEXT]
        payload = str(data.get("payload") or "")[:64]
        if not text.strip() and not payload:
            return web.json_response({"error": "bad_request"}, status=400, headers=self._cors(origin))
        incoming = Incoming(channel=self.channel, user_id=visitor_id, text="" if payload else text,
                            payload=payload, message_id=f"{visitor_id}:{client_id}")
        shown: dict[str, Any] | None = None
        if not data.get("silent"):
            shown = ({"kind": "press", "text": str(data.get("label") or "")[:64]} if payload
                     else {"kind": "text", "text": text})
        return await self._hand_over(visitor_id, client_id, incoming, shown, origin)

    async def upload(self, request: web.Request) -> web.Response:
        guarded = await self._guard_post(request)
        if isinstance(guarded, web.Response):
            return guarded
        visitor_id, origin = guarded
        limits = settings_of(self.pack())
        max_bytes = limits.max_bytes
        if (request.content_length or 0) > max_bytes + 64 * 1024:
            return self._error(413, "too_big", "web/upload_too_big", origin, max_mb=f"{limits.max_file_mb:g}")
        client_id, file_name, data = "", "", b""
        try:
            reader = await request.multipart()
            async for part in reader:
                if part.name == "id":
                    client_id = (await part.read(decode=True))[:64].decode("ascii", "replace")
                elif part.name == "file":
                    file_name = (part.filename or "")[:200]
                    chunks: list[bytes] = []
                    size = 0
                    while chunk := await part.read_chunk(64 * 1024):
                        size += len(chunk)
                        if size > max_bytes:
                            return self._error(413, "too_big", "web/upload_too_big", origin, max_mb=f"{limits.max_file_mb:g}")
                        chunks.append(chunk)
                    data = b"".join(chunks)
        except (ValueError, AssertionError, KeyError):
            return web.json_response({"error": "bad_request"}, status=400, headers=self._cors(origin))
        if not _CLIENT_ID_RE.match(client_id) or not data:
            return web.json_response({"error": "bad_request"}, status=400, headers=self._cors(origin))
        kind = sniff(data)
        if kind is None or kind.type not in limits.accept:
            return self._error(415, "file_type", "web/upload_kind", origin,
                               kinds=", ".join(t.upper() for t in limits.accept))
        upload_id = secrets.token_urlsafe(24)
        name = _safe_name(file_name) or f"tep.{kind.extension}"
        try:
            await self.store.save_upload(upload_id, visitor_id, kind.kind, kind.mime_type, name, data)
        except SQLAlchemyError:
            log.exception("web chat upload could not be stored")
            return self._error(503, "unavailable", "web/unavailable", origin, {"Retry-After": "3"})
        attachment = Attachment(kind=kind.kind, file_id=f"web:{upload_id}", file_name=name,
                                mime_type=kind.mime_type, size=len(data))
        incoming = Incoming(channel=self.channel, user_id=visitor_id, attachments=(attachment,),
                            message_id=f"{visitor_id}:{client_id}")
        shown = {"kind": "file", "text": name, "file": kind.kind}
        return await self._hand_over(visitor_id, client_id, incoming, shown, origin)


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


def _safe_name(name: str) -> str:
    """A file name to show and keep: no directories, no control or markup characters (some clients send
    it percent-encoded: RFC 5987 ``filename*``)."""
    name = unquote(name).replace("\\", "/").rsplit("/", 1)[-1]
    return re.sub(r"[\x00-\x1f\x7f<>:\"|?*]", "", name).strip()[:200]
