"""Messenger adapter against the fake Graph API and Meta-style webhook deliveries (loopback only)."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web

from channels.messenger import Action, MessageKind, MessengerChannel, MessengerSettings, build, decide
from channels.messenger.channel import render_reply, translate_error
from core.channel import (
    Blocked,
    Channel,
    OutsideWindow,
    PermanentError,
    RateLimited,
    TokenInvalid,
    TransientError,
)
from core.types import Attachment, Button, ButtonKind, ContactCard, Incoming, Location, Reply
from tests.fakes.messenger_api import FakeGraphAPI, MetaWebhook

VERIFY = "verify-me-0123"
PSID = "2400000000000001"


class Recorder:
    """The injected ``submit``: records every Incoming; can fail or block to test acknowledgement."""

    def __init__(self) -> None:
        self.items: list[Incoming] = []
        self.fail = 0
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    async def __call__(self, incoming: Incoming) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            self.fail -= 1
            raise RuntimeError("storage unavailable")
        self.items.append(incoming)


@dataclass
class Env:
    api: FakeGraphAPI
    channel: MessengerChannel
    hook: MetaWebhook
    submit: Recorder
    settings: MessengerSettings


async def _env(api: FakeGraphAPI, **kw: object) -> AsyncIterator[Env]:
    submit = Recorder()
    settings = MessengerSettings(page_access_token=api.page_access_token, app_secret=api.app_secret,
                                 verify_token=VERIFY, graph_base_url=api.base_url)
    options: dict[str, object] = {"retry_base_delay": 0.01, "retry_max_delay": 0.05, "rate_limit_retry_after": 0.05,
                                  "timeout": 3.0, "download_hosts": ("127.0.0.1",)}
    options.update(kw)
    channel = MessengerChannel(settings, submit, **options)  # type: ignore[arg-type]
    app = web.Application()
    channel.register_routes(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    hook = MetaWebhook(f"http://127.0.0.1:{port}{settings.webhook_path}", app_secret=api.app_secret, api=api)
    await channel.start()
    try:
        yield Env(api, channel, hook, submit, settings)
    finally:
        await channel.stop()
        await runner.cleanup()


@pytest.fixture
async def m() -> AsyncIterator[Env]:
    async with FakeGraphAPI(require_proof=True) as api:
        async for env in _env(api):
            yield env


# ---------------------------------------------------------------------------------------------
# set-up


async def test_channel_protocol_capabilities_and_get_started(m: Env) -> None:
    assert isinstance(m.channel, Channel)
    caps = m.channel.capabilities
    assert (caps.text_limit, caps.max_buttons, caps.button_label_limit, caps.can_edit) == (2000, 13, 20, False)
    assert m.api.profile == {"get_started": {"payload": "GET_STARTED"}}
    assert m.channel.ready_reason() == ""
    # every Graph call carried the page token and a valid appsecret_proof (require_proof=True)
    assert m.api.errors == []


async def test_build_returns_none_without_configuration_and_a_channel_with_it() -> None:
    async def submit(_: Incoming) -> None: ...

    assert build({}, submit) is None
    assert build({"OTHER": "x"}, submit) is None
    ch = build({"MESSENGER_PAGE_ACCESS_TOKEN": "EAAx", "MESSENGER_APP_SECRET": "abc",
                "MESSENGER_VERIFY_TOKEN": "v"}, submit)
    assert isinstance(ch, MessengerChannel) and ch.settings.webhook_path == "/webhooks/messenger"
    with pytest.raises(ValueError, match="MESSENGER_VERIFY_TOKEN"):
        build({"MESSENGER_PAGE_ACCESS_TOKEN": "EAAx", "MESSENGER_APP_SECRET": "abc"}, submit)


async def test_send_before_start_is_an_error() -> None:
    async def submit(_: Incoming) -> None: ...

    ch = MessengerChannel(MessengerSettings("t", "s", "v"), submit)
    with pytest.raises(RuntimeError):
        await ch.send(PSID, [Reply(text="x")])
    assert ch.ready_reason() == "messenger: not started"


# ---------------------------------------------------------------------------------------------
# verification and signatures


async def test_get_verification(m: Env) -> None:
    assert await m.hook.verify(token=VERIFY, challenge="1158201444") == (200, "1158201444")
    assert (await m.hook.verify(token="wrong", challenge="1"))[0] == 403
    assert (await m.hook.verify(token=VERIFY[:-1], challenge="1"))[0] == 403
    assert (await m.hook.verify(mode="unsubscribe", token=VERIFY, challenge="1"))[0] == 403
    assert (await m.hook.verify(token=VERIFY, challenge=""))[0] == 403


async def test_signed_post_is_accepted(m: Env) -> None:
    assert await m.hook.deliver(m.hook.text(PSID, "xin chào")) == [200]
    assert [i.text for i in m.submit.items] == ["xin chào"]


@pytest.mark.parametrize("how", ["wrong_secret", "tampered", "missing", "sha1", "empty", "truncated"])
async def test_bad_signatures_are_refused_and_nothing_handed_on(m: Env, how: str) -> None:
    event = m.hook.text(PSID, "xin chào")
    kwargs: dict[str, object] = {
        "wrong_secret": {"secret": "not-the-app-secret"},
        "tampered": {"tamper": lambda b: b.replace("xin chào".encode(), "tạm biệt".encode())},
        "missing": {"sign": False},
        "sha1": {"signature": "sha1=" + "0" * 40},
        "empty": {"signature": ""},
        "truncated": {"signature": m.hook.signature(m.hook.body([event]))[:-2]},
    }[how]
    assert await m.hook.deliver(event, **kwargs) == [401]  # type: ignore[arg-type]
    assert m.submit.items == []


async def test_signed_garbage_is_a_bad_request_and_other_objects_are_ignored(m: Env) -> None:
    body = b"{not json"
    assert await m.hook.post(body, {"X-Hub-Signature-256": m.hook.signature(body)}) == 400
    body = json.dumps({"object": "instagram", "entry": [{"messaging": [m.hook.text(PSID, "x")]}]}).encode()
    assert await m.hook.post(body, {"X-Hub-Signature-256": m.hook.signature(body)}) == 200
    assert m.submit.items == []


# ---------------------------------------------------------------------------------------------
# events -> Incoming


async def test_text_event(m: Env) -> None:
    event = m.hook.text(PSID, "Thủ tục cấp CCCD?")
    await m.hook.deliver(event)
    (inc,) = m.submit.items
    assert inc == Incoming(channel="messenger", user_id=PSID, text="Thủ tục cấp CCCD?",
                           message_id=event["message"]["mid"])


async def test_quick_reply_postback_and_get_started(m: Env) -> None:
    qr = m.hook.quick_reply(PSID, "1. Hỏi đáp…", "m:faq")
    pb = m.hook.postback(PSID, "fb:cat:3", "Giao thông")
    start = m.hook.get_started(PSID)
    await m.hook.deliver(qr, pb, start)
    a, b, c = m.submit.items
    assert (a.payload, a.text, a.message_id) == ("m:faq", "", qr["message"]["mid"])
    assert (b.payload, b.text, b.message_id) == ("fb:cat:3", "", pb["postback"]["mid"])
    assert (c.text, c.command, c.payload) == ("/start", "start", "")


async def test_postback_without_mid_gets_a_stable_id(m: Env) -> None:
    first = m.hook.postback(PSID, "m:faq", with_mid=False)
    second = m.hook.postback(PSID, "m:faq", with_mid=False)  # pressed again later: another event
    await m.hook.deliver(first, repeat=2)
    await m.hook.deliver(second)
    ids = [i.message_id for i in m.submit.items]
    assert ids[0] == ids[1] and ids[0].startswith("pb:") and ids[2] != ids[0]


async def test_phone_number_quick_reply_is_the_persons_own_number(m: Env) -> None:
    await m.hook.deliver(m.hook.phone_quick_reply(PSID, "+84 905 123 456"))
    (inc,) = m.submit.items
    assert (inc.contact_phone, inc.payload, inc.text) == ("+84 905 123 456", "", "")


async def test_attachments_and_location(m: Env) -> None:
    img = m.hook.attachment(PSID, "image", "https://scontent.xx.fbcdn.net/v/t1/anh.jpg?oh=1", text="ảnh hồ sơ")
    doc = m.hook.attachment(PSID, "file", "https://cdn.fbsbx.com/v/t59/don-de-nghi.pdf?x=1")
    vid = m.hook.attachment(PSID, "video", "https://video.xx.fbcdn.net/v/clip.mp4")
    sticker = m.hook.message(PSID, sticker_id=369239263222822,
                             attachments=[{"type": "image", "payload": {"url": "https://x.fbcdn.net/s.png",
                                                                        "sticker_id": 369239263222822}}])
    link = m.hook.message(PSID, attachments=[{"type": "fallback", "payload": {"url": "https://vnexpress.net"}}])
    loc = m.hook.location(PSID, 15.8801, 108.338)
    await m.hook.deliver(img, doc, vid, sticker, link, loc)
    a, b, c, d, e, f = m.submit.items
    assert a.text == "ảnh hồ sơ"
    assert a.attachments == (Attachment("photo", "https://scontent.xx.fbcdn.net/v/t1/anh.jpg?oh=1", "anh.jpg",
                                        "image/*"),)
    assert b.attachments[0].kind == "document" and b.attachments[0].file_name == "don-de-nghi.pdf"
    assert c.attachments[0].kind == "video"
    assert d.attachments[0].kind == "sticker"
    assert e.attachments == (Attachment("other"),)
    assert f.location == Location(15.8801, 108.338) and f.attachments == ()


async def test_echoes_reads_and_deliveries_are_not_handed_on(m: Env) -> None:
    assert await m.hook.deliver(m.hook.echo(PSID, "bot said"), m.hook.read(PSID), m.hook.delivery(PSID)) == [200]
    assert m.submit.items == []


@pytest.mark.parametrize("per_entry", [1, 3])
async def test_a_batch_is_handed_on_in_order(m: Env, per_entry: int) -> None:
    events = [m.hook.text("u1", "một"), m.hook.text("u2", "hai"), m.hook.echo("u1", "x"), m.hook.text("u1", "ba")]
    assert await m.hook.deliver(*events, per_entry=per_entry) == [200]
    assert [(i.user_id, i.text) for i in m.submit.items] == [("u1", "một"), ("u2", "hai"), ("u1", "ba")]


async def test_repeated_delivery_passes_the_same_message_id(m: Env) -> None:
    event = m.hook.text(PSID, "xin chào")
    assert await m.hook.deliver(event, repeat=3) == [200, 200, 200]
    assert len(m.submit.items) == 3  # the adapter keeps no dedup state: the core drops repeats by id
    assert {i.message_id for i in m.submit.items} == {event["message"]["mid"]}


async def test_submit_is_awaited_before_the_200(m: Env) -> None:
    m.submit.gate = asyncio.Event()
    task = asyncio.create_task(m.hook.deliver(m.hook.text(PSID, "chờ")))
    await asyncio.wait_for(m.submit.entered.wait(), 5)
    await asyncio.sleep(0.05)
    assert not task.done()  # Meta has no answer while the core has not stored the event
    m.submit.gate.set()
    assert await task == [200]


async def test_failed_submit_makes_meta_deliver_again(m: Env) -> None:
    event = m.hook.text(PSID, "lưu giúp tôi")
    m.submit.fail = 1
    assert await m.hook.deliver(event) == [500]
    assert await m.hook.deliver(event) == [200]
    assert [i.message_id for i in m.submit.items] == [event["message"]["mid"]]


# ---------------------------------------------------------------------------------------------
# sending every Reply shape


async def _send(m: Env, *replies: Reply, **kw: object) -> list:
    m.api.user_wrote(PSID)
    before = len(m.api.sent_to(PSID))
    await m.channel.send(PSID, list(replies), **kw)  # type: ignore[arg-type]
    assert m.api.errors == [], [r.error for r in m.api.errors]
    return m.api.sent_to(PSID)[before:]


async def test_text_is_rendered_plain_as_a_response(m: Env) -> None:
    (msg,) = await _send(m, Reply(text="**Hồ sơ** đã nhận.\n- Xem [Cổng DVC](https://dichvucong.gov.vn)"))
    assert msg.messaging_type == "RESPONSE" and msg.tag == ""
    assert msg.text == "Hồ sơ đã nhận.\n• Xem Cổng DVC: https://dichvucong.gov.vn"


async def test_long_text_is_split_cleanly(m: Env) -> None:
    words = [f"từ{i}" for i in range(1100)]
    text = " ".join(words)  # ~6000 characters
    msgs = await _send(m, Reply(text=text))
    assert len(msgs) >= 3 and all(len(x.text) <= 2000 for x in msgs)
    assert " ".join(x.text for x in msgs).split() == words  # no word cut or lost


async def test_payload_buttons_become_quick_replies_on_the_last_message(m: Env) -> None:
    reply = Reply(text="Chọn mục:", buttons=[[Button("Hỏi đáp", "m:faq"), Button("Phản ánh", "m:fb")]])
    (msg,) = await _send(m, reply)
    assert msg.quick_replies == [{"content_type": "text", "title": "Hỏi đáp", "payload": "m:faq"},
                                 {"content_type": "text", "title": "Phản ánh", "payload": "m:fb"}]
    assert msg.text == "Chọn mục:"


async def test_long_labels_are_shortened_and_listed_in_full(m: Env) -> None:
    long = "Thủ tục đăng ký khai sinh cho trẻ em"
    (msg,) = await _send(m, Reply(text="Chọn:", buttons=[[Button(long, "faq:1")], [Button("Khác", "faq:2")]]))
    titles = [q["title"] for q in msg.quick_replies]
    assert all(len(t) <= 20 for t in titles)
    assert titles[0].startswith("1. Thủ tục") and titles[0].endswith("…") and titles[1] == "2. Khác"
    assert f"1. {long}" in msg.text


async def test_more_than_13_choices_become_numbered_text(m: Env) -> None:
    buttons = [[Button(f"Mục {i}", f"x:{i}")] for i in range(16)]
    (msg,) = await _send(m, Reply(text="Nhiều mục", buttons=buttons))
    assert msg.quick_replies == []  # 13 quick replies would hide three choices
    assert msg.text == "Nhiều mục\n\n" + "\n".join(f"{i + 1}. Mục {i}" for i in range(16))


async def test_buttons_without_text_get_a_prompt(m: Env) -> None:
    (msg,) = await _send(m, Reply(buttons=[[Button("Menu", "m:menu")]]))
    assert msg.text and msg.quick_replies[0]["payload"] == "m:menu"


async def test_url_and_phone_buttons_use_the_button_template(m: Env) -> None:
    reply = Reply(text="Liên hệ:", buttons=[
        [Button("Cổng dịch vụ công quốc gia", kind=ButtonKind.URL, url="https://dichvucong.gov.vn")],
        [Button("Gọi UBND", kind=ButtonKind.PHONE, phone="0235 3822 123")],
        [Button("Tổng đài", kind=ButtonKind.PHONE, phone="1022")],
        [Button("Quay lại", "m:menu")],
    ])
    (msg,) = await _send(m, reply)
    assert msg.attachment_type == "template:button"
    assert msg.buttons == [
        {"type": "web_url", "url": "https://dichvucong.gov.vn", "title": "Cổng dịch vụ công q…"},
        {"type": "phone_number", "title": "Gọi UBND", "payload": "+842353822123"},
    ]
    assert "Cổng dịch vụ công quốc gia: https://dichvucong.gov.vn" in msg.text  # the full label
    assert "📞 Tổng đài: 1022" in msg.text  # a short code Messenger cannot dial stays text
    assert msg.quick_replies == [{"content_type": "text", "title": "Quay lại", "payload": "m:menu"}]


async def test_more_than_three_link_buttons_and_long_text_with_a_template(m: Env) -> None:
    links = [[Button(f"Trang {i}", kind=ButtonKind.URL, url=f"https://vi.du/{i}")] for i in range(5)]
    body = ("Đoạn văn dài. " * 100).strip()  # ~1400 characters: more than a template's 640
    msgs = await _send(m, Reply(text=body, buttons=links))
    assert msgs[-1].attachment_type == "template:button" and len(msgs[-1].buttons) == 3
    assert all(len(x.text) <= (640 if x.attachment_type else 2000) for x in msgs)
    assert "Trang 3: https://vi.du/3" in msgs[-1].text and "Trang 4: https://vi.du/4" in msgs[-1].text


async def test_contact_card_is_a_phone_number_button(m: Env) -> None:
    card = ContactCard(phone="0235 3810 555", name="Văn phòng HĐND-UBND tỉnh", note="giờ hành chính")
    (msg,) = await _send(m, Reply(text="Số liên hệ:", contact=card))
    assert msg.buttons == [{"type": "phone_number", "title": "Văn phòng HĐND-UBND…", "payload": "+842353810555"}]
    assert "📞 Văn phòng HĐND-UBND tỉnh: 0235 3810 555 (giờ hành chính)" in msg.text


async def test_image_request_contact_notice_and_edit(m: Env) -> None:
    msgs = await _send(
        m,
        Reply(text="Ảnh minh hoạ", image_url="https://cchc.gov.vn/a.png"),
        Reply(text="Cho biết số điện thoại?", request_contact_label="Gửi số điện thoại"),
        Reply(notice="Đã lưu"),
        Reply(text="Đã sửa", edit=True),
        Reply(),
    )
    assert [x.attachment_type for x in msgs] == ["image", "", "", "", ""]
    assert msgs[0].message["attachment"]["payload"]["url"] == "https://cchc.gov.vn/a.png"
    assert msgs[1].text == "Ảnh minh hoạ"
    assert msgs[2].quick_replies == [{"content_type": "user_phone_number"}]
    assert [msgs[3].text, msgs[4].text] == ["Đã lưu", "Đã sửa"]


async def test_tag_sends_a_message_tag(m: Env) -> None:
    (msg,) = await _send(m, Reply(text="Phản ánh của anh/chị đã có trả lời."), tag="account_update")
    assert (msg.messaging_type, msg.tag) == ("MESSAGE_TAG", "ACCOUNT_UPDATE")


# ---------------------------------------------------------------------------------------------
# errors


async def test_outside_the_window_is_outside_window_and_a_tag_gets_through(m: Env) -> None:
    m.api.user_wrote(PSID, seconds_ago=30 * 3600)
    with pytest.raises(OutsideWindow) as info:
        await m.channel.send(PSID, [Reply(text="Trả lời của cán bộ")])
    assert info.value.delivered == 0 and "2018278" in str(info.value)
    assert len(m.api.errors) == 1  # not retried
    await m.channel.send(PSID, [Reply(text="Trả lời của cán bộ")], tag="ACCOUNT_UPDATE")
    assert m.api.sent_to(PSID)[-1].tag == "ACCOUNT_UPDATE"


async def test_official_answer_30_hours_later_follows_the_policy(m: Env) -> None:
    """The issue's case end to end: deferred without a tag, sent with one."""
    now = datetime.now(UTC)
    last = now - timedelta(hours=30)
    m.api.user_wrote(PSID, seconds_ago=(now - last).total_seconds())
    answer = [Reply(text="Cán bộ đã trả lời phản ánh của anh/chị.")]
    without = decide(last, now, MessageKind.OFFICIAL_ANSWER, "")
    assert without.action == Action.DEFER
    with pytest.raises(OutsideWindow):  # what would happen if the pipeline ignored the decision
        await m.channel.send(PSID, answer)
    with_tag = decide(last, now, MessageKind.OFFICIAL_ANSWER, "ACCOUNT_UPDATE")
    assert with_tag.action == Action.SEND_WITH_TAG
    await m.channel.send(PSID, answer, tag=with_tag.tag)
    assert [(x.messaging_type, x.tag) for x in m.api.sent_to(PSID)] == [("MESSAGE_TAG", "ACCOUNT_UPDATE")]


async def test_person_unavailable_and_unknown_person(m: Env) -> None:
    m.api.user_wrote(PSID)
    m.api.unavailable.add(PSID)
    with pytest.raises(OutsideWindow):
        await m.channel.send(PSID, [Reply(text="x")])
    with pytest.raises(Blocked):
        await m.channel.send("999", [Reply(text="x")])


async def test_revoked_token_is_token_invalid_and_fails_readiness(m: Env) -> None:
    m.api.user_wrote(PSID)
    m.api.revoke_token()
    with pytest.raises(TokenInvalid) as info:
        await m.channel.send(PSID, [Reply(text="x")])
    assert isinstance(info.value, PermanentError)
    assert len(m.api.errors) == 1  # not retried
    assert "MESSENGER_PAGE_ACCESS_TOKEN" in m.channel.ready_reason()
    assert await m.channel.health(force=True) is False
    m.api.revoked = False  # an operator fixed the Page's token
    assert await m.channel.health(force=True) is True and m.channel.ready_reason() == ""


async def test_revoked_token_at_start_is_reported() -> None:
    async with FakeGraphAPI() as api:
        api.revoke_token()
        async for env in _env(api):
            assert "rejected" in env.channel.ready_reason()
            assert env.api.profile == {}  # no profile call with a dead token


async def test_rate_limit_is_retried_then_raised_without_retry(m: Env) -> None:
    m.api.user_wrote(PSID)
    m.api.rate_limit_next(2)
    await m.channel.send(PSID, [Reply(text="sau khi chờ")])
    assert [r.status for r in m.api.requests[-3:]] == [400, 400, 200]
    m.api.rate_limit_next(1)
    with pytest.raises(RateLimited) as info:
        await m.channel.send(PSID, [Reply(text="x")], retry=False)
    assert info.value.retry_after == pytest.approx(0.05)


async def test_server_errors_are_retried_with_a_bound(m: Env) -> None:
    m.api.user_wrote(PSID)
    m.api.fail_next(2, status=503)
    await m.channel.send(PSID, [Reply(text="ok")])
    assert m.api.sent_to(PSID)[-1].text == "ok"
    m.api.fail_next(10)
    with pytest.raises(TransientError):
        await m.channel.send(PSID, [Reply(text="x")])
    assert len(m.api.errors) == 2 + 4  # max_attempts=4


async def test_delivered_counts_the_replies_that_arrived(m: Env) -> None:
    m.api.user_wrote(PSID)
    m.api.unavailable.clear()
    # reply 0 is one message, reply 1 two (image + text); the 3rd request fails for good
    m.api.fail_next(10, after=2)
    replies = [Reply(text="một"), Reply(text="hai", image_url="https://cchc.gov.vn/a.png"), Reply(text="ba")]
    with pytest.raises(TransientError) as info:
        await m.channel.send(PSID, replies, retry=False)
    assert info.value.delivered == 1


async def test_timeouts_are_transient() -> None:
    async with FakeGraphAPI() as api:
        async for env in _env(api, timeout=0.2, max_attempts=2):
            api.user_wrote(PSID)
            api.send_delay = 0.4
            with pytest.raises(TransientError, match="Timeout"):
                await env.channel.send(PSID, [Reply(text="x")])
            assert len([r for r in api.requests if r.path == "me/messages"]) == 2


def test_translate_error_mapping() -> None:
    def err(code: int, sub: int | None = None, status: int = 400, **extra: object) -> dict:
        e: dict[str, object] = {"message": "m", "code": code, **extra}
        if sub is not None:
            e["error_subcode"] = sub
        return {"error": e}

    assert isinstance(translate_error(400, err(613)), RateLimited)
    assert isinstance(translate_error(400, err(4)), RateLimited)
    assert isinstance(translate_error(429, {}), RateLimited)
    assert translate_error(400, err(32), {"Retry-After": "7"}).retry_after == 7  # type: ignore[attr-defined]
    usage = json.dumps({"100200300": [{"type": "messenger", "estimated_time_to_regain_access": 3}]})
    assert translate_error(400, err(613), {"X-Business-Use-Case-Usage": usage}).retry_after == 180  # type: ignore[attr-defined]
    assert isinstance(translate_error(400, err(190, 463)), TokenInvalid)
    assert isinstance(translate_error(400, err(10, 2018278)), OutsideWindow)
    assert isinstance(translate_error(400, err(551)), OutsideWindow)
    assert isinstance(translate_error(400, err(200, 1545041)), OutsideWindow)
    assert isinstance(translate_error(400, err(100, 2018001)), Blocked)
    assert isinstance(translate_error(500, err(2)), TransientError)
    assert isinstance(translate_error(400, err(1200)), TransientError)
    assert isinstance(translate_error(400, err(100, is_transient=True)), TransientError)
    assert isinstance(translate_error(502, "bad gateway"), TransientError)
    perm = translate_error(400, err(100))
    assert type(perm) is PermanentError and "100" in str(perm)
    assert type(translate_error(400, err(10))) is PermanentError  # permission, not the window


# ---------------------------------------------------------------------------------------------
# attachments download


async def test_download(m: Env) -> None:
    data = bytes(range(256)) * 400  # 100 KiB
    url = m.api.add_file("a.jpg", data)
    assert await m.channel.download(Attachment("photo", url)) == data
    assert await m.channel.download(Attachment("photo", url + "?stream=1")) == data


async def test_download_limits_and_errors(m: Env) -> None:
    m.channel.download_max_bytes = 1000
    big = m.api.add_file("big.bin", b"x" * 5000)
    with pytest.raises(PermanentError, match="exceeds"):
        await m.channel.download(Attachment("document", big))
    with pytest.raises(PermanentError, match="exceeds"):  # no Content-Length: counted while reading
        await m.channel.download(Attachment("document", big + "?stream=1"))
    flaky = m.api.add_file("flaky.bin", b"ok", fail_first=[503, 500])
    assert await m.channel.download(Attachment("document", flaky)) == b"ok"
    with pytest.raises(PermanentError, match="404"):  # an expired CDN link
        await m.channel.download(Attachment("document", m.api.base_url + "/cdn/missing"))
    with pytest.raises(PermanentError, match="host"):
        await m.channel.download(Attachment("document", "https://evil.example/x.pdf"))
    hop = f"{m.api.base_url}/redirect?to="
    assert await m.channel.download(Attachment("document", hop + "/cdn/flaky.bin")) == b"ok"
    with pytest.raises(PermanentError, match="redirected"):
        await m.channel.download(Attachment("document", hop + "https://evil.example/x.pdf"))
    with pytest.raises(PermanentError, match="host"):
        await m.channel.download(Attachment("document", "file:///etc/passwd"))


def test_default_download_hosts_are_metas_cdn() -> None:
    async def submit(_: Incoming) -> None: ...

    ch = MessengerChannel(MessengerSettings("t", "s", "v"), submit)
    assert ch._download_allowed("https://scontent.xx.fbcdn.net/v/a.jpg")
    assert ch._download_allowed("https://cdn.fbsbx.com/v/t59/a.pdf")
    assert not ch._download_allowed("http://scontent.xx.fbcdn.net/v/a.jpg")  # https only off loopback
    assert not ch._download_allowed("https://fbcdn.net.evil.example/a.jpg")
    assert not ch._download_allowed("https://127.0.0.1/a.jpg")


def test_render_reply_is_pure_and_within_limits() -> None:
    reply = Reply(text="x" * 5000, buttons=[[Button("A" * 40, "p:" + "z" * 990)]])
    messages = render_reply(reply)
    assert all(len(msg.get("text", "")) <= 2000 for msg in messages)
    assert messages[-1]["quick_replies"][0]["payload"] == "p:" + "z" * 990
    assert render_reply(reply) == messages
    # invalid payloads (empty or over 1000 characters) are dropped rather than rejected by Meta
    assert "quick_replies" not in render_reply(Reply(text="t", buttons=[[Button("a", "")], [Button("b", "p" * 1001)]]))[-1]


async def test_retry_call_raises_outside_window_and_token_invalid_at_once() -> None:
    from core.channel import retry_call

    for error in (OutsideWindow("outside"), TokenInvalid("revoked")):
        calls = 0

        async def call(error: Exception = error) -> None:
            nonlocal calls
            calls += 1
            raise error

        with pytest.raises(type(error)):
            await retry_call(call, sleep=lambda _: asyncio.sleep(0))
        assert calls == 1
