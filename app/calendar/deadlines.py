"""Due dates (hạn xử lý / ngày hẹn trả) and early / on time / late, DOMAIN.md §3.3 and §3.5.

Pure functions over a ``WorkCalendar``. Every due date comes with an explanation
(a JSON-serialisable dict stored with the dossier) so a person can see why the
date is what it is: when the clock started and why, the days it skipped, the
rule applied, the pauses and the re-appointment.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from app.calendar.workcal import WEEKDAY_NAMES, WorkCalendar, to_local

TIME_UNITS = ("working_days", "hours", "calendar_days", "same_day")
GRANULARITIES = ("date", "timestamp")

_UNIT_LABELS = {
    "working_days": ("ngày làm việc", "working days"),
    "hours": ("giờ làm việc", "working hours"),
    "calendar_days": ("ngày (tính cả ngày nghỉ)", "calendar days"),
    "same_day": ("trong ngày", "same day"),
}
_PAUSE_LABELS = {
    "supplement": ("chờ bổ sung hồ sơ", "waiting for a supplement"),
    "financial": ("chờ thực hiện nghĩa vụ tài chính", "waiting for a financial obligation"),
    "financial_obligation": ("chờ thực hiện nghĩa vụ tài chính", "waiting for a financial obligation"),
}


@dataclass
class Deadline:
    due_at: datetime
    start_at: datetime
    budget_minutes: int
    explanation: dict


def _minutes(hours: Decimal) -> int:
    return int((Decimal(hours) * 60).to_integral_value(ROUND_HALF_UP))


def _plain(value: Decimal) -> str:
    """3 -> "3", 7.50 -> "7.5" (no exponent)."""
    return format(Decimal(value).normalize(), "f")


def _text(vi: str, en: str, **extra) -> dict:
    return {"vi": vi, "en": en, **extra}


# --- computing the due date -------------------------------------------------


def compute_due(cal: WorkCalendar, received_at: datetime, time_value: Decimal, time_unit: str) -> Deadline:
    """The due date of a dossier received at ``received_at`` with a legal time of ``time_value`` units.

    The clock starts at ``cal.next_opening(received_at)`` (§3.3 rules 1 and 6):
    after the afternoon close it starts the next working morning; before the
    opening or at lunch it snaps to the next opening.

    - ``working_days``: N × hours_per_day office hours from the start.
    - ``hours``: N office hours from the start.
    - ``calendar_days``: the day N calendar days (fractions round up) after the
      day received (or, received after the afternoon close, the day after; a
      holiday break counts once, as every calendar day counts), rolled
      forward to the next working day if it is not one; due at that day's
      afternoon close, because an appointment in days means the whole of the
      last day belongs to the agency.
    - ``same_day``: clock starting on the day it was received and at or before the
      cutoff (15:00 by default: "sau 15 giờ" means strictly after) → due at that
      day's afternoon close; otherwise (after the cutoff, after hours, on a
      non-working day) → the afternoon close of the next working day.
    """
    if time_unit not in TIME_UNITS:
        raise ValueError(f"unknown time unit {time_unit!r} (one of {', '.join(TIME_UNITS)})")
    value = Decimal(time_value)
    if value < 0:
        raise ValueError("the processing time must not be negative")
    received = to_local(received_at)
    start = cal.next_opening(received)
    rule = count_from = None
    skipped_from = received.date()
    if time_unit == "working_days":
        budget = _minutes(value * cal.hours.hours_per_day)
        due = cal.add_working_minutes(start, budget)
    elif time_unit == "hours":
        budget = _minutes(value)
        due = cal.add_working_minutes(start, budget)
    elif time_unit == "calendar_days":
        count_from = _calendar_count_from(cal, received)
        due, rule = _calendar_days_due(cal, count_from, value)
        budget = cal.working_minutes_between(start, due)
        # Every calendar day counts; only the days the appointment rolled over are not counted.
        skipped_from = count_from + timedelta(days=int(value.to_integral_value(ROUND_CEILING)))
    else:
        due, rule = _same_day_due(cal, received, start)
        budget = cal.working_minutes_between(start, due)
    explanation = {
        "received_at": received.isoformat(),
        "start_at": start.isoformat(),
        "start_reason": _start_reason(cal, received, start),
        "time_value": _plain(value),
        "time_unit": time_unit,
        "budget_hours": _plain(Decimal(budget) / 60),
        "office_hours": _office_hours_text(cal),
        "skipped_days": _skipped(cal, skipped_from, due.date()),
        "rule": rule,
        "pauses": [],
        "extension": None,
        "due_at": due.isoformat(),
    }
    if count_from is not None:
        explanation["count_from"] = count_from.isoformat()
    return Deadline(due_at=due, start_at=start, budget_minutes=budget, explanation=explanation)


def _calendar_count_from(cal: WorkCalendar, received: datetime) -> date:
    """The day calendar days are counted from: the day received, or the next one after the afternoon close."""
    if received.time() >= cal.hours.afternoon_end:
        return received.date() + timedelta(days=1)
    return received.date()


def _calendar_days_due(cal: WorkCalendar, count_from: date, value: Decimal) -> tuple[datetime, dict | None]:
    days = int(value.to_integral_value(ROUND_CEILING))
    target = count_from + timedelta(days=days)
    if cal.is_working_day(target):
        return cal.closing_time(target), None
    reason_vi, reason_en = cal.why_not_working(target)
    moved = cal.next_working_day(target)
    rule = _text(
        f"Ngày hẹn {_date(target)} là ngày nghỉ ({reason_vi}) nên chuyển sang ngày làm việc tiếp theo "
        f"{_date(moved)}.",
        f"The appointment {_date(target)} is not a working day ({reason_en}), so it moves to the next "
        f"working day, {_date(moved)}.",
        code="calendar_days_rolled_forward",
    )
    return cal.closing_time(moved), rule


def _same_day_due(cal: WorkCalendar, received: datetime, start: datetime) -> tuple[datetime, dict]:
    cutoff = cal.hours.same_day_cutoff.strftime("%H:%M")
    if start.date() == received.date() and start.time() <= cal.hours.same_day_cutoff:
        return cal.closing_time(start.date()), _text(
            f"Thủ tục giải quyết trong ngày, nhận trước {cutoff}: trả kết quả trong ngày.",
            f"Same-day procedure received by {cutoff}: due the same day.",
            code="same_day",
        )
    if start.date() == received.date():
        due_day = cal.next_working_day(start.date())
        return cal.closing_time(due_day), _text(
            f"Thủ tục giải quyết trong ngày, nhận sau {cutoff}: trả kết quả vào ngày làm việc tiếp theo.",
            f"Same-day procedure received after {cutoff}: due the next working day.",
            code="same_day_after_cutoff",
        )
    return cal.closing_time(start.date()), _text(
        "Thủ tục giải quyết trong ngày, nhận ngoài giờ làm việc: trả kết quả vào cuối ngày làm việc "
        "tiếp theo.",
        "Same-day procedure received outside office hours: due at the close of the next working day.",
        code="same_day_outside_hours",
    )


def _start_reason(cal: WorkCalendar, received: datetime, start: datetime) -> dict | None:
    if start == received:
        return None
    reason = cal.why_not_working(received.date())
    if reason is not None:
        return _text(f"vào ngày nghỉ ({reason[0]})", f"on a day off ({reason[1]})", code="day_off")
    sessions = cal.sessions_on(received.date())
    if received < sessions[0][0]:
        return _text("trước giờ làm việc", "before opening time", code="before_opening")
    if received >= sessions[-1][1]:
        return _text("sau giờ làm việc", "after office hours", code="after_hours")
    return _text("trong giờ nghỉ trưa", "during the lunch break", code="lunch_break")


def _skipped(cal: WorkCalendar, first: date, last: date) -> list[dict]:
    return [
        {"day": day.isoformat(), "vi": vi, "en": en} for day, (vi, en) in cal.non_working_days(first, last)
    ]


def _office_hours_text(cal: WorkCalendar) -> str:
    h = cal.hours
    return f"{h.morning_start:%H:%M}–{h.morning_end:%H:%M}, {h.afternoon_start:%H:%M}–{h.afternoon_end:%H:%M}"


def step_due(cal: WorkCalendar, start: datetime, hours: Decimal) -> datetime:
    """When a process step that may take ``hours`` office hours, begun at ``start``, is due."""
    return cal.add_working_minutes(start, _minutes(hours))


# --- pauses and re-appointments ----------------------------------------------


def extend_for_pause(
    cal: WorkCalendar, due_at: datetime, paused_from: datetime, paused_to: datetime
) -> tuple[datetime, int]:
    """(new due, paused office minutes): the clock stops while paused and resumes, it does not restart.

    A pause that covered no office time (a weekend, a night) leaves the due date as it was.
    """
    minutes = cal.working_minutes_between(paused_from, paused_to)
    if minutes == 0:
        return to_local(due_at), 0
    return cal.add_working_minutes(due_at, minutes), minutes


def record_pause(
    explanation: dict,
    kind: str,
    paused_from: datetime,
    paused_to: datetime,
    minutes: int,
    new_due_at: datetime,
) -> dict:
    """A copy of ``explanation`` with the pause appended and ``due_at`` moved to ``new_due_at``.

    ``kind``: "supplement" (status 5) or "financial" (status 6). The
    first due date is kept as ``original_due_at``.
    """
    updated = copy.deepcopy(explanation)
    updated.setdefault("original_due_at", updated.get("due_at"))
    updated.setdefault("pauses", []).append(
        {
            "kind": kind,
            "from": to_local(paused_from).isoformat(),
            "to": to_local(paused_to).isoformat(),
            "minutes": minutes,
            "due_before": updated.get("due_at"),
            "due_after": to_local(new_due_at).isoformat(),
        }
    )
    updated["due_at"] = to_local(new_due_at).isoformat()
    return updated


def record_extension(explanation: dict, new_due_at: datetime, reason: str) -> dict:
    """A copy of ``explanation`` with a form 04 re-appointment (Phiếu xin lỗi và hẹn lại ngày trả).

    ``due_at`` is left alone: a re-appointment does not clear lateness (§3.5),
    the dossier is still measured against its legal due date.
    """
    updated = copy.deepcopy(explanation)
    previous = updated.get("extension")
    updated["extension"] = {
        "due_at": to_local(new_due_at).isoformat(),
        "reason": reason,
        "previous_due_at": previous["due_at"] if previous else updated.get("due_at"),
    }
    return updated


# --- early / on time / late ----------------------------------------------------


def classify(completed_at: datetime, due_at: datetime, granularity: str = "date") -> str:
    """ "early" | "on_time" | "late" (trước hạn / đúng hạn / quá hạn), §3.5.

    - "date": compare local dates; finishing on the due day is on time, even after the due hour.
    - "timestamp": late as soon as ``completed_at`` > ``due_at``; early when finished on
      an earlier local day than the due day; otherwise (the due day, not after the due
      instant) on time. So both conventions agree on "early", and "timestamp" only adds
      the strict reading of "late".
    """
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown granularity {granularity!r} (one of {', '.join(GRANULARITIES)})")
    done, due = to_local(completed_at), to_local(due_at)
    if granularity == "timestamp" and done > due:
        return "late"
    if done.date() < due.date():
        return "early"
    if done.date() == due.date():
        return "on_time"
    return "late"


# --- for people -----------------------------------------------------------------


def _date(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def _when(iso: str, lang: str) -> str:
    """ "16:30 thứ Sáu 01/02/2019" / "16:30 Friday 01/02/2019"."""
    at = to_local(datetime.fromisoformat(iso))
    vi, en = WEEKDAY_NAMES[at.isoweekday()]
    weekday = en if lang == "en" else vi[0].lower() + vi[1:] if vi.startswith("Thứ") else vi
    return f"{at:%H:%M} {weekday} {at:%d/%m/%Y}"


def _duration(minutes: int, lang: str) -> str:
    hours, rest = divmod(int(minutes), 60)
    if lang == "en":
        parts = [f"{hours} h"] if hours else []
        return " ".join([*parts, f"{rest} min"] if rest else parts) or "0 min"
    parts = [f"{hours} giờ"] if hours else []
    return " ".join([*parts, f"{rest} phút"] if rest else parts) or "0 phút"


def explain_lines(explanation: dict, lang: str = "vi") -> list[str]:
    """Plain sentences, in Vietnamese (``lang="vi"``) or English, that say why the due date is what it is.

    Parts missing from ``explanation`` (an older or partial record) are left out, not guessed.
    """
    en = lang == "en"
    pick = (lambda pair: pair[1]) if en else (lambda pair: pair[0])
    lines = [_received_line(explanation, lang)] if explanation.get("received_at") else []
    unit = explanation.get("time_unit")
    if unit == "same_day":
        lines.append("Processing time: same day." if en else "Thời hạn giải quyết: trong ngày.")
    elif unit in _UNIT_LABELS:
        value, label = explanation["time_value"], pick(_UNIT_LABELS[unit])
        hours = explanation["budget_hours"]
        office = explanation.get("office_hours", "")
        lines.append(
            f"Processing time: {value} {label} ({hours} office hours; office hours {office})."
            if en
            else f"Thời hạn giải quyết: {value} {label} ({hours} giờ làm việc; giờ làm việc {office})."
        )
    skipped = explanation.get("skipped_days") or []
    if skipped:
        days = ", ".join(
            f"{_date(date.fromisoformat(d['day']))} ({d['en'] if en else d['vi']})" for d in skipped
        )
        lines.append(f"Days not counted: {days}." if en else f"Không tính các ngày nghỉ: {days}.")
    if explanation.get("rule"):
        lines.append(pick((explanation["rule"]["vi"], explanation["rule"]["en"])))
    for pause in explanation.get("pauses") or []:
        lines.append(_pause_line(pause, lang))
    if explanation.get("due_at"):
        due = _when(explanation["due_at"], lang)
        lines.append(f"Due: {due}." if en else f"Hạn trả kết quả: {due}.")
    extension = explanation.get("extension")
    if extension:
        new = _when(extension["due_at"], lang)
        lines.append(
            f"Re-appointed (form 04) to {new}. Reason: {extension['reason']}"
            if en
            else f"Hẹn lại ngày trả kết quả (Mẫu số 04): {new}. Lý do: {extension['reason']}"
        )
    return lines


def _received_line(explanation: dict, lang: str) -> str:
    received = _when(explanation["received_at"], lang)
    if explanation.get("count_from"):
        return _calendar_received_line(explanation, received, lang)
    start = _when(explanation.get("start_at") or explanation["received_at"], lang)
    reason = explanation.get("start_reason")
    if lang == "en":
        if reason:
            return f"Received at {received}, {reason['en']}: the time limit starts at {start}."
        return f"Received at {received}; the time limit starts then."
    if reason:
        return f"Nhận lúc {received}, {reason['vi']}: thời hạn bắt đầu tính từ {start}."
    return f"Nhận lúc {received}; thời hạn bắt đầu tính từ lúc nhận."


def _calendar_received_line(explanation: dict, received: str, lang: str) -> str:
    """Calendar days are counted from a day, not from the office's next opening."""
    count_from = _date(date.fromisoformat(explanation["count_from"]))
    next_day = explanation["count_from"] != explanation["received_at"][:10]
    if lang == "en":
        why = ", after the afternoon close" if next_day else ""
        return f"Received at {received}{why}: the days are counted from {count_from}."
    why = ", sau giờ làm việc buổi chiều" if next_day else ""
    return f"Nhận lúc {received}{why}: số ngày được tính từ ngày {count_from}."


def _pause_line(pause: dict, lang: str) -> str:
    vi_kind, en_kind = _PAUSE_LABELS.get(pause["kind"], (pause["kind"], pause["kind"]))
    start, end = _when(pause["from"], lang), _when(pause["to"], lang)
    added, due = _duration(pause["minutes"], lang), _when(pause["due_after"], lang)
    if lang == "en":
        return f"Paused ({en_kind}) from {start} to {end}: {added} of office time added, new due {due}."
    return f"Tạm dừng ({vi_kind}) từ {start} đến {end}: cộng thêm {added} làm việc, hạn mới {due}."
