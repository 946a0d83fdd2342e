"""The periodic TTHC report (form 06) over hand-counted dossiers in ten units (issue #7 must-hold).

Period: the Decree 09 report quarter Q1/2026 = 15/12/2025 .. 14/03/2026. Every dossier below is
a real row in its unit's schema (status, times, closing action, pauses), fed into the reporting
store by the store's rebuild or through the outbox and the live feed; the expected numbers are
counted by hand, dossier by dossier.
Times are Asia/Ho_Chi_Minh; a bare date means 09:00 that day.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.reports import periods, scope
from app.reports.models import ReportDossier
from app.reports.tthc06 import _HAS_PAUSES, BY, UNKNOWN, Label, Row06, breakdown_06, report_06, total_of
from tests.conftest import create_test_tenant
from tests.report_support import D, add_dossiers, feed, feed_by_outbox, report_unit

P = periods.report_quarter(2026, 1)

UNIT_DOSSIERS = {
    # District 1 (a district with three communes).
    "D1": [
        D(1, "2025-10-01", due="2025-10-20"),  # carried; still open and overdue
        D(2, "2026-01-10", due="2026-01-20", done="2026-01-19"),  # new online; early
        D(3, "2026-02-10", due="2026-02-20", done="2026-02-25", procedure=1),  # new postal; late
    ],
    # Commune 1 of District 1: the unit checked column by column.
    "C1": [
        D(1, "2025-11-20", due="2025-12-10", done="2025-12-16"),  # 1 carried; late in the period
        D(2, "2025-12-01", due="2026-01-05"),  # 2 carried; pending, overdue since 05/01
        D(1, "2025-11-01", due="2025-12-20", done="2025-12-14"),  # 3 closed the day before: nowhere
        D(
            2, "2025-12-15 00:30", due="2025-12-25", done="2025-12-20"
        ),  # 4 new online (00:30 local = 14/12 UTC); early
        D(1, "2026-01-05", due="2026-01-15", done="2026-01-15 16:00"),  # 5 new counter; on time (the due day)
        D(3, "2026-02-01", due="2026-02-10", returned="2026-02-10"),  # 6 new postal; returned on time
        D(1, "2026-02-20", due="2026-03-20"),  # 7 new counter; pending within deadline
        D(2, "2026-01-10", due="2026-02-01", withdrawn="2026-01-12"),  # 8 new online; withdrawn
        D(1, "2026-01-20", due="2026-02-15", stopped="2026-02-01"),  # 9 new counter; stopped
        D(2, "2026-03-14 16:00", due="2026-03-24"),  # 10 new online on the last day; pending within
        D(1, "2026-03-15", due="2026-03-25"),  # 11 received the day after: nowhere
        # 12 new online; in supplement since 01/03 (open pause): pending, not overdue while paused
        D(2, "2026-02-25", due="2026-03-10", pauses=[("supplement", "2026-03-01", None)]),
        # 13 carried; a supplement across the period start (10/12 .. 05/01); early (due 15/01)
        D(
            1,
            "2025-12-01",
            due="2026-01-15",
            done="2026-01-10",
            pauses=[("supplement", "2025-12-10", "2026-01-05")],
        ),
        # 14 new postal; a supplement across the period end (10/03 .. 16/03): in supplement at the end
        D(
            3,
            "2026-03-01",
            due="2026-03-30",
            pauses=[("supplement", "2026-03-10", "2026-03-16")],
            procedure=1,
        ),
        # 15 new counter; waiting for a financial obligation since 15/02: pending, not overdue while paused
        D(1, "2026-02-02", due="2026-02-20", pauses=[("financial", "2026-02-15", None)]),
        # 16 new online; done after the period (16/03): pending at the end, overdue (due 12/03)
        D(2, "2026-03-05", due="2026-03-12", done="2026-03-16"),
    ],
    "C2": [
        D(
            1, "2025-12-14 23:30", due="2025-12-30", done="2025-12-30"
        ),  # carried (received 14/12 local); on time
        D(1, "2026-01-03", due="2026-01-13", withdrawn="2026-01-04"),  # new counter; withdrawn
        D(2, "2026-03-10", due="2026-03-20"),  # new online; pending within
    ],
    "C3": [
        D(2, "2025-11-10", due="2025-11-30", stopped="2025-12-20"),  # carried; stopped
        # new online; a supplement inside the period (05/02 .. 08/02); late (due 10/02, done 12/02)
        D(
            2,
            "2026-02-01",
            due="2026-02-10",
            done="2026-02-12",
            pauses=[("supplement", "2026-02-05", "2026-02-08")],
        ),
    ],
    # District 2 with two communes.
    "D2": [D(1, "2026-01-05", due="2026-01-10", done="2026-01-08")],  # new counter; early
    "C4": [D(2, "2026-02-01", due="2026-02-05")],  # new online; pending overdue
    "C5": [D(3, "2025-12-01", due="2025-12-10", done="2025-12-15 08:00")],  # carried; late on the first day
    # Three departments.
    "S1": [
        D(2, "2026-03-01", due="2026-03-05", done="2026-03-05"),  # new online; on time
        D(2, "2026-03-02", due="2026-03-10", done="2026-03-09", procedure=1),  # new online; early
    ],
    "S2": [
        # new counter; a financial pause inside the period; early
        D(
            1,
            "2026-01-15",
            due="2026-02-15",
            done="2026-02-14",
            pauses=[("financial", "2026-02-01", "2026-02-10")],
        ),
        D(
            1, "2025-09-01", due="2025-09-30", withdrawn="2026-03-14 17:00"
        ),  # carried; withdrawn on the last day
    ],
    "S3": [
        # new postal on the last day; in supplement from 11:00: pending (within), supplement
        D(3, "2026-03-14 10:00", due="2026-03-24", pauses=[("supplement", "2026-03-14 11:00", None)]),
    ],
}

# Expected by hand (field order: carried, new_online, new_counter, new_postal, early, on_time, late,
# withdrawn, stopped, pending, pending_over, supplement, financial).
EXPECTED_C1 = Row06(
    carried=3,  # 1, 2, 13 (3 closed on 14/12, before the period)
    new_online=5,  # 4, 8, 10, 12, 16
    new_counter=4,  # 5, 7, 9, 15 (11 is after the period)
    new_postal=2,  # 6, 14
    early=2,  # 4, 13
    on_time=2,  # 5, 6
    late=1,  # 1
    withdrawn=1,  # 8
    stopped=1,  # 9
    pending=7,  # 2, 7, 10, 12, 14, 15, 16
    pending_over=2,  # 2, 16 (12 and 15 are paused; 7, 10, 14 are due after 14/03)
    supplement=2,  # 12, 14
    financial=1,  # 15
)
EXPECTED = {
    "D1": Row06(1, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0),
    "C1": EXPECTED_C1,
    "C2": Row06(1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0),
    "C3": Row06(1, 1, 0, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0),
    "D2": Row06(0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0),
    "C4": Row06(0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0),
    "C5": Row06(1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0),
    "S1": Row06(0, 2, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0),
    "S2": Row06(1, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0),
    "S3": Row06(0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0),
}
# District 1 and its communes: D1 + C1 + C2 + C3, column by column.
EXPECTED_DISTRICT_1 = Row06(
    carried=6,  # 1 + 3 + 1 + 1
    new_online=8,  # 1 + 5 + 1 + 1
    new_counter=5,  # 0 + 4 + 1 + 0
    new_postal=3,  # 1 + 2 + 0 + 0
    early=3,  # 1 + 2
    on_time=3,  # 2 + 1
    late=3,  # 1 + 1 + 1
    withdrawn=2,  # C1, C2
    stopped=2,  # C1, C3
    pending=9,  # 1 + 7 + 1
    pending_over=3,  # 1 + 2
    supplement=2,  # C1
    financial=1,  # C1
)
# The ten units: District 1's group + D2, C4, C5, S1, S2, S3.
EXPECTED_CITY = Row06(
    carried=8,  # 6 + C5 + S2
    new_online=11,  # 8 + C4 + 2 (S1)
    new_counter=7,  # 5 + D2 + S2
    new_postal=4,  # 3 + S3
    early=6,  # 3 + D2 + S1 + S2
    on_time=4,  # 3 + S1
    late=4,  # 3 + C5
    withdrawn=3,  # 2 + S2
    stopped=2,
    pending=11,  # 9 + C4 + S3
    pending_over=4,  # 3 + C4
    supplement=3,  # 2 + S3
    financial=1,
)


BY_OUTBOX = ("D2", "C4", "C5", "S1", "S2", "S3")


@pytest.fixture(scope="module")
def units(app, platform, city):
    """The ten units with their dossiers: District 1's through the store's rebuild, the others
    through the outbox and the live feed (both paths must give the hand-counted numbers)."""
    made = {}
    for key, kind, parent in (
        ("D1", "district", None),
        ("C1", "commune", "D1"),
        ("C2", "commune", "D1"),
        ("C3", "commune", "D1"),
        ("D2", "district", None),
        ("C4", "commune", "D2"),
        ("C5", "commune", "D2"),
        ("S1", "department", None),
        ("S2", "department", None),
        ("S3", "department", None),
    ):
        made[key] = create_test_tenant(
            platform, city, kind, parent=made[parent].slug if parent else None, name=f"Đơn vị {key}"
        )
    for key, tenant in made.items():
        ids = add_dossiers(platform, tenant, report_unit(platform, tenant), UNIT_DOSSIERS[key])
        if key in BY_OUTBOX:
            feed_by_outbox(app, platform, tenant, ids)
        else:
            feed(app, tenant)
    return made


@pytest.fixture
def db(platform):
    with platform.shards.platform_session() as session:
        yield session


def test_decree_09_periods():
    assert (P.start, P.end) == (date(2025, 12, 15), date(2026, 3, 14))
    assert periods.report_quarter(2026, 2) == periods.Period(
        date(2026, 3, 15), date(2026, 6, 14), "report_quarter"
    )
    assert (periods.report_quarter(2026, 4).start, periods.report_quarter(2026, 4).end) == (
        date(2026, 9, 15),
        date(2026, 12, 14),
    )
    half, year = periods.report_half(2026), periods.report_year(2026)
    assert (half.start, half.end) == (date(2025, 12, 15), date(2026, 6, 14))
    assert (year.start, year.end) == (date(2025, 12, 15), date(2026, 12, 14))
    assert (periods.quarter(2026, 1).start, periods.quarter(2026, 1).end) == (
        date(2026, 1, 1),
        date(2026, 3, 31),
    )
    assert periods.month(2024, 2).end == date(2024, 2, 29)
    assert periods.month(2026, 12).end == date(2026, 12, 31)


def test_one_unit_every_column(units, db):
    row = report_06(db, [units["C1"].id], P)[units["C1"].id]
    assert row == EXPECTED_C1
    assert (row.total, row.resolved, row.pending_within) == (14, 5, 5)
    assert row.total == row.resolved + row.withdrawn + row.stopped + row.pending
    assert row.on_time_rate == 4 / 5
    assert row.online_rate == 5 / 11


def test_every_unit_and_the_identity(units, db):
    rows = report_06(db, [t.id for t in units.values()], P)
    for key, tenant in units.items():
        row = rows[tenant.id]
        assert row == EXPECTED[key], key
        assert row.total == row.resolved + row.withdrawn + row.stopped + row.pending, key


def test_district_group_is_the_district_and_its_communes(units, db):
    d1 = units["D1"]
    ids = scope.tenant_ids_for_group(db, f"district:{d1.id}", [t.id for t in units.values()])
    assert sorted(ids) == sorted(units[k].id for k in ("D1", "C1", "C2", "C3"))
    group = total_of(report_06(db, ids, P).values())
    assert group == EXPECTED_DISTRICT_1
    assert group.total == 22 == group.resolved + group.withdrawn + group.stopped + group.pending


def test_city_total_is_the_sum_of_its_units(units, db, city):
    everyone = scope.every_tenant_id(db)
    city_ids = scope.tenant_ids_for_group(db, "city", everyone)
    assert {t.id for t in units.values()} <= set(city_ids)
    rows = report_06(db, city_ids, P)
    ours = total_of(rows[t.id] for t in units.values())
    assert ours == EXPECTED_CITY
    assert ours.total == 30 == ours.resolved + ours.withdrawn + ours.stopped + ours.pending
    # The city's row is its units' rows added up (other tests' units, if any, included).
    others = total_of(
        row for tenant_id, row in rows.items() if tenant_id not in {t.id for t in units.values()}
    )
    assert total_of(rows.values()) == EXPECTED_CITY + others


@pytest.mark.parametrize("by", sorted(BY))
def test_breakdowns_add_up_to_the_report(units, db, by):
    ids = [t.id for t in units.values()]
    for period in (
        P,
        periods.month(2026, 2),
        periods.quarter(2026, 1),
        periods.date_range(date(2026, 3, 14), date(2026, 3, 14)),
    ):
        expected = total_of(report_06(db, ids, period).values())
        assert total_of(row for _, _, row in breakdown_06(db, ids, period, by)) == expected, (by, period)
    per_unit = {key: row for key, _, row in breakdown_06(db, ids, P, "unit")}
    assert per_unit[units["C1"].id] == EXPECTED_C1


def test_breakdown_by_channel_and_sector(units, db):
    rows = {key: row for key, _, row in breakdown_06(db, [units["C1"].id], P, "channel")}
    assert (rows[1].new_counter, rows[2].new_online, rows[3].new_postal) == (4, 5, 2)
    assert rows[2].pending_over == 2  # dossiers 2 and 16 are online
    sectors = {key: row for key, _, row in breakdown_06(db, [units["C1"].id], P, "sector")}
    assert sectors["DD"] == Row06(new_postal=1, pending=1, supplement=1)  # dossier 14
    assert sectors["HT"] + sectors["DD"] == EXPECTED_C1


def test_only_facts_with_pauses_count_as_paused(units, db):
    """The pause condition of the breakdown's queries matches the facts with a pause, no others."""
    ids = [t.id for t in units.values()]
    query = select(ReportDossier.pauses, _HAS_PAUSES).where(ReportDossier.tenant_id.in_(ids))
    facts = db.execute(query).all()
    assert {bool(pauses) for pauses, _ in facts} == {True, False}
    assert all(flag == bool(pauses) for pauses, flag in facts)


def test_breakdown_labels_are_vietnamese_then_english(units, db):
    """Channels and levels carry both languages; sector and procedure names have Vietnamese only."""
    c1 = [units["C1"].id]
    labels = {by: {key: label for key, label, _ in breakdown_06(db, c1, P, by)} for by in BY}
    assert labels["channel"][2] == Label("Trực tuyến", "Online")
    assert labels["channel"][1].text == "Trực tiếp / At the counter"
    assert labels["level"][3].text == "Mức 3 / Level 3"
    assert labels["sector"]["HT"] == Label("HT · Hộ tịch")
    assert labels["sector"]["HT"].text == "HT · Hộ tịch"
    assert labels["procedure"]["1.001990"].text == "1.001990 · Đăng ký biến động đất đai"
    assert labels["unit"][units["C1"].id].text == units["C1"].name
    assert str(UNKNOWN) == "Không rõ / Unknown"


def test_month_and_range_periods(units, db):
    c1 = units["C1"].id
    # February 2026 in C1. Open at the end of 31/01: dossiers 2 (still open) and 9 (stopped 01/02).
    feb = report_06(db, [c1], periods.month(2026, 2))[c1]
    assert feb.carried == 2
    assert (feb.new_counter, feb.new_online, feb.new_postal) == (2, 1, 1)  # 7, 15; 12; 6
    assert (feb.early, feb.on_time, feb.late, feb.withdrawn, feb.stopped) == (0, 1, 0, 0, 1)  # 6; 9
    assert feb.pending == 4  # 2, 7, 12, 15
    assert feb.pending_over == 1  # 2 (15 is paused; 12's due is in March; 7's too)
    assert (feb.supplement, feb.financial) == (0, 1)  # 12's supplement starts 01/03
    assert feb.total == feb.resolved + feb.withdrawn + feb.stopped + feb.pending
    # Nothing happens on a day before every dossier; carried and pending stay zero.
    assert report_06(db, [c1], periods.date_range(date(2025, 1, 1), date(2025, 1, 31)))[c1] == Row06()


@pytest.mark.parametrize(
    "period",
    [
        periods.month(2026, 2),
        periods.month(2025, 12),
        periods.quarter(2026, 4),
        periods.report_quarter(2026, 1),
        periods.report_quarter(2026, 4),
        periods.report_half(2026),
        periods.report_year(2026),
        periods.date_range(date(2026, 3, 14), date(2026, 5, 2)),
    ],
    ids=lambda p: f"{p.kind}-{p.start}",
)
def test_period_args_give_back_the_same_kind_of_period(period):
    args = periods.period_args(period)
    assert args["kind"] == period.kind
    again = periods.parse_period(args, today=date(2030, 6, 1))
    assert (again, again.label_vi, again.label_en) == (period, period.label_vi, period.label_en)


def test_bad_periods_are_refused_in_both_languages():
    for args in (
        {"kind": "range", "from": "2026-03-01", "to": "2026-02-01"},
        {"kind": "range", "from": "2026-02-30", "to": "2026-03-01"},
        {"kind": "range", "from": "2010-01-01", "to": "2026-01-01"},
        {"kind": "month", "year": "2026", "month": "13"},
        {"kind": "quarter", "year": "2026", "quarter": "5"},
        {"kind": "report_year", "year": "１２３"},
        {"kind": "week"},
    ):
        with pytest.raises(periods.BadPeriod) as caught:
            periods.parse_period(args)
        assert caught.value.status == 400 and caught.value.vi and caught.value.en
    assert periods.parse_period({"kind": "report_quarter", "year": "2026", "quarter": "1"}) == P
    assert periods.parse_period({"kind": "range", "from": "2026-01-01", "to": "2026-01-31"}).days == 31
