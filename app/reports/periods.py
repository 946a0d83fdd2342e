"""Reporting periods: calendar months and quarters, the Decree 09/2019 report periods
(15th of one month .. 14th of a later one) and any date range; both ends inclusive.

``parse_period(args)`` reads a period from query arguments and refuses bad input with a
bilingual 400, so every report page and export speaks the same period language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from app.calendar.workcal import VN_TZ
from app.core.errors import DomainError

MAX_RANGE_DAYS = 5 * 366  # a report over more than about five years is refused (and meaningless)
MIN_YEAR, MAX_YEAR = 2000, 2100

KINDS: dict[str, tuple[str, str]] = {
    "month": ("Tháng", "Month"),
    "quarter": ("Quý", "Quarter"),
    "report_quarter": ("Kỳ báo cáo quý (NĐ 09)", "Report quarter (Decree 09)"),
    "report_half": ("Kỳ báo cáo 6 tháng (NĐ 09)", "Half-year report period (Decree 09)"),
    "report_year": ("Kỳ báo cáo năm (NĐ 09)", "Report year (Decree 09)"),
    "range": ("Khoảng ngày", "Date range"),
}


class BadPeriod(DomainError):
    status = 400


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    kind: str = "range"
    label_vi: str = field(default="", compare=False)
    label_en: str = field(default="", compare=False)

    def __post_init__(self):
        if self.start > self.end:
            raise BadPeriod("Ngày bắt đầu sau ngày kết thúc.", "The start date is after the end date.")
        if not self.label_vi:
            text = f"{self.start:%d/%m/%Y} – {self.end:%d/%m/%Y}"
            object.__setattr__(self, "label_vi", f"Từ {text}")
            object.__setattr__(self, "label_en", f"From {text}")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _month_end(year: int, month: int) -> date:
    first_next = date(year + (month == 12), month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def month(year: int, month_no: int) -> Period:
    _check_year(year)
    if not 1 <= month_no <= 12:
        raise BadPeriod("Tháng phải từ 1 đến 12.", "The month must be 1 to 12.")
    return Period(
        date(year, month_no, 1),
        _month_end(year, month_no),
        "month",
        f"Tháng {month_no:02d}/{year}",
        f"Month {month_no:02d}/{year}",
    )


def quarter(year: int, q: int) -> Period:
    _check_year(year)
    _check_quarter(q)
    return Period(
        date(year, 3 * q - 2, 1), _month_end(year, 3 * q), "quarter", f"Quý {q}/{year}", f"Quarter {q}/{year}"
    )


def _report_day(year: int, month_no: int) -> date:
    """The 15th of the month before ``month_no`` (December of the previous year for January)."""
    if month_no == 1:
        return date(year - 1, 12, 15)
    return date(year, month_no - 1, 15)


def report_quarter(year: int, q: int) -> Period:
    """Decree 09/2019: Qn runs from the 15th of the month before the quarter to the 14th of its last month."""
    _check_year(year)
    _check_quarter(q)
    return Period(
        _report_day(year, 3 * q - 2),
        date(year, 3 * q, 14),
        "report_quarter",
        f"Kỳ báo cáo quý {q}/{year}",
        f"Report quarter {q}/{year}",
    )


def _since_december(year: int, end_month: int, kind: str, label_vi: str, label_en: str) -> Period:
    """Decree 09/2019: a period from 15 December of the previous year to the 14th of ``end_month``."""
    _check_year(year)
    return Period(date(year - 1, 12, 15), date(year, end_month, 14), kind, label_vi, label_en)


def report_half(year: int) -> Period:
    """The six-month report: 15 December of the previous year .. 14 June."""
    return _since_december(year, 6, "report_half", f"Kỳ báo cáo 6 tháng/{year}", f"Half-year {year}")


def report_year(year: int) -> Period:
    """The year report: 15 December of the previous year .. 14 December."""
    return _since_december(year, 12, "report_year", f"Kỳ báo cáo năm {year}", f"Report year {year}")


def date_range(start: date, end: date) -> Period:
    period = Period(start, end)
    if period.days > MAX_RANGE_DAYS:
        raise BadPeriod(
            "Khoảng thời gian quá dài (tối đa 5 năm).", "The range is too long (at most 5 years)."
        )
    return period


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise BadPeriod(
            f"Năm phải từ {MIN_YEAR} đến {MAX_YEAR}.", f"The year must be {MIN_YEAR} to {MAX_YEAR}."
        )


def _check_quarter(q: int) -> None:
    if q not in (1, 2, 3, 4):
        raise BadPeriod("Quý phải từ 1 đến 4.", "The quarter must be 1 to 4.")


def _int(args: Mapping[str, str], name: str, default: int, vi: str, en: str) -> int:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 4:
        raise BadPeriod(f"{vi} không hợp lệ: {raw[:20]!r}.", f"Invalid {en}: {raw[:20]!r}.")
    return int(raw)


def _date(args: Mapping[str, str], name: str, vi: str, en: str) -> date:
    raw = (args.get(name) or "").strip()
    try:
        if not raw.isascii():
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise BadPeriod(f"{vi} không hợp lệ (dạng YYYY-MM-DD).", f"Invalid {en} (use YYYY-MM-DD).") from None


def parse_period(args: Mapping[str, str], today: date | None = None) -> Period:
    """The period the query asks for: ``kind`` plus ``year``/``quarter``/``month`` or ``from``/``to``.

    Without arguments: the current calendar month.
    """
    today = today or datetime.now(VN_TZ).date()  # the Vietnamese day, not the server's
    kind = (args.get("kind") or "month").strip()
    if kind not in KINDS:
        raise BadPeriod("Loại kỳ báo cáo không hợp lệ.", "Unknown kind of period.")
    if kind == "range":
        return date_range(
            _date(args, "from", "Ngày bắt đầu", "start date"), _date(args, "to", "Ngày kết thúc", "end date")
        )
    year = _int(args, "year", today.year, "Năm", "year")
    if kind == "month":
        return month(year, _int(args, "month", today.month, "Tháng", "month"))
    if kind in ("quarter", "report_quarter"):
        q = _int(args, "quarter", (today.month - 1) // 3 + 1, "Quý", "quarter")
        return quarter(year, q) if kind == "quarter" else report_quarter(year, q)
    return report_half(year) if kind == "report_half" else report_year(year)


def period_args(period: Period) -> dict[str, str]:
    """Query arguments that give this period back through ``parse_period`` (links, exports).

    The kind is kept (a Decree 09 quarter stays one, with its year and quarter), so a link from
    a report page reads the same period under the same name; an unknown kind falls back to dates.
    """
    year = str(period.end.year)
    if period.kind == "month":
        return {"kind": "month", "year": year, "month": str(period.start.month)}
    if period.kind == "quarter":
        return {"kind": "quarter", "year": year, "quarter": str((period.end.month - 1) // 3 + 1)}
    if period.kind == "report_quarter":  # ends on the 14th of the quarter's last month
        return {"kind": "report_quarter", "year": year, "quarter": str(period.end.month // 3)}
    if period.kind in ("report_half", "report_year"):
        return {"kind": period.kind, "year": year}
    return {"kind": "range", "from": period.start.isoformat(), "to": period.end.isoformat()}
