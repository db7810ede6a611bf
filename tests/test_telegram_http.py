"""The Telegram adapter's HTTP client (channels/telegram_http.py) against a local server on loopback:
python-telegram-bot's requests arrive as Telegram expects them, and failures become the errors the
adapter's retry policy acts on."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from telegram import Bot, InputFile
from telegram.error import NetworkError, TimedOut

from channels.telegram_http import AiohttpRequest

TOKEN = "123456:" + "H" * 35


@pytest.fixture
async def api():  # noqa: ANN201
    seen: list[dict] = []

    async def method(request: web.Request) -> web.Response:
        name = request.match_info["method"]
        if name == "slow":
            await asyncio.sleep(2)
        if request.content_type.startswith("multipart/"):
            parts = {}
            async for part in await request.multipart():
                parts[part.name] = (part.filename, part.headers.get("Content-Type"), await part.read())
            seen.append({"method": name, "multipart": parts})
        elif request.content_type == "application/json":
            seen.append({"method": name, "json": await request.json()})
        else:
            seen.append({"method": name, "form": dict(await request.post())})
        if name == "getMe":
            result = {"id": 123456, "is_bot": True, "first_name": "Bot", "username": "cchc_bot"}
        else:
            result = {"message_id": 7, "date": 0, "chat": {"id": 42, "type": "private"}, "text": "ok"}
        return web.json_response({"ok": True, "result": result})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", method)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/bot", seen
    await runner.cleanup()


async def test_a_message_is_sent_as_json_with_the_bot_api_parameters(api) -> None:
    base, seen = api
    async with Bot(TOKEN, base_url=base, request=AiohttpRequest()) as bot:
        message = await bot.send_message(42, "<b>Xin chào</b> bà con", parse_mode="HTML")
    assert message.message_id == 7
    sent = next(s for s in seen if s["method"] == "sendMessage")
    assert sent["json"] == {"chat_id": "42", "text": "<b>Xin chào</b> bà con", "parse_mode": "HTML"}


async def test_a_file_is_uploaded_as_multipart_with_its_name_and_type(api) -> None:
    base, seen = api
    async with Bot(TOKEN, base_url=base, request=AiohttpRequest()) as bot:
        await bot.send_document(42, InputFile(b"%PDF-1.4 ...", filename="ban-tin-so-3.pdf"), caption="Bản tin")
    parts = next(s for s in seen if s["method"] == "sendDocument")["multipart"]
    filename, content_type, content = next(p for p in parts.values() if p[0])
    assert (filename, content_type, content) == ("ban-tin-so-3.pdf", "application/pdf", b"%PDF-1.4 ...")
    assert parts["chat_id"][2] == b"42" and parts["caption"][2] == "Bản tin".encode()


async def test_a_slow_answer_is_a_timeout_and_a_closed_port_a_network_error(api) -> None:
    base, _seen = api
    request = AiohttpRequest(read_timeout=0.2)
    await request.initialize()
    try:
        with pytest.raises(TimedOut):
            await request.post(f"{base}{TOKEN}/slow")
    finally:
        await request.shutdown()
    request = AiohttpRequest(connect_timeout=1)
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as failure:
            await request.post(f"http://127.0.0.1:9/bot{TOKEN}/getMe")
        assert not isinstance(failure.value, TimedOut)
    finally:
        await request.shutdown()
