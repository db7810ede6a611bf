"""Response deadlines in working days, in the pack's timezone.

Practice for Vietnamese administrative deadlines ("x ngày làm việc kể từ ngày nhận"): the day the report
arrives is not counted; counting starts on the next working day. Working days are Monday–Friday minus the
public holidays of the official calendar (`core.content.holidays`: the `holidays` package's Vietnamese
calendar with the pack's per-year decisions in `calendar.yaml`) and the pack's `agencies.yaml: holidays`; a
Saturday/Sunday declared a make-up working day (in the calendar or `feedback.yaml: extra_working_days`)
counts. The deadline is the end of the last working day, local time, stored as an aware UTC datetime so the queue can sort and flag overdue items on any database.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Protocol
from zoneinfo import ZoneInfo


class DayCalendar(Protocol):
    def is_working_day(self, day: dt.date) -> bool: ...


class WorkCalendar:
    def __init__(self, holidays: Iterable[dt.date] = (), extra_working_days: Iterable[dt.date] = (),
                 timezone: str = "Asia/Ho_Chi_Minh", official: DayCalendar | None = None) -> None:
        self.holidays = frozenset(holidays)
        self.extra = frozenset(extra_working_days)
        self.tz = ZoneInfo(timezone)
        self.official = official  # None: Monday–Friday minus `holidays` only

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.extra:
            return True
        if day in self.holidays:
            return False
        return self.official.is_working_day(day) if self.official is not None else day.weekday() < 5

    def local_date(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.tz).date()

    def add_working_days(self, start: dt.date, days: int) -> dt.date:
        """The `days`-th working day after `start` (start itself never counts)."""
        if days < 1:
            raise ValueError("days must be >= 1")
        day, left = start, days
        for _ in range(days * 7 + 400):  # bounded: at most a year of holidays in a row
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                left -= 1
                if left == 0:
                    return day
        raise ValueError("no working day found within a year; check the holiday list")

    def end_of_day(self, day: dt.date) -> dt.datetime:
        """The first instant after `day` in the pack's timezone, as UTC (deadline_at < that = on time)."""
        nxt = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0, 0), tzinfo=self.tz)
        return nxt.astimezone(dt.UTC)

    def due(self, received_at: dt.datetime, days: int) -> tuple[dt.date, dt.datetime]:
        """(due date, deadline instant) for something received at `received_at` (aware)."""
        due_date = self.add_working_days(self.local_date(received_at), days)
        return due_date, self.end_of_day(due_date)

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]; negative when end < start."""
        if end < start:
            return -self.working_days_between(end, start)
        n, day = 0, start
        while day < end:
            day += dt.timedelta(days=1)
            n += self.is_working_day(day)
        return n
