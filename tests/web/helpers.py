"""A bot with the web chat channel, a test client that speaks from a portal origin, the visitor's token."""
from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import make_settings

PORTAL = "https://dichvucong.quangngai.gov.vn"
SECRET = "s" * 40
ENV = {"CCHC_WEBCHAT_ORIGINS": PORTAL, "CCHC_WEBCHAT_SECRET": SECRET}


async def web_bot(engine: Any, pack: Any, **env: str) -> Any:
    from bot.app import add_web_chat, build_bot

    bot = await build_bot(make_settings(extra={**ENV, **env}), pack=pack, engine=engine, migrate=False)
    add_web_chat(bot)
    return bot


@asynccontextmanager
async def inbox_running(bot: Any):
    """The bot's inbox runs the turns meanwhile (as under `cchc-bot run`)."""
    inbox = bot.services.extra.get("inbox")
    runner = asyncio.create_task(inbox.run()) if inbox is not None else None
    try:
        yield
    finally:
        if runner is not None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)


@asynccontextmanager
async def client_for(bot: Any):
    """A client of the bot's web app, with the inbox running the turns."""
    client = TestClient(TestServer(bot.web_app()))
    await client.start_server()
    try:
        async with inbox_running(bot):
            yield client
    finally:
        await client.close()


async def open_session(client: TestClient, origin: str = PORTAL) -> dict[str, Any]:
    r = await client.get("/webchat/api/session", headers={"Origin": origin})
    assert r.status == 200, await r.text()
    assert r.headers["Access-Control-Allow-Origin"] == origin
    return await r.json()


async def say(client: TestClient, token: str, msg_id: str, *, origin: str = PORTAL, **body: Any):
    return await client.post("/webchat/api/messages", json={"id": msg_id, **body},
                             headers={"Origin": origin, "X-Webchat-Token": token})
