"""Issue 15: the daily deadline digest per agency, e-mailed through aiosmtplib to a local SMTP sink."""
from __future__ import annotations

import asyncio
import datetime as dt
import email

from aiosmtpd.controller import Controller
from sqlalchemy import update

from features.feedback.digest import SmtpConfig, build_digests, next_digest_time, recipients_from_env, send_digests
from features.feedback.models import Report
from tests.feedback.test_service import _file


class Sink:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802 - aiosmtpd's handler API
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


async def test_digest_lists_due_tomorrow_and_overdue_and_is_mailed_without_personal_data(bot):
    service = bot.services.extra["feedback"]
    now = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)  # 08:00 in Việt Nam
    ids = []
    for i in range(3):
        _, rid = await _file(bot, user_id=f"77{i}")
        ids.append(rid)
    deadlines = [now - dt.timedelta(days=2), now + dt.timedelta(days=1), now + dt.timedelta(days=5)]
    async with bot.services.store.sessions.begin() as s:
        for rid, deadline in zip(ids, deadlines):
            await s.execute(update(Report).where(Report.id == rid).values(deadline_at=deadline))
    digests = await build_digests(bot.services.store.sessions, "Asia/Ho_Chi_Minh", now)
    assert len(digests) == 1
    digest = digests[0]
    codes = {rid: (await service.get_report(_admin(bot), rid)).code.replace("-", "") for rid in ids}
    assert [i.code for i in digest.overdue] == [codes[ids[0]]]
    assert [i.code for i in digest.due_tomorrow] == [codes[ids[1]]]  # the one due in 5 days is not listed

    sink = Sink()
    from tests.production.test_rolling_restart import free_port

    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    try:
        env = {"CCHC_SMTP_HOST": "127.0.0.1", "CCHC_SMTP_PORT": str(port), "CCHC_SMTP_STARTTLS": "false",
               "CCHC_SMTP_FROM": "bot@example.gov.vn", "CCHC_DIGEST_EMAILS": f"{digest.agency_id}=a@x.gov.vn,b@x.gov.vn"}
        sent = await send_digests(digests, recipients_from_env(env), SmtpConfig.from_env(env),
                                  {digest.agency_id: "Trung tâm"}, "https://bot.example.gov.vn")
        for _ in range(50):
            if sink.messages:
                break
            await asyncio.sleep(0.05)
    finally:
        await asyncio.to_thread(controller.stop)
    assert sent == 1 and len(sink.messages) == 1
    mail = sink.messages[0]
    body = mail.get_payload(decode=True).decode()
    assert mail["To"] == "a@x.gov.vn, b@x.gov.vn" and "1 phản ánh quá hạn" in str(email.header.make_header(
        email.header.decode_header(mail["Subject"])))
    assert codes[ids[0]][:4] in body and "https://bot.example.gov.vn/dashboard/reports" in body
    report = await service.get_report(_admin(bot), ids[0])
    for personal in (report.description[:20], report.phone):
        assert not personal or personal not in body


def test_the_digest_is_due_at_the_hour_in_the_pack_time_zone():
    due = next_digest_time("Asia/Ho_Chi_Minh", 7)
    assert due(dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)) == dt.datetime(2026, 12, 2, 0, 0, tzinfo=dt.UTC)
    assert due(dt.datetime(2026, 11, 30, 23, 0, tzinfo=dt.UTC)) == dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)
    assert SmtpConfig.from_env({}) is None and recipients_from_env({"CCHC_DIGEST_EMAILS": "x=not-an-address"}) == {}


def _admin(bot):
    from features.feedback.permissions import Actor

    return Actor(None, "test", bot.services.pack.agencies.default_agency, "admin")
