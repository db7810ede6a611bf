"""Zalo OA webhook: signatures, timestamps, and every event type → the Incoming handed to submit."""
from __future__ import annotations

import json
import logging
import time

import pytest

from channels.zalo_oa.events import FOLLOW_PAYLOAD, UNFOLLOW_PAYLOAD, decode_query, encode_query
from core.types import Attachment, Incoming, Location
from tests.zalo.conftest import Inbox, oa_channel, oa_env


async def test_signed_text_reaches_submit_before_the_200(zalo, sqlite_engine) -> None:
    async with oa_channel(zalo, sqlite_engine) as (_, inbox):
        status, msg_id = await zalo.user_sends_text("u1", "Xin chào, tôi muốn hỏi thủ tục")
        assert status == 200
        assert inbox.items == [Incoming(channel="zalo_oa", user_id="u1", text="Xin chào, tôi muốn hỏi thủ tục",
                                        message_id=msg_id)]


@pytest.mark.parametrize("how", ["wrong_secret", "tampered", "stale", "future", "missing", "garbage", "other_app"])
async def test_bad_signatures_are_401_and_logged_without_the_body(zalo, sqlite_engine, caplog, how) -> None:
    caplog.set_level(logging.DEBUG)
    async with oa_channel(zalo, sqlite_engine) as (_, inbox):
        event = zalo.event("user_send_text", "u1", message={"msg_id": "m1", "text": "bí mật 0912345678"})
        kwargs: dict = {}
        if how == "wrong_secret":
            kwargs["secret"] = "not-the-secret"
        elif how == "tampered":
            kwargs["tamper"] = True
        elif how == "stale":
            event["timestamp"] = str(int((time.time() - 2 * 3600) * 1000))
        elif how == "future":
            event["timestamp"] = str(int((time.time() + 3600) * 1000))
        elif how == "missing":
            kwargs["signature"] = ""
        elif how == "garbage":
            kwargs["signature"] = "mac=zzzz"
        elif how == "other_app":
            kwargs["ident"] = "42"
        assert await zalo.post_event(event, **kwargs) == 401
        assert inbox.items == []
        assert "bí mật" not in caplog.text and "0912345678" not in caplog.text
        assert "webhook rejected" in caplog.text


async def test_a_retry_of_the_same_event_within_the_hour_is_accepted(zalo, sqlite_engine) -> None:
    """Zalo re-delivers with the original timestamp for up to an hour: still signed, still accepted (the
    core de-duplicates on message_id)."""
    async with oa_channel(zalo, sqlite_engine) as (_, inbox):
        event = zalo.event("user_send_text", "u1", message={"msg_id": "m7", "text": "hi"})
        event["timestamp"] = str(int((time.time() - 50 * 60) * 1000))
        assert await zalo.post_event(event) == 200
        assert await zalo.post_event(event) == 200
        assert [i.message_id for i in inbox.items] == ["m7", "m7"]


async def test_signature_variants_are_configurable(zalo, sqlite_engine) -> None:
    env = oa_env(zalo, ZALO_OA_SIGNATURE_KEY="app_secret", ZALO_OA_SIGNATURE_ID="oa_id", ZALO_OA_ID=zalo.oa_id,
                 ZALO_OA_SIGNATURE_TIMESTAMP="header")
    async with oa_channel(zalo, sqlite_engine, env=env) as (_, inbox):
        event = zalo.event("user_send_text", "u2", message={"msg_id": "m2", "text": "hi"})
        ts = str(int(time.time() * 1000))
        raw = json.dumps(event, ensure_ascii=False).encode()
        good = zalo.sign(raw, ts, secret=zalo.app_secret, ident=zalo.oa_id)
        assert await zalo.post_event(event, signature=good, headers={"X-ZEvent-Timestamp": ts}) == 200
        # the default form (app id + OA secret key) is not accepted under this configuration
        default = zalo.sign(raw, ts)
        assert await zalo.post_event(event, signature=default, headers={"X-ZEvent-Timestamp": ts}) == 401
        assert [i.user_id for i in inbox.items] == ["u2"]


async def test_submit_failure_answers_503_so_zalo_retries(zalo, sqlite_engine) -> None:
    inbox = Inbox()
    inbox.fail = RuntimeError("database down")
    async with oa_channel(zalo, sqlite_engine, inbox=inbox):
        event = zalo.event("user_send_text", "u1", message={"msg_id": "m9", "text": "hi"})
        assert await zalo.post_event(event) == 503
        inbox.fail = None
        assert await zalo.post_event(event) == 200
        assert inbox.last.message_id == "m9"


async def test_every_event_type(zalo, sqlite_engine) -> None:
    async with oa_channel(zalo, sqlite_engine) as (_, inbox):
        url = zalo.add_file("a.jpg", b"\xff\xd8jpeg")
        _, mid = await zalo.user_sends_image("u1", url, caption="ổ gà đường Lê Lợi")
        assert inbox.last == Incoming(channel="zalo_oa", user_id="u1", text="ổ gà đường Lê Lợi", message_id=mid,
                                      attachments=(Attachment("photo", url, mime_type="image/jpeg"),))
        _, mid = await zalo.user_sends_file("u1", url, "don.pdf", 1234)
        assert inbox.last.attachments == (Attachment("document", url, "don.pdf", "", 1234),)
        _, mid = await zalo.user_sends_sticker("u1", "st9")
        assert inbox.last.attachments[0].kind == "sticker" and inbox.last.message_id == mid
        _, mid = await zalo.user_sends_location("u1", 10.7769, 106.7009)
        assert inbox.last == Incoming(channel="zalo_oa", user_id="u1", location=Location(10.7769, 106.7009),
                                      message_id=mid)
        assert await zalo.user_follows("u3") == 200
        assert inbox.last.payload == FOLLOW_PAYLOAD and inbox.last.user_id == "u3"
        assert inbox.last.message_id.startswith("follow:u3:")
        assert await zalo.user_unfollows("u3") == 200
        assert inbox.last.payload == UNFOLLOW_PAYLOAD and inbox.last.user_id == "u3"
        assert await zalo.user_submits_info("u1", "84912345678") == 200
        assert inbox.last.contact_phone == "0912345678" and inbox.last.user_id == "u1"
        count = len(inbox.items)
        # receipts and the OA's own messages are acknowledged but not handed to the core
        for name in ("user_seen_message", "user_received_message", "oa_send_text"):
            assert await zalo.post_event(zalo.event(name, "u1", message={"msg_id": "x"})) == 200
        assert len(inbox.items) == count


async def test_button_echo_maps_back_to_the_payload(zalo, sqlite_engine) -> None:
    async with oa_channel(zalo, sqlite_engine) as (_, inbox):
        await zalo.user_sends_text("u1", encode_query("Tra cứu phản ánh", "fb:v:AB12"))
        assert inbox.last.payload == "fb:v:AB12" and inbox.last.text == ""
        await zalo.user_sends_text("u1", "#covid (#không)")
        assert inbox.last.payload == "" and inbox.last.text == "#covid (#không)"


def test_query_encoding_round_trips_and_ignores_hashtags() -> None:
    for label, payload in [("Hỏi đáp", "m:faq"), ("Nhãn (#x) lạ", "fb:rt:AB12:5"), ("x" * 1500, "m:main"), ("", "m:a")]:
        text = encode_query(label, payload)
        assert len(text) <= 1000
        assert decode_query(text) == payload
    for text in ("#covid", "tôi ở #5", "Hỏi (#m:faq", "giờ mở cửa?"):
        assert decode_query(text) == ""
