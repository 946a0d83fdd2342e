"""What the unit admin does with the working calendar: read a year, confirm it, add or remove days, set hours.

Writes flush and do not commit (the edge commits once). Every check runs before
the first write, so a refusal leaves nothing behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.calendar.models import CalendarDay, WorkingHoursProfile
from app.calendar.workcal import CALENDARS, DEFAULT_HOURS, VN_TZ, WEEKDAY_NAMES, load_calendar, national_year
from app.core.errors import Conflict, DomainError, NotFound

FIRST_YEAR = 2000  # nothing older is ever computed; later years up to YEARS_AHEAD after today
YEARS_AHEAD = 5
UNIT_KINDS = {
    "day_off": ("Ngày nghỉ", "Day off"),
    "makeup_workday": ("Ngày làm bù", "Make-up working day"),
}
KIND_LABELS = {**UNIT_KINDS, "holiday": ("Ngày lễ, Tết", "Public holiday")}
NOTE_MAX = 200
DEFAULT_PROFILE_NAME = "default"


class InvalidCalendarInput(DomainError):
    status = 422


@dataclass(frozen=True)
class NationalDay:
    day: date
    kind: str  # holiday | makeup_workday
    vi: str
    en: str


@dataclass(frozen=True)
class YearView:
    year: int
    national: list[NationalDay]
    confirmed_at: datetime | None  # when the year's national days were last put on record
    unit_days: list[CalendarDay]  # the unit's own rows (source tenant)


# --- reading -------------------------------------------------------------------


def check_year(year: int | None, *, today: date | None = None) -> int:
    today = today or datetime.now(VN_TZ).date()
    last = today.year + YEARS_AHEAD
    if year is None or not FIRST_YEAR <= year <= last:
        raise InvalidCalendarInput(
            f"Năm phải là số từ {FIRST_YEAR} đến {last}.",
            f"The year must be a number from {FIRST_YEAR} to {last}.",
        )
    return year


def national_days(year: int) -> list[NationalDay]:
    """The Government's calendar for ``year`` as the ``holidays`` package knows it."""
    national = national_year(year)
    days = [NationalDay(day, "holiday", vi, en) for day, (vi, en) in national.holidays.items()]
    for day in national.makeup_workdays:
        vi, en = WEEKDAY_NAMES[day.isoweekday()]
        days.append(NationalDay(day, "makeup_workday", f"Làm bù ({vi})", f"Make-up working day ({en})"))
    return sorted(days, key=lambda d: d.day)


def year_view(session: Session, year: int) -> YearView:
    rows = session.scalars(
        select(CalendarDay)
        .where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
        .order_by(CalendarDay.day)
    ).all()
    confirmed = [r.confirmed_at for r in rows if r.source == "national" and r.confirmed_at is not None]
    return YearView(
        year=year,
        national=national_days(year),
        confirmed_at=max(confirmed) if confirmed else None,
        unit_days=[r for r in rows if r.source == "tenant"],
    )


# --- writing -------------------------------------------------------------------


def confirm_year(session: Session, year: int, *, actor_account_id: int | None) -> int:
    """Put the national days of ``year`` on record (source national, confirmed by the actor).

    ``actor_account_id`` is None when the platform confirms (``flask calendar confirm-year``).
    Existing national rows are re-confirmed; a day the unit has its own row for
    keeps the unit's row. Returns how many days are now confirmed.
    """
    check_year(year)
    existing = {
        row.day: row
        for row in session.scalars(
            select(CalendarDay).where(
                CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)
            )
        )
    }
    now = datetime.now(VN_TZ)
    count = 0
    for national in national_days(year):
        row = existing.get(national.day)
        if row is not None and row.source == "tenant":
            continue
        if row is None:
            row = CalendarDay(day=national.day, source="national")
            session.add(row)
        row.kind, row.note = national.kind, national.vi
        row.confirmed_at, row.confirmed_by_account_id = now, actor_account_id
        count += 1
    _changed(session)
    return count


def parse_day(raw: str | None) -> date:
    try:
        return date.fromisoformat((raw or "").strip())
    except ValueError:
        raise InvalidCalendarInput(
            "Ngày không hợp lệ: nhập theo dạng năm-tháng-ngày, ví dụ 2019-05-04.",
            "Invalid date: use year-month-day, e.g. 2019-05-04.",
        ) from None


def add_unit_day(
    session: Session, day: date, kind: str, note: str | None, *, actor_account_id: int
) -> CalendarDay:
    """Add the unit's own day off, or a make-up working day (ngày làm bù)."""
    if kind not in UNIT_KINDS:
        raise InvalidCalendarInput(
            "Loại ngày phải là “Ngày nghỉ” hoặc “Ngày làm bù”.",
            "The kind must be “Day off” or “Make-up working day”.",
        )
    check_year(day.year)
    note = (note or "").strip() or None
    if note is not None and len(note) > NOTE_MAX:
        raise InvalidCalendarInput(
            f"Ghi chú dài quá {NOTE_MAX} ký tự.", f"The note is longer than {NOTE_MAX} characters."
        )
    shown = day.strftime("%d/%m/%Y")
    taken = session.scalar(select(CalendarDay).where(CalendarDay.day == day))
    if taken is not None:
        vi, en = KIND_LABELS[taken.kind]
        raise Conflict(
            f"Ngày {shown} đã có trong lịch ({vi}). Xóa mục đó trước nếu muốn đổi.",
            f"{shown} is already in the calendar ({en}). Remove that entry first to change it.",
        )
    cal = load_calendar(session)
    reason = cal.why_not_working(day)
    if kind == "makeup_workday" and reason is None:
        raise InvalidCalendarInput(
            f"Ngày {shown} đã là ngày làm việc; chỉ thêm ngày làm bù vào ngày nghỉ (ví dụ thứ Bảy).",
            f"{shown} is already a working day; a make-up day must be a day off (e.g. a Saturday).",
        )
    if kind == "day_off" and reason is not None:
        raise InvalidCalendarInput(
            f"Ngày {shown} đã là ngày nghỉ ({reason[0]}).",
            f"{shown} is already a day off ({reason[1]}).",
        )
    row = CalendarDay(
        day=day,
        kind=kind,
        source="tenant",
        note=note,
        confirmed_at=datetime.now(VN_TZ),
        confirmed_by_account_id=actor_account_id,
    )
    session.add(row)
    _changed(session)
    return row


def remove_unit_day(session: Session, day_id: int) -> CalendarDay:
    """Remove one of the unit's own days; national days are not the unit's to remove."""
    row = session.get(CalendarDay, day_id)
    if row is None or row.source != "tenant":
        raise NotFound(
            "Không tìm thấy ngày này trong lịch riêng của đơn vị.",
            "This day is not in the unit's own calendar.",
        )
    session.delete(row)
    _changed(session)
    return row


# --- office hours ----------------------------------------------------------------


def default_profile(session: Session) -> WorkingHoursProfile | None:
    return session.scalars(
        select(WorkingHoursProfile)
        .where(WorkingHoursProfile.is_default)
        .order_by(WorkingHoursProfile.id)
        .limit(1)
    ).first()


def parse_time(raw: str | None, vi_name: str, en_name: str) -> time:
    try:
        return time.fromisoformat((raw or "").strip()).replace(second=0, microsecond=0)
    except ValueError:
        raise InvalidCalendarInput(
            f"{vi_name}: giờ không hợp lệ, nhập theo dạng giờ:phút (ví dụ 07:30).",
            f"{en_name}: invalid time, use hours:minutes (e.g. 07:30).",
        ) from None


def _minutes(start: time, end: time) -> int:
    return (end.hour * 60 + end.minute) - (start.hour * 60 + start.minute)


def set_office_hours(
    session: Session,
    *,
    morning_start: time,
    morning_end: time,
    afternoon_start: time,
    afternoon_end: time,
    same_day_cutoff: time,
    weekdays: list[int],
) -> WorkingHoursProfile:
    """Save the unit's default office hours; one working day = the two sessions together."""
    ordered = morning_start < morning_end <= afternoon_start < afternoon_end
    if not ordered:
        raise InvalidCalendarInput(
            "Giờ làm việc phải theo thứ tự: bắt đầu sáng < kết thúc sáng ≤ bắt đầu chiều < kết thúc chiều.",
            "Office hours must be in order: morning start < morning end ≤ afternoon start < afternoon end.",
        )
    # Quarter hours keep hours_per_day exact in its two decimals (7 h 20 would be 7.33...).
    if any(t.minute % 15 for t in (morning_start, morning_end, afternoon_start, afternoon_end)):
        raise InvalidCalendarInput(
            "Giờ làm việc tính theo từng 15 phút (phút là 00, 15, 30 hoặc 45).",
            "Office hours go in steps of 15 minutes (minutes 00, 15, 30 or 45).",
        )
    if not morning_start <= same_day_cutoff <= afternoon_end:
        raise InvalidCalendarInput(
            "Giờ chốt nhận hồ sơ trả trong ngày phải nằm trong giờ làm việc.",
            "The same-day cutoff must fall within office hours.",
        )
    days = sorted(set(weekdays))
    if not days or any(d not in WEEKDAY_NAMES for d in days):
        raise InvalidCalendarInput(
            "Chọn ít nhất một ngày làm việc trong tuần.", "Choose at least one working day of the week."
        )
    minutes = _minutes(morning_start, morning_end) + _minutes(afternoon_start, afternoon_end)
    profile = default_profile(session)
    if profile is None:
        profile = WorkingHoursProfile(name=DEFAULT_PROFILE_NAME, is_default=True)
        session.add(profile)
    profile.morning_start, profile.morning_end = morning_start, morning_end
    profile.afternoon_start, profile.afternoon_end = afternoon_start, afternoon_end
    profile.same_day_cutoff = same_day_cutoff
    profile.weekdays = days
    profile.hours_per_day = Decimal(minutes) / 60
    _changed(session)
    return profile


def _changed(session: Session) -> None:
    session.flush()
    CALENDARS.forget_after_commit(session)  # the next intake reads the new calendar


def office_hours_form(session: Session) -> dict:
    """The current office hours as form values (DEFAULT_HOURS until the unit saves its own)."""
    source = default_profile(session) or DEFAULT_HOURS
    return {
        "morning_start": source.morning_start.strftime("%H:%M"),
        "morning_end": source.morning_end.strftime("%H:%M"),
        "afternoon_start": source.afternoon_start.strftime("%H:%M"),
        "afternoon_end": source.afternoon_end.strftime("%H:%M"),
        "same_day_cutoff": source.same_day_cutoff.strftime("%H:%M"),
        "weekdays": sorted(source.weekdays),
        "hours_per_day": format(Decimal(source.hours_per_day).normalize(), "f"),
    }
