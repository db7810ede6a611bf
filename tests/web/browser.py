"""A portal on another origin that embeds the widget with its one line, the bot on its own origin, and
headless Chromium (Debian's, via Playwright; see tests/dashboard/browser.py) between them.

The portal page has a strict CSP of its own (no 'unsafe-inline'; only the bot's origin for scripts, styles
and connections), so a widget that needed inline code or a CDN would fail here.
"""
from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.dashboard.browser import ARGS, CHROMIUM, SCREENSHOTS, require_chromium
from tests.web.helpers import inbox_running, web_bot

PORTAL_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cổng Dịch vụ công tỉnh (trang thử)</title></head>
<body><header><h1>Cổng Dịch vụ công tỉnh Quảng Ngãi</h1><nav><a href="#tt">Thủ tục hành chính</a></nav></header>
<main><p id="tt">Tra cứu thủ tục, nộp hồ sơ trực tuyến.</p></main>
<script src="{bot}/webchat.js" data-position="right" defer></script>
</body></html>"""


def tiny_png(width: int = 8, height: int = 8) -> bytes:
    """A real (small, blue) PNG photo."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x0b\x5c\xad" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@dataclass
class PortalSession:
    page: Any
    context: Any
    bot: Any
    portal_url: str
    bot_url: str
    shots: Path
    problems: list[str] = field(default_factory=list)


@asynccontextmanager
async def portal_with_widget(engine: Any, pack: Any, tmp_path: Path, **env: str) -> AsyncIterator[PortalSession]:
    require_chromium()
    from playwright.async_api import async_playwright

    holder: dict[str, str] = {}

    async def page(request: web.Request) -> web.Response:
        bot_url = holder["bot"]
        csp = (f"default-src 'self'; script-src {bot_url}; style-src {bot_url}; connect-src {bot_url}; "
               f"img-src 'self' {bot_url} https: data:")
        return web.Response(text=PORTAL_PAGE.format(bot=bot_url), content_type="text/html",
                            headers={"Content-Security-Policy": csp})

    portal_app = web.Application()
    portal_app.router.add_get("/", page)
    async def no_icon(request: web.Request) -> web.Response:
        return web.Response(status=204)

    portal_app.router.add_get("/favicon.ico", no_icon)
    portal = TestServer(portal_app, host="127.0.0.1")
    await portal.start_server()
    portal_url = str(portal.make_url("")).rstrip("/")
    bot = await web_bot(engine, pack, CCHC_WEBCHAT_ORIGINS=portal_url, **env)
    server = TestServer(bot.web_app(), host="127.0.0.1")
    await server.start_server()
    holder["bot"] = str(server.make_url("")).rstrip("/")
    shots = SCREENSHOTS or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    try:
        async with inbox_running(bot), async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            try:
                context = await browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN")
                tab = await context.new_page()
                session = PortalSession(page=tab, context=context, bot=bot, portal_url=portal_url,
                                        bot_url=holder["bot"], shots=shots)
                tab.on("console", lambda m: session.problems.append(m.text) if m.type == "error" else None)
                tab.on("pageerror", lambda e: session.problems.append(str(e)))
                yield session
            finally:
                await browser.close()
    finally:
        await server.close()
        await portal.close()
