"""The working-day calendar (lịch làm việc): which days and hours count toward a deadline.

A day is a working day when the unit says so (a make-up Saturday, ngày làm bù),
or else when it is a normal weekday that is not a national holiday; a unit's own
day off or holiday removes it. National holidays and the Government's make-up
Saturdays come from the ``holidays`` package (``holidays.VN``); the unit's rows
(``calendar_days``) override them. All arithmetic happens in Asia/Ho_Chi_Minh,
which has no daylight saving, so a day's sessions are plain local times.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.calendar.models import CalendarDay, WorkingHoursProfile
from app.core.cache import UnitCache
from app.core.errors import Conflict

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

# ISO weekday -> (vi, en); "thứ" is capitalised at the start of a reason.
WEEKDAY_NAMES: dict[int, tuple[str, str]] = {
    1: ("Thứ Hai", "Monday"),
    2: ("Thứ Ba", "Tuesday"),
    3: ("Thứ Tư", "Wednesday"),
    4: ("Thứ Năm", "Thursday"),
    5: ("Thứ Sáu", "Friday"),
    6: ("Thứ Bảy", "Saturday"),
    7: ("Chủ nhật", "Sunday"),
}
UNIT_DAY_OFF = ("Ngày nghỉ của đơn vị", "Unit day off")
# How far ahead the next working day is searched: a unit may close for months (a merger, a
# disaster), but a year without one working day is a calendar to fix, not to compute with.
MAX_GAP_DAYS = 366
# The package names a swapped day off "Ngày nghỉ (thay cho ngày 04/05/2019)" and, in English,
# "Day off (substituted from 05/04/2019)" (a US date); both texts are built here instead.
_SWAPPED_VI = re.compile(r"^Ngày nghỉ \(thay cho ngày (\d{1,2})/(\d{1,2})/(\d{4})\)$")


class NoWorkingDay(Conflict):
    """The unit's calendar has no working day within MAX_GAP_DAYS: nothing can be due."""

    def __init__(self, after: date):
        super().__init__(
            f"Không có ngày làm việc nào trong {MAX_GAP_DAYS} ngày sau ngày {after:%d/%m/%Y}, nên không tính "
            "được thời hạn. Hãy kiểm tra lịch làm việc của đơn vị (ngày nghỉ, ngày làm việc trong tuần).",
            f"No working day within {MAX_GAP_DAYS} days after {after:%d/%m/%Y}, so no deadline can be "
            "computed. Check the unit's calendar (days off, working weekdays).",
        )


@dataclass(frozen=True)
class OfficeHours:
    """A unit's office hours: two sessions a day, the weekdays worked, and the same-day cutoff."""

    morning_start: time
    morning_end: time
    afternoon_start: time
    afternoon_end: time
    hours_per_day: Decimal
    weekdays: frozenset[int]  # ISO: 1 = Monday
    same_day_cutoff: time

    def sessions(self) -> tuple[tuple[time, time], tuple[time, time]]:
        return ((self.morning_start, self.morning_end), (self.afternoon_start, self.afternoon_end))


# 07:00-11:30 and 13:30-17:00 is exactly 8 hours: one working day.
DEFAULT_HOURS = OfficeHours(
    morning_start=time(7, 0),
    morning_end=time(11, 30),
    afternoon_start=time(13, 30),
    afternoon_end=time(17, 0),
    hours_per_day=Decimal(8),
    weekdays=frozenset({1, 2, 3, 4, 5}),
    same_day_cutoff=time(15, 0),
)


@dataclass(frozen=True)
class NationalYear:
    """The national calendar of one year: holidays with their names, and make-up (working) weekend days."""

    holidays: dict[date, tuple[str, str]]
    makeup_workdays: frozenset[date]


@lru_cache(maxsize=64)
def national_year(year: int) -> NationalYear:
    """Holidays of ``year`` named in Vietnamese and English, from ``holidays.VN`` (cached per year)."""
    names_vi = holidays.VN(years=year, language="vi")
    names_en = holidays.VN(years=year, language="en_US")
    # A swap can cross the year (31/12/2018 off for Sat 05/01/2019): look at the neighbours too.
    around = holidays.VN(years=(year - 1, year, year + 1))
    return NationalYear(
        holidays={day: _names(names_vi[day], names_en.get(day, names_vi[day])) for day in sorted(names_vi)},
        makeup_workdays=frozenset(d for d in around.weekend_workdays if d.year == year),
    )


def _names(vi: str, en: str) -> tuple[str, str]:
    """The package's (vi, en) names, but a swapped day off says with which day, as dd/mm/yyyy in both."""
    match = _SWAPPED_VI.match(vi)
    if match is None:
        return vi, en
    day, month, year = (int(part) for part in match.groups())
    try:
        worked = date(year, month, day)
    except ValueError:  # not a date after all: keep the package's words
        return vi, en
    weekday_vi, weekday_en = WEEKDAY_NAMES[worked.isoweekday()]
    weekday_vi = "t" + weekday_vi[1:] if weekday_vi.startswith("Thứ") else weekday_vi.lower()
    if worked.isoweekday() < 6:  # never seen: a weekday given back, not a weekend worked
        return (
            f"Ngày nghỉ (hoán đổi với {weekday_vi} {worked:%d/%m/%Y})",
            f"Day off (swapped with {weekday_en} {worked:%d/%m/%Y})",
        )
    return (
        f"Ngày nghỉ (hoán đổi với {weekday_vi} {worked:%d/%m/%Y}, ngày làm bù)",
        f"Day off (swapped with {weekday_en} {worked:%d/%m/%Y}, a make-up working day)",
    )


def to_local(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("calendar arithmetic needs a timezone-aware datetime")
    return at.astimezone(VN_TZ)


class WorkCalendar:
    """Office hours plus national holidays plus the unit's own days (which win)."""

    def __init__(
        self,
        hours: OfficeHours = DEFAULT_HOURS,
        unit_days: Iterable[tuple[date, str, str, str | None]] = (),
    ):
        """``unit_days``: rows of (day, kind, source, note) from ``calendar_days``."""
        self.hours = hours
        self._days = {day: (kind, source, note) for day, kind, source, note in unit_days}
        self._reasons: dict[date, tuple[str, str] | None] = {}

    # --- days -------------------------------------------------------------

    def why_not_working(self, day: date) -> tuple[str, str] | None:
        """(vi, en) reason why ``day`` is not a working day, or None if it is one."""
        if day not in self._reasons:
            self._reasons[day] = self._reason(day)
        return self._reasons[day]

    def _reason(self, day: date) -> tuple[str, str] | None:
        national = national_year(day.year)
        row = self._days.get(day)
        if row is not None:
            kind, source, note = row
            if kind == "makeup_workday":
                return None
            if source == "national" and day in national.holidays:
                return national.holidays[day]
            return (note, note) if note else UNIT_DAY_OFF
        if day in national.holidays:
            return national.holidays[day]
        if day in national.makeup_workdays:
            return None
        if day.isoweekday() not in self.hours.weekdays:
            return WEEKDAY_NAMES[day.isoweekday()]
        return None

    def is_working_day(self, day: date) -> bool:
        return self.why_not_working(day) is None

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day`` (NoWorkingDay, a 409, if none within MAX_GAP_DAYS)."""
        for offset in range(1, MAX_GAP_DAYS + 1):
            candidate = day + timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise NoWorkingDay(day)

    def non_working_days(self, first: date, last: date) -> list[tuple[date, tuple[str, str]]]:
        """Every non-working day in [first, last] with its reason."""
        out = []
        day = first
        while day <= last:
            reason = self.why_not_working(day)
            if reason is not None:
                out.append((day, reason))
            day += timedelta(days=1)
        return out

    # --- hours ------------------------------------------------------------

    def sessions_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The office sessions of ``day`` as local datetimes (none on a non-working day)."""
        if not self.is_working_day(day):
            return []
        return [
            (datetime.combine(day, start, VN_TZ), datetime.combine(day, end, VN_TZ))
            for start, end in self.hours.sessions()
        ]

    def closing_time(self, day: date) -> datetime:
        """The afternoon close of ``day`` (used for "due at the end of that day")."""
        return datetime.combine(day, self.hours.afternoon_end, VN_TZ)

    def next_opening(self, at: datetime) -> datetime:
        """``at`` itself if the office is open then; else the next time it opens.

        A session's end is not inside it: 17:00 gives the next working morning.
        """
        local = to_local(at)
        day = local.date()
        while True:
            for start, end in self.sessions_on(day):
                if local < start:
                    return start
                if local < end:
                    return local
            day = self.next_working_day(day)
            local = datetime.combine(day, time(0), VN_TZ)

    def add_working_minutes(self, start: datetime, minutes: int) -> datetime:
        """The instant ``minutes`` office minutes after ``start``, skipping breaks, nights and days off.

        Adding 0 gives ``next_opening(start)``. A result that falls exactly on a
        session's end stays there (17:00, not the next morning's 07:00).
        """
        if minutes < 0:
            raise ValueError("minutes must not be negative")
        current = self.next_opening(start)
        remaining = timedelta(minutes=minutes)
        while True:
            end = self._session_end(current)
            if remaining <= end - current:
                return current + remaining
            remaining -= end - current
            current = self.next_opening(end)

    def _session_end(self, inside: datetime) -> datetime:
        for start, end in self.sessions_on(inside.date()):
            if start <= inside < end:
                return end
        raise AssertionError("not inside a session")  # next_opening always returns an open instant

    def working_minutes_between(self, a: datetime, b: datetime) -> int:
        """Office minutes in [a, b) (whole minutes, rounded down); 0 if b <= a."""
        a, b = to_local(a), to_local(b)
        if b <= a:
            return 0
        total = timedelta()
        day = a.date()
        while day <= b.date():
            for start, end in self.sessions_on(day):
                overlap = min(end, b) - max(start, a)
                if overlap > timedelta():
                    total += overlap
            day += timedelta(days=1)
        return int(total.total_seconds() // 60)


def office_hours_of(profile: WorkingHoursProfile) -> OfficeHours:
    return OfficeHours(
        morning_start=profile.morning_start,
        morning_end=profile.morning_end,
        afternoon_start=profile.afternoon_start,
        afternoon_end=profile.afternoon_end,
        hours_per_day=Decimal(profile.hours_per_day),
        weekdays=frozenset(profile.weekdays or ()),
        same_day_cutoff=profile.same_day_cutoff,
    )


# Every intake needs the calendar; it changes a few times a year (app/core/cache.py).
CALENDARS = UnitCache(ttl=60)


def unit_calendar(session: Session) -> WorkCalendar:
    """The unit's calendar, from this process's cache (dropped when this process changes it)."""
    return CALENDARS.get(session, "calendar", lambda: load_calendar(session))


def load_calendar(session: Session) -> WorkCalendar:
    """The unit's calendar: its default office hours (or DEFAULT_HOURS) and its own days. Two queries."""
    profile = session.scalars(
        select(WorkingHoursProfile)
        .where(WorkingHoursProfile.is_default)
        .order_by(WorkingHoursProfile.id)
        .limit(1)
    ).first()
    # A few rows a year: plain tuples, no ORM objects to build.
    days = session.execute(
        select(CalendarDay.day, CalendarDay.kind, CalendarDay.source, CalendarDay.note)
    ).all()
    hours = office_hours_of(profile) if profile is not None else DEFAULT_HOURS
    return WorkCalendar(hours, [tuple(row) for row in days])
