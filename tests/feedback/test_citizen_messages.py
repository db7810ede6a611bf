"""Messages to the citizen go through the core outbox: the report page shows how each stands, a deferred
answer goes first when the citizen writes again, and migration 0010 carries the old feature outbox over."""
from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from sqlalchemy import select

from core.codec import reply_from_dict
from core.delivery import Action, MessageKind, Reach, Verdict
from core.storage.models import OutboxMessage
from core.types import Incoming
from tests.dashboard.helpers import RecordingSender, add_official, dashboard_client, login, post_form, submit_report


class AnswersOnly:
    """A channel that lets the bot write only in answer to the person's last message (like Zalo's free
    replies): with no message to answer, a message waits."""

    reason = "kênh chỉ cho phép trả lời tin nhắn của người dân"

    def decide(self, kind: MessageKind, reach: Reach, now: dt.datetime) -> Verdict:
        if reach.last_message_id:
            return Verdict(Action.SEND, reply_to=reach.last_message_id)
        return Verdict(Action.DEFER, reason=self.reason)


def _message_rows(page: str) -> list[str]:
    table = page.split('id="citizen-messages"', 1)[1].split("</table>", 1)[0]
    return [re.sub(r"\s+", " ", row) for row in re.findall(r'<tr class="message.*?</tr>', table, re.S)]


async def test_deferred_answer_shown_waiting_then_sent_first_when_the_citizen_writes(bot):
    from bot.app import use_inbox

    sender = RecordingSender()
    bot.senders["telegram"] = sender
    bot.policies["telegram"] = AnswersOnly()
    report_id, _code, _ = await submit_report(bot, external_id="8301")
    await add_official(bot, "tt.defer", "ttphhc", "officer")
    answer = "Đề nghị Ông/Bà mang bản chính CCCD đến Trung tâm vào sáng thứ Hai."
    async with dashboard_client(bot) as client:
        await login(client, "tt.defer")
        detail = f"/dashboard/reports/{report_id}"
        assert (await post_form(client, f"{detail}/reply", {"text": answer}, token_from=detail)).status == 303
        [row] = _message_rows(await (await client.get(detail)).text())
        assert "Trả lời của cán bộ" in row
        assert f"chờ người dân nhắn lại: {AnswersOnly.reason}" in row
        assert sender.sent == []  # nothing went out: the policy defers it

        inbox = use_inbox(bot)
        await inbox.submit(Incoming(channel="telegram", user_id="8301", text="Xin chào", message_id="m-1"))
        await inbox.run_until_idle(timeout=10)
        texts = [" ".join(r.text for r in replies) for uid, replies in sender.sent if uid == "8301"]
        assert len(texts) == 2 and answer in texts[0] and answer not in texts[1]  # the answer first, then the reply

        [row] = _message_rows(await (await client.get(detail)).text())
        assert "chờ người dân nhắn lại" not in row
        async with bot.services.store.sessions() as s:
            sent_at = (await s.execute(select(OutboxMessage.sent_at).where(
                OutboxMessage.ref == f"feedback:{report_id}"))).scalar_one()
        from dashboard.render import vntime

        assert f"đã gửi lúc {vntime(sent_at)}" in row  # local time


async def test_failed_message_is_shown_with_its_reason(bot):
    from core.channel import Blocked

    class BlockedSender(RecordingSender):
        async def send(self, user_id, replies, **kw) -> None:
            raise Blocked("bot was blocked by the user")

    bot.senders["telegram"] = BlockedSender()
    report_id, _code, _ = await submit_report(bot, external_id="8302")
    await add_official(bot, "tt.failed", "ttphhc", "officer")
    async with dashboard_client(bot) as client:
        await login(client, "tt.failed")
        detail = f"/dashboard/reports/{report_id}"
        assert (await post_form(client, f"{detail}/accept", {}, token_from=detail)).status == 303
        [row] = _message_rows(await (await client.get(detail)).text())
        assert "Thông báo thay đổi trạng thái" in row
        assert "không gửi được: người dân đã chặn hoặc bỏ theo dõi" in row


async def test_0010_moves_pending_feedback_messages_into_the_outbox(bot, db_engine) -> None:
    from alembic import command

    from bot.database import MIGRATIONS_DIR
    from core.outbox import Outbox
    from core.storage.db import alembic_config

    report_id, _code, _ = await submit_report(bot, external_id="8303")

    def run(sync_conn, target: str, down: bool) -> None:
        cfg = alembic_config(MIGRATIONS_DIR)
        cfg.attributes["connection"] = sync_conn
        (command.downgrade if down else command.upgrade)(cfg, target)

    def tables(sync_conn) -> set[str]:
        return set(sa.inspect(sync_conn).get_table_names())

    old = sa.table("feedback_outbox", *(sa.column(c) for c in (
        "report_id", "channel", "external_id", "status", "attempts", "next_attempt_at", "created_at")),
        sa.column("replies", sa.JSON))
    now = dt.datetime.now(dt.UTC)
    owed = [{"text": "Phản ánh của Ông/Bà đã được giải quyết.",
             "buttons": [[{"label": "5 sao", "payload": "fb:rt:ABCDEFGH:5"}], [{"label": "Xem", "payload": "fb:v:ABCDEFGH"}]]}]
    async with db_engine.begin() as conn:
        await conn.run_sync(run, "0009", True)
        assert "feedback_outbox" in await conn.run_sync(tables)
        for status, replies in (("pending", owed), ("sent", [{"text": "đã gửi từ trước", "buttons": []}])):
            await conn.execute(old.insert().values(report_id=report_id, channel="telegram", external_id="8303",
                                                   replies=replies, status=status, attempts=2, next_attempt_at=now,
                                                   created_at=now))
        await conn.run_sync(run, "head", False)
        assert "feedback_outbox" not in await conn.run_sync(tables)
    async with bot.services.store.sessions() as s:
        [row] = (await s.execute(select(OutboxMessage).where(OutboxMessage.ref == f"feedback:{report_id}"))).scalars()
    assert (row.status, row.kind, row.attempts, row.claimed_by) == ("pending", "status_change", 2, None)
    [reply] = [reply_from_dict(r) for r in row.replies]
    assert reply.text == owed[0]["text"]
    assert [[(b.label, b.payload) for b in line] for line in reply.buttons] == [
        [("5 sao", "fb:rt:ABCDEFGH:5")], [("Xem", "fb:v:ABCDEFGH")]]
    # the outbox's run loop sends it like any other owed message
    sender = RecordingSender()
    outbox = Outbox(bot.services.store.sessions, {"telegram": sender}, process_id="test-0010")
    assert await outbox.run_once() == 1
    assert sender.texts_to("8303") == [owed[0]["text"]]
    # and down again: the old table comes back empty
    async with db_engine.begin() as conn:
        await conn.run_sync(run, "0009", True)
        assert (await conn.execute(select(sa.func.count()).select_from(old))).scalar_one() == 0
        await conn.run_sync(run, "head", False)
