"""Dossier facts from the desk's own rows (issue #7), on real PostgreSQL with the real outbox relay.

A mix of native actions goes through the desk code; the outbox relay feeds the store; the facts
follow docs/reports-store.md column by column; and ``rebuild`` writes exactly the same rows.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

import app.reports.feed  # noqa: F401  (registers the outbox handler, as workers do)
from app.calendar.workcal import VN_TZ
from app.core.outbox import drain_outbox
from app.dossiers import actions, intake
from app.officials.models import TenantSetting
from app.reports import store
from app.reports.facts import DAILY_COLUMNS, contributions
from app.reports.models import ReportDaily, ReportDossier, ReportStep
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit

TUE = datetime(2019, 3, 12, 9, 0, tzinfo=VN_TZ)  # a working Tuesday; 3 working days -> due Fri 15/03 09:00


def at(hours: float = 0, *, days: int = 0) -> datetime:
    return TUE + timedelta(days=days, hours=hours)


@pytest.fixture(scope="module")
def unit(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


def receive(unit, now=TUE, **overrides) -> int:
    with unit.session() as session, session.begin():
        return intake.receive_at_counter(
            unit.desk(session, now), unit.actor("counter"), unit.intake(**overrides)
        ).id


def act(unit, name: str, dossier_id: int, who: str, now: datetime, **kwargs):
    with unit.session() as session, session.begin():
        desk = unit.desk(session, now)
        return getattr(actions, name)(desk, unit.actor(who), actions.load(desk, dossier_id), **kwargs)


def relay(app) -> None:
    with app.app_context():
        while drain_outbox("main").claimed:
            pass


def snapshot(platform, tenant_id: int) -> dict[str, list[dict]]:
    """The unit's stored rows, without the refresh time (which says when, not what)."""
    out: dict[str, list[dict]] = {}
    with platform.shards.platform_session() as session:
        for name, model, order in (
            ("facts", ReportDossier, ReportDossier.dossier_id),
            ("steps", ReportStep, ReportStep.action_id),
            ("daily", ReportDaily, ReportDaily.day),
        ):
            columns = [c for c in model.__table__.columns if c.name != "refreshed_at"]
            rows = session.execute(select(*columns).where(model.tenant_id == tenant_id).order_by(order))
            out[name] = [dict(row._mapping) for row in rows]
    return out


def by_id(rows: list[dict], key: str = "dossier_id") -> dict[int, dict]:
    return {row[key]: row for row in rows}


@pytest.fixture(scope="module")
def flow(app, unit):
    """Six dossiers through the desk: completed early, paused now, paused and late with form 04,
    withdrawn, stopped, and a postal one still open. Returns their ids by name."""
    ids = {name: receive(unit) for name in ("early", "paused", "late", "withdrawn", "stopped")}
    ids["postal"] = receive(unit, at(1), channel=3)
    d = ids["early"]
    act(unit, "transfer", d, "counter", at(0.5))
    act(unit, "forward", d, "officer", at(2))
    act(unit, "forward", d, "head_div", at(3))
    act(unit, "complete", d, "head", at(4))
    act(unit, "return_result", d, "counter", at(5))
    d = ids["paused"]
    act(unit, "transfer", d, "counter", at(0.5))
    act(unit, "request_supplement", d, "officer", at(1), items=["Giấy xác nhận cư trú"])
    d = ids["late"]
    act(unit, "transfer", d, "counter", at(0.5))
    act(unit, "claim", d, "officer", at(0.75))
    act(unit, "request_supplement", d, "officer", at(1), items=["Bản sao giấy khai sinh"])
    act(unit, "receive_supplement", d, "counter", at(1, days=1))  # Wed 10:00: paused one day
    new_date = datetime(2019, 3, 22, 17, 0, tzinfo=VN_TZ)
    act(unit, "apologise", d, "head", at(2, days=1), new_due_at=new_date, reason="Chờ xác minh")
    act(unit, "forward", d, "officer", datetime(2019, 3, 25, 8, 0, tzinfo=VN_TZ))
    act(unit, "forward", d, "head_div", datetime(2019, 3, 25, 9, 0, tzinfo=VN_TZ))
    act(unit, "complete", d, "head", datetime(2019, 3, 25, 10, 0, tzinfo=VN_TZ))
    act(unit, "withdraw", ids["withdrawn"], "counter", at(days=1), reason="Công dân xin rút")
    d = ids["stopped"]
    act(unit, "transfer", d, "counter", at(0.5))
    act(unit, "stop", d, "head", at(days=2), reason="Không đủ điều kiện")
    relay(app)
    return ids


def test_facts_follow_the_desk(platform, unit, flow):
    stored = snapshot(platform, unit.tenant.id)
    facts = by_id(stored["facts"])
    assert set(facts) == set(flow.values())
    tue, fri = date(2019, 3, 12), date(2019, 3, 15)

    early = facts[flow["early"]]
    assert (early["closed_kind"], early["on_time_class"], early["status"]) == ("completed", "early", 10)
    assert early["received_day"] == early["closed_day"] == tue and early["due_day"] == fri
    assert early["closed_at"] == early["completed_at"] == at(4) and early["returned_at"] == at(5)
    assert early["overdue_from_day"] == fri and early["channel"] == 1
    assert early["procedure_code"] == "1.004873" and early["sector_code"] == "HT"
    assert early["service_level"] == 3 and early["is_imported"] is False
    assert (early["supplements"], early["apologies"], early["pauses"], early["rating_level"]) == (
        0,
        0,
        [],
        None,
    )

    paused = facts[flow["paused"]]
    assert paused["status"] == 5 and paused["paused_kind"] == "supplement"
    # Its due day passed while paused: the rollup cuts the pause out of its overdue days.
    assert paused["overdue_from_day"] == paused["due_day"] and paused["closed_kind"] is None
    assert paused["supplements"] == 1
    assert paused["pauses"] == [{"kind": "supplement", "start": at(1).isoformat(), "end": None}]

    late = facts[flow["late"]]
    assert (late["closed_kind"], late["on_time_class"]) == ("completed", "late")
    assert late["closed_day"] == date(2019, 3, 25) and late["due_day"] < late["closed_day"]
    assert late["due_day"] == date(2019, 3, 18)  # Fri 09:00 + one working day paused
    assert late["overdue_from_day"] == late["due_day"]
    assert late["rescheduled_due_at"] == datetime(2019, 3, 22, 17, 0, tzinfo=VN_TZ)
    assert (late["supplements"], late["apologies"], late["paused_kind"]) == (1, 1, None)
    assert late["pauses"] == [
        {"kind": "supplement", "start": at(1).isoformat(), "end": at(1, days=1).isoformat()}
    ]

    withdrawn = facts[flow["withdrawn"]]
    assert (withdrawn["closed_kind"], withdrawn["closed_at"], withdrawn["on_time_class"]) == (
        "withdrawn",
        at(days=1),
        None,
    )
    stopped = facts[flow["stopped"]]
    assert (stopped["closed_kind"], stopped["closed_at"], stopped["stop_reason"]) == (
        "stopped",
        at(days=2),
        "refused",
    )
    postal = facts[flow["postal"]]
    assert postal["channel"] == 3 and postal["closed_kind"] is None and postal["overdue_from_day"] == fri
    assert postal["current_role"] == "counter_officer"


def test_finished_steps_are_the_handovers(platform, unit, flow):
    steps = snapshot(platform, unit.tenant.id)["steps"]
    early = [s for s in steps if s["dossier_id"] == flow["early"]]
    assert [s["action"] for s in early] == ["transfer", "forward", "forward", "complete", "return_result"]
    assert [s["started_at"] for s in early] == [at(0), at(0.5), at(2), at(3), at(4)]
    assert [s["handed_over_at"] for s in early] == [at(0.5), at(2), at(3), at(4), at(5)]
    assert early[1]["account_id"] == unit.accounts["officer"].id
    assert all(s["due_at"] is not None and s["on_time_class"] for s in early)
    late = [s for s in steps if s["dossier_id"] == flow["late"]]
    # The claim, the supplement and form 04 finish no step; the officer's forward started at the resume.
    assert [s["action"] for s in late] == ["transfer", "forward", "forward", "complete"]
    assert late[1]["started_at"] == at(2, days=1)
    assert not [s for s in steps if s["dossier_id"] in (flow["withdrawn"], flow["postal"])]


def test_daily_rollup_sums_to_what_is_open(platform, unit, flow):
    daily = by_id(snapshot(platform, unit.tenant.id)["daily"], "day")
    tue = daily[date(2019, 3, 12)]
    assert (tue["received_counter"], tue["received_postal"], tue["received_online"]) == (5, 1, 0)
    assert tue["completed_early"] == 1
    assert daily[date(2019, 3, 13)]["withdrawn"] == 1 and daily[date(2019, 3, 14)]["stopped"] == 1
    assert daily[date(2019, 3, 25)]["completed_late"] == 1

    def open_at_end_of(day: date, column: str) -> int:
        return sum(row[column] for d, row in daily.items() if d <= day)

    assert open_at_end_of(date(2019, 3, 12), "open_delta") == 5  # the early one closed that day
    assert open_at_end_of(date(2019, 3, 12), "supplement_delta") == 2
    assert open_at_end_of(date(2019, 3, 13), "supplement_delta") == 1  # the late one resumed on Wed
    assert open_at_end_of(date(2019, 3, 15), "overdue_delta") == 1  # the postal one; the paused one is not
    assert open_at_end_of(date(2019, 3, 18), "overdue_delta") == 2  # ... and the late one from Mon
    assert open_at_end_of(date(2019, 3, 25), "overdue_delta") == 1
    assert open_at_end_of(date(2099, 1, 1), "open_delta") == 2


def test_rebuild_writes_what_the_feed_wrote(app, platform, unit, flow):
    fed = snapshot(platform, unit.tenant.id)
    with app.app_context():
        assert store.rebuild(unit.tenant.id) == len(flow)
    assert snapshot(platform, unit.tenant.id) == fed


def test_contributions_of_a_fact():
    fact = {
        "received_day": date(2026, 1, 5),
        "channel": 2,
        "closed_day": date(2026, 1, 20),
        "closed_kind": "completed",
        "on_time_class": "late",
        "overdue_from_day": date(2026, 1, 15),
        "pauses": [
            {"kind": "supplement", "start": "2026-01-06T09:00:00+07:00", "end": "2026-01-08T10:00:00+07:00"},
            {"kind": "financial", "start": "2026-01-09T09:00:00+07:00", "end": "2026-01-09T15:00:00+07:00"},
            # 10 Jan in Hanoi; it spans the due day, so 15 and 16 Jan are paused, not overdue
            {"kind": "financial", "start": "2026-01-09T23:30:00+00:00", "end": "2026-01-17T08:00:00+07:00"},
        ],
    }
    assert contributions(fact) == {
        date(2026, 1, 5): {"received_online": 1, "open_delta": 1},
        date(2026, 1, 6): {"supplement_delta": 1},
        date(2026, 1, 8): {"supplement_delta": -1},
        date(2026, 1, 10): {"financial_delta": 1},
        date(2026, 1, 17): {"financial_delta": -1, "overdue_delta": 1},
        date(2026, 1, 20): {"completed_late": 1, "open_delta": -1, "overdue_delta": -1},
    }
    still_paused = dict(fact, closed_day=None, closed_kind=None, on_time_class=None)
    still_paused["pauses"] = [dict(fact["pauses"][2], end=None)]
    assert not any("overdue_delta" in cols for cols in contributions(still_paused).values())
    overdue_then_paused = dict(
        still_paused, pauses=[dict(still_paused["pauses"][0], start="2026-01-18T09:00:00+07:00")]
    )
    assert contributions(overdue_then_paused)[date(2026, 1, 15)] == {"overdue_delta": 1}
    assert contributions(overdue_then_paused)[date(2026, 1, 18)] == {
        "financial_delta": 1,
        "overdue_delta": -1,
    }
    on_time = {**fact, "on_time_class": "on_time", "overdue_from_day": date(2026, 1, 20), "pauses": []}
    assert contributions(on_time)[date(2026, 1, 20)] == {"completed_on_time": 1, "open_delta": -1}
    assert contributions({**fact, "received_day": None}) == {}
    assert set(DAILY_COLUMNS) >= {c for cols in contributions(fact).values() for c in cols}


@pytest.mark.parametrize(("granularity", "expected"), [("date", "on_time"), ("timestamp", "late")])
def test_the_class_follows_the_units_granularity_like_the_desk(app, platform, city, granularity, expected):
    unit = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    with unit.session() as session, session.begin():
        session.add(TenantSetting(key="classification_granularity", value=granularity))
    d = receive(unit)  # due Fri 15/03 09:00
    act(unit, "transfer", d, "counter", at(0.5))
    act(unit, "forward", d, "officer", at(2))
    act(unit, "forward", d, "head_div", at(3))
    on_due_day_after_the_hour = datetime(2019, 3, 15, 10, 0, tzinfo=VN_TZ)
    assert act(unit, "complete", d, "head", on_due_day_after_the_hour) == expected
    relay(app)
    fact = snapshot(platform, unit.tenant.id)["facts"][0]
    assert fact["on_time_class"] == expected
    daily = by_id(snapshot(platform, unit.tenant.id)["daily"], "day")
    assert daily[date(2019, 3, 15)][f"completed_{expected}"] == 1
