"""Public holidays and make-up working days for working-day deadlines (`calendar.yaml`, optional).

The base is the `holidays` package's Vietnamese calendar: Tết Dương lịch, Tết Nguyên đán, Giỗ Tổ Hùng Vương,
30/4, 1/5, Quốc khánh (and Ngày Văn hóa Việt Nam from 2026), the substituted days off and the make-up
Saturdays of the years it knows (`weekend_workdays`). A well-kept, dated library beats a list each province
retypes every year, and it keeps counting when a province forgets to update its pack.

Every year the government (Thủ tướng / Bộ Nội vụ) announces the Tết and Quốc khánh arrangements, and a
province may add its own. The pack records that decision per year in `calendar.yaml`, with the days that
differ from the base:

    base: holidays            # or "none": only the days listed here (and in agencies.yaml: holidays)
    years:
      2027:
        decision: "Thông báo số .../TB-BNV ngày ... của Bộ Nội vụ"
        days_off: [2027-02-11]        # extra days off
        working_days: [2027-02-20]    # make-up Saturdays/Sundays
        not_days_off: []              # days the base lists that are worked after all

`content check` warns when the coming year has no entry (from October on, when such plans are published,
"coming" means next year too). The older `agencies.yaml: holidays` and `feedback.yaml: extra_working_days`
lists still count, on top of this calendar.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import holidays as holidays_lib
from pydantic import Field

from core.content.report import Report
from core.content.schema import Strict
from core.content.yamlsource import YamlDoc

FILE_NAME = "calendar.yaml"
# From this month on, next year's Tết arrangement is usually published: the check then asks for it too.
NEXT_YEAR_FROM_MONTH = 10
SATURDAY = 5


class CalendarYear(Strict):
    decision: str | None = None  # the document(s) the year's days come from; None while `!todo`
    days_off: list[dt.date] = []
    working_days: list[dt.date] = []
    not_days_off: list[dt.date] = []


class CalendarFile(Strict):
    base: Literal["holidays", "none"] = "holidays"
    years: dict[int, CalendarYear] = Field(default_factory=dict)


class OfficialCalendar:
    """Which days are working days, from the base calendar and the pack's per-year decisions.

    Precedence: the pack's make-up days, then its extra days off, then the base's make-up days, then the
    weekend, then the pack's `not_days_off`, then the base's holidays.
    """

    def __init__(self, data: CalendarFile | None = None) -> None:
        data = data or CalendarFile()
        self.base: holidays_lib.HolidayBase | None = (
            holidays_lib.country_holidays("VN", language="vi") if data.base == "holidays" else None)
        self.working = frozenset(d for y in data.years.values() for d in y.working_days)
        self.days_off = frozenset(d for y in data.years.values() for d in y.days_off)
        self.not_days_off = frozenset(d for y in data.years.values() for d in y.not_days_off)

    def base_holiday(self, day: dt.date) -> str | None:
        """The base calendar's name of the day ("Tết Nguyên Đán"), or None."""
        return self.base.get(day) if self.base is not None else None

    def base_make_up_day(self, day: dt.date) -> bool:
        if self.base is None:
            return False
        self.base.get(day)  # expands the year, which fills `weekend_workdays` for it
        return day in self.base.weekend_workdays

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.working:
            return True
        if day in self.days_off:
            return False
        if self.base_make_up_day(day):
            return True
        if day.weekday() >= SATURDAY:
            return False
        if day in self.not_days_off:
            return True
        return self.base_holiday(day) is None


def calendar_of(pack: Any) -> OfficialCalendar:
    """The loaded pack's calendar (the base calendar alone when the pack has no calendar.yaml)."""
    data = (getattr(pack, "extras", None) or {}).get("calendar")
    return OfficialCalendar(data if isinstance(data, CalendarFile) else None)


def years_to_check(today: dt.date) -> list[int]:
    years = [today.year]
    if today.month >= NEXT_YEAR_FROM_MONTH:
        years.append(today.year + 1)
    return years


def check_calendar(doc: YamlDoc, data: CalendarFile, report: Report, today: dt.date) -> None:
    """Dates in the right year, make-up days on weekends, no day both off and worked, the coming years recorded."""
    present = doc.file.exists()

    def line(path: tuple[Any, ...]) -> int:
        return doc.line_of(path) if present else 0

    base = OfficialCalendar(CalendarFile(base=data.base))
    for year, entry in data.years.items():
        for field in ("days_off", "working_days", "not_days_off"):
            for i, day in enumerate(getattr(entry, field)):
                where = ("years", str(year), field, i)
                fld = f"years.{year}.{field}[{i}]"
                if day.year != year:
                    report.error(doc.file, line(where), fld, f"ngày {day:%d/%m/%Y} không thuộc năm {year}")
                elif field == "working_days" and day.weekday() < SATURDAY:
                    report.error(doc.file, line(where), fld,
                                 f"ngày làm bù {day:%d/%m/%Y} không phải thứ Bảy hoặc Chủ nhật")
                elif field == "working_days" and day in entry.days_off:
                    report.error(doc.file, line(where), fld,
                                 f"ngày {day:%d/%m/%Y} vừa là ngày nghỉ vừa là ngày làm bù")
                elif field == "not_days_off" and base.base_holiday(day) is None:
                    report.warning(doc.file, line(where), fld,
                                   f"ngày {day:%d/%m/%Y} không phải ngày nghỉ trong lịch mặc định (thư viện holidays)")
    todo = {tuple(t.path) for t in doc.todos}  # an unconfirmed `decision: !todo` is already warned about
    for year in years_to_check(today):
        entry = data.years.get(year)
        if (entry is None or not entry.decision) and ("years", str(year), "decision") not in todo:
            report.warning(doc.file, line(("years",)), f"years.{year}",
                           f"chưa ghi quyết định về lịch nghỉ lễ, Tết năm {year} (decision, days_off, working_days); "
                           "hạn trả lời đang tính theo lịch mặc định của thư viện holidays")


def load_section(doc: YamlDoc, report: Report, today: dt.date | None = None) -> CalendarFile:
    """`calendar.yaml` → CalendarFile (the base calendar alone when the file is absent or invalid)."""
    from core.content.loader import _validate

    data = _validate(doc, CalendarFile, report) if doc.data is not None else CalendarFile()
    if data is None:
        return CalendarFile()
    check_calendar(doc, data, report, today or dt.date.today())
    return data

