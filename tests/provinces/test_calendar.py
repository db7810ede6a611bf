"""Working-day deadlines on the `holidays` package's Vietnamese calendar plus the pack's yearly decisions."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from core.content.holidays import CalendarFile, CalendarYear, OfficialCalendar, load_section
from core.content.report import Report
from core.content.yamlsource import read_yaml
from features.feedback.deadlines import WorkCalendar

D = dt.date
TZ = "Asia/Ho_Chi_Minh"


def calendar(data: CalendarFile | None = None) -> WorkCalendar:
    return WorkCalendar(timezone=TZ, official=OfficialCalendar(data))


def test_tet_2026_is_skipped_by_default() -> None:
    cal = calendar()
    # Friday 13/2/2026, then Tết (weekend 14–15, Mon 16 – Fri 20/2 off, weekend): 5 working days are 23–27/2.
    assert cal.add_working_days(D(2026, 2, 13), 5) == D(2026, 2, 27)
    assert not any(cal.is_working_day(D(2026, 2, day)) for day in range(14, 23))


def test_tet_2027_is_skipped_by_default() -> None:
    cal = calendar()
    # Wednesday 3/2/2027; Tết Đinh Mùi: Thursday 4/2 (29 Tết) to Wednesday 10/2 off.
    assert [d for d in (D(2027, 2, 3) + dt.timedelta(days=i) for i in range(10)) if cal.is_working_day(d)] == [
        D(2027, 2, 3), D(2027, 2, 11), D(2027, 2, 12)]
    assert cal.add_working_days(D(2027, 2, 3), 5) == D(2027, 2, 17)


def test_make_up_saturday_and_its_swapped_day_off() -> None:
    cal = calendar()
    # 2026: Saturday 22/8 is worked so that Monday 31/8 joins the Quốc khánh days off (29/8 – 2/9).
    assert cal.add_working_days(D(2026, 8, 21), 1) == D(2026, 8, 22)
    assert cal.add_working_days(D(2026, 8, 28), 1) == D(2026, 9, 3)


def test_the_packs_decision_adds_and_removes_days() -> None:
    year = CalendarYear(decision="Thông báo của tỉnh (ví dụ)", days_off=[D(2027, 2, 11)],
                        working_days=[D(2027, 2, 20)], not_days_off=[D(2027, 2, 10)])
    cal = calendar(CalendarFile(years={2027: year}))
    assert cal.is_working_day(D(2027, 2, 10))  # the base's Tết day worked after all
    assert not cal.is_working_day(D(2027, 2, 11))  # an extra day off
    assert cal.is_working_day(D(2027, 2, 20))  # a make-up Saturday
    # From Tuesday 9/2 (still off): Wed 10, (Thu 11 off), Fri 12, Mon 15, Tue 16.
    assert cal.add_working_days(D(2027, 2, 9), 4) == D(2027, 2, 16)
    assert cal.add_working_days(D(2027, 2, 19), 1) == D(2027, 2, 20)


def test_base_none_counts_only_the_packs_days() -> None:
    cal = calendar(CalendarFile(base="none"))
    assert cal.is_working_day(D(2026, 2, 17))
    legacy = WorkCalendar([D(2026, 2, 17)], [D(2026, 2, 21)], TZ, official=OfficialCalendar(CalendarFile(base="none")))
    assert not legacy.is_working_day(D(2026, 2, 17)) and legacy.is_working_day(D(2026, 2, 21))


def _check(tmp_path: Path, text: str, today: D) -> Report:
    file = tmp_path / "calendar.yaml"
    file.write_text(text, encoding="utf-8")
    report = Report(root=tmp_path)
    load_section(read_yaml(file), report, today=today)
    return report


def test_check_warns_when_the_coming_year_has_no_decision(tmp_path: Path) -> None:
    text = "base: holidays\nyears:\n  2026:\n    decision: Thông báo 2026\n"
    assert not _check(tmp_path, text, D(2026, 5, 1)).findings
    report = _check(tmp_path, text, D(2026, 11, 30))
    assert [(f.severity, f.line, f.field) for f in report.findings] == [("warning", 2, "years.2027")]
    assert "năm 2027" in report.findings[0].message
    missing = Report(root=tmp_path)
    load_section(read_yaml(tmp_path / "calendar.yaml"), missing, today=D(2028, 1, 2))
    assert [f.field for f in missing.findings] == ["years.2028"]
    empty = _check(tmp_path, text + "  2027:\n    days_off: []\n", D(2026, 11, 30))  # a year without its decision
    assert [f.field for f in empty.findings] == ["years.2027"]
    todo = _check(tmp_path, text + '  2027:\n    decision: !todo "văn bản năm 2027"\n', D(2026, 11, 30))
    assert len(todo.findings) == 0  # the loader's `!todo` warning covers it (read_yaml alone does not warn)


@pytest.mark.parametrize(("entry", "line", "message"), [
    ("working_days: [2027-02-17]", 4, "không phải thứ Bảy hoặc Chủ nhật"),
    ("days_off: [2026-02-23]", 4, "không thuộc năm 2027"),
    ("days_off: [2027-02-20]\n    working_days: [2027-02-20]", 5, "vừa là ngày nghỉ vừa là ngày làm bù"),
])
def test_check_names_file_line_and_field_of_a_wrong_day(tmp_path: Path, entry: str, line: int, message: str) -> None:
    text = f"years:\n  2027:\n    decision: Thông báo 2027\n    {entry}\n"
    report = _check(tmp_path, text, D(2027, 3, 1))
    assert [(Path(e.file).name, e.line, e.field[:len("years.2027.")]) for e in report.errors] == [
        ("calendar.yaml", line, "years.2027.")]
    assert message in report.errors[0].message
