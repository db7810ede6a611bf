"""Issue 15: the daily deadline digest per agency, e-mailed through aiosmtplib to a local SMTP sink."""
from __future__ import annotations

import asyncio
import datetime as dt
import email

from aiosmtpd.controller import Controller
import pytest
from sqlalchemy import update

from features.feedback.digest import (
    SmtpConfig,
    build_digests,
    count_digest,
    next_digest_time,
    recipients_from_env,
    render_text,
    send_digests,
)
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
                                  {digest.agency_id: "Trung tâm"}, "https://bot.example.gov.vn",
                                  statuses={"new": service.status_label("new")})
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
    # the link opens the dashboard's page of the same lists (features/feedback/dashboard/due.py)
    assert codes[ids[0]][:4] in body and "https://bot.example.gov.vn/dashboard/due" in body
    assert f"quá hạn 2 ngày  (thu-tuc, " in body and ", new)" not in body and service.status_label("new") in body
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


async def set_due_date(bot, report_id: int, day: dt.date) -> None:
    """Give a report `day` as its last day for an answer, as intake does (deadline = the end of that day)."""
    calendar = bot.services.extra["feedback"].calendar
    async with bot.services.store.sessions.begin() as s:
        await s.execute(update(Report).where(Report.id == report_id)
                        .values(due_date=day, deadline_at=calendar.end_of_day(day)))


@pytest.mark.parametrize("hour", [0, 8, 23])  # local hours of Tuesday 01/12/2026 (UTC+7)
async def test_due_tomorrow_means_the_last_day_is_tomorrow_and_overdue_counts_whole_days(bot, hour):
    now = dt.datetime(2026, 12, 1, hour, 30, tzinfo=dt.timezone(dt.timedelta(hours=7))).astimezone(dt.UTC)
    days = {"overdue": dt.date(2026, 11, 27), "yesterday": dt.date(2026, 11, 30), "today": dt.date(2026, 12, 1),
            "tomorrow": dt.date(2026, 12, 2), "later": dt.date(2026, 12, 3)}
    ids = {}
    for n, (name, day) in enumerate(days.items()):
        _, ids[name] = await _file(bot, user_id=f"78{n}")
        await set_due_date(bot, ids[name], day)
    digests = await build_digests(bot.services.store.sessions, "Asia/Ho_Chi_Minh", now)
    assert len(digests) == 1
    digest = digests[0]
    assert [i.id for i in digest.overdue] == [ids["overdue"], ids["yesterday"]]
    assert [i.days_overdue for i in digest.overdue] == [4, 1]
    # due today is neither (yesterday's digest listed it as due tomorrow); due the day after is not yet listed
    assert [i.id for i in digest.due_tomorrow] == [ids["tomorrow"]]
    assert digest.due_tomorrow[0].deadline_text == "hết ngày 02/12/2026"
    assert await count_digest(bot.services.store.sessions, "Asia/Ho_Chi_Minh", now) == 3
    text = render_text(digest, "Trung tâm")
    assert "hết ngày 27/11/2026, quá hạn 4 ngày" in text and "hết ngày 02/12/2026  (" in text
    assert "01/12/2026" not in text and "03/12/2026" not in text


async def test_the_operator_prints_the_digest_and_is_told_when_mail_is_not_configured(bot_sqlite):
    from tests.test_cli import run

    bot = bot_sqlite
    _, late = await _file(bot, user_id="7801")
    _, quiet = await _file(bot, user_id="7802")
    now = dt.datetime.now(dt.UTC)
    async with bot.services.store.sessions.begin() as s:
        await s.execute(update(Report).where(Report.id == late).values(deadline_at=now - dt.timedelta(days=3)))
        await s.execute(update(Report).where(Report.id == quiet).values(deadline_at=now + dt.timedelta(days=9)))
    code = (await bot.services.extra["feedback"].get_report(_admin(bot), late)).code
    env = {"CCHC_DATABASE_URL": str(bot.engine.url), "CCHC_SMTP_HOST": "", "CCHC_DIGEST_EMAILS": ""}
    shown = await asyncio.to_thread(run, "feedback", "digest", env=env)
    assert shown.returncode == 0, shown.stderr
    assert "Quá hạn: 1" in shown.stdout and code.replace("-", "") in shown.stdout.replace("-", "")
    assert "quá hạn 3 ngày" in shown.stdout or "quá hạn 2 ngày" in shown.stdout  # local day boundaries
    refused = await asyncio.to_thread(run, "feedback", "digest", "--send", env=env)
    assert refused.returncode == 1 and "CCHC_SMTP_HOST" in refused.stdout
    assert "Traceback" not in refused.stdout + refused.stderr
