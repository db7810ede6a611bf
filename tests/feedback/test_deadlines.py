import datetime as dt

from features.feedback.deadlines import WorkCalendar

D = dt.date
TZ = "Asia/Ho_Chi_Minh"


def test_weekend_is_skipped_and_receipt_day_not_counted():
    cal = WorkCalendar(timezone=TZ)
    assert cal.add_working_days(D(2025, 11, 3), 1) == D(2025, 11, 4)  # Monday -> Tuesday
    assert cal.add_working_days(D(2025, 11, 7), 1) == D(2025, 11, 10)  # Friday -> Monday
    assert cal.add_working_days(D(2025, 11, 8), 1) == D(2025, 11, 10)  # Saturday -> Monday
    assert cal.add_working_days(D(2025, 11, 7), 5) == D(2025, 11, 14)


def test_holidays_skipped_including_tet(pack):
    cal = WorkCalendar(pack.agencies.holidays, timezone=TZ)
    # Friday 13/2/2026, then Tết 14–22/2: the 5 working days are 23–27/2.
    assert cal.add_working_days(D(2026, 2, 13), 5) == D(2026, 2, 27)
    # 29/4/2026 (Wed): 30/4 and 1/5 off, weekend, then Mon 4/5 ... the 3rd working day is Wed 6/5.
    assert cal.add_working_days(D(2026, 4, 29), 3) == D(2026, 5, 6)


def test_year_end_rollover(pack):
    cal = WorkCalendar(pack.agencies.holidays, timezone=TZ)
    # Wed 31/12/2025; 1/1/2026 is a holiday: Fri 2/1, Mon 5/1, Tue 6/1.
    assert cal.add_working_days(D(2025, 12, 31), 3) == D(2026, 1, 6)


def test_make_up_working_saturday_counts():
    cal = WorkCalendar(extra_working_days=[D(2026, 1, 3)], timezone=TZ)
    assert cal.add_working_days(D(2026, 1, 2), 1) == D(2026, 1, 3)


def test_deadline_uses_pack_timezone():
    cal = WorkCalendar(timezone=TZ)
    # Friday 2025-11-07 18:30 UTC is already Saturday 01:30 in Việt Nam: counting starts Monday.
    received = dt.datetime(2025, 11, 7, 18, 30, tzinfo=dt.UTC)
    due, deadline = cal.due(received, 1)
    assert due == D(2025, 11, 10)
    assert deadline == dt.datetime(2025, 11, 10, 17, 0, tzinfo=dt.UTC)  # midnight +07 after the due day


def test_working_days_between():
    cal = WorkCalendar(timezone=TZ)
    assert cal.working_days_between(D(2025, 11, 7), D(2025, 11, 14)) == 5
    assert cal.working_days_between(D(2025, 11, 14), D(2025, 11, 7)) == -5
