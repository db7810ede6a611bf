"""A real browser on the dashboard: Debian's chromium driven by Playwright (never a downloaded browser).

`browse_dashboard(bot, tmp_path)` serves the bot's web app on loopback, opens a page that records console
errors (CSP violations, script errors) and yields a `BrowserSession`. Skips with a reason when
/usr/bin/chromium is missing, except under CI=true where that is a failure (`make test` installs it).
"""
from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() == "true"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(os.environ["CCHC_SCREENSHOT_DIR"]) if os.environ.get("CCHC_SCREENSHOT_DIR") else None


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} not found: install Debian's chromium (`make browser` or apt-get install chromium)"
    if IN_CI:
        pytest.fail(f"{reason} (required when CI=true)")
    pytest.skip(reason)


@dataclass
class BrowserSession:
    page: Any  # playwright Page
    server: Any  # aiohttp TestServer
    shots: Path  # where screenshots go (CCHC_SCREENSHOT_DIR to keep them)
    problems: list[str] = field(default_factory=list)  # console errors and page errors

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))


@asynccontextmanager
async def browse_dashboard(bot: Any, tmp_path: Path) -> AsyncIterator[BrowserSession]:
    require_chromium()
    from aiohttp.test_utils import TestServer
    from playwright.async_api import async_playwright

    server = TestServer(bot.web_app(), host="127.0.0.1")
    await server.start_server()
    shots = SCREENSHOTS or tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1360, "height": 900}, locale="vi-VN")
                session = BrowserSession(page=page, server=server, shots=shots)
                page.on("console", lambda m: session.problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: session.problems.append(str(e)))
                yield session
            finally:
                await browser.close()
    finally:
        await server.close()
