"""Whether a message may reach a person now: the per-channel delivery policy of the outbound pipeline.

Platforms limit when a bot may write first. Telegram: always, unless the person blocked the bot. Zalo
OA: free replies within 48 hours of the person's last message, at most 8 of them; otherwise a proactive
message from a monthly quota (verified OAs), otherwise the message waits for the person's next message.
Facebook Messenger: 24 hours, then only with a message tag whose rules fit. Sources:
`../shared/domain/platforms.md`, Zalo OA help centre ("Các loại tin của Zalo Official Account"), Meta's
Send API docs. Each adapter declares its policy (``Channel.policy``); the outbox asks it per message.
"""
from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Protocol


class MessageKind(str, Enum):
    REPLY = "reply"  # the bot's answer in a conversation turn
    OFFICIAL_ANSWER = "official_answer"  # an official answered the citizen's report
    STATUS_CHANGE = "status_change"  # the citizen's report changed status, a rating request
    BULLETIN = "bulletin"  # a bulletin issue to a subscriber


class Action(str, Enum):
    SEND = "send"
    DEFER = "defer"  # wait for the person's next message, then send first
    CANNOT = "cannot"  # the platform will never take it (kept with the reason)


@dataclass(frozen=True, slots=True)
class Reach:
    """What the outbox knows of a person on a channel when it asks the policy.

    ``last_inbound``: when they last wrote (None: never); ``last_message_id``: the platform id of that
    message (a Zalo reply must carry it to be free); ``sent_since_inbound``: messages sent to them since;
    ``proactive_this_month``: proactive messages the province sent on this channel this month."""

    last_inbound: dt.datetime | None = None
    last_message_id: str = ""
    sent_since_inbound: int = 0
    proactive_this_month: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    action: Action
    reason: str = ""  # why it waits or cannot go, in Vietnamese, for the officials' pages
    tag: str = ""  # a platform message tag to send with (Messenger)
    reply_to: str = ""  # send as a reply to this message (Zalo: a free reply)
    proactive: bool = False  # spends the channel's proactive quota

    @property
    def sendable(self) -> bool:
        return self.action == Action.SEND


class DeliveryPolicy(Protocol):
    def decide(self, kind: MessageKind, reach: Reach, now: dt.datetime) -> Verdict: ...


class Always:
    """Telegram, the terminal and the web chat: a message may always be sent (a block is an error)."""

    def decide(self, kind: MessageKind, reach: Reach, now: dt.datetime) -> Verdict:
        return Verdict(Action.SEND)


ALWAYS = Always()


def hours_since(reach: Reach, now: dt.datetime) -> str:
    """'30 giờ' / '3 ngày': how long since the person last wrote, for a reason text."""
    if reach.last_inbound is None:
        return ""
    hours = max(0, int((now - reach.last_inbound).total_seconds() // 3600))
    return f"{hours} giờ" if hours < 72 else f"{hours // 24} ngày"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The one retry rule of the outbound pipeline (the outbox and the bulletin engine): after failed
    attempt ``n`` of a temporary failure wait ``waits[n-1]`` seconds (randomised down to ``1 - jitter``
    of it, so a burst of failures does not come back as one burst), at least the platform's
    ``retry_after``; after ``len(waits) + 1`` attempts give up. Blocks and rejections are never retried
    (the callers decide that from the error type)."""

    waits: tuple[float, ...] = (60.0, 300.0, 900.0, 3600.0, 14400.0)
    jitter: float = 0.0

    @classmethod
    def exponential(cls, base: float, cap: float, attempts: int, jitter: float = 0.5) -> RetryPolicy:
        """``attempts`` tries in all, waiting ``base * 2**(n-1)`` (at most ``cap``) seconds between them."""
        return cls(tuple(min(cap, base * 2 ** i) for i in range(max(0, attempts - 1))), jitter)

    @classmethod
    def minutes(cls, waits: Sequence[float], jitter: float = 0.0) -> RetryPolicy:
        return cls(tuple(60.0 * m for m in waits), jitter)

    @property
    def max_attempts(self) -> int:
        return len(self.waits) + 1

    def next_wait(self, attempt: int, retry_after: float | None = None, *,
                  rand: random.Random | None = None) -> float | None:
        """Seconds to wait after failed attempt number ``attempt`` (1-based); None: give up."""
        if attempt < 1 or attempt > len(self.waits):
            return None
        wait = self.waits[attempt - 1]
        if self.jitter:
            wait *= 1.0 - self.jitter * (rand or random).random()
        return max(wait, retry_after or 0.0)
