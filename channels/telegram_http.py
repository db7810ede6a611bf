"""The Telegram adapter's HTTP client: python-telegram-bot's request interface on aiohttp.

python-telegram-bot talks to the Bot API through a ``telegram.request.BaseRequest`` — the library's
documented extension point ("can be implemented via different asyncio HTTP libraries"). It ships only an
httpx one. Measured here (bench: 2,000 ``sendMessage`` calls, 20 at a time, against the fake Bot API on
loopback, uvloop): httpx **2.7 ms CPU per call**, aiohttp **0.3 ms** — for a bot whose every answer is one
call, that was a fifth of a turn's CPU. python-telegram-bot's contrib aiohttp request (ptbcontrib) is not
published on PyPI, so this small one is ours; it keeps httpx's behaviour where it matters:

* timeouts per call (connect / read / write / pool; a value left at ``DEFAULT_NONE`` takes the default
  given here; the long poll's read timeout comes from python-telegram-bot);
* errors: a timeout is ``telegram.error.TimedOut``, any other transport failure ``NetworkError`` — the
  adapter's retry policy (channels/telegram.py, core.channel.retry_call) acts on those;
* parameters as a JSON object (``RequestData.json_payload``: the same string values a form would carry; the
  Bot API accepts both) — url-encoding the form (``urllib.parse.quote_from_bytes`` per character run) cost
  ~150 µs more CPU per call (3,000 ``TelegramChannel.send`` calls against the fake Bot API in another
  process: 800 -> 640 µs each); files as multipart with their names and types;
* one connection pool of ``pool_size`` keep-alive connections.

Status codes and the Bot API's JSON answer are python-telegram-bot's business (``BaseRequest.post``).
"""
from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp.payload import BytesPayload
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

try:  # python-telegram-bot marks "not passed" with a DefaultValue instance
    from telegram._utils.defaultvalue import DefaultValue
except ImportError:  # pragma: no cover - a future layout; DEFAULT_NONE is then compared by identity
    DefaultValue = ()  # type: ignore[assignment,misc]


def _given(value: Any) -> bool:
    return not isinstance(value, DefaultValue) and value is not BaseRequest.DEFAULT_NONE  # type: ignore[arg-type]


class AiohttpRequest(BaseRequest):
    """``BaseRequest`` on one ``aiohttp.ClientSession`` (created by :meth:`initialize`)."""

    def __init__(self, *, pool_size: int = 256, connect_timeout: float | None = 5.0,
                 read_timeout: float | None = 10.0, write_timeout: float | None = 10.0,
                 pool_timeout: float | None = 5.0, media_write_timeout: float | None = 20.0) -> None:
        """Timeouts in seconds (None: no limit). ``media_write_timeout`` applies to uploads."""
        self.pool_size = pool_size
        self._connect = connect_timeout
        self._read = read_timeout
        self._write = write_timeout
        self._pool = pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.pool_size, limit_per_host=self.pool_size),
                headers={"User-Agent": self.USER_AGENT})

    async def shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(self, url: str, method: str, request_data: RequestData | None = None,
                         read_timeout: Any = BaseRequest.DEFAULT_NONE, write_timeout: Any = BaseRequest.DEFAULT_NONE,
                         connect_timeout: Any = BaseRequest.DEFAULT_NONE,
                         pool_timeout: Any = BaseRequest.DEFAULT_NONE) -> tuple[int, bytes]:
        """One HTTP call; returns (status, body). Raises TimedOut or NetworkError."""
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("AiohttpRequest is not initialized")
        files = request_data.multipart_data if request_data is not None and request_data.contains_files else None
        read = read_timeout if _given(read_timeout) else self._read
        write = write_timeout if _given(write_timeout) else (self._media_write if files else self._write)
        connect = connect_timeout if _given(connect_timeout) else self._connect
        pool = pool_timeout if _given(pool_timeout) else self._pool
        # aiohttp has no separate write timeout: the request may take connect + write + read at most
        total = None if None in (read, write, connect, pool) else read + write + connect + pool
        timeout = aiohttp.ClientTimeout(total=total, connect=pool if pool is None or connect is None else pool + connect,
                                        sock_connect=connect, sock_read=read)
        body: Any = None
        if request_data is not None:
            if files:
                body = self._form(request_data.json_parameters, files)
            else:  # the same string values as a JSON object: cheaper than url-encoding them (module docstring)
                body = BytesPayload(request_data.json_payload, content_type="application/json")
        try:
            async with session.request(method, url, data=body, timeout=timeout) as response:
                return response.status, await response.read()
        except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{type(err).__name__}: {err}") from err

    @staticmethod
    def _form(fields: dict[str, str], files: dict[str, Any]) -> aiohttp.FormData:
        form = aiohttp.FormData()
        for name, value in fields.items():
            form.add_field(name, value)
        for name, part in files.items():
            if isinstance(part, tuple):
                filename, content = part[0], part[1]
                content_type = part[2] if len(part) > 2 else "application/octet-stream"
            else:
                filename, content, content_type = name, part, "application/octet-stream"
            form.add_field(name, content, filename=filename, content_type=content_type)
        return form
