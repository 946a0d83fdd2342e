"""The legal processing time of a procedure (or case) as a budget of working hours (DOMAIN.md §3.3)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from app.catalog.models import Procedure, ProcedureCase

HOURS_PER_DAY = Decimal(8)

# time_unit -> (Vietnamese, English) as shown after a number.
TIME_UNIT_LABELS: dict[str, tuple[str, str]] = {
    "working_days": ("ngày làm việc", "working days"),
    "calendar_days": ("ngày", "calendar days"),
    "same_day": ("trong ngày", "same day"),
    "hours": ("giờ làm việc", "working hours"),
}


def legal_hours(time_value: Decimal, time_unit: str, hours_per_day: Decimal = HOURS_PER_DAY) -> Decimal:
    """Working hours a legal time is sure to give.

    - working_days N: N × hours_per_day.
    - hours N: N.
    - same_day: one working day, whatever N says.
    - calendar_days N: the working days that *any* window of N calendar days is
      sure to hold, × hours_per_day. Each whole week holds exactly two weekend
      days; the N mod 7 days left over hold at most two (a Saturday and Sunday
      together), so the fewest is N − 2·⌊N/7⌋ − min(N mod 7, 2). Holidays are not
      subtracted: they are known per year, and the due date (§3.3 step 3) rolls
      forward over them anyway.
    """
    value = Decimal(time_value)
    if time_unit == "working_days":
        return value * hours_per_day
    if time_unit == "hours":
        return value
    if time_unit == "same_day":
        return hours_per_day
    if time_unit == "calendar_days":
        return min_working_days(value) * hours_per_day
    raise ValueError(f"unknown time unit {time_unit!r}")


def min_working_days(days: Decimal) -> Decimal:
    """The fewest working days (Monday to Friday) in any window of ``days`` calendar days."""
    days = Decimal(days)
    weeks, rest = divmod(days, 7)
    return max(Decimal(0), days - 2 * weeks - min(rest, Decimal(2)))


def number_text(value: Decimal, lang: str) -> str:
    """40.00 -> "40"; 7.50 -> "7,5" (vi) / "7.5" (en)."""
    text = f"{Decimal(value).normalize():f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",") if lang == "vi" else text


def hours_text(hours: Decimal) -> tuple[str, str]:
    return f"{number_text(hours, 'vi')} giờ", f"{number_text(hours, 'en')} hours"


@dataclass(frozen=True)
class LegalTime:
    """The legal time that applies to a process: counter, and online where it differs."""

    value: Decimal
    unit: str
    online_value: Decimal | None

    def hours(self, hours_per_day: Decimal = HOURS_PER_DAY) -> Decimal:
        return legal_hours(self.value, self.unit, hours_per_day)

    def online_hours(self, hours_per_day: Decimal = HOURS_PER_DAY) -> Decimal | None:
        if self.online_value is None:
            return None
        return legal_hours(self.online_value, self.unit, hours_per_day)

    def text(self, value: Decimal, hours_per_day: Decimal = HOURS_PER_DAY) -> tuple[str, str]:
        """("3 ngày làm việc (24 giờ)", "3 working days (24 hours)") for ``value`` in this unit."""
        hours_vi, hours_en = hours_text(legal_hours(value, self.unit, hours_per_day))
        unit_vi, unit_en = TIME_UNIT_LABELS[self.unit]
        if self.unit == "same_day":
            return f"{unit_vi} ({hours_vi})", f"{unit_en} ({hours_en})"
        if self.unit == "hours":
            return hours_vi, hours_en
        return (
            f"{number_text(value, 'vi')} {unit_vi} ({hours_vi})",
            f"{number_text(value, 'en')} {unit_en} ({hours_en})",
        )


def legal_time_of(procedure: Procedure, case: ProcedureCase | None = None) -> LegalTime:
    """The case's own time when it has one, else the procedure's.

    A case that sets its own time brings its own online time (or none): the
    procedure's online value belongs to the procedure's time and unit.
    """
    if case is not None and case.time_value is not None:
        return LegalTime(
            Decimal(case.time_value), case.time_unit or procedure.time_unit, _opt(case.online_time_value)
        )
    online = case.online_time_value if case is not None and case.online_time_value is not None else None
    if online is None:
        online = procedure.online_time_value
    return LegalTime(Decimal(procedure.time_value), procedure.time_unit, _opt(online))


def _opt(value) -> Decimal | None:
    return None if value is None else Decimal(value)
