"""The fake Graph Send API rejects what Meta rejects (else the adapter tests would prove nothing)."""
from __future__ import annotations

from typing import Any

import pytest
from aiohttp import ClientSession

from tests.fakes.messenger_api import FakeGraphAPI

PSID = "42"


async def _post(api: FakeGraphAPI, body: dict[str, Any], token: str | None = None) -> tuple[int, dict[str, Any]]:
    async with ClientSession() as s:
        async with s.post(f"{api.base_url}/v25.0/me/messages", json=body,
                          headers={"Authorization": f"Bearer {token or api.page_access_token}"}) as r:
            return r.status, await r.json()


def _msg(message: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": message, **extra}


def _qr(title: str = "Ok", payload: str = "p") -> dict[str, str]:
    return {"content_type": "text", "title": title, "payload": payload}


def _template(text: str, buttons: list[dict[str, Any]]) -> dict[str, Any]:
    return {"attachment": {"type": "template", "payload": {"template_type": "button", "text": text, "buttons": buttons}}}


@pytest.mark.parametrize("message", [
    {"text": "x" * 2001},
    {"text": "  "},
    {"text": "a", "attachment": {"type": "image", "payload": {"url": "https://a/b.png"}}},
    {"text": "a", "quick_replies": [_qr(title="x" * 21)]},
    {"text": "a", "quick_replies": [_qr(payload="")]},
    {"text": "a", "quick_replies": [_qr() for _ in range(14)]},
    _template("x" * 641, [{"type": "web_url", "url": "https://a", "title": "A"}]),
    _template("t", []),
    _template("t", [{"type": "web_url", "url": "https://a", "title": "A"}] * 4),
    _template("t", [{"type": "web_url", "url": "tel:1", "title": "A"}]),
    _template("t", [{"type": "phone_number", "payload": "0905123456", "title": "A"}]),
])
async def test_invalid_messages_are_rejected(message: dict[str, Any]) -> None:
    async with FakeGraphAPI() as api:
        api.user_wrote(PSID)
        status, body = await _post(api, _msg(message))
        assert status == 400 and body["error"]["code"] == 100
        assert api.sent == []


async def test_window_tags_token_and_unknown_people() -> None:
    async with FakeGraphAPI() as api:
        assert (await _post(api, _msg({"text": "a"})))[1]["error"]["error_subcode"] == 2018001
        api.user_wrote(PSID, seconds_ago=25 * 3600)
        status, body = await _post(api, _msg({"text": "a"}))
        assert (status, body["error"]["code"], body["error"]["error_subcode"]) == (400, 10, 2018278)
        assert (await _post(api, _msg({"text": "a"}, messaging_type="MESSAGE_TAG", tag="ACCOUNT_UPDATE")))[0] == 200
        assert (await _post(api, _msg({"text": "a"}, messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")))[0] == 200
        assert (await _post(api, _msg({"text": "a"}, messaging_type="MESSAGE_TAG", tag="PROMO")))[0] == 400
        api.user_wrote(PSID, seconds_ago=8 * 24 * 3600)
        assert (await _post(api, _msg({"text": "a"}, messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")))[0] == 400
        assert (await _post(api, _msg({"text": "a"}), token="EAAother"))[1]["error"]["code"] == 190
        api.revoke_token()
        assert (await _post(api, _msg({"text": "a"})))[1]["error"]["code"] == 190
        assert [m.tag for m in api.sent] == ["ACCOUNT_UPDATE", "HUMAN_AGENT"]
