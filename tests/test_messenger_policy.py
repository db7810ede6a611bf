"""The Messenger delivery-window policy (pure) and the channel's settings."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from channels.messenger.policy import Action, Decision, MessageKind, decide
from channels.messenger.settings import DEFAULT_API_VERSION, MessengerSettings

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def ago(**kw: float) -> datetime:
    return NOW - timedelta(**kw)


# ---------------------------------------------------------------------------------------------
# policy


@pytest.mark.parametrize("kind", list(MessageKind))
def test_within_24_hours_everything_is_sent(kind: MessageKind) -> None:
    assert decide(ago(hours=23, minutes=59), NOW, kind, "") == Decision(Action.SEND)
    assert decide(ago(hours=23), NOW, kind, "ACCOUNT_UPDATE") == Decision(Action.SEND)  # no tag needed


def test_official_answer_30_hours_later_deferred_without_tag_sent_with_one() -> None:
    without = decide(ago(hours=30), NOW, MessageKind.OFFICIAL_ANSWER, "")
    assert without.action == Action.DEFER and not without.sendable and without.tag == ""
    assert "30 giờ" in without.reason and "MESSENGER_UPDATE_TAG" in without.reason
    with_tag = decide(ago(hours=30), NOW, MessageKind.OFFICIAL_ANSWER, "ACCOUNT_UPDATE")
    assert (with_tag.action, with_tag.tag) == (Action.SEND_WITH_TAG, "ACCOUNT_UPDATE") and with_tag.sendable


def test_exactly_24_hours_is_outside_the_window() -> None:
    assert decide(ago(hours=24), NOW, MessageKind.STATUS_CHANGE, "").action == Action.DEFER
    assert decide(ago(hours=24), NOW, MessageKind.STATUS_CHANGE, "account_update").tag == "ACCOUNT_UPDATE"


def test_bulletins_and_replies_are_never_tagged() -> None:
    bulletin = decide(ago(hours=30), NOW, MessageKind.BULLETIN, "ACCOUNT_UPDATE")
    assert bulletin.action == Action.DEFER and "Bạn có bản tin mới" in bulletin.reason
    reply = decide(ago(days=3), NOW, "reply", "HUMAN_AGENT")
    assert reply.action == Action.DEFER and "nhắn lại" in reply.reason


def test_human_agent_fits_an_officials_answer_for_seven_days_only() -> None:
    assert decide(ago(days=6, hours=23), NOW, MessageKind.OFFICIAL_ANSWER, "HUMAN_AGENT").tag == "HUMAN_AGENT"
    late = decide(ago(days=8), NOW, MessageKind.OFFICIAL_ANSWER, "HUMAN_AGENT")
    assert late.action == Action.DEFER and "7 ngày" in late.reason
    automatic = decide(ago(hours=30), NOW, MessageKind.STATUS_CHANGE, "HUMAN_AGENT")
    assert automatic.action == Action.DEFER and "HUMAN_AGENT" in automatic.reason


def test_tags_whose_use_case_does_not_fit_defer() -> None:
    for tag in ("CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE"):
        d = decide(ago(hours=30), NOW, MessageKind.STATUS_CHANGE, tag)
        assert d.action == Action.DEFER and tag in d.reason


def test_account_update_has_no_age_limit() -> None:
    assert decide(ago(days=60), NOW, MessageKind.STATUS_CHANGE, "ACCOUNT_UPDATE").action == Action.SEND_WITH_TAG


def test_never_wrote_and_clock_skew() -> None:
    never = decide(None, NOW, MessageKind.OFFICIAL_ANSWER, "ACCOUNT_UPDATE")
    assert never.action == Action.DEFER and "chưa nhắn" in never.reason
    assert decide(NOW + timedelta(minutes=5), NOW, MessageKind.REPLY).action == Action.SEND


def test_configuration_errors_raise() -> None:
    with pytest.raises(ValueError, match="timezone"):
        decide(datetime(2026, 11, 19, 9, 0), NOW, MessageKind.REPLY)
    with pytest.raises(ValueError, match="timezone"):
        decide(ago(hours=1), datetime(2026, 11, 20, 9, 0), MessageKind.REPLY)
    with pytest.raises(ValueError):
        decide(ago(hours=1), NOW, "newsletter")
    with pytest.raises(ValueError, match="tag"):
        decide(ago(hours=30), NOW, MessageKind.OFFICIAL_ANSWER, "NON_PROMOTIONAL_SUBSCRIPTION")


# ---------------------------------------------------------------------------------------------
# settings

FULL = {"MESSENGER_PAGE_ACCESS_TOKEN": "EAAGm0PX4ZCpsBAKtoken", "MESSENGER_APP_SECRET": "0123456789abcdef",
        "MESSENGER_VERIFY_TOKEN": "verify-0123"}


def test_settings_defaults_and_unconfigured() -> None:
    s = MessengerSettings.from_env({})
    assert not s.configured
    s = MessengerSettings.from_env(FULL)
    assert s.configured and s.webhook_path == "/webhooks/messenger" and s.update_tag == ""
    assert s.send_url == f"https://graph.facebook.com/{DEFAULT_API_VERSION}/me/messages"


def test_settings_read_every_variable() -> None:
    s = MessengerSettings.from_env({**FULL, "MESSENGER_WEBHOOK_PATH": "/hooks/fb", "MESSENGER_API_VERSION": "v23.0",
                                    "MESSENGER_GRAPH_BASE_URL": "http://127.0.0.1:8081/",
                                    "MESSENGER_UPDATE_TAG": " account_update "})
    assert (s.webhook_path, s.api_version, s.update_tag) == ("/hooks/fb", "v23.0", "ACCOUNT_UPDATE")
    assert s.send_url == "http://127.0.0.1:8081/v23.0/me/messages"


@pytest.mark.parametrize(("change", "variable"), [
    ({"MESSENGER_APP_SECRET": ""}, "MESSENGER_APP_SECRET"),
    ({"MESSENGER_PAGE_ACCESS_TOKEN": ""}, "MESSENGER_PAGE_ACCESS_TOKEN"),
    ({"MESSENGER_VERIFY_TOKEN": "two words"}, "MESSENGER_VERIFY_TOKEN"),
    ({"MESSENGER_WEBHOOK_PATH": "webhooks/messenger"}, "MESSENGER_WEBHOOK_PATH"),
    ({"MESSENGER_WEBHOOK_PATH": "/a?b=1"}, "MESSENGER_WEBHOOK_PATH"),
    ({"MESSENGER_GRAPH_BASE_URL": "http://graph.facebook.com"}, "MESSENGER_GRAPH_BASE_URL"),
    ({"MESSENGER_GRAPH_BASE_URL": "graph.facebook.com"}, "MESSENGER_GRAPH_BASE_URL"),
    ({"MESSENGER_API_VERSION": "25.0"}, "MESSENGER_API_VERSION"),
    ({"MESSENGER_UPDATE_TAG": "PROMOTION"}, "MESSENGER_UPDATE_TAG"),
])
def test_settings_errors_name_the_variable_in_one_line(change: dict[str, str], variable: str) -> None:
    with pytest.raises(ValueError) as info:
        MessengerSettings.from_env({**FULL, **change})
    message = str(info.value)
    assert message.startswith(variable) and "\n" not in message
    for secret in FULL.values():
        assert secret not in message


def test_settings_never_print_secrets() -> None:
    s = MessengerSettings.from_env(FULL)
    for secret in FULL.values():
        assert secret not in repr(s) and secret not in str(s)
