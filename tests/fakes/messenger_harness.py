"""One-line conversation tests on Messenger: the real MessengerChannel on a loopback aiohttp app, signed
webhook deliveries from :class:`MetaWebhook`, the fake Graph Send API.

    async with messenger_harness(bot.core.handle) as h:
        [welcome] = await h.start("psid1")            # the "Get started" button
        msgs = await h.say("psid1", "xin chào")        # -> list[SentMessage] sent for that input
        msgs = await h.press("psid1", "m:faq")         # taps the quick reply / postback button carrying it

``submit`` here runs the turn inline (``handle`` then ``channel.send``), so every reply has been sent when
the webhook POST returns: no sleeps. With ``strict=True`` (default) any Send API request the fake rejected
during a turn fails the test with Meta's error message.
"""
from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

from channels.messenger import MessengerChannel, MessengerSettings
from core.types import Incoming, Reply
from tests.fakes.messenger_api import FakeGraphAPI, MetaWebhook, SentMessage

__all__ = ["MessengerHarness", "messenger_harness"]

Handle = Callable[[Incoming], Awaitable[list[Reply]]]


class MessengerHarness:
    def __init__(self, api: FakeGraphAPI, channel: MessengerChannel, hook: MetaWebhook, *, strict: bool) -> None:
        self.api = api
        self.channel = channel
        self.hook = hook
        self.strict = strict
        self.incoming: list[Incoming] = []

    async def deliver(self, event: dict[str, Any]) -> list[SentMessage]:
        """Deliver one event (signed, as Meta does) and return what the bot sent to its sender."""
        psid = event["sender"]["id"]
        before, errors_before = len(self.api.sent_to(psid)), len(self.api.errors)
        statuses = await self.hook.deliver(event)
        if statuses != [200]:
            raise AssertionError(f"the webhook answered {statuses}")
        rejected = self.api.errors[errors_before:]
        if self.strict and rejected:
            raise AssertionError(f"the fake Send API rejected: {[r.error for r in rejected]}")
        return self.api.sent_to(psid)[before:]

    async def start(self, psid: str) -> list[SentMessage]:
        return await self.deliver(self.hook.get_started(psid))

    async def say(self, psid: str, text: str) -> list[SentMessage]:
        return await self.deliver(self.hook.text(psid, text))

    async def press(self, psid: str, payload: str, *, check: bool = True) -> list[SentMessage]:
        """Tap the button carrying ``payload`` on the latest message that has it (a quick reply or a
        template's postback button). ``check=False`` sends it even if no message offers it (an old button)."""
        for msg in reversed(self.api.sent_to(psid)):
            for q in msg.quick_replies:
                if q.get("payload") == payload:
                    return await self.deliver(self.hook.quick_reply(psid, q["title"], payload))
            for b in msg.buttons:
                if b.get("type") == "postback" and b.get("payload") == payload:
                    return await self.deliver(self.hook.postback(psid, payload, b["title"]))
        if check:
            raise AssertionError(f"no message to {psid} offers a button with payload {payload!r}")
        return await self.deliver(self.hook.postback(psid, payload))

    async def share_phone(self, psid: str, phone: str) -> list[SentMessage]:
        return await self.deliver(self.hook.phone_quick_reply(psid, phone))

    async def send_photo(self, psid: str, url: str = "https://scontent.xx.fbcdn.net/v/anh.jpg") -> list[SentMessage]:
        return await self.deliver(self.hook.attachment(psid, "image", url))

    async def send_location(self, psid: str, lat: float, long: float) -> list[SentMessage]:
        return await self.deliver(self.hook.location(psid, lat, long))


@asynccontextmanager
async def messenger_harness(handle: Handle, *, strict: bool = True, verify_token: str = "verify-harness",
                            **channel_kwargs: Any) -> AsyncIterator[MessengerHarness]:
    """Start the fake Graph API, a MessengerChannel whose routes live on a loopback aiohttp app, and a
    MetaWebhook pointed at it; stop everything on exit."""
    async with FakeGraphAPI() as api:
        harness: MessengerHarness | None = None

        async def submit(incoming: Incoming) -> None:
            assert harness is not None
            harness.incoming.append(incoming)
            replies = await handle(incoming)
            await harness.channel.send(incoming.user_id, replies)

        settings = MessengerSettings(page_access_token=api.page_access_token, app_secret=api.app_secret,
                                     verify_token=verify_token, graph_base_url=api.base_url)
        kwargs: dict[str, Any] = {"retry_base_delay": 0.01, "retry_max_delay": 0.05, "timeout": 5.0,
                                  "download_hosts": ("127.0.0.1",)}
        kwargs.update(channel_kwargs)
        channel = MessengerChannel(settings, submit, **kwargs)
        app = web.Application()
        channel.register_routes(app)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        hook = MetaWebhook(f"http://127.0.0.1:{port}{settings.webhook_path}", app_secret=api.app_secret, api=api)
        await channel.start()
        harness = MessengerHarness(api, channel, hook, strict=strict)
        try:
            yield harness
        finally:
            await channel.stop()
            await runner.cleanup()
