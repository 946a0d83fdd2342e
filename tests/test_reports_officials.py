"""Officials and units, the 9-indicator sheet and the due-soon / overdue lists: hand-checked numbers
on rows written straight into the reporting store, and who may open each page."""

from __future__ import annotations

import itertools
from datetime import date

import pytest
from sqlalchemy import delete

from app.auth import roles as r
from app.reports import deadlines
from app.reports.assessment import assessment_sheet, band_of, points_for
from app.reports.models import ReportDossier, ReportStep
from app.reports.officials import officials_report
from app.reports.periods import month
from tests.report_support import at, leader_area
from tests.test_auth_support import make_account, sign_in_directly

_ids = itertools.count(1)
NOV = month(2026, 11)


def step(tenant, dossier_id, account, started, due, handed, cls):
    return ReportStep(
        tenant_id=tenant.id,
        action_id=next(_ids),
        dossier_id=dossier_id,
        action="forward",
        account_id=account.id if account else None,
        started_at=at(started),
        due_at=at(due) if due else None,
        handed_over_at=at(handed),
        on_time_class=cls,
    )


def dossier(tenant, dossier_id, **values):
    received = at(values.pop("received", "2026-11-02"))
    base = dict(
        tenant_id=tenant.id,
        dossier_id=dossier_id,
        code=f"T-{tenant.id}-{dossier_id}",
        procedure_name="Xác nhận tình trạng hôn nhân",
        channel=1,
        status=4,
        received_at=received,
        received_day=received.date(),
    )
    base.update(values)
    if base.get("closed_at") is not None:
        base.setdefault("closed_day", base["closed_at"].date())
    return ReportDossier(**base)


@pytest.fixture(scope="module")
def units(platform, city):
    area = leader_area(platform, city)
    district, commune, other = (area[k] for k in ("district", "commune", "other"))
    people = {
        "a": area["officer"],
        "b": make_account(platform, memberships=[(commune, [r.CASE_OFFICER])]),
        "head": area["commune_head"],
        "district_head": area["district_head"],
        "other_head": area["other_head"],
    }
    a, b = people["a"], people["b"]
    rows = [
        # dossier 1: a (early, 10 h of 24 h budget), then b (late, in November), completed
        step(commune, 1, a, "2026-11-02 08:00", "2026-11-03 08:00", "2026-11-02 18:00", "early"),
        step(commune, 1, b, "2026-11-02 18:00", "2026-11-03 18:00", "2026-11-04 18:00", "late"),
        # dossier 2: a on time; a supplement requested while a held it
        step(commune, 2, a, "2026-11-05 08:00", "2026-11-06 08:00", "2026-11-06 08:00", "on_time"),
        # dossier 3: started in October, handed over in November by b (not received in the period)
        step(commune, 3, b, "2026-10-30 08:00", "2026-11-02 08:00", "2026-11-01 08:00", "early"),
        # a step handed over in December: outside the period, but it started in November
        step(commune, 4, a, "2026-11-30 08:00", "2026-12-01 08:00", "2026-12-01 10:00", "late"),
        # the other unit's work never shows in this unit's rows
        step(other, 9, people["other_head"], "2026-11-02 08:00", None, "2026-11-02 09:00", None),
    ]
    facts = [
        dossier(
            commune,
            1,
            status=9,
            closed_kind="completed",
            closed_at=at("2026-11-05"),
            completed_at=at("2026-11-05"),
            returned_at=at("2026-11-06"),
            on_time_class="on_time",
            apologies=1,
            rating_level=5,
        ),
        dossier(
            commune,
            2,
            supplements=1,
            pauses=[
                {
                    "kind": "supplement",
                    "start": "2026-11-05T15:00:00+07:00",
                    "end": "2026-11-05T16:00:00+07:00",
                }
            ],
            current_account_id=b.id,
            current_step_started_at=at("2026-11-06 08:00"),
            current_step_due_at=at("2026-11-07 08:00"),  # passed: held over
            due_at=at("2026-11-10"),
        ),
        dossier(
            commune,
            3,
            channel=2,
            status=9,
            closed_kind="completed",
            closed_at=at("2026-11-03"),
            completed_at=at("2026-11-03"),
            on_time_class="late",
            rating_level=2,
        ),
        dossier(
            commune,
            5,
            channel=2,
            status=5,
            paused_kind="supplement",
            current_account_id=a.id,
            current_step_started_at=at("2026-11-20 08:00"),
            current_step_due_at=at("2026-11-21 08:00"),  # passed, but paused: within
        ),
        dossier(other, 9, status=4, current_account_id=people["other_head"].id),
    ]
    with platform.shards.platform_session() as session, session.begin():
        session.add_all(rows + facts)
    yield {"district": district, "commune": commune, "other": other, **people}
    with platform.shards.platform_session() as session, session.begin():
        for model in (ReportStep, ReportDossier):
            session.execute(delete(model).where(model.tenant_id.in_([commune.id, other.id])))


def _report(platform, ids, period=NOV):
    with platform.shards.platform_session() as session:
        return officials_report(session, ids, period, now=at("2026-11-27 10:00"))


def test_officials_hand_checked(platform, units):
    commune, a, b = units["commune"], units["a"], units["b"]
    rows = {row.account_id: row for row in _report(platform, [commune.id])}
    assert set(rows) == {a.id, b.id, None}  # the other unit's official is not here
    ra, rb, total = rows[a.id], rows[b.id], rows[None]
    # a: steps started in Nov = dossier 1, 2, 4 (finished) + dossier 5 (current) = 4
    assert (ra.received, ra.early, ra.on_time, ra.late) == (4, 1, 1, 0)
    assert (ra.held_within, ra.held_over) == (1, 0)  # dossier 5 paused: within
    assert ra.avg_step_hours == pytest.approx((10 + 24) / 2)
    assert ra.avg_budget_hours == pytest.approx(24)
    assert ra.supplements == 1  # the pause of dossier 2 began inside a's step
    # b: received dossier 1's step (Nov) and dossier 2's current step; dossier 3's began in October
    assert (rb.received, rb.early, rb.on_time, rb.late) == (2, 1, 0, 1)
    assert (rb.held_within, rb.held_over) == (0, 1)
    assert rb.apologies == 1  # dossier 1's first late step was b's
    assert rb.avg_step_hours == pytest.approx((48 + 48) / 2)
    assert (total.received, total.done, total.supplements, total.apologies) == (6, 4, 1, 1)
    assert total.name.startswith("Cả đơn vị") and ra.name == "Nguyễn Văn Thử"


def test_officials_empty_unit_list_and_other_period(platform, units):
    assert _report(platform, []) == []
    rows = {row.account_id: row for row in _report(platform, [units["commune"].id], month(2026, 12))}
    assert rows[units["a"].id].late == 1 and rows[units["a"].id].received == 0


def test_assessment_sheet_rules(platform, units):
    with platform.shards.platform_session() as session:
        sheet = assessment_sheet(session, units["commune"].id, NOV)
    got = {i.number: (i.numerator, i.denominator, i.points) for i in sheet.indicators}
    assert got[1] == (1, 2, 0)  # 1 of 2 completed in time: 50%
    assert got[2] == (3, 4, 0)  # steps handed over in Nov: early, late, on time, early: 75% < 80%
    assert got[3] == (2, 2, 2)  # completed without supplements
    assert got[5] == (1, 2, 0)
    assert got[7] == (1, 2, 0)  # one satisfied of two ratings
    assert got[8] == (None, None, None)  # petitions only with the unit's own schema
    assert got[9] == (2, 4, 2)  # 2 of 4 received in November online
    assert got[4] == (4, 4, 2) and got[6] == (0, 0, None)
    assert sheet.total == sum(p or 0 for _, _, p in got.values())
    assert len(sheet.indicators) == 9


def test_assessment_points_and_bands():
    assert points_for(1, 95, 100) == 2 and points_for(1, 94, 100) == 1 and points_for(1, 79, 100) == 0
    assert points_for(9, 0, 0) is None
    assert band_of(16) == ("Xuất sắc", "Excellent")
    assert band_of(15) == ("Tốt", "Good") and band_of(12) == ("Tốt", "Good")
    assert band_of(11) == ("Khá", "Fair") and band_of(9)[0] == "Khá"
    assert band_of(8)[0] == "Trung bình" and band_of(6)[0] == "Trung bình"
    assert band_of(5) == ("Yếu", "Weak")


def test_deadline_lists(platform, units):
    commune = units["commune"]
    now = at("2026-11-27 10:00")  # a Friday: the next working day is Monday 30/11
    assert deadlines.last_due_day(date(2026, 11, 27), 1) == date(2026, 11, 30)
    rows = [
        dossier(commune, 101, due_at=at("2026-11-30 16:00"), current_account_id=units["a"].id),  # soon
        dossier(commune, 102, due_at=at("2026-12-01 09:00")),  # two working days: not soon
        dossier(commune, 103, due_at=at("2026-11-26 16:00"), code="LATE-103"),  # overdue
        dossier(commune, 104, due_at=at("2026-11-26 16:00"), paused_kind="supplement", status=5),
        dossier(
            commune,
            105,
            due_at=at("2026-11-26"),
            status=9,
            closed_kind="completed",
            closed_at=at("2026-11-27"),
        ),
    ]
    with platform.shards.platform_session() as session, session.begin():
        session.add_all(rows)
    try:
        with platform.shards.platform_session() as session:
            soon = deadlines.due_soon(session, [commune.id], now)
            late = deadlines.overdue(session, [commune.id], now)
            assert deadlines.overdue(session, [units["other"].id], now) == []
        assert [x.dossier_id for x in soon] == [101]
        assert soon[0].holder_name == "Nguyễn Văn Thử" and soon[0].procedure_name
        assert [x.dossier_id for x in late] == [2, 103]  # dossier 2 (due 10/11) is open, not paused
    finally:
        with platform.shards.platform_session() as session, session.begin():
            session.execute(
                delete(ReportDossier).where(
                    ReportDossier.tenant_id == commune.id, ReportDossier.dossier_id.between(100, 200)
                )
            )


# --- routes ---------------------------------------------------------------------------------

PAGES = ("/backoffice/reports/officials", "/backoffice/reports/assessment", "/backoffice/reports/deadlines")


@pytest.mark.parametrize("path", PAGES)
def test_commune_head_sees_own_unit(client_for, units, path):
    client = client_for(units["commune"])
    sign_in_directly(client, units["head"], units["commune"])
    page = client.get(path)
    assert page.status_code == 200, page.text
    assert units["commune"].name in page.text
    assert units["other"].name not in page.text
    assert "<th scope=" in page.text
    # a group outside what this head may read is a 404, not the other unit's data
    for group in (f"unit:{units['other'].id}", f"unit:{units['district'].id}", "city"):
        assert client.get(path, query_string={"group": group}).status_code == 404


@pytest.mark.parametrize("path", PAGES)
def test_district_head_reads_its_communes(client_for, units, path):
    client = client_for(units["district"])
    sign_in_directly(client, units["district_head"], units["district"])
    group = f"unit:{units['commune'].id}"
    page = client.get(path, query_string={"group": group})
    assert page.status_code == 200
    assert units["commune"].name in page.text
    assert client.get(path, query_string={"group": f"unit:{units['other'].id}"}).status_code == 404


@pytest.mark.parametrize("path", PAGES)
def test_other_roles_and_units_refused(client_for, units, path):
    officer = client_for(units["commune"])
    sign_in_directly(officer, units["a"], units["commune"])
    assert officer.get(path).status_code == 403
    stranger = client_for(units["commune"])
    sign_in_directly(stranger, units["other_head"], units["other"])  # a session made for another unit
    assert stranger.get(path).status_code == 403
    anonymous = client_for(units["commune"]).get(path)
    assert anonymous.status_code == 302


def test_officials_page_numbers(client_for, units):
    client = client_for(units["commune"])
    sign_in_directly(client, units["head"], units["commune"])
    page = client.get(PAGES[0], query_string={"kind": "month", "year": 2026, "month": 11})
    assert page.status_code == 200
    assert f'data-account="{units["b"].id}"' in page.text


def test_assessment_page_own_unit_reads_petitions(client_for, units):
    client = client_for(units["commune"])
    sign_in_directly(client, units["head"], units["commune"])
    page = client.get(PAGES[1], query_string={"kind": "month", "year": 2026, "month": 11})
    assert page.status_code == 200
    assert 'data-indicator="9"' in page.text and "Xếp loại" in page.text
    district = client_for(units["district"])
    sign_in_directly(district, units["district_head"], units["district"])
    page = district.get(PAGES[1], query_string={"group": f"unit:{units['commune'].id}"})
    assert "Chỉ xem được tại đơn vị" in page.text  # another unit's petitions are not opened


def test_bad_period_is_400(client_for, units):
    client = client_for(units["commune"])
    sign_in_directly(client, units["head"], units["commune"])
    page = client.get(PAGES[0], query_string={"kind": "month", "month": 13})
    assert page.status_code == 400
