"""A fake Zalo Bot Platform API on loopback: ``/bot<TOKEN>/<method>`` like bot-api.zaloplatforms.com.

    async with FakeZaloBotAPI() as api:
        # channel api base: api.base_url
        await api.user_sends("u1", "xin chào")    # webhook POST if a webhook is set, else queued for getUpdates
        api.sent_to("u1")                          # sendMessage / sendPhoto calls to that chat

Validates what the platform documents: the token (401), setWebhook's secret (8-256 characters),
getUpdates refused while a webhook is set, sendMessage text 1-2000 characters, sendPhoto with a photo
URL; ``fail_next(code)`` injects errors (429, 403, 5xx...). getUpdates long-polls and answers a single
update (``updates_as_list=True``: a list) or ``408`` when none arrived in ``timeout`` seconds.
"""
from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import ClientSession, ClientTimeout, web

__all__ = ["BotSent", "FakeZaloBotAPI"]


@dataclass
class BotSent:
    method: str
    chat_id: str
    params: dict[str, Any]

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")


class FakeZaloBotAPI:
    def __init__(self, token: str = "1459232241454765289:fakeKeyABCDEFGH", *, updates_as_list: bool = False) -> None:
        self.token = token
        self.updates_as_list = updates_as_list
        self.webhook_url = ""
        self.webhook_secret = ""
        self.sent: list[BotSent] = []
        self.calls: list[str] = []
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._fail: list[int] = []
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._client: ClientSession | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
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

    def fail_next(self, *codes: int) -> None:
        self._fail.extend(codes)

    def sent_to(self, chat_id: str) -> list[BotSent]:
        return [s for s in self.sent if s.chat_id == chat_id]

    @staticmethod
    def _error(code: int, description: str) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if code == 429:
            body["parameters"] = {"retry_after": 0.01}
        return web.json_response(body, status=code if code >= 400 and code != 408 else 200)

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        self.calls.append(method)
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        try:
            params = await request.json() if request.can_read_body else {}
        except ValueError:
            return self._error(400, "Bad Request: invalid JSON")
        if method.startswith("send") and self._fail:
            code = self._fail.pop(0)
            return self._error(code, "fault injected")
        if method == "getMe":
            return web.json_response({"ok": True, "result": {"id": self.token.split(":")[0],
                                                              "account_name": "bot.fake", "account_type": "BASIC"}})
        if method == "setWebhook":
            url, secret = str(params.get("url") or ""), str(params.get("secret_token") or "")
            if not (8 <= len(secret) <= 256):
                return self._error(400, "Bad Request: secret_token must be 8-256 characters")
            if not (url.startswith("https://") or url.startswith("http://127.0.0.1")):
                return self._error(400, "Bad Request: url must be HTTPS")
            self.webhook_url, self.webhook_secret = url, secret
            return web.json_response({"ok": True, "result": {"url": url, "updated_at": 1}})
        if method == "deleteWebhook":
            self.webhook_url = self.webhook_secret = ""
            return web.json_response({"ok": True, "result": {"url": "", "updated_at": 1}})
        if method == "getWebhookInfo":
            return web.json_response({"ok": True, "result": {"url": self.webhook_url, "updated_at": 1}})
        if method == "getUpdates":
            if self.webhook_url:
                return self._error(409, "Conflict: webhook is active")
            try:
                timeout = float(params.get("timeout") or 30)
            except (TypeError, ValueError):
                return self._error(400, "Bad Request: timeout")
            try:
                update = await asyncio.wait_for(self._queue.get(), timeout)
            except TimeoutError:
                return self._error(408, "Request timeout")
            return web.json_response({"ok": True, "result": [update] if self.updates_as_list else update})
        if method == "sendMessage":
            text = params.get("text")
            if not params.get("chat_id"):
                return self._error(400, "Bad Request: chat_id is required")
            if not isinstance(text, str) or not (1 <= len(text) <= 2000):
                return self._error(400, "Bad Request: text must be 1-2000 characters")
        elif method == "sendPhoto":
            if not str(params.get("photo") or "").startswith(("http://", "https://")):
                return self._error(400, "Bad Request: photo must be a URL")
            if len(str(params.get("caption") or "")) > 2000:
                return self._error(400, "Bad Request: caption too long")
        elif method == "sendChatAction":
            return web.json_response({"ok": True})
        else:
            return self._error(404, "Not Found: method")
        self.sent.append(BotSent(method, str(params["chat_id"]), dict(params)))
        return web.json_response({"ok": True, "result": {"message_id": f"b{next(self._ids)}", "date": 1}})

    # -- citizens --------------------------------------------------------------------------------

    def update(self, user_id: str, event_name: str = "message.text.received", *, chat_type: str = "PRIVATE",
               **message: Any) -> dict[str, Any]:
        return {"event_name": event_name, "message": {
            "from": {"id": user_id, "display_name": "Ted", "is_bot": False},
            "chat": {"id": user_id, "chat_type": chat_type},
            "message_id": f"zm{next(self._ids)}", "date": 1750316131602, **message}}

    async def deliver(self, update: dict[str, Any], *, secret: str | None = None) -> int | None:
        """Webhook POST (returns the status) when a webhook is set, else queue it for getUpdates."""
        if not self.webhook_url:
            await self._queue.put(update)
            return None
        assert self._client is not None
        headers = {"X-Bot-Api-Secret-Token": self.webhook_secret if secret is None else secret}
        if secret == "":
            headers = {}
        async with self._client.post(self.webhook_url, json={"ok": True, "result": update}, headers=headers) as resp:
            return resp.status

    async def user_sends(self, user_id: str, text: str) -> tuple[int | None, dict[str, Any]]:
        update = self.update(user_id, text=text)
        return await self.deliver(update), update

    async def user_sends_photo(self, user_id: str, url: str, caption: str = "") -> tuple[int | None, dict[str, Any]]:
        update = self.update(user_id, "message.image.received", photo=url, caption=caption)
        return await self.deliver(update), update
