"""When may the Page message a citizen on Messenger? A pure function for the outbound pipeline.

Meta's rules (Messenger Platform policy, "Message Tags", checked 2026):

* standard messaging: within **24 hours** of the person's last message to the Page;
* after that only with a message tag whose use case fits the content; tags never carry promotional
  content. ``ACCOUNT_UPDATE`` covers "a non-recurring change to their application or account" (a citizen's
  report being answered or changing status fits); ``HUMAN_AGENT`` lets a *person* answer up to **7 days**
  after the last message (an official's own answer fits, an automatic status change does not);
  ``CONFIRMED_EVENT_UPDATE`` and ``POST_PURCHASE_UPDATE`` fit none of the bot's messages;
* bulletins go to many people at once: never with a tag, so outside the window they wait for the
  citizen's next message ("Bạn có bản tin mới").

:func:`decide` gives ``SEND`` (messaging_type RESPONSE), ``SEND_WITH_TAG`` (pass ``decision.tag`` to
``MessengerChannel.send(tag=...)``) or ``DEFER`` with a reason in Vietnamese for the dashboard.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from core import delivery as core_delivery
from core.delivery import MessageKind

__all__ = ["Action", "Decision", "MessageKind", "STANDARD_WINDOW", "TAG_RULES", "TagRule", "decide"]

STANDARD_WINDOW = timedelta(hours=24)


class Action(str, Enum):
    SEND = "send"
    SEND_WITH_TAG = "send_with_tag"
    DEFER = "defer"


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    tag: str = ""  # the message tag to send with (SEND_WITH_TAG only)
    reason: str = ""  # why it is deferred or tagged, in Vietnamese, for the dashboard

    @property
    def sendable(self) -> bool:
        return self.action != Action.DEFER


@dataclass(frozen=True, slots=True)
class TagRule:
    kinds: frozenset[MessageKind]  # which of the bot's messages the tag's use case covers
    max_age: timedelta | None = None  # how long after the person's last message the tag may be used


TAG_RULES: dict[str, TagRule] = {
    "ACCOUNT_UPDATE": TagRule(frozenset({MessageKind.OFFICIAL_ANSWER, MessageKind.STATUS_CHANGE})),
    "HUMAN_AGENT": TagRule(frozenset({MessageKind.OFFICIAL_ANSWER}), max_age=timedelta(days=7)),
    "CONFIRMED_EVENT_UPDATE": TagRule(frozenset()),
    "POST_PURCHASE_UPDATE": TagRule(frozenset()),
}

_KIND_VI = {
    MessageKind.REPLY: "câu trả lời",
    MessageKind.OFFICIAL_ANSWER: "trả lời của cán bộ",
    MessageKind.STATUS_CHANGE: "thông báo đổi trạng thái",
    MessageKind.BULLETIN: "bản tin",
}


def _hours(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} giờ" if hours < 48 else f"{hours / 24:.0f} ngày"


def decide(last_inbound: datetime | None, now: datetime, kind: MessageKind | str, update_tag: str = "") -> Decision:
    """Whether to send a message of ``kind`` to a citizen now.

    ``last_inbound``: when the citizen last wrote to the Page (aware datetime; None = never);
    ``now``: aware datetime; ``update_tag``: ``MESSENGER_UPDATE_TAG`` ("" = defer outside the window).
    Raises ValueError for naive datetimes or an unknown kind/tag (configuration errors, not decisions).
    """
    kind = MessageKind(kind)
    tag = update_tag.strip().upper()
    if tag and tag not in TAG_RULES:
        raise ValueError(f"unknown Messenger message tag {tag!r}")
    if now.tzinfo is None or (last_inbound is not None and last_inbound.tzinfo is None):
        raise ValueError("decide() needs timezone-aware datetimes")
    what = _KIND_VI[kind]
    if last_inbound is None:
        return Decision(Action.DEFER, reason=(
            f"Người dân chưa nhắn tin cho Trang: Messenger chỉ cho gửi {what} sau khi họ nhắn trước; "
            "tin sẽ được gửi khi họ nhắn."))
    elapsed = max(now - last_inbound, timedelta(0))
    if elapsed < STANDARD_WINDOW:
        return Decision(Action.SEND)
    since = f"Đã {_hours(elapsed)} kể từ tin nhắn cuối của người dân (quá 24 giờ của Messenger)"
    if kind == MessageKind.BULLETIN:
        return Decision(Action.DEFER, reason=(
            f"{since}; bản tin không được gửi bằng thẻ tin nhắn nên sẽ báo \"Bạn có bản tin mới\" "
            "khi người dân nhắn lại."))
    if kind == MessageKind.REPLY:
        return Decision(Action.DEFER, reason=f"{since}; câu trả lời sẽ được gửi khi người dân nhắn lại.")
    if not tag:
        return Decision(Action.DEFER, reason=(
            f"{since}; chưa cấu hình thẻ MESSENGER_UPDATE_TAG nên {what} sẽ được gửi khi người dân nhắn lại."))
    rule = TAG_RULES[tag]
    if kind not in rule.kinds:
        return Decision(Action.DEFER, reason=(
            f"{since}; thẻ {tag} không dùng được cho {what} theo quy định của Meta, "
            "tin sẽ được gửi khi người dân nhắn lại."))
    if rule.max_age is not None and elapsed >= rule.max_age:
        return Decision(Action.DEFER, reason=(
            f"{since}; thẻ {tag} chỉ dùng được trong {_hours(rule.max_age)} sau tin nhắn cuối, "
            "tin sẽ được gửi khi người dân nhắn lại."))
    return Decision(Action.SEND_WITH_TAG, tag=tag, reason=f"{since}; gửi kèm thẻ {tag}.")


@dataclass(frozen=True, slots=True)
class MessengerPolicy:
    """:func:`decide` as the core's delivery policy (``core.delivery.DeliveryPolicy``) for the outbox."""

    update_tag: str = ""

    def decide(self, kind: core_delivery.MessageKind, reach: core_delivery.Reach, now: datetime) -> core_delivery.Verdict:
        d = decide(reach.last_inbound, now, kind, self.update_tag)
        if d.action == Action.DEFER:
            return core_delivery.Verdict(core_delivery.Action.DEFER, reason=d.reason)
        return core_delivery.Verdict(core_delivery.Action.SEND, tag=d.tag, reason=d.reason)
