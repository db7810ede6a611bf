"""Zalo OA sending: text, long text, buttons, contact cards, phone requests, images, the reply window,
the proactive quota, error-code mapping, retries, downloads."""
from __future__ import annotations

import pytest

from channels.download import FileTooLarge
from channels.zalo_oa.channel import ZaloOAChannel, seconds_until_morning
from core.channel import (
    Blocked,
    DeliveryError,
    OutsideWindow,
    PermanentError,
    QuotaExceeded,
    RateLimited,
    TransientError,
)
from core.types import Attachment, Button, ButtonKind, ContactCard, Reply
from tests.zalo.conftest import oa_channel, oa_env


async def _ask(zalo, user: str = "u1", text: str = "hỏi") -> str:
    status, msg_id = await zalo.user_sends_text(user, text)
    assert status == 200
    return msg_id


async def test_text_reply_counts_as_a_free_reply(zalo, sqlite_engine) -> None:
    async with oa_channel(zalo, sqlite_engine) as (channel, _):
        mid = await _ask(zalo)
        await channel.send("u1", [Reply(text="**Chào** anh/chị. Xem [cổng DVC](https://dichvucong.gov.vn).")],
                           reply_to=mid)
        [sent] = zalo.sent_to("u1")
        assert sent.text == "Chào anh/chị. Xem cổng DVC: https://dichvucong.gov.vn."
        assert sent.quota_type == "reply" and sent.reply_to == mid


async def test_long_text_is_split_on_sentence_ends_within_2000(zalo, sqlite_engine) -> None:
    sentence = "Hồ sơ cấp đổi căn cước nộp tại bộ phận một cửa cấp xã trong giờ hành chính. "
    text = sentence * 70  # ~5400 characters, one paragraph
    async with oa_channel(zalo, sqlite_engine) as (channel, _):
        mid = await _ask(zalo)
        await channel.send("u1", [Reply(text=text)], reply_to=mid)
        parts = [s.text for s in zalo.sent_to("u1")]
        assert len(parts) == 3
        assert all(len(p) <= 2000 and p.endswith("chính.") for p in parts)
        assert " ".join(parts) == text.strip()


async def test_buttons_and_pressing_them(zalo, sqlite_engine) -> None:
    long_label = "Thủ tục " * 20  # 160 characters: the title is cut to 100, the full label goes in the text
    reply = Reply(text="Chọn mục:", buttons=[
        [Button("Hỏi đáp", "m:faq"), Button(long_label, "m:hotlines")],
        [Button("Cổng DVC", kind=ButtonKind.URL, url="https://dichvucong.gov.vn"),
         Button("Gọi 1022", kind=ButtonKind.PHONE, phone="1022")],
    ])
    async with oa_channel(zalo, sqlite_engine) as (channel, inbox):
        mid = await _ask(zalo)
        await channel.send("u1", [reply], reply_to=mid)
        [sent] = zalo.sent_to("u1")
        full = long_label.strip()
        assert sent.text == f"Chọn mục:\n\n1. Hỏi đáp\n2. {full}"
        types = [b["type"] for b in sent.buttons]
        assert types == ["oa.query.show", "oa.query.show", "oa.open.url", "oa.open.phone"]
        assert sent.buttons[0]["title"] == "1. Hỏi đáp"
        assert sent.buttons[1]["title"] == f"2. {full}"[:99].rstrip() + "…"
        assert sent.buttons[3]["payload"] == {"phone_code": "1022"}
        await zalo.user_presses("u1", sent.buttons[0])
        assert inbox.last.payload == "m:faq" and inbox.last.text == ""
        await zalo.user_presses("u1", sent.buttons[1])
        assert inbox.last.payload == "m:hotlines"


async def test_more_buttons_than_zalo_allows_become_numbered_text(zalo, sqlite_engine) -> None:
    reply = Reply(text="Chọn xã:", buttons=[[Button(f"Xã {i}", f"fb:c:{i}")] for i in range(1, 8)])
    async with oa_channel(zalo, sqlite_engine) as (channel, _):
        mid = await _ask(zalo)
        await channel.send("u1", [reply], reply_to=mid)
        [sent] = zalo.sent_to("u1")
        assert sent.buttons == []
        assert sent.text.startswith("Chọn xã:\n\n1. Xã 1\n2. Xã 2")
        assert "7. Xã 7" in sent.text


async def test_contact_card_phone_request_image_and_edit(zalo, sqlite_engine) -> None:
    replies = [
        Reply(text="Đường dây nóng:", contact=ContactCard("0912 345 678", "UBND xã An Phú", note="Giờ hành chính")),
        Reply(text="Để nhận kết quả, anh/chị chia sẻ số điện thoại.", request_contact_label="Chia sẻ số điện thoại"),
        Reply(image_url="https://example.org/banner.png"),
        Reply(text="Đã cập nhật", edit=True),
        Reply(notice="chỉ là thông báo nhỏ"),
    ]
    async with oa_channel(zalo, sqlite_engine) as (channel, _):
        mid = await _ask(zalo)
        await channel.send("u1", replies, reply_to=mid)
        card, ask_text, form, image, edited = zalo.sent_to("u1")
        assert card.text == "Đường dây nóng:\n\nGiờ hành chính"
        assert card.buttons == [{"title": "UBND xã An Phú", "type": "oa.open.phone",
                                 "payload": {"phone_code": "84912345678"}}]
        assert ask_text.text.startswith("Để nhận kết quả")
        assert form.template_type == "request_user_info"
        assert form.payload["elements"][0]["title"] == "Chia sẻ số điện thoại"
        assert image.template_type == "media"
        assert edited.text == "Đã cập nhật"  # no editing on Zalo: a new message


async def test_proactive_messages_are_refused_locally_without_a_quota(zalo, sqlite_engine) -> None:
    async with oa_channel(zalo, sqlite_engine) as (channel, _):
        await _ask(zalo)
        with pytest.raises(OutsideWindow) as info:
            await channel.send("u1", [Reply(text="Kết quả phản ánh của anh/chị")])
        assert info.value.retry_after is None
        assert zalo.requests == []  # nothing was sent, nothing spent


async def test_proactive_quota_is_spent_then_exceeded(sqlite_engine) -> None:
    from tests.fakes.zalo_oa_api import FakeZaloOA

    async with FakeZaloOA(proactive_quota=1) as zalo:
        env = oa_env(zalo, ZALO_OA_PROACTIVE_MONTHLY_QUOTA="100")
        async with oa_channel(zalo, sqlite_engine, env=env) as (channel, _):
            await _ask(zalo)
            await channel.send("u1", [Reply(text="Bản tin số 3")])
            assert zalo.sent_to("u1")[0].quota_type == "sub_quota"
            with pytest.raises(QuotaExceeded):
                await channel.send("u1", [Reply(text="Bản tin số 4")])
            # never interacted: outside the window
            with pytest.raises(OutsideWindow):
                await channel.send("u9", [Reply(text="Bản tin số 4")])


async def test_the_ninth_reply_and_a_late_reply_are_not_free(zalo, sqlite_engine) -> None:
    async with oa_channel(zalo, sqlite_engine) as (channel, _):
        mid = await _ask(zalo)
        for i in range(8):
            await channel.send("u1", [Reply(text=f"Phần {i + 1}.")], reply_to=mid)
        with pytest.raises(QuotaExceeded) as info:
            await channel.send("u1", [Reply(text="Phần 9.")], reply_to=mid)
        assert info.value.delivered == 0
        mid2 = await _ask(zalo)
        zalo.advance(49 * 3600)  # also expires the access token: refreshed on the way
        with pytest.raises(QuotaExceeded):
            await channel.send("u1", [Reply(text="Trả lời muộn.")], reply_to=mid2)
        assert zalo.refresh_count == 1
        assert len(zalo.sent_to("u1")) == 8


@pytest.mark.parametrize(("code", "error"), [
    (-32, RateLimited), (-213, Blocked), (-227, Blocked), (-230, OutsideWindow), (-232, OutsideWindow),
    (-211, QuotaExceeded), (-218, QuotaExceeded), (-234, OutsideWindow), (-201, PermanentError),
    (-999, PermanentError), (500, TransientError), (502, TransientError), (429, RateLimited),
])
async def test_error_codes_map_to_typed_errors(zalo, sqlite_engine, code, error) -> None:
    async with oa_channel(zalo, sqlite_engine) as (channel, _):
        mid = await _ask(zalo)
        zalo.fail_next(code)
        with pytest.raises(error) as info:
            await channel.send("u1", [Reply(text="a")], retry=False, reply_to=mid)
        assert type(info.value) is error
        if code == -234:
            assert 0 < info.value.retry_after <= 24 * 3600
        elif code in (-230, -232):
            assert info.value.retry_after is None


async def test_transient_errors_and_rate_limits_are_retried(zalo, sqlite_engine) -> None:
    async with oa_channel(zalo, sqlite_engine) as (channel, _):
        mid = await _ask(zalo)
        zalo.fail_next(500, -32, 503)
        await channel.send("u1", [Reply(text="cuối cùng cũng tới")], reply_to=mid)
        assert [s.text for s in zalo.sent_to("u1")] == ["cuối cùng cũng tới"]
        assert len(zalo.requests) == 4
        zalo.fail_next(500, 500, 500, 500)
        with pytest.raises(TransientError):
            await channel.send("u1", [Reply(text="x")], reply_to=mid)


async def test_delivered_counts_the_replies_that_arrived(zalo, sqlite_engine) -> None:
    async with oa_channel(zalo, sqlite_engine) as (channel, _):
        mid = await _ask(zalo)
        # the second reply's image URL is one Zalo rejects (-201): the first reply arrived in full
        replies = [Reply(text="một"), Reply(text="hai", image_url="ftp://example.org/a.png"), Reply(text="ba")]
        with pytest.raises(PermanentError) as info:
            await channel.send("u1", replies, reply_to=mid)
        assert info.value.delivered == 1
        assert [s.text for s in zalo.sent_to("u1")] == ["một"]
        zalo.user("u1").blocked = True
        with pytest.raises(Blocked) as blocked:
            await channel.send("u1", [Reply(text="bốn")], reply_to=mid)
        assert blocked.value.delivered == 0


def test_night_ban_ends_at_six_in_vietnam() -> None:
    import datetime as dt

    at_23_vn = dt.datetime(2025, 5, 1, 16, 0, tzinfo=dt.UTC)  # 23:00 in Vietnam
    assert seconds_until_morning(at_23_vn) == 7 * 3600
    assert seconds_until_morning(dt.datetime(2025, 5, 1, 22, 30, tzinfo=dt.UTC)) == 30 * 60  # 05:30 VN


async def test_download_with_size_limit(zalo, sqlite_engine) -> None:
    async with oa_channel(zalo, sqlite_engine, max_download_bytes=10_000) as (channel, _):
        small = zalo.add_file("small.jpg", b"x" * 5000)
        assert await channel.download(Attachment("photo", small)) == b"x" * 5000
        big = zalo.add_file("big.jpg", b"x" * 20_000)
        with pytest.raises(FileTooLarge):
            await channel.download(Attachment("photo", big))
        streamed = zalo.add_file("big2.jpg", b"x" * 20_000, chunked=True)
        with pytest.raises(FileTooLarge):
            await channel.download(Attachment("photo", streamed))
        with pytest.raises(PermanentError):
            await channel.download(Attachment("photo", zalo.base_url + "/files/missing"))
        with pytest.raises(PermanentError):
            await channel.download(Attachment("photo", "file-id-without-url"))


def test_capabilities_and_render_limits() -> None:
    caps = ZaloOAChannel.capabilities
    assert (caps.text_limit, caps.max_buttons, caps.button_label_limit, caps.can_edit) == (2000, 5, 100, False)
    assert caps.markup == "plain" and caps.request_phone and caps.contact_cards
    assert issubclass(OutsideWindow, DeliveryError) and issubclass(QuotaExceeded, DeliveryError)
