"""TelegramChannel (python-telegram-bot's Bot) against the fake Bot API, on the production path: every update
stored in the durable inbox, the turns run from it and the replies sent back through the adapter
(tests/fakes/telegram_harness.py). `Echo` scripts the replies, so these tests are about what Telegram shows."""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time

import pytest
from aiohttp import web
from sqlalchemy import select

from core.channel import Blocked, Channel, PermanentError, RateLimited, TransientError
from channels.telegram import TelegramChannel
from core.storage.models import InboxEvent
from core.types import Button, ButtonKind, ContactCard, Incoming, Reply
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.telegram_harness import scripted_telegram, telegram_harness

pytestmark = pytest.mark.timeout(20)
U = 4242  # a user id


class Echo:
    """The replies of a turn, scripted: records Incoming (as the inbox hands it to the core), answers from a
    small script, echoes the rest."""

    def __init__(self) -> None:
        self.seen: list[Incoming] = []
        self.script: dict[str, list[Reply]] = {}

    async def __call__(self, incoming: Incoming) -> list[Reply]:
        self.seen.append(incoming)
        key = incoming.payload or incoming.command or incoming.text
        if key in self.script:
            return self.script[key]
        if incoming.command == "start":
            return [Reply(text="**Xin chào!** Tôi có thể giúp gì?",
                          buttons=[[Button("Hỏi đáp", "m:faq"), Button("Phản ánh", "m:fb")],
                                   [Button("Cổng DVC", kind=ButtonKind.URL, url="https://dichvucong.gov.vn")],
                                   [Button("Tổng đài", kind=ButtonKind.PHONE, phone="1900 1234")]])]
        if incoming.payload:
            return [Reply(text=f"Bạn chọn {incoming.payload}", notice="Đã nhận", edit=True)]
        return [Reply(text=f"echo: {incoming.text}")]


@pytest.mark.asyncio
async def test_start_replies_with_buttons_and_commands_registered() -> None:
    echo = Echo()
    async with scripted_telegram(echo, commands=[("start", "Bắt đầu"), ("help", "Trợ giúp")]) as h:
        assert isinstance(h.channel, Channel)
        msgs = await h.say(U, "/start")
        assert len(msgs) == 1
        m = msgs[0]
        assert m.parse_mode == "HTML" and m.text.startswith("<b>Xin chào!</b>")
        assert m.callback_data == ["m:faq", "m:fb"]
        assert m.inline_keyboard[1] == [{"text": "Cổng DVC", "url": "https://dichvucong.gov.vn"}]
        assert "Tổng đài: 1900 1234" in m.plain  # phone buttons (tel: is not allowed) become text
        assert echo.seen[0].command == "start" and echo.seen[0].user_id == str(U)
        assert echo.seen[0].channel == "telegram" and echo.seen[0].display_name == "An"
        assert h.api.commands == [{"command": "start", "description": "Bắt đầu"},
                                  {"command": "help", "description": "Trợ giúp"}]


@pytest.mark.asyncio
async def test_button_press_payload_answer_and_edit() -> None:
    echo = Echo()
    async with scripted_telegram(echo) as h:
        first = (await h.say(U, "/start"))[0]
        msgs = await h.press(U, "m:faq")
        assert echo.seen[-1].payload == "m:faq"
        # the inbox's event id: the update, the callback query to answer and the message to edit
        assert re.fullmatch(rf"u\d+\|cb:\d+:{first.message_id}", echo.seen[-1].message_id)
        assert h.last_notice == "Đã nhận"
        assert [m.method for m in msgs] == ["editMessageText"]
        assert msgs[0].message_id == first.message_id and msgs[0].plain == "Bạn chọn m:faq"
        assert len(h.api.callback_answers) == 1


@pytest.mark.asyncio
async def test_edit_falls_back_to_new_message() -> None:
    echo = Echo()
    async with scripted_telegram(echo) as h:
        first = (await h.say(U, "/start"))[0]
        update = h.api.user_presses(U, "m:faq")
        h.api._state.pop((str(U), first.message_id))  # the message was deleted meanwhile
        msgs = await h.after(update)
        assert [m.method for m in msgs] == ["sendMessage"] and msgs[0].plain == "Bạn chọn m:faq"
        assert h.api.calls("editMessageText")[0].status == 400
        h.api.bad_requests.clear()


@pytest.mark.asyncio
async def test_press_without_notice_answers_empty() -> None:
    echo = Echo()
    echo.script["m:faq"] = [Reply(text="Danh mục hỏi đáp")]
    async with scripted_telegram(echo) as h:
        await h.say(U, "/start")
        msgs = await h.press(U, "m:faq")
        assert h.last_notice == "" and [m.method for m in msgs] == ["sendMessage"]


@pytest.mark.asyncio
async def test_long_reply_is_split_with_buttons_on_last_part() -> None:
    echo = Echo()
    long = "\n\n".join(f"**Mục {i}.** " + "thủ tục hành chính " * 30 for i in range(30))
    echo.script["dài"] = [Reply(text=long, buttons=[[Button("Tiếp", "m:next")]])]
    async with scripted_telegram(echo) as h:
        msgs = await h.say(U, "dài")
        assert len(msgs) >= 4
        assert all(len(m.plain) <= 4096 for m in msgs)
        assert [bool(m.callback_data) for m in msgs] == [False] * (len(msgs) - 1) + [True]
        assert "".join("".join(m.plain for m in msgs).split()) == "".join(long.replace("**", "").split())


@pytest.mark.asyncio
async def test_html_special_characters_escaped_and_accepted() -> None:
    echo = Echo()
    nasty = '<script>alert("x")</script> & AT&T &amp; 1<2>0 \'q\' [link](https://e.vn/?a=1&b="2") **đậm <i>**'
    echo.script["html"] = [Reply(text=nasty)]
    async with scripted_telegram(echo) as h:  # strict: any 400 from the fake fails the test
        (m,) = await h.say(U, "html")
        assert m.plain == '<script>alert("x")</script> & AT&T &amp; 1<2>0 \'q\' link đậm <i>'
        assert '<a href="https://e.vn/?a=1&amp;b=&quot;2&quot;">link</a>' in m.text
        assert not h.api.bad_requests


@pytest.mark.asyncio
async def test_retry_after_is_honoured() -> None:
    echo = Echo()
    async with scripted_telegram(echo) as h:
        h.api.fail_next("sendMessage", 429, retry_after=0.4)
        t0 = time.monotonic()
        msgs = await h.say(U, "xin chào")
        assert [m.plain for m in msgs] == ["echo: xin chào"]
        calls = h.api.calls("sendMessage")
        assert [c.status for c in calls] == [429, 200]
        assert calls[1].time - calls[0].time >= 0.4
        assert time.monotonic() - t0 < 3


@pytest.mark.asyncio
async def test_transient_errors_and_client_timeout_are_retried() -> None:
    echo = Echo()
    async with scripted_telegram(echo, read_timeout=0.3) as h:
        h.api.fail_next("sendMessage", 500)
        h.api.delay_next("sendMessage", 1.0)  # the client times out after 0.3 s
        msgs = await h.say(U, "một")
        assert [m.plain for m in msgs] == ["echo: một"]
        statuses = [c.status for c in h.api.calls("sendMessage")]
        assert len(statuses) == 3 and statuses[0] == 500 and statuses[2] == 200  # [1] timed out client-side


@pytest.mark.asyncio
async def test_blocked_user_raises_and_calls_on_blocked() -> None:
    blocked: list[tuple[str, str]] = []

    async def on_blocked(channel: str, user_id: str) -> None:
        blocked.append((channel, user_id))

    echo = Echo()
    async with scripted_telegram(echo, on_blocked=on_blocked) as h:
        h.api.block(77)
        with pytest.raises(Blocked):
            await h.channel.send("77", [Reply(text="Thông báo")])
        assert blocked == [("telegram", "77")]
        assert len(h.api.calls("sendMessage")) == 1  # never retried
        # an interactive reply to a blocked user: no exception escapes, callback fires
        h.api.block(U)
        assert await h.say(U, "hi") == []
        assert blocked[-1] == ("telegram", str(U))
        # Telegram's my_chat_member "kicked" update also reports the block
        await h.after(h.api.user_blocks_bot(88))
        assert blocked[-1] == ("telegram", "88")


@pytest.mark.asyncio
async def test_proactive_send_without_retry_raises_typed_errors() -> None:
    async with scripted_telegram(Echo()) as h:
        api, ch = h.api, h.channel
        api.fail_next("sendMessage", 429, retry_after=7)
        with pytest.raises(RateLimited) as ra:
            await ch.send("5", [Reply(text="x")], retry=False)
        assert ra.value.retry_after == 7
        api.fail_next("sendMessage", 502)
        with pytest.raises(TransientError):
            await ch.send("5", [Reply(text="x")], retry=False)
        api.fail_next("sendMessage", 400, description="Bad Request: chat not found")
        with pytest.raises(Blocked):
            await ch.send("5", [Reply(text="x")], retry=False)
        api.fail_next("sendMessage", 400)
        with pytest.raises(PermanentError):
            await ch.send("5", [Reply(text="x")], retry=True)
        assert len(api.calls("sendMessage")) == 4  # permanent errors are not retried
        api.fail_next("sendMessage", 500, times=10)
        with pytest.raises(TransientError):
            await ch.send("5", [Reply(text="x")], retry=True)  # bounded attempts
        assert len(api.calls("sendMessage")) == 4 + 4
        api.clear_faults()
        await ch.send("5", [Reply(text="Thông báo **mới**", buttons=[[Button("Xem", "b:1")]])])
        assert api.sent_to(5)[-1].plain == "Thông báo mới"


@pytest.mark.asyncio
async def test_media_contact_location_become_incoming() -> None:
    echo = Echo()
    async with scripted_telegram(echo) as h:
        await h.send_photo(U, "ảnh hồ sơ")
        await h.after(h.api.user_sends_document(U, "don.pdf"))
        await h.after(h.api.user_sends_sticker(U))
        await h.share_contact(U, "84912345678")
        await h.after(h.api.user_shares_contact(U, "84900000000", own=False))
        await h.send_location(U, 21.0285, 105.8542)
        photo, doc, sticker, contact, other_contact, loc = echo.seen
        assert photo.attachments[0].kind == "photo" and photo.text == "ảnh hồ sơ" and photo.attachments[0].file_id
        assert doc.attachments[0].kind == "document" and doc.attachments[0].file_name == "don.pdf"
        assert doc.attachments[0].mime_type == "application/pdf"
        assert sticker.attachments[0].kind == "sticker" and sticker.text == ""
        assert contact.contact_phone == "84912345678" and not contact.attachments
        assert other_contact.contact_phone == ""  # someone else's card is not the user's phone
        assert loc.location is not None and loc.location.latitude == pytest.approx(21.0285)


@pytest.mark.asyncio
async def test_contact_card_image_and_request_contact_keyboard() -> None:
    echo = Echo()
    echo.script["sdt"] = [Reply(text="Cho tôi xin số điện thoại", request_contact_label="📱 Gửi số điện thoại")]
    echo.script["lh"] = [Reply(text="Liên hệ:", image_url="https://e.vn/a.png",
                               contact=ContactCard(phone="1900 1234", name="Tổng đài CCHC", note="8h-17h"),
                               buttons=[[Button("Menu", "m:menu")]])]
    async with scripted_telegram(echo) as h:
        (m,) = await h.say(U, "sdt")
        assert m.keyboard == [[{"text": "📱 Gửi số điện thoại", "request_contact": True}]]
        assert m.reply_markup["one_time_keyboard"] is True
        msgs = await h.say(U, "lh")
        assert [x.method for x in msgs] == ["sendPhoto", "sendMessage", "sendContact"]
        assert msgs[0].photo == "https://e.vn/a.png"
        assert msgs[0].removes_keyboard  # the contact keyboard is removed by the next reply
        assert msgs[1].plain == "Liên hệ:\n\n8h-17h"
        assert msgs[2].contact == {"phone_number": "1900 1234", "first_name": "Tổng đài CCHC"}
        assert msgs[2].callback_data == ["m:menu"]
        (m,) = await h.say(U, "sau đó")
        assert not m.removes_keyboard  # only once


@pytest.mark.asyncio
async def test_handler_exception_gives_polite_reply_and_one_log_line(bot_sqlite, pack,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    async def broken(ctx) -> list[Reply]:
        raise RuntimeError("boom with 0912345678")

    bot_sqlite.core.router.text(broken, order=-1)  # a feature that fails on this text
    caplog.set_level(logging.DEBUG, logger="channels.telegram")
    caplog.set_level(logging.DEBUG, logger="core.inbox")
    async with telegram_harness(bot_sqlite) as h:
        (m,) = await h.say(U, "số tôi là 0912345678")
        assert m.plain == pack.texts.render("errors/internal")  # the pack's polite words, once
        (m,) = await h.say(U, "/start")  # the next message is answered as usual
        assert "Xin chào" in m.plain
    async with bot_sqlite.services.store.sessions() as s:
        statuses = (await s.execute(select(InboxEvent.status).order_by(InboxEvent.id))).scalars().all()
    assert statuses == ["parked", "done"]  # the failed turn is kept aside, not run again and again
    ours = [r for r in caplog.records if r.name.startswith(("channels.", "core.inbox", "bot."))]
    assert ours and all("0912345678" not in r.getMessage() for r in ours)
    assert all(not r.exc_info for r in ours if r.levelno >= logging.WARNING)
    assert not [r for r in caplog.records if r.name.startswith("telegram") and r.levelno >= logging.ERROR]


@pytest.mark.asyncio
async def test_per_user_order_kept_while_users_run_concurrently() -> None:
    """The inbox runs one user's events one at a time in arrival order, different users in parallel."""
    async def slow(incoming: Incoming) -> list[Reply]:
        if incoming.text.startswith("chậm"):
            await asyncio.sleep(0.5)
        elif incoming.text.startswith("a"):
            await asyncio.sleep(0.05 * (5 - int(incoming.text[1:])))
        return [Reply(text=f"re {incoming.text}")]

    async with scripted_telegram(slow) as h:
        for i in range(5):
            h.api.user_sends(1, f"a{i}")
        h.api.user_sends(2, "chậm")
        h.api.user_sends(3, "nhanh")
        await h.api.wait_for(3, 1)
        assert h.api.sent_to(2) == []  # user 3 was not stuck behind user 2
        msgs = await h.api.wait_for(1, 5)
        assert [m.plain for m in msgs] == [f"re a{i}" for i in range(5)]
        await h.api.wait_for(2, 1)


# -- webhook mode ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_webhook_secret_and_processing() -> None:
    echo = Echo()
    async with scripted_telegram(echo, webhook_url="https://bot.example.vn/telegram/webhook",
                                 webhook_secret="s3cret_TOKEN-1") as h:
        api, url = h.api, h.webhook
        assert api.webhook["url"] == "https://bot.example.vn/telegram/webhook"
        assert api.webhook["secret_token"] == "s3cret_TOKEN-1"
        assert h.channel.application.updater is None
        update = api.make_text(U, "qua webhook")
        assert (await api.post_to_webhook(update, url, secret="wrong"))[0] == 403
        assert (await api.post_to_webhook(update, url, secret=None))[0] == 403
        assert (await api.post_to_webhook(update, url, raw=b"{not json"))[0] == 400
        assert (await api.post_to_webhook({"no": "update_id"}, url))[0] == 400
        assert await h.inbox.pending() == 0 and echo.seen == []  # nothing refused was stored
        t0 = time.monotonic()
        assert (await api.post_to_webhook(update, url))[0] == 200  # registered secret by default
        assert time.monotonic() - t0 < 1
        await h.after(update)
        assert [m.plain for m in api.sent_to(U)] == ["echo: qua webhook"]
        assert (await api.post_to_webhook(update, url))[0] == 200  # re-delivery: stored once, handled once
        press = api.make_press(U, "m:faq", check=False)
        assert (await api.post_to_webhook(press, url))[0] == 200
        await h.after(press)
        assert len(api.callback_answers) == 1 and len(api.sent_to(U)) == 2
        assert [i.text or i.payload for i in echo.seen] == ["qua webhook", "m:faq"]
    assert api.webhook["url"]  # stop() keeps the webhook registered (rolling restarts lose nothing)


def test_plain_text_updates_read_from_json_as_ptb_reads_them() -> None:
    """The webhook's fast path (plain_text_incoming) gives PTB's Incoming, or None and leaves it to PTB."""
    import copy
    import dataclasses

    from telegram import Bot, Update

    from channels.telegram import plain_text_incoming, to_incoming

    api, bot = FakeTelegramAPI(), Bot("123:ABC")

    def ptb(data: dict) -> Incoming | None:
        try:
            incoming = to_incoming(Update.de_json(copy.deepcopy(data), bot))
        except Exception:  # noqa: BLE001 - the webhook answers 400
            return None
        return incoming and dataclasses.replace(incoming, message_id=f"u{data['update_id']}|{incoming.message_id}")

    text = api.make_text(U, "Xin chào")
    full = copy.deepcopy(text)
    full["message"]["from"].update(last_name="Nguyễn", username="an_ng", is_premium=True)
    command = api.make_text(U, "/start")
    command["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": 6}]
    fast = [text, full, command]
    for data in fast:
        assert plain_text_incoming(data) == ptb(data) and ptb(data) is not None
    unknown_key, group, no_name, bad_entity, float_id, bool_id, bad_date, photo, extra = (
        copy.deepcopy(text) for _ in range(9))
    unknown_key["message"]["forward_origin"] = {"type": "hidden_user", "date": 0, "sender_user_name": "X"}
    group["message"]["chat"].update(type="group", title="Nhóm")
    no_name["message"]["from"]["first_name"] = ""
    bad_entity["message"]["entities"] = [{"type": "bold", "offset": 0}]
    float_id["message"]["from"]["id"] = 1.5
    bool_id["message"]["message_id"] = True
    bad_date["message"]["date"] = 10**20
    photo["message"]["photo"] = [{"file_id": "f", "file_unique_id": "u", "width": 1, "height": 1}]
    extra["edited_message"] = extra["message"]
    for data in (unknown_key, group, no_name, bad_entity, float_id, bool_id, bad_date, photo, extra,
                 api.make_press(U, "m:faq", check=False), api.make_block(U), {"update_id": 1, "message": "x"}):
        assert plain_text_incoming(data) is None  # PTB decides (and parses these its own way)


@pytest.mark.asyncio
async def test_webhook_without_secret_rejects_any_header() -> None:
    async with scripted_telegram(Echo(), webhook_url="https://bot.example.vn/tg") as h:
        api, url = h.api, h.webhook
        update = api.make_text(U, "x")
        assert (await api.post_to_webhook(update, url, secret="anything"))[0] == 403
        assert (await api.post_to_webhook(update, url, secret=None))[0] == 200
        await h.after(update)
        assert [m.plain for m in api.sent_to(U)] == ["echo: x"]
        await h.channel.stop()
        later = api.make_text(U, "y")
        assert (await api.post_to_webhook(later, url, secret=None))[0] == 503  # stopped: Telegram retries later
        assert await h.inbox.pending() == 0


def test_invalid_secret_rejected_at_construction() -> None:
    with pytest.raises(ValueError):
        TelegramChannel("123:ABC", submit=Echo(), webhook_url="https://x", webhook_secret="has space")


def test_update_json_roundtrip_helper() -> None:
    api = FakeTelegramAPI()
    upd = api.make_text(1, "/start abc")
    assert json.loads(json.dumps(upd))["message"]["entities"][0]["length"] == 6


# -- core.channel -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_retry_call_backoff_and_retry_after() -> None:
    from core.channel import retry_call

    sleeps: list[float] = []

    async def fake_sleep(d: float) -> None:
        sleeps.append(d)

    errors: list[Exception] = [TransientError("t"), RateLimited(3), TransientError("t")]

    async def call() -> str:
        if errors:
            raise errors.pop(0)
        return "ok"

    assert await retry_call(call, max_attempts=4, base_delay=1, sleep=fake_sleep, rng=lambda: 1.0) == "ok"
    assert sleeps == [1.0, pytest.approx(3.3), 4.0]  # full jitter upper bounds, retry_after + 10 %

    async def always() -> None:
        raise TransientError("t")

    with pytest.raises(TransientError):
        await retry_call(always, max_attempts=3, sleep=fake_sleep)

    async def long_wait() -> None:
        raise RateLimited(3600)

    with pytest.raises(RateLimited):
        await retry_call(long_wait, max_retry_after=60, sleep=fake_sleep)

    calls = 0

    async def blocked() -> None:
        nonlocal calls
        calls += 1
        raise Blocked("x")

    with pytest.raises(Blocked):
        await retry_call(blocked, sleep=fake_sleep)
    assert calls == 1


def test_fallback_text() -> None:
    from core.channel import fallback_options, fallback_text

    reply = Reply(
        text="Chọn thủ tục:",
        buttons=[[Button("Khai sinh", "p:1"), Button("Kết hôn", "p:2")],
                 [Button("Cổng DVC", kind=ButtonKind.URL, url="https://dichvucong.gov.vn")],
                 [Button("Tổng đài", kind=ButtonKind.PHONE, phone="1900 1234")]],
        contact=ContactCard(phone="024 1234 5678", name="Một cửa phường"),
    )
    assert fallback_text(reply) == (
        "Chọn thủ tục:\n\n1. Khai sinh\n2. Kết hôn\n\nCổng DVC: https://dichvucong.gov.vn\n"
        "Tổng đài: 1900 1234\nMột cửa phường: 024 1234 5678"
    )
    assert [b.payload for b in fallback_options(reply)] == ["p:1", "p:2"]
    assert fallback_text(Reply(text="chỉ chữ")) == "chỉ chữ"


@pytest.mark.asyncio
async def test_edit_still_used_while_contact_keyboard_is_open() -> None:
    echo = Echo()
    echo.script["sdt"] = [Reply(text="Số điện thoại?", request_contact_label="Gửi số",
                                buttons=[[Button("Bỏ qua", "c:skip")]])]
    echo.script["c:skip"] = [Reply(text="Đã bỏ qua", edit=True), Reply(text="Menu chính")]
    async with scripted_telegram(echo) as h:
        msgs = await h.say(U, "sdt")
        assert [bool(m.callback_data) for m in msgs] == [True, False] and msgs[1].keyboard  # 2 markups: 2 messages
        msgs = await h.press(U, "c:skip")
        assert [m.method for m in msgs] == ["editMessageText", "sendMessage"]
        assert msgs[1].removes_keyboard


# -- send-only mode (bulletin workers) -------------------------------------------------------------


_RECEIVING = ("getUpdates", "setWebhook", "deleteWebhook", "setMyCommands", "deleteMyCommands")


@pytest.mark.asyncio
async def test_send_only_sends_and_never_polls_or_sets_a_webhook() -> None:
    async with FakeTelegramAPI("123:ABC") as api:
        api.user_sends(U, "tin nhắn cho bot chính")  # an update waiting for the main bot
        ch = TelegramChannel("123:ABC", receive_updates=False, api_base_url=api.base_url,
                             webhook_url="https://bot.example.vn/tg", commands=[("start", "Bắt đầu")])
        assert isinstance(ch, Channel) and ch.mode == "send-only" and ch.webhook_url is None
        app = web.Application()
        ch.register_routes(app)
        assert list(app.router.routes()) == []  # no webhook route in send-only mode
        with pytest.raises(RuntimeError):
            await ch.send("5", [Reply(text="x")])  # not started
        await ch.start()
        try:
            assert ch.running and ch.application.updater is None
            await ch.send("5", [Reply(text="Bản tin **số 1**", buttons=[[Button("Hủy", "bt:unsub")]]),
                                Reply(text="phần 2", image_url="https://e.vn/a.jpg")], retry=False)
            await ch.send("6", [Reply(text="x")])
            await asyncio.sleep(0.3)  # anything a background poller would do has had time to happen
        finally:
            await ch.stop()
        assert [m.plain for m in api.sent_to(5)] == ["Bản tin số 1", "", "phần 2"]
        assert [m.method for m in api.sent_to(5)] == ["sendMessage", "sendPhoto", "sendMessage"]
        assert len(api.sent_to(6)) == 1
        for method in _RECEIVING:
            assert api.calls(method) == [], method
        assert api.webhook == {} and api.commands == []
        assert api.pending_updates == 1  # the main bot's update is untouched
        assert not ch.running
        with pytest.raises(RuntimeError):
            await ch.send("5", [Reply(text="x")])


@pytest.mark.asyncio
async def test_send_only_workers_beside_a_polling_bot() -> None:
    """Two send-only workers share the token with the polling main bot: the bot keeps answering, no
    getUpdates conflict (409) ever happens, and the workers' messages all arrive."""
    echo = Echo()
    async with scripted_telegram(echo) as h:
        workers = [TelegramChannel(h.api.token, receive_updates=False, api_base_url=h.api.base_url)
                   for _ in range(2)]
        for w in workers:
            await w.start()
        try:
            sends = [workers[i % 2].send(str(7000 + i), [Reply(text=f"tin {i}")], retry=False) for i in range(20)]
            chat = asyncio.gather(*(h.say(U + i, f"câu hỏi {i}") for i in range(3)))
            await asyncio.gather(*sends)
            answers = await chat
        finally:
            for w in workers:
                await w.stop()
        assert [a[0].plain for a in answers] == [f"echo: câu hỏi {i}" for i in range(3)]
        assert all(len(h.api.sent_to(7000 + i)) == 1 for i in range(20))
        # a second poller would make the fake answer 409 "terminated by other getUpdates request"
        assert not [r for r in h.api.requests if r.status == 409]
        assert h.api.calls("setWebhook") == []  # (deleteWebhook: the polling bot calls it at start)
        assert len(echo.seen) == 3


def test_submit_required_unless_send_only() -> None:
    with pytest.raises(ValueError):
        TelegramChannel("123:ABC")
    assert TelegramChannel("123:ABC", receive_updates=False).mode == "send-only"
    assert TelegramChannel("123:ABC", submit=Echo()).mode == "polling"


# -- paid broadcast and partial delivery -------------------------------------------------------------


@pytest.mark.asyncio
async def test_paid_broadcast_flag_on_every_message_only_when_asked() -> None:
    async with FakeTelegramAPI("123:ABC") as api:
        ch = TelegramChannel("123:ABC", receive_updates=False, api_base_url=api.base_url)
        await ch.start()
        try:
            replies = [Reply(text="phần 1", image_url="https://e.vn/a.jpg"),
                       Reply(text="phần 2", buttons=[[Button("Hủy", "bt:unsub")]])]
            await ch.send("5", replies, retry=False, paid_broadcast=True)
            await ch.send("6", replies, retry=False)
        finally:
            await ch.stop()
        paid, normal = api.sent_to(5), api.sent_to(6)
        assert [m.method for m in paid] == ["sendPhoto", "sendMessage", "sendMessage"]
        assert all(m.paid_broadcast for m in paid)
        assert all(str(m.params["allow_paid_broadcast"]).lower() == "true" for m in paid)
        assert len(normal) == 3 and not any(m.paid_broadcast for m in normal)
        assert all("allow_paid_broadcast" not in m.params for m in normal)
        assert not api.bad_requests


@pytest.mark.asyncio
async def test_fake_gives_paid_broadcasts_their_own_flood_cap() -> None:
    async with FakeTelegramAPI("123:ABC") as api:
        api.flood_limit(5, paid_per_second=50)
        ch = TelegramChannel("123:ABC", receive_updates=False, api_base_url=api.base_url)
        await ch.start()
        try:
            await asyncio.gather(*(ch.send(str(100 + i), [Reply(text="x")], retry=False, paid_broadcast=True)
                                   for i in range(20)))
            assert api.flood_violations == 0
            results = await asyncio.gather(*(ch.send(str(200 + i), [Reply(text="x")], retry=False)
                                             for i in range(10)), return_exceptions=True)
            assert sum(isinstance(r, RateLimited) for r in results) == 5
        finally:
            await ch.stop()


@pytest.mark.asyncio
async def test_failure_part_way_reports_the_replies_delivered() -> None:
    async with FakeTelegramAPI("123:ABC") as api:
        ch = TelegramChannel("123:ABC", receive_updates=False, api_base_url=api.base_url)
        await ch.start()
        try:
            replies = [Reply(text="phần 1", image_url="https://e.vn/a.jpg"), Reply(text="phần 2"),
                       Reply(text="phần 3")]
            api.fail_next("sendMessage", 502, after=1)  # the second sendMessage (part 2) fails
            with pytest.raises(TransientError) as exc:
                await ch.send("5", replies, retry=False)
            assert exc.value.delivered == 1
            api.fail_next("sendPhoto", 429, retry_after=3)
            with pytest.raises(RateLimited) as limited:
                await ch.send("6", replies, retry=False)
            assert limited.value.delivered == 0
            api.block(7)
            with pytest.raises(Blocked) as blocked:
                await ch.send("7", replies, retry=False)
            assert blocked.value.delivered == 0
        finally:
            await ch.stop()
        assert [m.plain for m in api.sent_to(5)] == ["", "phần 1"]
