"""Zalo OA's delivery policy for the core's outbound pipeline (``core.delivery.DeliveryPolicy``).

After a person writes to the OA, the OA may send up to 8 free replies within 48 hours (each carries the
``message_id`` of the person's message); outside that, a proactive message from the verified OA's monthly
quota (``ZALO_OA_PROACTIVE_MONTHLY_QUOTA``, counted in the database by the outbox, never exceeded); otherwise
the message waits for the person's next message. Source: Zalo OA help centre, "Các loại tin của Zalo
Official Account", and ../shared/domain/platforms.md. The window and the count are configurable because
Zalo has changed them before (older SDK notes speak of 7 days).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from core.delivery import Action, MessageKind, Reach, Verdict, hours_since


@dataclass(frozen=True)
class ZaloOAPolicy:
    proactive_monthly_quota: int = 0
    window: dt.timedelta = dt.timedelta(hours=48)
    free_replies: int = 8

    def decide(self, kind: MessageKind, reach: Reach, now: dt.datetime) -> Verdict:
        inside = (reach.last_inbound is not None and now - reach.last_inbound < self.window
                  and reach.sent_since_inbound < self.free_replies and reach.last_message_id)
        if inside:
            return Verdict(Action.SEND, reply_to=reach.last_message_id)
        if reach.proactive_this_month < self.proactive_monthly_quota:
            return Verdict(Action.SEND, proactive=True)
        if reach.last_inbound is None:
            why = "người dân chưa nhắn cho Zalo OA"
        elif now - reach.last_inbound >= self.window:
            why = f"đã {hours_since(reach, now)} kể từ tin nhắn cuối (Zalo chỉ cho trả lời trong 48 giờ)"
        else:
            why = f"đã gửi {reach.sent_since_inbound} tin kể từ tin nhắn cuối (Zalo cho tối đa {self.free_replies})"
        quota = ("hết hạn mức tin chủ động tháng này" if self.proactive_monthly_quota > 0
                 else "tỉnh chưa bật tin chủ động")
        return Verdict(Action.DEFER, reason=f"Chờ người dân nhắn lại: {why}, {quota}.")
