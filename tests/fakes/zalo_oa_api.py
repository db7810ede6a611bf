"""A fake Zalo Official Account platform on loopback (aiohttp): Open API v3 ``/v3.0/oa/message/cs``,
the OAuth endpoint ``/v4/oa/access_token`` and downloadable files; it also plays the citizens, posting
signed webhook events to the bot.

    async with FakeZaloOA() as zalo:
        zalo.webhook_url = "http://127.0.0.1:<port>/zalo/oa/webhook"
        status, msg_id = await zalo.user_sends_text("u1", "xin chào")   # signed POST to the bot
        zalo.sent_to("u1")                                              # what the OA sent that user

It validates like Zalo (errors are HTTP 200 with ``error != 0``): access tokens expire (``advance()``
moves the fake's clock) and are checked (-216 unknown, -220 expired); the refresh token is single-use
and rotates; message shape and limits (text ≤ 2000, ≤ 5 buttons, titles ≤ 100, query payload ≤ 1000)
give -201; a reply (``recipient.message_id``) is free while the citizen's message is < 48 h old and has
had < 8 replies, otherwise it is proactive: -230 when the citizen has not interacted for 7 days, then the
monthly proactive quota (-211 when spent). Users can be blocked (-213) or inactive (-227); ``fail_next``
injects any error code or HTTP status. Nothing leaves 127.0.0.1.
"""
from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import ClientSession, ClientTimeout, web

__all__ = ["FakeZaloOA", "OASent", "OAUser"]

HOUR = 3600.0
_BUTTON_TYPES = {"oa.query.show", "oa.query.hide", "oa.open.url", "oa.open.phone", "oa.open.sms"}


@dataclass
class OAUser:
    user_id: str
    last_interaction: float | None = None
    blocked: bool = False  # -213 (not following / unreachable)
    inactive: bool = False  # -227


@dataclass
class _UserMessage:
    user_id: str
    at: float
    replies: int = 0


@dataclass
class OASent:
    user_id: str
    message: dict[str, Any]
    quota_type: str  # "reply" (free) or "sub_quota" (proactive)
    message_id: str
    reply_to: str = ""

    @property
    def text(self) -> str:
        return str(self.message.get("text") or "")

    @property
    def payload(self) -> dict[str, Any]:
        att = self.message.get("attachment") or {}
        return att.get("payload") or {}

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return list(self.payload.get("buttons") or [])

    @property
    def template_type(self) -> str:
        return str(self.payload.get("template_type") or "")


@dataclass
class _Record:
    path: str
    body: Any
    error: int
    headers: dict[str, str] = field(default_factory=dict)


class FakeZaloOA:
    def __init__(
        self,
        *,
        app_id: str = "1234567890123456789",
        oa_id: str = "998877665544332211",
        secret_key: str = "oa-secret-key",
        app_secret: str = "app-secret-key",
        access_ttl: float = 25 * HOUR,
        proactive_quota: int = 0,
        reply_window: float = 48 * HOUR,
        replies_per_message: int = 8,
        interaction_window: float = 7 * 24 * HOUR,
        refresh_delay: float = 0.0,
    ) -> None:
        self.app_id = app_id
        self.oa_id = oa_id
        self.secret_key = secret_key
        self.app_secret = app_secret
        self.access_ttl = access_ttl
        self.proactive_quota = proactive_quota
        self.reply_window = reply_window
        self.replies_per_message = replies_per_message
        self.interaction_window = interaction_window
        self.refresh_delay = refresh_delay
        self.night_ban = False
        self.webhook_url = ""
        self.users: dict[str, OAUser] = {}
        self.sent: list[OASent] = []
        self.requests: list[_Record] = []
        self.refresh_count = 0
        self.refresh_rejected = 0
        self.files: dict[str, tuple[bytes, bool]] = {}
        self._messages: dict[str, _UserMessage] = {}
        self._access: dict[str, float] = {}  # token -> expiry (fake clock)
        self._refresh: set[str] = set()
        self._fail: list[int] = []
        self._offset = 0.0
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self.port = 0
        self.access_token, self.refresh_token = self.grant()

    # -- clock and tokens ---------------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> None:
        """Move the fake's clock (token expiry, reply windows, timestamps of posted events)."""
        self._offset += seconds

    def grant(self) -> tuple[str, str]:
        """A new access token and refresh token, as if an admin granted the app access to the OA."""
        access, refresh = "AT-" + secrets.token_hex(8), "RT-" + secrets.token_hex(8)
        self._access[access] = self.now() + self.access_ttl
        self._refresh.add(refresh)
        return access, refresh

    def expire_access_tokens(self) -> None:
        for token in self._access:
            self._access[token] = self.now() - 1

    def fail_next(self, *codes: int) -> None:
        """The next message calls answer these: a negative Zalo error code, or an HTTP status ≥ 400."""
        self._fail.extend(codes)

    def user(self, user_id: str) -> OAUser:
        return self.users.setdefault(user_id, OAUser(user_id))

    # -- server ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/v3.0/oa/message/cs", self._cs)
        app.router.add_post("/v4/oa/access_token", self._oauth)
        app.router.add_get("/files/{name}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._client = ClientSession(timeout=ClientTimeout(total=10))
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- inspection ----------------------------------------------------------------------------------

    def sent_to(self, user_id: str) -> list[OASent]:
        return [s for s in self.sent if s.user_id == user_id]

    def errors(self) -> list[int]:
        return [r.error for r in self.requests if r.path.endswith("/cs") and r.error]

    def add_file(self, name: str, data: bytes, *, chunked: bool = False) -> str:
        """Serve ``data`` at a URL (``chunked``: without Content-Length, to test streaming limits)."""
        self.files[name] = (data, chunked)
        return f"{self.base_url}/files/{name}"

    # -- handlers --------------------------------------------------------------------------------

    def _err(self, path: str, body: Any, code: int, message: str) -> web.Response:
        self.requests.append(_Record(path, body, code))
        return web.json_response({"error": code, "message": message})

    async def _cs(self, request: web.Request) -> web.Response:
        path = request.path
        try:
            body = await request.json()
        except ValueError:
            return self._err(path, None, -201, "Body is not valid JSON")
        if self._fail:
            code = self._fail.pop(0)
            if code >= 400:
                self.requests.append(_Record(path, body, code))
                return web.Response(status=code, text="fault injected")
            return self._err(path, body, code, "fault injected")
        token = request.headers.get("access_token", "")
        if token not in self._access:
            return self._err(path, body, -216, "Access token is invalid")
        if self._access[token] <= self.now():
            return self._err(path, body, -220, "Access token has expired")
        problem = _validate(body)
        if problem:
            return self._err(path, body, -201, f"Parameters are invalid: {problem}")
        recipient = body["recipient"]
        reply_to = str(recipient.get("message_id") or "")
        now = self.now()
        if reply_to:
            msg = self._messages.get(reply_to)
            if msg is None:
                return self._err(path, body, -201, "message_id is invalid")
            user_id = msg.user_id
        else:
            msg = None
            user_id = str(recipient.get("user_id"))
        user = self.user(user_id)
        if user.blocked:
            return self._err(path, body, -213, "User has not followed the OA or blocked it")
        if user.inactive:
            return self._err(path, body, -227, "User has been inactive for too long")
        if self.night_ban:
            return self._err(path, body, -234, "Sending this message is not allowed at night")
        if msg is not None and now - msg.at <= self.reply_window and msg.replies < self.replies_per_message:
            msg.replies += 1
            quota = "reply"
        else:
            if user.last_interaction is None or now - user.last_interaction >= self.interaction_window:
                return self._err(path, body, -230, "User has not interacted with the OA in the last 7 days")
            if self.proactive_quota <= 0:
                return self._err(path, body, -211, "Out of quota for proactive messages")
            self.proactive_quota -= 1
            quota = "sub_quota"
        message_id = f"oa{next(self._ids)}"
        self.sent.append(OASent(user_id, body["message"], quota, message_id, reply_to))
        self.requests.append(_Record(path, body, 0))
        return web.json_response({"error": 0, "message": "Success", "data": {
            "message_id": message_id, "user_id": user_id, "quota": {"quota_type": quota}}})

    async def _oauth(self, request: web.Request) -> web.Response:
        form = await request.post()
        if request.headers.get("secret_key") != self.app_secret:
            return web.json_response({"error": -14002, "error_name": "Invalid secret key"})
        if form.get("app_id") != self.app_id or form.get("grant_type") != "refresh_token":
            return web.json_response({"error": -14001, "error_name": "Invalid parameters"})
        token = str(form.get("refresh_token") or "")
        if token not in self._refresh:
            self.refresh_rejected += 1
            return web.json_response({"error": -14014, "error_name": "Invalid refresh token"})
        self._refresh.discard(token)  # single use
        if self.refresh_delay:
            await asyncio.sleep(self.refresh_delay)
        self.refresh_count += 1
        self.access_token, self.refresh_token = self.grant()
        return web.json_response({"access_token": self.access_token, "refresh_token": self.refresh_token,
                                  "expires_in": str(int(self.access_ttl))})

    async def _file(self, request: web.Request) -> web.StreamResponse:
        item = self.files.get(request.match_info["name"])
        if item is None:
            return web.Response(status=404)
        data, chunked = item
        if not chunked:
            return web.Response(body=data, content_type="application/octet-stream")
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(0, len(data), 4096):
            await resp.write(data[i : i + 4096])
        await resp.write_eof()
        return resp

    # -- citizens ----------------------------------------------------------------------------------

    def sign(self, body: bytes, timestamp: str, *, secret: str | None = None, ident: str | None = None) -> str:
        digest = hashlib.sha256((ident or self.app_id).encode() + body + timestamp.encode()
                                + (self.secret_key if secret is None else secret).encode()).hexdigest()
        return f"mac={digest}"

    def event(self, event_name: str, user_id: str, **fields: Any) -> dict[str, Any]:
        return {"app_id": self.app_id, "user_id_by_app": f"app-{user_id}", "event_name": event_name,
                "timestamp": str(int(self.now() * 1000)), "sender": {"id": user_id},
                "recipient": {"id": self.oa_id}, **fields}

    async def post_event(
        self, event: dict[str, Any], *, secret: str | None = None, ident: str | None = None,
        signature: str | None = None, tamper: bool = False, headers: dict[str, str] | None = None,
    ) -> int:
        """POST ``event`` to ``webhook_url`` signed like Zalo (or wrongly, for tests); returns the status."""
        assert self._client is not None and self.webhook_url, "set webhook_url first"
        raw = json.dumps(event, ensure_ascii=False).encode()
        sig = signature if signature is not None else self.sign(raw, str(event.get("timestamp", "")),
                                                               secret=secret, ident=ident)
        if tamper:
            raw = raw.replace(b'"sender"', b'"sender" ', 1)
        hdrs = {"Content-Type": "application/json"}
        if sig:
            hdrs["X-ZEvent-Signature"] = sig
        hdrs.update(headers or {})
        async with self._client.post(self.webhook_url, data=raw, headers=hdrs) as resp:
            return resp.status

    def user_wrote(self, user_id: str) -> str:
        """Record that the citizen wrote to the OA (without posting the event); returns the msg_id."""
        msg_id = f"m{next(self._ids)}-{secrets.token_hex(4)}"
        now = self.now()
        self._messages[msg_id] = _UserMessage(user_id, now)
        self.user(user_id).last_interaction = now
        return msg_id

    async def _user_message(self, event_name: str, user_id: str, message: dict[str, Any]) -> tuple[int, str]:
        msg_id = self.user_wrote(user_id)
        status = await self.post_event(self.event(event_name, user_id, message={"msg_id": msg_id, **message}))
        return status, msg_id

    async def user_sends_text(self, user_id: str, text: str) -> tuple[int, str]:
        return await self._user_message("user_send_text", user_id, {"text": text})

    async def user_presses(self, user_id: str, button: dict[str, Any]) -> tuple[int, str]:
        """The citizen taps an ``oa.query.show`` button: Zalo sends its payload as the citizen's text."""
        assert button["type"] in ("oa.query.show", "oa.query.hide")
        return await self.user_sends_text(user_id, button["payload"])

    async def user_sends_image(self, user_id: str, url: str, caption: str = "") -> tuple[int, str]:
        msg: dict[str, Any] = {"attachments": [{"type": "image", "payload": {"thumbnail": url, "url": url}}]}
        if caption:
            msg["text"] = caption
        return await self._user_message("user_send_image", user_id, msg)

    async def user_sends_file(self, user_id: str, url: str, name: str, size: int) -> tuple[int, str]:
        return await self._user_message("user_send_file", user_id, {"attachments": [
            {"type": "file", "payload": {"url": url, "name": name, "size": str(size), "type": "pdf",
                                         "checksum": "x"}}]})

    async def user_sends_sticker(self, user_id: str, sticker_id: str = "st1") -> tuple[int, str]:
        return await self._user_message("user_send_sticker", user_id, {"attachments": [
            {"type": "sticker", "payload": {"id": sticker_id, "url": f"{self.base_url}/files/{sticker_id}"}}]})

    async def user_sends_location(self, user_id: str, latitude: float, longitude: float) -> tuple[int, str]:
        return await self._user_message("user_send_location", user_id, {"attachments": [
            {"type": "location", "payload": {"coordinates": {"latitude": str(latitude),
                                                              "longitude": str(longitude)}}}]})

    async def user_follows(self, user_id: str) -> int:
        self.user(user_id).last_interaction = self.now()
        self.user(user_id).blocked = False
        return await self.post_event({k: v for k, v in self.event("follow", user_id, follower={"id": user_id},
                                                                   source="oa_profile").items() if k != "sender"})

    async def user_unfollows(self, user_id: str) -> int:
        self.user(user_id).blocked = True
        return await self.post_event({k: v for k, v in self.event("unfollow", user_id, follower={"id": user_id},
                                                                   source="oa_profile").items() if k != "sender"})

    async def user_submits_info(self, user_id: str, phone: str, name: str = "Nguyễn Văn A") -> int:
        self.user(user_id).last_interaction = self.now()
        return await self.post_event(self.event("user_submit_info", user_id, info={
            "name": name, "phone": phone, "address": "", "city": "", "district": ""}))


def _validate(body: Any) -> str:
    """'' when ``body`` is a message Zalo accepts, else what is wrong."""
    if not isinstance(body, dict) or not isinstance(body.get("recipient"), dict):
        return "recipient"
    rec = body["recipient"]
    if not (rec.get("user_id") or rec.get("message_id")):
        return "recipient needs user_id or message_id"
    msg = body.get("message")
    if not isinstance(msg, dict):
        return "message"
    text = msg.get("text")
    att = msg.get("attachment")
    if text is not None and (not isinstance(text, str) or not text.strip() or len(text) > 2000):
        return "text must be 1-2000 characters"
    if att is None:
        return "" if text else "message needs text or attachment"
    if not isinstance(att, dict) or att.get("type") != "template" or not isinstance(att.get("payload"), dict):
        return "attachment"
    payload = att["payload"]
    kind = payload.get("template_type")
    if kind == "media":
        els = payload.get("elements")
        if not (isinstance(els, list) and len(els) == 1 and els[0].get("media_type") == "image"
                and str(els[0].get("url", "")).startswith(("http://", "https://"))):
            return "media elements"
        return ""
    if kind == "request_user_info":
        els = payload.get("elements")
        if not (isinstance(els, list) and len(els) == 1):
            return "request_user_info needs one element"
        el = els[0]
        if not (isinstance(el.get("title"), str) and 1 <= len(el["title"]) <= 100):
            return "request_user_info title 1-100"
        if len(str(el.get("subtitle", ""))) > 500:
            return "request_user_info subtitle ≤ 500"
        return ""
    buttons = payload.get("buttons")
    if not text:
        return "buttons need text"
    if not (isinstance(buttons, list) and 1 <= len(buttons) <= 5):
        return "1-5 buttons"
    for b in buttons:
        if not isinstance(b, dict) or b.get("type") not in _BUTTON_TYPES:
            return "button type"
        if not (isinstance(b.get("title"), str) and 1 <= len(b["title"]) <= 100):
            return "button title 1-100"
        p = b.get("payload")
        if b["type"].startswith("oa.query."):
            if not (isinstance(p, str) and 1 <= len(p) <= 1000):
                return "query payload 1-1000"
        elif b["type"] == "oa.open.url":
            if not (isinstance(p, dict) and str(p.get("url", "")).startswith(("http://", "https://"))):
                return "url payload"
        elif b["type"] == "oa.open.phone":
            if not (isinstance(p, dict) and re.fullmatch(r"\d{3,15}", str(p.get("phone_code", "")))):
                return "phone payload"
    return ""
