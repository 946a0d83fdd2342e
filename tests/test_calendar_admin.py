"""The unit admin's working-calendar pages (``/backoffice/calendar``) and ``load_calendar``, on PostgreSQL."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import pytest
from sqlalchemy import event, select

from app.calendar.models import CalendarDay, WorkingHoursProfile
from app.calendar.workcal import DEFAULT_HOURS, load_calendar
from tests.test_auth_support import carry_session, csrf_from, login, make_account, session_cookie

PAGE = "/backoffice/calendar/"
GOOD_HOURS = {
    "morning_start": "07:30",
    "morning_end": "11:30",
    "afternoon_start": "13:00",
    "afternoon_end": "17:00",
    "same_day_cutoff": "15:30",
    "weekdays": ["1", "2", "3", "4", "5"],
}


@pytest.fixture
def unit(make_tenant):
    return make_tenant("district")


@pytest.fixture
def admin(platform, unit):
    return make_account(platform, memberships=[(unit, ["unit_admin"])])


@pytest.fixture
def admin_client(client_for, unit, admin):
    client = client_for(unit)
    assert login(client, admin.email).status_code == 302
    return client


def tenant_session(platform, tenant):
    return platform.shards.tenant_session(tenant.shard, tenant.schema_name)


def rows(platform, tenant) -> list[CalendarDay]:
    with tenant_session(platform, tenant) as session:
        return list(session.scalars(select(CalendarDay).order_by(CalendarDay.day)))


def profiles(platform, tenant) -> list[WorkingHoursProfile]:
    with tenant_session(platform, tenant) as session:
        return list(session.scalars(select(WorkingHoursProfile)))


def post(client, path: str, data: dict):
    token = csrf_from(client, PAGE + "?year=2019")
    return client.post(path, data={**data, "csrf_token": token})


def add_day(client, day: str, kind: str, note: str = ""):
    return post(client, PAGE + "days", {"day": day, "kind": kind, "note": note, "year": "2019"})


# --- reading --------------------------------------------------------------------------


def test_year_page_lists_the_national_holidays_of_the_package(admin_client):
    page = admin_client.get(PAGE + "?year=2019")
    assert page.status_code == 200
    assert "Lịch làm việc 2019" in page.text
    assert "05/02/2019" in page.text and "Tết Nguyên Đán" in page.text
    assert "04/05/2019" in page.text  # the make-up Saturday of the 2019 swap
    assert "Chưa xác nhận" in page.text
    english = admin_client.get(PAGE + "?year=2019&lang=en")
    assert "Lunar New Year" in english.text and "Working calendar 2019" in english.text


def test_the_menu_links_the_calendar_for_the_unit_admin(admin_client):
    assert 'href="/backoffice/calendar/"' in admin_client.get("/backoffice/").text


def test_a_year_out_of_range_is_a_clear_422(admin_client):
    page = admin_client.get(PAGE + "?year=1890")
    assert page.status_code == 422
    assert "Năm phải là số từ 2000" in page.text


# --- confirming a year ------------------------------------------------------------------


def test_confirm_year_puts_the_national_days_on_record(admin_client, platform, unit, admin):
    response = post(admin_client, PAGE + "confirm", {"year": "2019"})
    assert response.status_code == 302
    saved = rows(platform, unit)
    days = {r.day: r for r in saved}
    assert {date(2019, 2, d) for d in range(4, 9)} <= days.keys()
    assert days[date(2019, 5, 4)].kind == "makeup_workday"
    assert days[date(2019, 4, 29)].kind == "holiday"
    assert all(r.source == "national" and r.confirmed_by_account_id == admin.id for r in saved)
    assert all(r.confirmed_at is not None for r in saved)
    assert "Đã xác nhận" in admin_client.get(PAGE + "?year=2019").text

    # Confirming again re-confirms the same rows, it does not duplicate them.
    assert post(admin_client, PAGE + "confirm", {"year": "2019"}).status_code == 302
    assert sorted(r.day for r in rows(platform, unit)) == sorted(days)


def test_confirmed_year_keeps_computing_the_same_calendar(admin_client, platform, unit):
    post(admin_client, PAGE + "confirm", {"year": "2019"})
    with tenant_session(platform, unit) as session:
        cal = load_calendar(session)
    assert not cal.is_working_day(date(2019, 2, 5))
    assert cal.why_not_working(date(2019, 2, 5))[1] == "Lunar New Year"
    assert cal.is_working_day(date(2019, 5, 4))


def test_confirm_with_a_bad_year_writes_nothing(admin_client, platform, unit):
    response = post(admin_client, PAGE + "confirm", {"year": "20x9"})
    assert response.status_code == 422
    assert rows(platform, unit) == []


# --- the unit's own days ----------------------------------------------------------------------


def test_add_and_remove_unit_days(admin_client, platform, unit, admin):
    assert add_day(admin_client, "2019-03-09", "makeup_workday", "Làm bù cho ngày 11/03").status_code == 302
    assert add_day(admin_client, "2019-03-11", "day_off", "Kỷ niệm thành lập quận").status_code == 302
    saved = {r.day: r for r in rows(platform, unit)}
    assert saved[date(2019, 3, 9)].kind == "makeup_workday" and saved[date(2019, 3, 9)].source == "tenant"
    assert saved[date(2019, 3, 11)].confirmed_by_account_id == admin.id
    with tenant_session(platform, unit) as session:
        cal = load_calendar(session)
    assert cal.is_working_day(date(2019, 3, 9))
    assert cal.why_not_working(date(2019, 3, 11))[0] == "Kỷ niệm thành lập quận"
    page = admin_client.get(PAGE + "?year=2019")
    assert "Kỷ niệm thành lập quận" in page.text

    removed = post(admin_client, f"{PAGE}days/{saved[date(2019, 3, 11)].id}/delete", {})
    assert removed.status_code == 302
    assert [r.day for r in rows(platform, unit)] == [date(2019, 3, 9)]


@pytest.mark.parametrize(
    ("day", "kind", "status", "message"),
    [
        ("2019-03-12", "makeup_workday", 422, "đã là ngày làm việc"),  # a Tuesday
        ("2019-03-09", "day_off", 422, "đã là ngày nghỉ (Thứ Bảy)"),
        ("2019-02-05", "day_off", 422, "đã là ngày nghỉ"),  # Tết
        ("2019-05-04", "makeup_workday", 422, "đã là ngày làm việc"),  # the national make-up day
        ("2019-13-40", "day_off", 422, "Ngày không hợp lệ"),
        ("", "day_off", 422, "Ngày không hợp lệ"),
        ("1990-03-12", "day_off", 422, "Năm phải là số từ 2000"),
        ("2019-03-12", "holiday", 422, "Loại ngày phải là"),
    ],
)
def test_bad_days_are_refused_with_a_clear_message_and_nothing_written(
    admin_client, platform, unit, day, kind, status, message
):
    response = add_day(admin_client, day, kind)
    assert response.status_code == status
    assert message in response.text
    assert rows(platform, unit) == []


def test_a_note_too_long_is_refused(admin_client, platform, unit):
    response = add_day(admin_client, "2019-03-11", "day_off", "x" * 201)
    assert response.status_code == 422 and "Ghi chú dài quá 200" in response.text
    assert rows(platform, unit) == []


def test_a_duplicate_day_is_a_conflict(admin_client, platform, unit):
    assert add_day(admin_client, "2019-03-09", "makeup_workday").status_code == 302
    again = add_day(admin_client, "2019-03-09", "makeup_workday")
    assert again.status_code == 409 and "đã có trong lịch" in again.text
    assert len(rows(platform, unit)) == 1


def test_a_make_up_day_on_a_confirmed_holiday_is_a_conflict_not_a_second_row(admin_client, platform, unit):
    post(admin_client, PAGE + "confirm", {"year": "2019"})
    before = len(rows(platform, unit))
    response = add_day(admin_client, "2019-04-29", "makeup_workday")
    assert response.status_code == 409
    assert len(rows(platform, unit)) == before


def test_national_days_cannot_be_removed_by_id(admin_client, platform, unit):
    post(admin_client, PAGE + "confirm", {"year": "2019"})
    before = [r.id for r in rows(platform, unit)]
    response = post(admin_client, f"{PAGE}days/{before[0]}/delete", {})
    assert response.status_code == 404
    assert [r.id for r in rows(platform, unit)] == before


def test_missing_csrf_token_is_400_and_writes_nothing(admin_client, platform, unit):
    response = admin_client.post(PAGE + "days", data={"day": "2019-03-09", "kind": "makeup_workday"})
    assert response.status_code == 400
    assert rows(platform, unit) == []


# --- office hours ------------------------------------------------------------------------


def test_edit_office_hours(admin_client, platform, unit):
    response = post(admin_client, PAGE + "hours", GOOD_HOURS)
    assert response.status_code == 302
    [profile] = profiles(platform, unit)
    assert profile.is_default and profile.morning_start == time(7, 30) and profile.afternoon_start == time(13)
    assert profile.hours_per_day == Decimal(8) and profile.same_day_cutoff == time(15, 30)
    with tenant_session(platform, unit) as session:
        cal = load_calendar(session)
    assert cal.hours.morning_start == time(7, 30) and cal.hours.weekdays == frozenset({1, 2, 3, 4, 5})

    # Saving again updates the same default profile; a Saturday session makes Saturday a working day.
    six_days = {**GOOD_HOURS, "afternoon_end": "16:30", "weekdays": ["1", "2", "3", "4", "5", "6"]}
    assert post(admin_client, PAGE + "hours", six_days).status_code == 302
    [profile] = profiles(platform, unit)
    assert profile.hours_per_day == Decimal("7.5") and profile.weekdays == [1, 2, 3, 4, 5, 6]
    assert 'value="16:30"' in admin_client.get(PAGE + "?year=2019").text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"morning_end": "13:30"}, "phải theo thứ tự"),  # morning runs into the afternoon
        ({"afternoon_end": "12:00"}, "phải theo thứ tự"),
        ({"morning_start": "7h"}, "giờ không hợp lệ"),
        ({"same_day_cutoff": "18:00"}, "Giờ chốt"),
        ({"morning_start": "07:10"}, "15 phút"),
        ({"weekdays": []}, "ít nhất một ngày"),
    ],
)
def test_bad_office_hours_are_refused_and_nothing_saved(admin_client, platform, unit, change, message):
    response = post(admin_client, PAGE + "hours", {**GOOD_HOURS, **change})
    assert response.status_code == 422
    assert message in response.text
    assert profiles(platform, unit) == []


# --- who may ----------------------------------------------------------------------------


def test_counter_officer_gets_403_and_changes_nothing(client_for, platform, unit, admin_client):
    officer = make_account(platform, memberships=[(unit, ["counter_officer"])])
    client = client_for(unit)
    login(client, officer.email)
    assert client.get(PAGE).status_code == 403
    token = csrf_from(client, "/backoffice/")
    for path, data in (
        (PAGE + "confirm", {"year": "2019"}),
        (PAGE + "days", {"day": "2019-03-09", "kind": "makeup_workday"}),
        (PAGE + "hours", GOOD_HOURS),
    ):
        assert client.post(path, data={**data, "csrf_token": token}).status_code == 403
    assert rows(platform, unit) == [] and profiles(platform, unit) == []
    assert 'href="/backoffice/calendar/"' not in client.get("/backoffice/").text


def test_without_a_session_the_page_sends_to_login(client_for, unit):
    response = client_for(unit).get(PAGE)
    assert response.status_code == 302 and response.headers["Location"].startswith("/backoffice/login")


def test_admin_of_a_cannot_see_or_change_b(client_for, make_tenant, platform):
    a, b = make_tenant("district"), make_tenant("district")
    admin_a = make_account(platform, memberships=[(a, ["unit_admin"])])
    admin_b = make_account(platform, memberships=[(b, ["unit_admin"])])
    client_a = client_for(a)
    login(client_a, admin_a.email)
    assert add_day(client_a, "2019-03-09", "makeup_workday", "A's day").status_code == 302
    [a_row] = rows(platform, a)

    # A's session carried to B's host is refused, for reading and for writing.
    stolen = client_for(b)
    carry_session(session_cookie(client_a), stolen)
    assert stolen.get(PAGE + "?year=2019").status_code == 403
    token = csrf_from(client_a, PAGE)
    assert stolen.post(PAGE + "confirm", data={"year": "2019", "csrf_token": token}).status_code == 403

    # B's admin on B's host neither sees A's day nor can remove it by A's id.
    client_b = client_for(b)
    login(client_b, admin_b.email)
    page = client_b.get(PAGE + "?year=2019")
    assert page.status_code == 200 and "A&#39;s day" not in page.text and "A's day" not in page.text
    assert post(client_b, f"{PAGE}days/{a_row.id}/delete", {}).status_code == 404
    assert [r.id for r in rows(platform, a)] == [a_row.id]
    assert rows(platform, b) == []


# --- load_calendar ----------------------------------------------------------------------------


def test_load_calendar_defaults_and_takes_at_most_two_queries(platform, unit):
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    engine = platform.shards.engine(unit.shard)
    event.listen(engine, "before_cursor_execute", count)
    try:
        with tenant_session(platform, unit) as session:
            cal = load_calendar(session)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert cal.hours == DEFAULT_HOURS
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 2


# --- flask calendar confirm-year -------------------------------------------------------------


def test_cli_confirms_a_year_for_the_named_units(app, platform, make_tenant):
    a, b = make_tenant("district"), make_tenant("district")
    result = app.test_cli_runner().invoke(
        args=["calendar", "confirm-year", "--year", "2019", "--tenant", a.slug]
    )
    assert result.exit_code == 0, result.output
    assert f"{a.slug}: 14" in result.output  # 12 holidays and the two make-up Saturdays of 2019
    saved = rows(platform, a)
    assert len(saved) == 14 and all(r.confirmed_by_account_id is None and r.confirmed_at for r in saved)
    assert rows(platform, b) == []


@pytest.mark.parametrize(
    "args",
    [
        ["--year", "1890", "--all"],
        ["--year", "2019"],  # neither --all nor --tenant
        ["--year", "2019", "--tenant", "khong-co-don-vi-nay"],
    ],
)
def test_cli_refuses_bad_input_and_writes_nothing(app, platform, unit, args):
    result = app.test_cli_runner().invoke(args=["calendar", "confirm-year", *args])
    assert result.exit_code == 1
    assert "Lỗi / error" in result.output
    assert rows(platform, unit) == []
