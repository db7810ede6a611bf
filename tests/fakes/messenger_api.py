"""A fake of Meta's Graph Send API and of Meta's webhook deliveries, on loopback (aiohttp).

    async with FakeGraphAPI(page_access_token="EAAtest", app_secret="s3cret") as api:
        settings = MessengerSettings(page_access_token=api.page_access_token, app_secret=api.app_secret,
                                     verify_token="v", graph_base_url=api.base_url)
        hook = MetaWebhook(webhook_url, app_secret=api.app_secret, api=api)
        await hook.deliver(hook.text("psid1", "xin chào"))   # signed POST; opens psid1's 24-hour window
        api.sent_to("psid1")                                  # what the bot sent there

The Send API side validates like Meta (text ≤ 2000, quick replies ≤ 13 with titles ≤ 20 and payloads
≤ 1000, button template text ≤ 640 with 1–3 buttons, phone buttons in +E.164, messaging_type and tags,
``appsecret_proof``), enforces the 24-hour window with Meta's error (code 10, subcode 2018278) unless a
fitting tag is given (HUMAN_AGENT: 7 days), and injects faults: token revocation (190), rate limiting (613),
"person isn't available" (551), 5xx, slow answers. It records every request and every message sent, and
serves files at ``/cdn/<name>`` for attachment downloads. Nothing leaves 127.0.0.1.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import ClientSession, ClientTimeout, web

__all__ = ["FakeGraphAPI", "GraphRequest", "MetaWebhook", "SentMessage"]

WINDOW = 24 * 3600.0
HUMAN_AGENT_WINDOW = 7 * 24 * 3600.0
TAGS = {"ACCOUNT_UPDATE", "CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "HUMAN_AGENT"}
_VERSION_RE = re.compile(r"^v\d+\.\d+$")


@dataclass(slots=True)
class GraphRequest:
    method: str
    path: str  # without the version, e.g. "me/messages"
    version: str
    body: Any
    time: float
    status: int = 0
    error: dict[str, Any] | None = None


@dataclass(slots=True)
class SentMessage:
    recipient: str
    messaging_type: str
    tag: str
    message: dict[str, Any]
    mid: str
    time: float = 0.0

    @property
    def text(self) -> str:
        """The text a person sees (a template's text too)."""
        if "text" in self.message:
            return self.message["text"]
        payload = (self.message.get("attachment") or {}).get("payload") or {}
        return payload.get("text", "")

    @property
    def quick_replies(self) -> list[dict[str, Any]]:
        return list(self.message.get("quick_replies") or [])

    @property
    def buttons(self) -> list[dict[str, Any]]:
        payload = (self.message.get("attachment") or {}).get("payload") or {}
        return list(payload.get("buttons") or [])

    @property
    def attachment_type(self) -> str:
        attachment = self.message.get("attachment") or {}
        if attachment.get("type") == "template":
            return "template:" + str((attachment.get("payload") or {}).get("template_type"))
        return str(attachment.get("type") or "")


class GraphError(Exception):
    def __init__(self, code: int, message: str, subcode: int | None = None, status: int = 400,
                 type_: str = "OAuthException") -> None:
        super().__init__(message)
        self.code, self.subcode, self.status, self.type = code, subcode, status, type_

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"message": str(self), "type": self.type, "code": self.code,
                               "fbtrace_id": "AfakeTrace"}
        if self.subcode is not None:
            err["error_subcode"] = self.subcode
        return {"error": err}


def _bad(message: str, subcode: int | None = None) -> GraphError:
    return GraphError(100, f"(#100) {message}", subcode)


class FakeGraphAPI:
    def __init__(self, *, page_access_token: str = "EAAfakePageToken", app_secret: str = "fake-app-secret",
                 page_id: str = "100200300", clock: Callable[[], float] = time.time,
                 require_proof: bool = False) -> None:
        self.page_access_token = page_access_token
        self.app_secret = app_secret
        self.page_id = page_id
        self.clock = clock
        self.require_proof = require_proof
        self.last_inbound: dict[str, float] = {}  # psid -> epoch seconds of the person's last message
        self.requests: list[GraphRequest] = []
        self.sent: list[SentMessage] = []
        self.profile: dict[str, Any] = {}
        self.files: dict[str, bytes] = {}
        self.file_failures: dict[str, list[int]] = {}  # name -> statuses to answer before the file
        self.unavailable: set[str] = set()  # psids answering 551
        self.revoked = False
        self.send_delay = 0.0
        self._faults: list[GraphError | None] = []
        self._mids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle -----------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/{version}/{path:.*}", self._graph)
        app.router.add_get("/cdn/{name}", self._cdn)
        app.router.add_get("/redirect", self._redirect)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- test controls -------------------------------------------------------------------------------

    def user_wrote(self, psid: str, seconds_ago: float = 0.0) -> None:
        """The person wrote to the Page ``seconds_ago`` (opens the 24-hour window)."""
        self.last_inbound[psid] = self.clock() - seconds_ago

    def revoke_token(self) -> None:
        self.revoked = True

    def rate_limit_next(self, n: int = 1, code: int = 613, *, after: int = 0) -> None:
        """The next ``n`` Graph requests (after ``after`` that pass) answer a rate-limit error."""
        self._add_faults(after, [GraphError(code, f"(#{code}) Calls to this api have exceeded the rate limit.")
                                 for _ in range(n)])

    def fail_next(self, n: int = 1, status: int = 500, *, after: int = 0) -> None:
        """The next ``n`` Graph requests (after ``after`` that pass) fail with a 5xx."""
        self._add_faults(after, [GraphError(2, "An unexpected error has occurred. Please retry your request later.",
                                            status=status) for _ in range(n)])

    def _add_faults(self, after: int, errors: list[GraphError]) -> None:
        self._faults.extend([None] * after + errors)  # type: ignore[list-item]

    def add_file(self, name: str, data: bytes, *, fail_first: list[int] | None = None) -> str:
        self.files[name] = data
        if fail_first:
            self.file_failures[name] = list(fail_first)
        return f"{self.base_url}/cdn/{name}"

    def sent_to(self, psid: str) -> list[SentMessage]:
        return [m for m in self.sent if m.recipient == psid]

    @property
    def errors(self) -> list[GraphRequest]:
        return [r for r in self.requests if r.error is not None]

    # -- Graph ---------------------------------------------------------------------------------------

    def _auth(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        token = header[7:] if header.startswith("Bearer ") else request.query.get("access_token", "")
        if not token:
            raise GraphError(2500, "An active access token must be used to query information about the current user.")
        if token != self.page_access_token:
            raise GraphError(190, "Invalid OAuth access token - Cannot parse access token", status=400)
        if self.revoked:
            raise GraphError(190, "Error validating access token: The session has been invalidated because the "
                                  "user changed their password or Facebook has changed the session for security "
                                  "reasons.", subcode=460)
        proof = request.query.get("appsecret_proof")
        expected = hmac.new(self.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        if proof is not None and not hmac.compare_digest(proof, expected):
            raise GraphError(100, "Invalid appsecret_proof provided in the API argument", type_="GraphMethodException")
        if proof is None and self.require_proof:
            raise GraphError(100, "API calls from the server require an appsecret_proof argument",
                             type_="GraphMethodException")

    async def _graph(self, request: web.Request) -> web.Response:
        version, path = request.match_info["version"], request.match_info["path"].strip("/")
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = GraphRequest(request.method, path, version, body, time.monotonic())
        self.requests.append(record)
        try:
            if not _VERSION_RE.match(version):
                raise GraphError(2500, f"Unknown path components: /{version}", type_="OAuthException")
            self._auth(request)
            fault = self._faults.pop(0) if self._faults else None
            if fault is not None:
                raise fault
            if request.method == "GET" and path == "me":
                result: Any = {"id": self.page_id, "name": "Trang thử nghiệm"}
            elif request.method == "POST" and path == "me/messenger_profile":
                if not isinstance(body, dict) or not body:
                    raise _bad("param body must be a non-empty object")
                self.profile.update(body)
                result = {"result": "success"}
            elif request.method == "POST" and path == "me/messages":
                if self.send_delay:
                    await asyncio.sleep(self.send_delay)
                result = self._send(body)
            else:
                raise GraphError(100, f"Unsupported {request.method} request.", type_="GraphMethodException")
        except GraphError as exc:
            record.status, record.error = exc.status, exc.body()["error"]
            return web.json_response(exc.body(), status=exc.status)
        record.status = 200
        return web.json_response(result)

    def _send(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _bad("param recipient must be non-empty.")
        recipient = (body.get("recipient") or {}).get("id")
        if not recipient:
            raise _bad("param recipient must be non-empty.")
        recipient = str(recipient)
        mtype = body.get("messaging_type")
        tag = body.get("tag") or ""
        if mtype not in ("RESPONSE", "UPDATE", "MESSAGE_TAG"):
            raise _bad("param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}")
        if mtype == "MESSAGE_TAG" and tag not in TAGS:
            raise _bad("param tag must be one of " + ", ".join(sorted(TAGS)))
        if mtype != "MESSAGE_TAG" and tag:
            raise _bad("param tag is only allowed with messaging_type MESSAGE_TAG")
        message = body.get("message")
        if not isinstance(message, dict):
            raise _bad("param message must be non-empty.")
        self._validate_message(message)
        if recipient not in self.last_inbound:
            raise _bad("No matching user found", 2018001)
        if recipient in self.unavailable:
            raise GraphError(551, "This person isn't available right now.")
        age = self.clock() - self.last_inbound[recipient]
        limit = HUMAN_AGENT_WINDOW if tag == "HUMAN_AGENT" else (float("inf") if tag else WINDOW)
        if age >= limit:
            raise GraphError(10, "(#10) This message is sent outside of allowed window. Learn more about the new "
                                 "policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview",
                             subcode=2018278)
        mid = f"m_fake{next(self._mids)}"
        self.sent.append(SentMessage(recipient, mtype, tag, message, mid, time.monotonic()))
        return {"recipient_id": recipient, "message_id": mid}

    @staticmethod
    def _validate_message(message: dict[str, Any]) -> None:
        has_text, attachment = "text" in message, message.get("attachment")
        if has_text == (attachment is not None):
            raise _bad("Must send either message text or an attachment")
        if has_text:
            text = message["text"]
            if not isinstance(text, str) or not text.strip():
                raise _bad("param message[text] must be non-empty.")
            if len(text) > 2000:
                raise _bad("Length of param message[text] must be less than or equal to 2000")
        else:
            if not isinstance(attachment, dict):
                raise _bad("param message[attachment] must be an object")
            payload = attachment.get("payload") or {}
            kind = attachment.get("type")
            if kind in ("image", "file", "audio", "video"):
                if not str(payload.get("url", "")).startswith(("http://", "https://")) and not payload.get("attachment_id"):
                    raise _bad("param message[attachment][payload][url] must be a valid URL")
            elif kind == "template":
                if payload.get("template_type") != "button":
                    raise _bad("the fake supports only the button template")
                text = payload.get("text")
                if not isinstance(text, str) or not text.strip():
                    raise _bad("param message[attachment][payload][text] must be non-empty.")
                if len(text) > 640:
                    raise _bad("Length of param message[attachment][payload][text] must be less than or equal to 640")
                buttons = payload.get("buttons")
                if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
                    raise _bad("param message[attachment][payload][buttons] must have 1 to 3 elements")
                for b in buttons:
                    _validate_button(b)
            else:
                raise _bad(f"Unsupported attachment type {kind!r}")
        quick = message.get("quick_replies")
        if quick is not None:
            if not isinstance(quick, list) or not 1 <= len(quick) <= 13:
                raise _bad("param message[quick_replies] must have between 1 and 13 elements")
            for q in quick:
                ctype = q.get("content_type")
                if ctype == "text":
                    title, payload = q.get("title"), q.get("payload")
                    if not isinstance(title, str) or not title or len(title) > 20:
                        raise _bad("param message[quick_replies][title] must be 1 to 20 characters")
                    if not isinstance(payload, str) or not payload or len(payload) > 1000:
                        raise _bad("param message[quick_replies][payload] must be 1 to 1000 characters")
                elif ctype not in ("user_phone_number", "user_email"):
                    raise _bad("param message[quick_replies][content_type] must be one of {text, user_phone_number, user_email}")

    async def _redirect(self, request: web.Request) -> web.Response:
        """``/redirect?to=<url>``: a 302 to ``to`` (CDN links that redirect, or redirect elsewhere)."""
        raise web.HTTPFound(request.query["to"])

    async def _cdn(self, request: web.Request) -> web.StreamResponse:
        """Attachment files; ``?stream=1`` answers without Content-Length (the reader must count)."""
        name = request.match_info["name"]
        failures = self.file_failures.get(name)
        if failures:
            return web.Response(status=failures.pop(0))
        if name not in self.files:
            return web.Response(status=404)
        data = self.files[name]
        if not request.query.get("stream"):
            return web.Response(body=data, content_type="application/octet-stream")
        resp = web.StreamResponse(status=200)
        resp.content_type = "application/octet-stream"
        await resp.prepare(request)
        for i in range(0, len(data), 32 * 1024):
            await resp.write(data[i : i + 32 * 1024])
        await resp.write_eof()
        return resp


def _validate_button(b: Any) -> None:
    if not isinstance(b, dict):
        raise _bad("button must be an object")
    title = b.get("title")
    if not isinstance(title, str) or not title or len(title) > 20:
        raise _bad("param buttons[title] must be 1 to 20 characters")
    kind = b.get("type")
    if kind == "web_url":
        if not str(b.get("url", "")).startswith(("http://", "https://")):
            raise _bad("param buttons[url] must be a valid URL")
    elif kind == "phone_number":
        if not re.match(r"^\+\d{7,15}$", str(b.get("payload", ""))):
            raise _bad("param buttons[payload] must be a phone number in the format +<country code><number>")
    elif kind == "postback":
        payload = b.get("payload")
        if not isinstance(payload, str) or not payload or len(payload) > 1000:
            raise _bad("param buttons[payload] must be 1 to 1000 characters")
    else:
        raise _bad(f"Unsupported button type {kind!r}")




# ---------------------------------------------------------------------------------------------------
# webhook deliveries


class MetaWebhook:
    """Builds Messenger webhook events and delivers them like Meta: JSON bodies signed with the app
    secret (``X-Hub-Signature-256``), several events batched into one POST (one ``entry`` per event, as
    Meta sends them, or ``per_entry`` events in one entry), repeated deliveries on request."""

    def __init__(self, url: str, *, app_secret: str, api: FakeGraphAPI | None = None, page_id: str = "100200300",
                 clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self.app_secret = app_secret
        self.api = api
        self.page_id = api.page_id if api is not None else page_id
        self.clock = clock
        self._mids = itertools.count(1)
        self._last_ts = 0

    # -- events --------------------------------------------------------------------------------------

    def _base(self, psid: str) -> dict[str, Any]:
        # millisecond timestamps, strictly increasing (two events never share one)
        self._last_ts = max(int(self.clock() * 1000), self._last_ts + 1)
        return {"sender": {"id": psid}, "recipient": {"id": self.page_id}, "timestamp": self._last_ts}

    def mid(self) -> str:
        return f"m_hook{next(self._mids)}"

    def message(self, psid: str, **message: Any) -> dict[str, Any]:
        return {**self._base(psid), "message": {"mid": self.mid(), **message}}

    def text(self, psid: str, text: str) -> dict[str, Any]:
        return self.message(psid, text=text)

    def quick_reply(self, psid: str, title: str, payload: str) -> dict[str, Any]:
        return self.message(psid, text=title, quick_reply={"payload": payload})

    def phone_quick_reply(self, psid: str, phone: str) -> dict[str, Any]:
        return self.message(psid, text=phone, quick_reply={"payload": phone})

    def postback(self, psid: str, payload: str, title: str = "", *, with_mid: bool = True) -> dict[str, Any]:
        postback: dict[str, Any] = {"title": title or payload, "payload": payload}
        if with_mid:
            postback["mid"] = self.mid()
        return {**self._base(psid), "postback": postback}

    def get_started(self, psid: str, payload: str = "GET_STARTED") -> dict[str, Any]:
        return self.postback(psid, payload, "Bắt đầu")

    def attachment(self, psid: str, kind: str, url: str = "", text: str = "", **payload: Any) -> dict[str, Any]:
        message: dict[str, Any] = {"attachments": [{"type": kind, "payload": {"url": url, **payload}}]}
        if text:
            message["text"] = text
        return self.message(psid, **message)

    def location(self, psid: str, lat: float, long: float) -> dict[str, Any]:
        return self.message(psid, attachments=[{"type": "location", "title": "Vị trí",
                                                "payload": {"coordinates": {"lat": lat, "long": long}}}])

    def echo(self, psid: str, text: str) -> dict[str, Any]:
        event = {"sender": {"id": self.page_id}, "recipient": {"id": psid},
                 "timestamp": int(self.clock() * 1000), "message": {"mid": self.mid(), "is_echo": True, "text": text}}
        return event

    def read(self, psid: str) -> dict[str, Any]:
        return {**self._base(psid), "read": {"watermark": int(self.clock() * 1000)}}

    def delivery(self, psid: str) -> dict[str, Any]:
        return {**self._base(psid), "delivery": {"mids": [self.mid()], "watermark": int(self.clock() * 1000)}}

    # -- delivery ------------------------------------------------------------------------------------

    def body(self, events: list[dict[str, Any]], per_entry: int = 1) -> bytes:
        entries = [{"id": self.page_id, "time": int(self.clock() * 1000), "messaging": events[i : i + per_entry]}
                   for i in range(0, len(events), per_entry)]
        return json.dumps({"object": "page", "entry": entries}, ensure_ascii=False).encode()

    def signature(self, body: bytes, secret: str | None = None) -> str:
        key = (self.app_secret if secret is None else secret).encode()
        return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()

    async def post(self, body: bytes, headers: Mapping[str, str]) -> int:
        async with ClientSession(timeout=ClientTimeout(total=10)) as session:
            async with session.post(self.url, data=body, headers={"Content-Type": "application/json", **headers}) as r:
                await r.read()
                return r.status

    async def deliver(self, *events: dict[str, Any], repeat: int = 1, per_entry: int = 1,
                      secret: str | None = None, signature: str | None = None, sign: bool = True,
                      tamper: Callable[[bytes], bytes] | None = None) -> list[int]:
        """POST ``events`` as one batch, ``repeat`` times (Meta re-delivers what it thinks was not
        received); returns the HTTP statuses. A sender's message or postback opens their window on the fake
        API. ``secret``: sign with another secret; ``signature``: send this header verbatim; ``sign=False``:
        no header; ``tamper``: change the body after signing."""
        if self.api is not None:
            for e in events:
                if ("message" in e and not e["message"].get("is_echo")) or "postback" in e:
                    self.api.last_inbound[e["sender"]["id"]] = e["timestamp"] / 1000
        body = self.body(list(events), per_entry)
        headers: dict[str, str] = {}
        if sign:
            headers["X-Hub-Signature-256"] = signature if signature is not None else self.signature(body, secret)
        if tamper is not None:
            body = tamper(body)
        return [await self.post(body, headers) for _ in range(repeat)]

    async def verify(self, *, mode: str = "subscribe", token: str, challenge: str = "1158201444") -> tuple[int, str]:
        """Meta's GET verification request; returns (status, body)."""
        params = {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge}
        async with ClientSession(timeout=ClientTimeout(total=10)) as session:
            async with session.get(self.url, params=params) as r:
                return r.status, await r.text()
