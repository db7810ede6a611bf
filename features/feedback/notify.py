"""Messages owed to citizens (status changes, officials' replies), delivered through an outbox.

The row is written in the same transaction as the event that causes it; delivery happens after commit.
A failed send leaves the row pending with a later `next_attempt_at` (the pack's `retry_minutes`); the
background task retries it. A citizen who blocked the bot is marked `blocked` (no more attempts). A channel
with no sender in this process (e.g. Zalo before its adapter exists) simply stays pending, so nothing is lost.
Rows are claimed with a conditional UPDATE before sending, so two workers never send the same message.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.channel import Blocked, DeliveryError, PermanentError, RateLimited
from features.feedback.models import Notification
from core.types import Button, Reply

log = logging.getLogger(__name__)

CLAIM_SECONDS = 120  # a claimed row is retried by another worker if this one dies mid-send


def dump_replies(replies: Sequence[Reply]) -> list[dict[str, Any]]:
    """Replies as JSON (text and payload buttons: all a status message needs)."""
    return [
        {"text": r.text, "buttons": [[{"label": b.label, "payload": b.payload} for b in row] for row in r.buttons]}
        for r in replies
    ]


def load_replies(data: list[dict[str, Any]]) -> list[Reply]:
    return [
        Reply(text=d.get("text", ""),
              buttons=[[Button(b["label"], payload=b["payload"]) for b in row] for row in d.get("buttons", [])])
        for d in data
    ]


class Notifier:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], senders: dict[str, Any],
                 clock: Callable[[], dt.datetime], retry_minutes: Callable[[], list[int]]) -> None:
        self.sessions = sessions
        self.senders = senders
        self.clock = clock
        self.retry_minutes = retry_minutes

    def enqueue(self, session: AsyncSession, *, report_id: int, event_id: int | None, user_id: int | None,
                channel: str, external_id: str, replies: Sequence[Reply]) -> Notification:
        row = Notification(report_id=report_id, event_id=event_id, user_id=user_id, channel=channel,
                           external_id=external_id, replies=dump_replies(replies), status="pending",
                           attempts=0, next_attempt_at=self.clock(), created_at=self.clock())
        session.add(row)
        return row

    async def _claim(self, notification_id: int) -> Notification | None:
        now = self.clock()
        async with self.sessions.begin() as session:
            result = await session.execute(
                update(Notification)
                .where(Notification.id == notification_id, Notification.status == "pending",
                       Notification.next_attempt_at <= now)
                .values(next_attempt_at=now + dt.timedelta(seconds=CLAIM_SECONDS))
            )
            if result.rowcount != 1:
                return None
            return await session.get(Notification, notification_id)

    async def _finish(self, notification_id: int, **values: Any) -> None:
        async with self.sessions.begin() as session:
            await session.execute(update(Notification).where(Notification.id == notification_id).values(**values))

    async def deliver_one(self, notification_id: int) -> bool:
        """Try once; True when the channel accepted the message."""
        row = await self._claim(notification_id)
        if row is None:
            return False
        sender = self.senders.get(row.channel)
        now = self.clock()
        if sender is None:
            log.info("feedback notification %s: no sender for channel %s yet; kept pending", row.id, row.channel)
            await self._finish(row.id, next_attempt_at=now + dt.timedelta(minutes=self.retry_minutes()[0]),
                               last_error=f"no sender for {row.channel}"[:256])
            return False
        try:
            await sender.send(row.external_id, load_replies(row.replies), retry=False)
        except Blocked:
            log.info("feedback notification %s: citizen blocked the bot", row.id)
            await self._finish(row.id, status="blocked", attempts=row.attempts + 1, last_error="blocked")
            return False
        except PermanentError as exc:
            log.warning("feedback notification %s: permanent error: %s", row.id, exc)
            await self._finish(row.id, status="failed", attempts=row.attempts + 1, last_error=str(exc)[:256])
            return False
        except Exception as exc:  # noqa: BLE001 - transient, rate limit or an adapter bug: retry later
            await self._reschedule(row, now, exc)
            return False
        await self._finish(row.id, status="sent", attempts=row.attempts + 1, sent_at=self.clock(), last_error="")
        return True

    async def _reschedule(self, row: Notification, now: dt.datetime, exc: Exception) -> None:
        attempts = row.attempts + 1
        plan = self.retry_minutes()
        if attempts > len(plan):
            log.warning("feedback notification %s: giving up after %d attempts: %s", row.id, attempts, exc)
            await self._finish(row.id, status="failed", attempts=attempts, last_error=str(exc)[:256])
            return
        delay = dt.timedelta(minutes=plan[attempts - 1])
        if isinstance(exc, RateLimited):
            delay = max(delay, dt.timedelta(seconds=exc.retry_after))
        level = logging.INFO if isinstance(exc, DeliveryError) else logging.ERROR
        log.log(level, "feedback notification %s: attempt %d failed (%s); retry in %s",
                row.id, attempts, type(exc).__name__, delay)
        await self._finish(row.id, attempts=attempts, next_attempt_at=now + delay,
                           last_error=f"{type(exc).__name__}: {exc}"[:256])

    async def deliver(self, ids: Sequence[int]) -> int:
        sent = 0
        for notification_id in ids:
            try:
                sent += await self.deliver_one(notification_id)
            except Exception:
                log.exception("feedback notification %s: delivery crashed", notification_id)
        return sent

    async def retry_due(self, limit: int = 100) -> int:
        async with self.sessions() as session:
            ids = list((await session.execute(
                select(Notification.id)
                .where(Notification.status == "pending", Notification.next_attempt_at <= self.clock())
                .order_by(Notification.next_attempt_at, Notification.id).limit(limit)
            )).scalars())
        return await self.deliver(ids)
