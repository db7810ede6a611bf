"""Issue 9: phone numbers parsed with `phonenumbers` (region VN); the citizen's own shared contact in any country."""
from __future__ import annotations

import pytest

from features.feedback.chat import normalize_phone
from tests.feedback.conftest import Chat


@pytest.mark.parametrize(("typed", "stored"), [
    ("0912 345 678", "0912345678"), ("+84 912 345 678", "0912345678"), ("0084.912.345.678", "0912345678"),
    ("84912345678", "0912345678"), ("0255 3822 222", "02553822222"), ("(024) 3823 4567", "02438234567"),
])
def test_typed_vietnamese_numbers_in_any_usual_format(typed, stored):
    assert normalize_phone(typed) == stored


@pytest.mark.parametrize("typed", ["0123456789", "0912345", "+14155550123", "abc", "0912 345 678 999 999"])
def test_typed_invalid_or_foreign_numbers_are_refused(typed):
    assert normalize_phone(typed) is None


async def test_own_shared_contact_with_a_foreign_number_is_accepted(bot, sender):
    chat = Chat(bot, user_id="9501")
    await chat.say("/phananh")
    await chat.press(chat.payload(":c:0"))
    await chat.say("Ba Tơ")
    await chat.say("Cán bộ yêu cầu nộp thêm giấy tờ không có trong quy định.")
    await chat.press(chat.payload(":a:"))
    await chat.send(contact_phone="14155550123")  # Telegram: the user's own contact, without "+"
    assert "Kiểm tra lại" in chat.text and "+14155550123" in chat.text
