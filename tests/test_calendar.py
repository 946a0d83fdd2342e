"""The working-day calendar on the real Vietnamese holidays of the ``holidays`` package (no mocks)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from app.calendar.deadlines import compute_due
from app.calendar.workcal import (
    DEFAULT_HOURS,
    VN_TZ,
    NoWorkingDay,
    OfficeHours,
    WorkCalendar,
    national_year,
)


def at(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=VN_TZ)


@pytest.fixture
def cal():
    return WorkCalendar()


def test_default_hours_are_eight_hours_a_day():
    h = DEFAULT_HOURS
    minutes = sum(
        (datetime.combine(date.min, end) - datetime.combine(date.min, start)).seconds // 60
        for start, end in h.sessions()
    )
    assert minutes == 8 * 60 and h.hours_per_day == Decimal(8)
    assert h.weekdays == frozenset({1, 2, 3, 4, 5}) and h.same_day_cutoff == time(15)


def test_tet_2019_from_the_package_with_vietnamese_and_english_names(cal):
    tet = [date(2019, 2, d) for d in range(4, 9)]
    assert [cal.is_working_day(d) for d in tet] == [False] * 5
    vi, en = cal.why_not_working(date(2019, 2, 5))
    assert "Tết Nguyên Đán" in vi and en == "Lunar New Year"
    assert cal.is_working_day(date(2019, 2, 11))  # Monday after Tết
    assert cal.why_not_working(date(2019, 2, 11)) is None


def test_weekends_are_named(cal):
    assert cal.why_not_working(date(2019, 2, 2)) == ("Thứ Bảy", "Saturday")
    assert cal.why_not_working(date(2019, 2, 3)) == ("Chủ nhật", "Sunday")


def test_national_swap_of_2019_package_makes_saturday_4_may_a_working_day(cal):
    # Government notice for 2019: Mon 29/04 off, made up on Sat 04/05. The package models both.
    assert date(2019, 5, 4) in national_year(2019).makeup_workdays
    assert cal.is_working_day(date(2019, 5, 4))
    assert not cal.is_working_day(date(2019, 4, 29))
    assert "04/05/2019" in cal.why_not_working(date(2019, 4, 29))[0]
    assert not cal.is_working_day(date(2019, 5, 11))  # an ordinary Saturday stays off


def test_swap_across_new_year_2018_2019(cal):
    # 31/12/2018 off, made up on Sat 05/01/2019: the make-up day lies in the next year.
    assert not cal.is_working_day(date(2018, 12, 31))
    assert cal.is_working_day(date(2019, 1, 5))


def test_unit_makeup_saturday_counts_and_unit_day_off_is_skipped():
    cal = WorkCalendar(
        DEFAULT_HOURS,
        [
            (date(2019, 3, 9), "makeup_workday", "tenant", "Làm bù"),
            (date(2019, 3, 11), "day_off", "tenant", "Nghỉ kỷ niệm thành lập"),
        ],
    )
    assert cal.is_working_day(date(2019, 3, 9))
    assert cal.why_not_working(date(2019, 3, 11)) == ("Nghỉ kỷ niệm thành lập", "Nghỉ kỷ niệm thành lập")
    assert WorkCalendar().is_working_day(date(2019, 3, 11))  # only because of the unit's row


def test_unit_row_overrides_a_national_holiday():
    # A unit that must work on 29/04/2019 (e.g. a duty office) says so with a make-up row.
    cal = WorkCalendar(DEFAULT_HOURS, [(date(2019, 4, 29), "makeup_workday", "tenant", None)])
    assert cal.is_working_day(date(2019, 4, 29))


def test_confirmed_national_row_keeps_the_package_names():
    cal = WorkCalendar(DEFAULT_HOURS, [(date(2019, 2, 5), "holiday", "national", "Tết Nguyên Đán")])
    assert cal.why_not_working(date(2019, 2, 5))[1] == "Lunar New Year"


def test_unit_day_off_without_note_has_a_generic_reason():
    cal = WorkCalendar(DEFAULT_HOURS, [(date(2019, 3, 11), "day_off", "tenant", None)])
    assert cal.why_not_working(date(2019, 3, 11)) == ("Ngày nghỉ của đơn vị", "Unit day off")


@pytest.mark.parametrize(
    ("when", "opening"),
    [
        (at(2019, 3, 5, 6, 30), at(2019, 3, 5, 7, 0)),  # before opening
        (at(2019, 3, 5, 9, 15), at(2019, 3, 5, 9, 15)),  # open: itself
        (at(2019, 3, 5, 11, 30), at(2019, 3, 5, 13, 30)),  # morning end: lunch
        (at(2019, 3, 5, 12, 0), at(2019, 3, 5, 13, 30)),  # lunch
        (at(2019, 3, 5, 17, 0), at(2019, 3, 6, 7, 0)),  # afternoon close: next morning
        (at(2019, 3, 8, 18, 0), at(2019, 3, 11, 7, 0)),  # Friday evening: Monday
        (at(2019, 2, 1, 17, 30), at(2019, 2, 11, 7, 0)),  # Friday before Tết: after Tết
    ],
)
def test_next_opening(cal, when, opening):
    assert cal.next_opening(when) == opening


def test_next_opening_accepts_any_timezone(cal):
    utc = datetime(2019, 3, 5, 0, 0, tzinfo=UTC)  # 07:00 in Hanoi
    assert cal.next_opening(utc) == at(2019, 3, 5, 7, 0)
    with pytest.raises(ValueError):
        cal.next_opening(datetime(2019, 3, 5, 9, 0))


def test_add_working_minutes_skips_lunch_nights_and_weekends(cal):
    assert cal.add_working_minutes(at(2019, 3, 5, 11, 0), 60) == at(2019, 3, 5, 14, 0)
    assert cal.add_working_minutes(at(2019, 3, 8, 16, 0), 120) == at(2019, 3, 11, 8, 0)
    assert cal.add_working_minutes(at(2019, 3, 5, 12, 0), 0) == at(2019, 3, 5, 13, 30)


def test_a_due_time_on_a_session_end_stays_there(cal):
    assert cal.add_working_minutes(at(2019, 3, 5, 13, 30), 210) == at(2019, 3, 5, 17, 0)
    assert cal.add_working_minutes(at(2019, 3, 5, 7, 0), 270) == at(2019, 3, 5, 11, 30)
    assert cal.add_working_minutes(at(2019, 3, 5, 7, 0), 480) == at(2019, 3, 5, 17, 0)


def test_working_minutes_between(cal):
    assert cal.working_minutes_between(at(2019, 3, 5, 7, 0), at(2019, 3, 5, 17, 0)) == 480
    assert cal.working_minutes_between(at(2019, 3, 5, 11, 0), at(2019, 3, 5, 14, 0)) == 60
    # Thu 16:00 -> Mon 09:00: 60 (Thu) + 480 (Fri) + 120 (Mon); the weekend counts nothing.
    assert cal.working_minutes_between(at(2019, 3, 7, 16, 0), at(2019, 3, 11, 9, 0)) == 660
    assert cal.working_minutes_between(at(2019, 3, 9, 8, 0), at(2019, 3, 10, 16, 0)) == 0
    assert cal.working_minutes_between(at(2019, 3, 6), at(2019, 3, 5)) == 0


def test_adding_then_measuring_round_trips(cal):
    start = at(2019, 1, 30, 10, 17)
    for minutes in (1, 59, 480, 481, 3 * 480, 20 * 480 + 7):
        due = cal.add_working_minutes(start, minutes)
        assert cal.working_minutes_between(start, due) == minutes


def test_custom_hours_and_a_six_day_week():
    hours = OfficeHours(time(7, 30), time(11, 30), time(13, 0), time(16, 30), Decimal("7.5"),
                        frozenset({1, 2, 3, 4, 5, 6}), time(15))  # fmt: skip
    cal = WorkCalendar(hours)
    assert cal.is_working_day(date(2019, 3, 9))
    assert cal.next_opening(at(2019, 3, 9, 16, 30)) == at(2019, 3, 11, 7, 30)
    assert cal.add_working_minutes(at(2019, 3, 9, 7, 30), 450) == at(2019, 3, 9, 16, 30)


def test_a_week_without_working_days_is_a_409_not_a_loop_or_a_crash():
    hours = OfficeHours(time(7), time(11), time(13), time(17), Decimal(8), frozenset(), time(15))
    with pytest.raises(NoWorkingDay) as refused:
        WorkCalendar(hours).next_opening(at(2019, 6, 3, 9))
    assert refused.value.status == 409
    assert "kiểm tra lịch làm việc của đơn vị" in refused.value.vi
    assert "Check the unit's calendar" in refused.value.en and "03/06/2019" in refused.value.en


def days_off(first: date, count: int) -> list[tuple[date, str, str, str | None]]:
    return [(first + timedelta(days=i), "day_off", "tenant", "Tạm dừng tiếp nhận") for i in range(count)]


def test_a_unit_closed_for_three_months_still_gets_due_dates():
    # 90 days off from Mon 03/06/2019 to Sat 31/08; Sun 01/09, Mon 02/09 (National Day): Tue 03/09.
    cal = WorkCalendar(unit_days=days_off(date(2019, 6, 3), 90))
    assert cal.next_opening(at(2019, 6, 3, 9)) == at(2019, 9, 3, 7, 0)
    d = compute_due(cal, at(2019, 6, 3, 9), Decimal(1), "working_days")
    assert d.due_at == at(2019, 9, 3, 17, 0)
    assert cal.why_not_working(date(2019, 7, 1)) == ("Tạm dừng tiếp nhận", "Tạm dừng tiếp nhận")


def test_a_unit_closed_for_more_than_a_year_is_a_clear_409():
    cal = WorkCalendar(unit_days=days_off(date(2019, 6, 1), 400))
    with pytest.raises(NoWorkingDay) as refused:
        compute_due(cal, at(2019, 6, 3, 9), Decimal(3), "working_days")
    assert refused.value.status == 409 and "366" in refused.value.en
    assert "01/06/2019" not in refused.value.en  # the search starts at the day received
    assert "03/06/2019" in refused.value.vi


def test_swapped_days_off_name_the_worked_saturday_as_dd_mm_yyyy_in_both_languages(cal):
    # 2019: Mon 29/04 off in exchange for working Sat 04/05 (the package's English said "05/04/2019").
    vi, en = cal.why_not_working(date(2019, 4, 29))
    assert vi == "Ngày nghỉ (hoán đổi với thứ Bảy 04/05/2019, ngày làm bù)"
    assert en == "Day off (swapped with Saturday 04/05/2019, a make-up working day)"
    assert cal.is_working_day(date(2019, 5, 4))
    # 2025: Fri 02/05 off for Sat 26/04 (the package said "04/26/2025").
    assert cal.why_not_working(date(2025, 5, 2))[1] == (
        "Day off (swapped with Saturday 26/04/2025, a make-up working day)"
    )
    # Across the year: Mon 31/12/2018 off for Sat 05/01/2019.
    assert "05/01/2019" in national_year(2018).holidays[date(2018, 12, 31)][1]
    for year in range(2010, 2030):
        for _, en_name in national_year(year).holidays.values():
            assert "substituted" not in en_name, (year, en_name)


def test_every_national_holiday_has_a_vietnamese_name():
    for year in range(2018, 2027):
        for day, (vi, en) in national_year(year).holidays.items():
            assert vi and en and vi != en, day
