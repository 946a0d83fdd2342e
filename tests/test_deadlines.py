"""Due dates, pauses, re-appointments and early / on time / late on the real 2019 calendar (no mocks)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

import pytest

from app.calendar.deadlines import (
    classify,
    compute_due,
    explain_lines,
    extend_for_pause,
    record_extension,
    record_pause,
    step_due,
)
from app.calendar.workcal import DEFAULT_HOURS, VN_TZ, WorkCalendar

TET_2019 = ["2019-02-04", "2019-02-05", "2019-02-06", "2019-02-07", "2019-02-08"]


def at(y, m, d, hh=0, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=VN_TZ)


@pytest.fixture
def cal():
    return WorkCalendar()


def skipped(deadline) -> list[str]:
    return [d["day"] for d in deadline.explanation["skipped_days"]]


# --- working days across Tết 2019 ----------------------------------------------------


def test_after_hours_on_the_friday_before_tet_starts_after_tet(cal):
    d = compute_due(cal, at(2019, 2, 1, 17, 30), Decimal(3), "working_days")
    assert d.start_at == at(2019, 2, 11, 7, 0)
    assert d.due_at == at(2019, 2, 13, 17, 0)
    assert d.budget_minutes == 3 * 8 * 60
    assert skipped(d) == ["2019-02-02", "2019-02-03", *TET_2019, "2019-02-09", "2019-02-10"]
    reasons = {x["day"]: (x["vi"], x["en"]) for x in d.explanation["skipped_days"]}
    assert reasons["2019-02-02"] == ("Thứ Bảy", "Saturday")
    assert reasons["2019-02-05"][1] == "Lunar New Year"
    assert d.explanation["start_reason"]["code"] == "after_hours"
    assert d.explanation["budget_hours"] == "24" and d.explanation["time_value"] == "3"
    json.dumps(d.explanation)  # stored as JSON with the dossier


def test_at_1630_on_that_friday_the_office_is_still_open(cal):
    # 16:30 is inside 13:30-17:00, so §3.3 rule 1 does not move the start: the
    # 30 minutes left on Friday count, and the due time is 16:30, not 17:00.
    d = compute_due(cal, at(2019, 2, 1, 16, 30), Decimal(3), "working_days")
    assert d.start_at == at(2019, 2, 1, 16, 30)
    assert d.explanation["start_reason"] is None
    assert d.due_at == at(2019, 2, 13, 16, 30)
    assert skipped(d) == ["2019-02-02", "2019-02-03", *TET_2019, "2019-02-09", "2019-02-10"]


def test_explanation_reads_as_sentences_in_both_languages(cal):
    d = compute_due(cal, at(2019, 2, 1, 17, 30), Decimal(3), "working_days")
    vi = explain_lines(d.explanation, "vi")
    en = explain_lines(d.explanation, "en")
    assert vi[0] == (
        "Nhận lúc 17:30 thứ Sáu 01/02/2019, sau giờ làm việc: "
        "thời hạn bắt đầu tính từ 07:00 thứ Hai 11/02/2019."
    )
    assert en[0] == (
        "Received at 17:30 Friday 01/02/2019, after office hours: "
        "the time limit starts at 07:00 Monday 11/02/2019."
    )
    assert any("05/02/2019 (Tết Nguyên Đán)" in line for line in vi)
    assert any("05/02/2019 (Lunar New Year)" in line for line in en)
    assert vi[-1] == "Hạn trả kết quả: 17:00 thứ Tư 13/02/2019."
    assert en[-1] == "Due: 17:00 Wednesday 13/02/2019."


# --- snapping the start (§3.3 rules 1 and 6) -----------------------------------------


def test_lunch_break_snaps_to_the_afternoon_opening(cal):
    d = compute_due(cal, at(2019, 3, 5, 12, 10), Decimal(4), "hours")
    assert d.start_at == at(2019, 3, 5, 13, 30)
    assert d.due_at == at(2019, 3, 6, 7, 30)  # 3.5 h that afternoon, 0.5 h next morning
    assert d.explanation["start_reason"]["code"] == "lunch_break"


def test_before_opening_snaps_to_the_morning_opening(cal):
    d = compute_due(cal, at(2019, 3, 5, 6, 15), Decimal(1), "working_days")
    assert d.start_at == at(2019, 3, 5, 7, 0)
    assert d.due_at == at(2019, 3, 5, 17, 0)
    assert d.explanation["start_reason"]["code"] == "before_opening"


def test_received_on_a_sunday_starts_monday(cal):
    d = compute_due(cal, at(2019, 3, 10, 10, 0), Decimal(2), "hours")
    assert d.start_at == at(2019, 3, 11, 7, 0) and d.due_at == at(2019, 3, 11, 9, 0)
    assert d.explanation["start_reason"]["code"] == "day_off"
    assert skipped(d) == ["2019-03-10"]


def test_hours_unit_crosses_the_weekend(cal):
    d = compute_due(cal, at(2019, 3, 8, 15, 0), Decimal(6), "hours")
    assert d.due_at == at(2019, 3, 11, 11, 0)  # 2 h Friday, 4 h Monday morning
    assert d.budget_minutes == 360


def test_half_a_working_day(cal):
    d = compute_due(cal, at(2019, 3, 5, 7, 0), Decimal("0.5"), "working_days")
    assert d.due_at == at(2019, 3, 5, 11, 0)
    assert d.explanation["budget_hours"] == "4"


# --- unit days --------------------------------------------------------------------


def test_unit_makeup_saturday_counts_and_unit_day_off_is_skipped():
    cal = WorkCalendar(
        DEFAULT_HOURS,
        [
            (date(2019, 3, 9), "makeup_workday", "tenant", "Làm bù"),
            (date(2019, 3, 11), "day_off", "tenant", "Nghỉ kỷ niệm"),
        ],
    )
    # Fri 09:00-17:00 = 6 h, Sat (make-up) 8 h, Sun off, Mon (unit day off), Tue 2 h.
    d = compute_due(cal, at(2019, 3, 8, 9, 0), Decimal(2), "working_days")
    assert d.due_at == at(2019, 3, 12, 9, 0)
    assert skipped(d) == ["2019-03-10", "2019-03-11"]
    assert d.explanation["skipped_days"][1]["vi"] == "Nghỉ kỷ niệm"
    # Without the unit's rows: Fri 6 h, Mon 8 h, Tue 2 h.
    assert compute_due(WorkCalendar(), at(2019, 3, 8, 9, 0), Decimal(2), "working_days").due_at == at(
        2019, 3, 12, 9, 0
    )
    assert compute_due(WorkCalendar(), at(2019, 3, 8, 9, 0), Decimal(1), "working_days").due_at == at(
        2019, 3, 11, 9, 0
    )
    assert compute_due(cal, at(2019, 3, 8, 9, 0), Decimal(1), "working_days").due_at == at(2019, 3, 9, 9, 0)


def test_national_makeup_saturday_4_may_2019_counts(cal):
    # The package knows the 2019 swap: 29/04 off, Sat 04/05 worked. 30/04 and 01/05 are holidays.
    d = compute_due(cal, at(2019, 5, 3, 13, 30), Decimal(1), "working_days")
    assert d.due_at == at(2019, 5, 4, 11, 30)  # 3.5 h Friday, 4.5 h on the Saturday morning
    d = compute_due(cal, at(2019, 4, 26, 17, 0), Decimal(1), "working_days")
    assert d.start_at == at(2019, 5, 2, 7, 0)
    assert skipped(d) == ["2019-04-27", "2019-04-28", "2019-04-29", "2019-04-30", "2019-05-01"]


# --- calendar days ------------------------------------------------------------------


def test_calendar_days_count_every_day_and_end_at_the_close(cal):
    d = compute_due(cal, at(2019, 3, 5, 9, 0), Decimal(7), "calendar_days")
    assert d.due_at == at(2019, 3, 12, 17, 0)
    assert d.explanation["rule"] is None


def test_calendar_days_roll_forward_off_a_holiday(cal):
    # 10 calendar days from Fri 25/01/2019 is Mon 04/02, Tết's eve: roll to Mon 11/02.
    d = compute_due(cal, at(2019, 1, 25, 9, 0), Decimal(10), "calendar_days")
    assert d.due_at == at(2019, 2, 11, 17, 0)
    assert d.explanation["rule"]["code"] == "calendar_days_rolled_forward"
    assert "04/02/2019" in d.explanation["rule"]["vi"] and "11/02/2019" in d.explanation["rule"]["en"]


def test_calendar_days_roll_forward_off_a_sunday(cal):
    d = compute_due(cal, at(2019, 3, 5, 9, 0), Decimal(5), "calendar_days")
    assert d.due_at == at(2019, 3, 11, 17, 0)  # Sun 10/03 -> Mon 11/03


def test_calendar_days_before_tet_count_the_break_once_whatever_the_hour(cal):
    # 3 calendar days: from Fri 01/02/2019 (10:00) or from Sat 02/02 (received after the 17:00
    # close) both land in Tết (04/02, 05/02) and roll to Mon 11/02. Counting from the next
    # opening (11/02) would skip the break twice and give 14/02 for the evening one.
    morning = compute_due(cal, at(2019, 2, 1, 10, 0), Decimal(3), "calendar_days")
    evening = compute_due(cal, at(2019, 2, 1, 18, 0), Decimal(3), "calendar_days")
    assert morning.due_at == at(2019, 2, 11, 17, 0)
    assert evening.due_at == at(2019, 2, 11, 17, 0)
    assert morning.explanation["count_from"] == "2019-02-01"
    assert evening.explanation["count_from"] == "2019-02-02"
    assert "04/02/2019" in morning.explanation["rule"]["vi"]
    assert "05/02/2019" in evening.explanation["rule"]["en"]


def test_calendar_days_explanation_says_where_the_count_starts(cal):
    d = compute_due(cal, at(2019, 2, 1, 18, 0), Decimal(3), "calendar_days")
    vi, en = explain_lines(d.explanation, "vi"), explain_lines(d.explanation, "en")
    assert vi[0] == (
        "Nhận lúc 18:00 thứ Sáu 01/02/2019, sau giờ làm việc buổi chiều: "
        "số ngày được tính từ ngày 02/02/2019."
    )
    assert en[0] == (
        "Received at 18:00 Friday 01/02/2019, after the afternoon close: "
        "the days are counted from 02/02/2019."
    )
    # Calendar days count the weekend and Tết; only the days the appointment rolled over are not counted.
    assert skipped(d) == ["2019-02-05", "2019-02-06", "2019-02-07", "2019-02-08", "2019-02-09", "2019-02-10"]
    assert vi[-1] == "Hạn trả kết quả: 17:00 thứ Hai 11/02/2019."
    morning = compute_due(cal, at(2019, 2, 1, 10, 0), Decimal(3), "calendar_days")
    assert explain_lines(morning.explanation, "en")[0] == (
        "Received at 10:00 Friday 01/02/2019: the days are counted from 01/02/2019."
    )


def test_calendar_days_after_tet_when_the_target_is_a_working_day(cal):
    # Received after the close on the last day of Tết's week (Fri 08/02 is a holiday; no close
    # changes that): counted from Sat 09/02, 3 days → Tue 12/02, a working day, nothing skipped.
    d = compute_due(cal, at(2019, 2, 8, 18, 0), Decimal(3), "calendar_days")
    assert d.due_at == at(2019, 2, 12, 17, 0)
    assert d.explanation["rule"] is None and skipped(d) == []
    # Received Thu 31/01 at 09:00: 7 days → Thu 07/02 (Tết) → Mon 11/02, once.
    week = compute_due(cal, at(2019, 1, 31, 9, 0), Decimal(7), "calendar_days")
    assert week.due_at == at(2019, 2, 11, 17, 0)


# --- same day (§3.3 rule 4) -----------------------------------------------------------


def test_same_day_before_the_cutoff_is_due_that_afternoon(cal):
    d = compute_due(cal, at(2019, 3, 5, 14, 59), Decimal(0), "same_day")
    assert d.due_at == at(2019, 3, 5, 17, 0)
    assert d.explanation["rule"]["code"] == "same_day"


def test_same_day_at_exactly_the_cutoff_is_still_same_day(cal):
    assert compute_due(cal, at(2019, 3, 5, 15, 0), Decimal(0), "same_day").due_at == at(2019, 3, 5, 17, 0)


def test_same_day_after_the_cutoff_is_due_the_next_working_day(cal):
    d = compute_due(cal, at(2019, 3, 5, 15, 1), Decimal(0), "same_day")
    assert d.due_at == at(2019, 3, 6, 17, 0)
    assert d.explanation["rule"]["code"] == "same_day_after_cutoff"
    assert "15:00" in d.explanation["rule"]["vi"]


def test_same_day_friday_afternoon_is_due_monday(cal):
    d = compute_due(cal, at(2019, 3, 8, 15, 30), Decimal(0), "same_day")
    assert d.due_at == at(2019, 3, 11, 17, 0)
    assert skipped(d) == ["2019-03-09", "2019-03-10"]


def test_same_day_after_hours_or_on_a_day_off_is_due_the_next_working_day(cal):
    assert compute_due(cal, at(2019, 3, 5, 18, 0), Decimal(0), "same_day").due_at == at(2019, 3, 6, 17, 0)
    assert compute_due(cal, at(2019, 3, 9, 9, 0), Decimal(0), "same_day").due_at == at(2019, 3, 11, 17, 0)
    assert compute_due(cal, at(2019, 3, 5, 12, 0), Decimal(0), "same_day").due_at == at(2019, 3, 5, 17, 0)


def test_unknown_unit_or_negative_time_is_a_bug(cal):
    with pytest.raises(ValueError):
        compute_due(cal, at(2019, 3, 5, 9), Decimal(1), "weeks")
    with pytest.raises(ValueError):
        compute_due(cal, at(2019, 3, 5, 9), Decimal(-1), "hours")


# --- pauses and re-appointments (§3.3 rule 5, form 04) ---------------------------------


def test_supplement_pause_across_a_weekend_adds_only_working_minutes(cal):
    d = compute_due(cal, at(2019, 3, 4, 7, 0), Decimal(5), "working_days")
    assert d.due_at == at(2019, 3, 8, 17, 0)
    new_due, minutes = extend_for_pause(cal, d.due_at, at(2019, 3, 7, 16, 0), at(2019, 3, 11, 9, 0))
    assert minutes == 60 + 480 + 120  # Thu 1 h, Fri 8 h, Mon 2 h; Sat and Sun count nothing
    # From Fri 17:00: Mon 8 h, Tue 3 h -> Tue 10:00.
    assert new_due == at(2019, 3, 12, 10, 0)

    explanation = record_pause(
        d.explanation, "supplement", at(2019, 3, 7, 16, 0), at(2019, 3, 11, 9, 0), minutes, new_due
    )
    assert d.explanation["pauses"] == [] and d.explanation["due_at"] == at(2019, 3, 8, 17).isoformat()
    assert explanation["original_due_at"] == at(2019, 3, 8, 17).isoformat()
    assert explanation["due_at"] == new_due.isoformat()
    assert explanation["pauses"][0]["minutes"] == 660
    lines = explain_lines(explanation, "vi")
    assert any(line.startswith("Tạm dừng (chờ bổ sung hồ sơ)") and "11 giờ" in line for line in lines)
    assert lines[-1] == "Hạn trả kết quả: 10:00 thứ Ba 12/03/2019."


def test_a_pause_over_a_weekend_only_changes_nothing(cal):
    due = at(2019, 3, 13, 17, 0)
    assert extend_for_pause(cal, due, at(2019, 3, 9, 8, 0), at(2019, 3, 10, 20, 0)) == (due, 0)


def test_two_pauses_accumulate(cal):
    d = compute_due(cal, at(2019, 3, 4, 7, 0), Decimal(2), "working_days")
    due1, m1 = extend_for_pause(cal, d.due_at, at(2019, 3, 4, 9, 0), at(2019, 3, 4, 10, 0))
    e1 = record_pause(d.explanation, "supplement", at(2019, 3, 4, 9), at(2019, 3, 4, 10), m1, due1)
    due2, m2 = extend_for_pause(cal, due1, at(2019, 3, 4, 14, 0), at(2019, 3, 4, 16, 0))
    e2 = record_pause(e1, "financial", at(2019, 3, 4, 14), at(2019, 3, 4, 16), m2, due2)
    assert due2 == at(2019, 3, 6, 10, 0)
    assert [p["kind"] for p in e2["pauses"]] == ["supplement", "financial"]
    assert e2["original_due_at"] == d.due_at.isoformat()
    assert any("nghĩa vụ tài chính" in line for line in explain_lines(e2, "vi"))


def test_explain_lines_of_a_partial_record_leaves_out_what_is_missing(cal):
    e = record_pause({}, "supplement", at(2019, 3, 4, 9), at(2019, 3, 4, 10), 60, at(2019, 3, 6, 8))
    assert explain_lines(e, "en") == [
        "Paused (waiting for a supplement) from 09:00 Monday 04/03/2019 to 10:00 Monday 04/03/2019: "
        "1 h of office time added, new due 08:00 Wednesday 06/03/2019.",
        "Due: 08:00 Wednesday 06/03/2019.",
    ]


def test_reappointment_is_recorded_without_moving_the_legal_due(cal):
    d = compute_due(cal, at(2019, 3, 4, 7, 0), Decimal(5), "working_days")
    e = record_extension(d.explanation, at(2019, 3, 15, 17, 0), "Chờ ý kiến của Sở Tài nguyên và Môi trường")
    assert e["due_at"] == d.explanation["due_at"]
    assert e["extension"]["due_at"] == at(2019, 3, 15, 17).isoformat()
    assert e["extension"]["previous_due_at"] == d.explanation["due_at"]
    assert d.explanation["extension"] is None
    assert explain_lines(e, "vi")[-1].startswith(
        "Hẹn lại ngày trả kết quả (Mẫu số 04): 17:00 thứ Sáu 15/03/2019."
    )
    json.dumps(e)


def test_step_due_uses_office_hours(cal):
    assert step_due(cal, at(2019, 3, 8, 16, 0), Decimal(2)) == at(2019, 3, 11, 8, 0)
    assert step_due(cal, at(2019, 3, 8, 16, 0), Decimal("0.25")) == at(2019, 3, 8, 16, 15)


# --- early / on time / late (§3.5) ------------------------------------------------------


DUE = at(2019, 3, 12, 11, 0)


@pytest.mark.parametrize(
    ("completed", "by_date", "by_timestamp"),
    [
        (at(2019, 3, 11, 16, 0), "early", "early"),
        (at(2019, 3, 12, 8, 0), "on_time", "on_time"),
        (at(2019, 3, 12, 11, 0), "on_time", "on_time"),
        (at(2019, 3, 12, 16, 0), "on_time", "late"),
        (at(2019, 3, 13, 7, 0), "late", "late"),
    ],
)
def test_classify_by_date_and_by_timestamp(completed, by_date, by_timestamp):
    assert classify(completed, DUE, "date") == by_date
    assert classify(completed, DUE, "timestamp") == by_timestamp


def test_classify_compares_local_dates():
    # 23:30 UTC on the 11th is 06:30 on the 12th in Hanoi: the due day, so on time.
    from datetime import UTC

    assert classify(datetime(2019, 3, 11, 23, 30, tzinfo=UTC), DUE, "date") == "on_time"


def test_classify_refuses_an_unknown_granularity():
    with pytest.raises(ValueError):
        classify(DUE, DUE, "week")
