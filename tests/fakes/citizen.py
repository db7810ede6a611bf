"""One citizen, any channel: the REAL adapter wired by the app (bot/app.py), its fake platform on loopback,
the durable inbox running the turns (issue 8 §6).

    async with citizen_on("zalo_oa", engine, pack) as citizen:
        await citizen.say("/start")
        await citizen.press("Khẩu hiệu")             # by the label the citizen reads
        assert "Khẩu hiệu" in citizen.last_text
        citizen.buttons                               # the labels of the latest choices offered

``press`` finds the button whose label contains the words given (case-insensitive); where the channel
shows choices as numbered text ("2. Sở Tư pháp"), it types the number, as a citizen would. Every action
returns when the inbox finished the turn it caused (replies handed to the channel): no sleeps.
``last_text`` is what arrived for the last action; ``buttons`` the choices of the latest message offering
some. Channels: telegram, console, zalo_oa, zalo_bot, messenger, web.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import html
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from io import StringIO
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from tests.conftest import make_settings

CHANNELS = ("telegram", "console", "zalo_oa", "zalo_bot", "messenger", "web")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64 + b"\xff\xd9"
_NUMBERED = re.compile(r"^\s*(\d{1,2})\.\s+(.+?)\s*$", re.MULTILINE)
FAST = {"retry_base_delay": 0.01, "retry_max_delay": 0.05}


@dataclass
class Seen:
    """One message as the citizen sees it: its text and its buttons (label, what pressing needs)."""

    text: str
    buttons: list[tuple[str, Any]] = field(default_factory=list)


class Clock:
    """The bot's clock, movable (``Citizen.later``)."""

    def __init__(self) -> None:
        self.offset = dt.timedelta()

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset


class Citizen:
    def __init__(self, name: str, bot: Any, driver: Any, clock: Clock) -> None:
        self.channel = name
        self.bot = bot
        self.driver = driver
        self.clock = clock
        self.last: list[Seen] = []
        self._turns = 0
        self._changed = asyncio.Event()
        bot.services.extra["inbox"].add_listener(self._turn_done)

    def _turn_done(self, incoming: Any) -> None:
        self._turns += 1
        self._changed.set()

    @property
    def last_text(self) -> str:
        return "\n".join(s.text for s in self.last)

    @property
    def buttons(self) -> list[str]:
        """The labels of the choices the latest message offering some shows (buttons or numbered lines)."""
        for seen in reversed(self.driver.seen()):
            if seen.buttons:
                return [label for label, _ in seen.buttons]
            numbered = _NUMBERED.findall(seen.text)
            if numbered:
                return [label for _, label in numbered]
        return []

    # -- actions ------------------------------------------------------------------------------------------
    async def _act(self, action: Any, turns: int = 1, timeout: float = 10.0) -> list[Seen]:
        before, done = len(self.driver.seen()), self._turns
        await action
        async with asyncio.timeout(timeout):
            while self._turns < done + turns:
                self._changed.clear()
                await self._changed.wait()
        self.last = self.driver.seen()[before:]
        return self.last

    async def say(self, text: str) -> list[Seen]:
        return await self._act(self.driver.send_text(text))

    async def press(self, label: str) -> list[Seen]:
        """Press the choice whose visible label contains ``label`` (case-insensitive) on the latest message
        offering it; a numbered text option is chosen by typing its number."""
        want = label.casefold()
        for seen in reversed(self.driver.seen()):
            for shown, handle in seen.buttons:
                if want in shown.casefold():
                    return await self._act(self.driver.tap(handle, shown))
            for number, shown in _NUMBERED.findall(seen.text):
                if want in shown.casefold():
                    for title, handle in seen.buttons:  # a channel that numbers its buttons' titles
                        if title.startswith(f"{number}."):
                            return await self._act(self.driver.tap(handle, title))
                    return await self._act(self.driver.send_text(number))
        raise AssertionError(f"{self.channel}: no choice {label!r} offered; latest: {self.buttons}")

    async def share_contact(self, phone: str) -> list[Seen]:
        return await self._act(self.driver.share_contact(phone))

    async def send_photo(self, data: bytes = JPEG) -> list[Seen]:
        return await self._act(self.driver.send_photo(data))

    async def wait_for(self, needle: str, timeout: float = 10.0) -> str:
        """Wait until a message containing ``needle`` arrives (a proactive one: an official's answer)."""
        async with asyncio.timeout(timeout):
            while True:
                texts = [s.text for s in self.driver.seen()]
                if any(needle in t for t in texts):
                    return next(t for t in texts if needle in t)
                await asyncio.sleep(0.02)

    def later(self, hours: float) -> None:
        """``hours`` pass for the bot and the platform (delivery windows)."""
        self.clock.offset += dt.timedelta(hours=hours)
        advance = getattr(self.driver, "advance", None)
        if advance is not None:
            advance(hours * 3600)

    @property
    def all_text(self) -> str:
        return "\n".join(s.text for s in self.driver.seen())


# -- drivers --------------------------------------------------------------------------------------------
class TelegramDriver:
    def __init__(self, api: Any, user: int = 4242) -> None:
        self.api, self.user = api, user

    def seen(self) -> list[Seen]:
        return [Seen(m.plain or m.text or (f"{m.contact.get('first_name', '')}: {m.contact.get('phone_number', '')}"
                                          if m.contact else ""),
                     [(b.get("text", ""), (m.message_id, b["callback_data"])) for b in m.buttons if "callback_data" in b])
                for m in self.api.sent_to(self.user)]

    async def send_text(self, text: str) -> None:
        self.api.user_sends(self.user, text)

    async def tap(self, handle: tuple[int, str], label: str) -> None:
        self.api.user_presses(self.user, handle[1], handle[0])

    async def share_contact(self, phone: str) -> None:
        self.api.user_shares_contact(self.user, phone)

    async def send_photo(self, data: bytes) -> None:
        self.api.user_sends_photo(self.user)


class ConsoleDriver:
    def __init__(self, chat: Any, inbox: Any) -> None:
        self.chat, self.inbox = chat, inbox

    def seen(self) -> list[Seen]:
        out = self.chat.stdout.getvalue()
        return [Seen(block.strip()) for block in out.split("\n\n> ") if block.strip()]

    async def send_text(self, text: str) -> None:
        incoming = self.chat.to_incoming(text)
        await self.inbox.submit(replace(incoming, message_id=f"console:{uuid.uuid4().hex}"))

    async def tap(self, handle: Any, label: str) -> None:  # the terminal has no buttons
        raise AssertionError("the terminal shows no buttons")

    async def share_contact(self, phone: str) -> None:
        await self.send_text(phone)

    async def send_photo(self, data: bytes) -> None:
        raise AssertionError("the terminal cannot send a photo")


class ZaloOADriver:
    def __init__(self, zalo: Any, user: str = "zu1") -> None:
        self.zalo, self.user = zalo, user
        self.advance = zalo.advance

    def seen(self) -> list[Seen]:
        return [Seen(s.text, [(b.get("title", ""), b) for b in s.buttons if b.get("type") == "oa.query.show"])
                for s in self.zalo.sent_to(self.user) if s.text or s.buttons]

    async def send_text(self, text: str) -> None:
        status, _ = await self.zalo.user_sends_text(self.user, text)
        assert status == 200, status

    async def tap(self, handle: dict[str, Any], label: str) -> None:
        status, _ = await self.zalo.user_presses(self.user, handle)
        assert status == 200, status

    async def share_contact(self, phone: str) -> None:
        # Typed: the answer to the OA's request-info form (user_submit_info) has no Zalo message to reply
        # to, so it waits for the citizen's next message (see the report of this change).
        await self.send_text(phone)

    async def send_photo(self, data: bytes) -> None:
        status, _ = await self.zalo.user_sends_image(self.user, self.zalo.add_file(f"{uuid.uuid4().hex}.jpg", data))
        assert status == 200, status


class ZaloBotDriver:
    def __init__(self, api: Any, files: Any, user: str = "zb1") -> None:
        self.api, self.files, self.user = api, files, user

    def seen(self) -> list[Seen]:
        return [Seen(s.text) for s in self.api.sent_to(self.user) if s.text]

    async def send_text(self, text: str) -> None:
        status, _ = await self.api.user_sends(self.user, text)
        assert status == 200, status

    async def tap(self, handle: Any, label: str) -> None:  # the Bot Platform has no buttons
        raise AssertionError("Zalo Bot shows no buttons")

    async def share_contact(self, phone: str) -> None:
        await self.send_text(phone)

    async def send_photo(self, data: bytes) -> None:
        status, _ = await self.api.user_sends_photo(self.user, self.files.add_file(f"{uuid.uuid4().hex}.jpg", data))
        assert status == 200, status


class MessengerDriver:
    def __init__(self, api: Any, hook: Any, user: str = "7001000000000042") -> None:
        self.api, self.hook, self.user = api, hook, user

    def seen(self) -> list[Seen]:
        return [Seen(m.text, [(q.get("title", ""), ("qr", q)) for q in m.quick_replies if q.get("payload")]
                     + [(b.get("title", ""), ("pb", b)) for b in m.buttons if b.get("type") == "postback"])
                for m in self.api.sent_to(self.user)]

    async def _deliver(self, event: dict[str, Any]) -> None:
        assert await self.hook.deliver(event) == [200]

    async def send_text(self, text: str) -> None:
        await self._deliver(self.hook.text(self.user, text))

    async def tap(self, handle: tuple[str, dict[str, Any]], label: str) -> None:
        kind, b = handle
        event = (self.hook.quick_reply(self.user, b["title"], b["payload"]) if kind == "qr"
                 else self.hook.postback(self.user, b["payload"], b["title"]))
        await self._deliver(event)

    async def get_started(self) -> None:
        await self._deliver(self.hook.get_started(self.user))

    async def share_contact(self, phone: str) -> None:
        await self._deliver(self.hook.phone_quick_reply(self.user, phone))

    async def send_photo(self, data: bytes) -> None:
        await self._deliver(self.hook.attachment(self.user, "image", self.api.add_file(f"{uuid.uuid4().hex}.jpg", data)))


_TAGS = re.compile(r"<[^>]+>")


class WebDriver:
    def __init__(self, client: TestClient, session: dict[str, Any], origin: str) -> None:
        self.client, self.token, self.origin = client, session["token"], origin
        self.messages: list[dict[str, Any]] = []

    def _headers(self) -> dict[str, str]:
        return {"Origin": self.origin, "X-Webchat-Token": self.token}

    async def refresh(self) -> None:
        r = await self.client.get("/webchat/api/history", headers=self._headers())
        assert r.status == 200, await r.text()
        self.messages = [m for m in (await r.json())["messages"] if m.get("dir") == "out"]

    def seen(self) -> list[Seen]:
        out = []
        for m in self.messages:
            text = html.unescape(_TAGS.sub("", (m.get("html") or "").replace("<br>", "\n").replace("</p>", "\n")))
            if m.get("contact"):
                text += f"\n{m['contact']['name']}: {m['contact']['phone']}"
            out.append(Seen(text.strip(), [(b["label"], b) for row in m.get("buttons", []) for b in row
                                           if "payload" in b]))
        return out

    async def _post(self, body: dict[str, Any]) -> None:
        r = await self.client.post("/webchat/api/messages", json={"id": uuid.uuid4().hex, **body},
                                   headers=self._headers())
        assert r.status in (200, 202), await r.text()

    async def send_text(self, text: str) -> None:
        await self._post({"text": text})

    async def tap(self, handle: dict[str, Any], label: str) -> None:
        await self._post({"payload": handle["payload"], "label": label})

    async def share_contact(self, phone: str) -> None:
        await self.send_text(phone)

    async def send_photo(self, data: bytes) -> None:
        from aiohttp import FormData

        form = FormData()
        form.add_field("id", uuid.uuid4().hex)
        form.add_field("file", data, filename="anh.jpg", content_type="image/jpeg")
        r = await self.client.post("/webchat/api/upload", data=form, headers=self._headers())
        assert r.status in (200, 202), await r.text()


class _Refreshing(Citizen):
    """The web chat: what arrived is read back from the visitor's history after each turn."""

    async def _act(self, action: Any, turns: int = 1, timeout: float = 10.0) -> list[Seen]:
        await self.driver.refresh()
        before, done = len(self.driver.seen()), self._turns
        await action
        async with asyncio.timeout(timeout):
            while self._turns < done + turns:
                self._changed.clear()
                await self._changed.wait()
        await self.driver.refresh()
        self.last = self.driver.seen()[before:]
        return self.last

    async def wait_for(self, needle: str, timeout: float = 10.0) -> str:
        async with asyncio.timeout(timeout):
            while True:
                await self.driver.refresh()
                texts = [s.text for s in self.driver.seen()]
                if any(needle in t for t in texts):
                    return next(t for t in texts if needle in t)
                await asyncio.sleep(0.05)


# -- assembly -------------------------------------------------------------------------------------------
async def _serve(stack: AsyncExitStack, bot: Any) -> TestClient:
    client = TestClient(TestServer(bot.web_app()))
    await client.start_server()
    stack.push_async_callback(client.close)
    return client


@asynccontextmanager
async def citizen_on(name: str, engine: Any, pack: Any, **env: str) -> AsyncIterator[Citizen]:
    """A bot with only channel ``name`` wired as `cchc-bot run` wires it (bot/app.py), against its fake,
    with the inbox running; yields the citizen."""
    from bot import app as wiring

    clock = Clock()
    after_start: Any = None
    async with AsyncExitStack() as stack:
        async def make_bot(extra: dict[str, str], **settings: Any) -> Any:
            bot = await wiring.build_bot(make_settings(extra={**make_settings().extra, **extra, **env}, **settings),
                                         pack=pack, engine=engine, migrate=False)
            bot.services.clock = clock
            bot.services.outbox.clock = clock
            return bot

        if name == "telegram":
            from tests.fakes.telegram_api import FakeTelegramAPI

            api = await stack.enter_async_context(FakeTelegramAPI(token="123:ABC"))
            bot = await make_bot({}, telegram_token="123:ABC", telegram_api_base_url=api.base_url)
            wiring.add_telegram(bot, api_base_file_url=api.base_file_url, polling_timeout=10, read_timeout=3,
                                connect_timeout=2, write_timeout=3, **FAST)
            driver: Any = TelegramDriver(api)
        elif name == "console":
            bot = await make_bot({})
            inbox = wiring.use_inbox(bot)
            driver = ConsoleDriver(wiring.add_console(bot, user_id="c1", stdin=StringIO(), stdout=StringIO()), inbox)
        elif name == "zalo_oa":
            from tests.fakes.zalo_oa_api import FakeZaloOA

            zalo = await stack.enter_async_context(FakeZaloOA())
            bot = await make_bot({"ZALO_OA_APP_ID": zalo.app_id, "ZALO_OA_SECRET_KEY": zalo.secret_key,
                                  "ZALO_OA_APP_SECRET": zalo.app_secret, "ZALO_OA_ACCESS_TOKEN": zalo.access_token,
                                  "ZALO_OA_REFRESH_TOKEN": zalo.refresh_token, "ZALO_OA_API_BASE_URL": zalo.base_url,
                                  "ZALO_OAUTH_BASE_URL": zalo.base_url})
            wiring.add_zalo_oa(bot, clock=zalo.now, **FAST)
            client = await _serve(stack, bot)
            zalo.webhook_url = str(client.make_url("/zalo/oa/webhook"))
            driver = ZaloOADriver(zalo)
        elif name == "zalo_bot":
            from tests.fakes.zalo_bot_api import FakeZaloBotAPI
            from tests.fakes.zalo_oa_api import FakeZaloOA

            api = await stack.enter_async_context(FakeZaloBotAPI())
            files = await stack.enter_async_context(FakeZaloOA())  # serves the photos' URLs
            bot = await make_bot({"ZALO_BOT_TOKEN": api.token, "ZALO_BOT_API_BASE_URL": api.base_url,
                                  "ZALO_BOT_WEBHOOK_URL": "https://bot.example.gov.vn/zalo/bot/webhook",
                                  "ZALO_BOT_WEBHOOK_SECRET": "webhook-secret-123"})
            wiring.add_zalo_bot(bot, **FAST)
            client = await _serve(stack, bot)
            driver = ZaloBotDriver(api, files)

            def after_start(api: Any = api, client: TestClient = client) -> None:  # setWebhook told the fake the public URL
                api.webhook_url = str(client.make_url("/zalo/bot/webhook"))
        elif name == "messenger":
            from tests.fakes.messenger_api import FakeGraphAPI, MetaWebhook

            api = await stack.enter_async_context(FakeGraphAPI())
            bot = await make_bot({"MESSENGER_PAGE_ACCESS_TOKEN": api.page_access_token,
                                  "MESSENGER_APP_SECRET": api.app_secret, "MESSENGER_VERIFY_TOKEN": "verify-me",
                                  "MESSENGER_GRAPH_BASE_URL": api.base_url})
            wiring.add_messenger(bot, download_hosts=("127.0.0.1",), timeout=5.0, **FAST)
            client = await _serve(stack, bot)
            hook = MetaWebhook(str(client.make_url("/webhooks/messenger")), app_secret=api.app_secret, api=api)
            driver = MessengerDriver(api, hook)
        elif name == "web":
            from tests.web.helpers import ENV, PORTAL, open_session

            bot = await make_bot(dict(ENV))
            wiring.add_web_chat(bot)
            client = await _serve(stack, bot)
            driver = WebDriver(client, await open_session(client), PORTAL)
        else:
            raise ValueError(f"unknown channel {name!r}")

        inbox = wiring.use_inbox(bot)
        inbox.clock = clock
        inbox.poll_interval = 0.05
        for channel in bot.channels:
            await channel.start()
            stack.push_async_callback(channel.stop)
        if after_start is not None:
            after_start()
        runner = asyncio.create_task(inbox.run())

        async def stop_runner() -> None:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)

        stack.push_async_callback(stop_runner)
        citizen = (_Refreshing if name == "web" else Citizen)(name, bot, driver, clock)
        yield citizen
