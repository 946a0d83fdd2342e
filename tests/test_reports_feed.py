"""The reporting feed and ``flask reports rebuild`` (issue #7), on real PostgreSQL with the real relay.

Redelivered events change nothing; one unit's events never touch another unit's rows, even
where dossier ids coincide (each unit numbers its own dossiers); ``rebuild --tenant`` rewrites
that unit only; gone dossiers leave the store; ratings and imports refresh facts too.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

import app.reports.feed  # noqa: F401  (registers the outbox handler, as workers do)
from app.calendar.workcal import VN_TZ
from app.core.jobs import get_queue
from app.core.outbox import drain_outbox, emit_event, relay_outbox
from app.core.outbox_models import OutboxEvent
from app.dossiers import actions, intake
from app.dossiers.models import Dossier
from app.feedback.models import Rating
from app.integrations.dvcqg_models import DvcqgMessage, DvcqgSettings
from app.reports.cli import reports_cli
from app.reports.models import ReportDaily, ReportDossier
from app.reports.store import rebuild
from tenants.models import Tenant
from tests.conftest import create_test_tenant
from tests.dossier_fixtures import build_unit
from tests.test_reports_facts import snapshot

MON = datetime(2019, 4, 1, 9, 0, tzinfo=VN_TZ)  # a working Monday


def at(hours: float = 0, *, days: int = 0) -> datetime:
    return MON + timedelta(days=days, hours=hours)


@pytest.fixture(scope="module")
def unit(platform, city):
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))


@pytest.fixture(scope="module")
def other(platform, city):
    """A second unit, on the second shard (its events go through that shard's outbox)."""
    return build_unit(platform, lambda kind: create_test_tenant(platform, city, kind, shard="s2"))


def receive(unit, now=MON, **overrides) -> int:
    with unit.session() as session, session.begin():
        desk = unit.desk(session, now)
        return intake.receive_at_counter(desk, unit.actor("counter"), unit.intake(**overrides)).id


def act(unit, name: str, dossier_id: int, who: str, now: datetime, **kwargs):
    with unit.session() as session, session.begin():
        desk = unit.desk(session, now)
        return getattr(actions, name)(desk, unit.actor(who), actions.load(desk, dossier_id), **kwargs)


def relay(app) -> None:
    with app.app_context():
        for shard in ("main", "s2"):
            while drain_outbox(shard).claimed:
                pass


def emit(unit, topic: str, payload: dict) -> None:
    with unit.session() as session, session.begin():
        emit_event(session, topic, payload, tenant_id=unit.tenant.id)


def some_dossiers(app, unit) -> list[int]:
    first = receive(unit)
    act(unit, "transfer", first, "counter", at(0.5))
    act(unit, "request_supplement", first, "officer", at(1), items=["Tờ khai"])
    second = receive(unit, at(2), channel=3)
    act(unit, "withdraw", second, "counter", at(1, days=1))
    relay(app)
    return [first, second]


def test_redelivered_events_change_nothing(app, platform, unit):
    some_dossiers(app, unit)
    before = snapshot(platform, unit.tenant.id)
    assert before["facts"] and before["daily"]
    with Session(platform.shards.engine(unit.tenant.shard)) as session, session.begin():
        redelivered = session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.tenant_id == unit.tenant.id, OutboxEvent.topic == "dossier.transition")
            .values(delivered_at=None, next_attempt_at=OutboxEvent.created_at)
        ).rowcount
    assert redelivered >= 5  # one per action
    relay(app)
    assert snapshot(platform, unit.tenant.id) == before


def test_a_units_events_never_touch_another_unit(app, platform, city):
    unit = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    other = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind, shard="s2"))
    mine = some_dossiers(app, unit)
    theirs = some_dossiers(app, other)
    assert set(mine) & set(theirs)  # each unit numbers its own dossiers: the same ids, other dossiers
    other_before = snapshot(platform, other.tenant.id)
    act(unit, "receive_supplement", mine[0], "counter", at(3, days=1))
    emit(unit, "dossiers.imported", {"dossier_ids": theirs})  # the other unit's ids, named by this unit
    relay(app)
    assert snapshot(platform, other.tenant.id) == other_before
    facts = {row["dossier_id"]: row for row in snapshot(platform, unit.tenant.id)["facts"]}
    assert facts[mine[0]]["paused_kind"] is None and facts[mine[0]]["status"] == 4


def test_rating_and_import_events_refresh_the_facts(app, platform, unit):
    dossier_id = some_dossiers(app, unit)[1]
    with unit.session() as session, session.begin():
        session.add(Rating(dossier_id=dossier_id, channel="portal", level=2, rated_at=at(days=2)))
        session.add(Rating(dossier_id=dossier_id, channel="portal", level=5, rated_at=at(days=3)))
        emit_event(session, "dossier.rated", {"dossier_id": dossier_id}, tenant_id=unit.tenant.id)
    relay(app)
    with platform.shards.platform_session() as session:
        fact = session.get(ReportDossier, (unit.tenant.id, dossier_id))
        assert fact.rating_level == 5
    with unit.session() as session, session.begin():
        session.execute(update(Dossier).where(Dossier.id == dossier_id).values(code="IMPORTED-1"))
    emit(unit, "dossiers.imported", {"dossier_ids": [dossier_id]})
    relay(app)
    with platform.shards.platform_session() as session:
        assert session.get(ReportDossier, (unit.tenant.id, dossier_id)).code == "IMPORTED-1"


def test_a_dossier_gone_from_the_unit_leaves_the_store(app, platform, city):
    unit = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    dossier_id = receive(unit)
    relay(app)
    assert snapshot(platform, unit.tenant.id)["daily"]
    with unit.session() as session, session.begin():
        session.execute(delete(Dossier).where(Dossier.id == dossier_id))
    emit(unit, "dossier.transition", {"dossier_id": dossier_id})
    relay(app)
    assert snapshot(platform, unit.tenant.id) == {"facts": [], "steps": [], "daily": []}


def spoil(platform, tenant_id: int) -> None:
    with platform.shards.platform_session() as session, session.begin():
        session.execute(update(ReportDaily).where(ReportDaily.tenant_id == tenant_id).values(withdrawn=99))
        session.execute(update(ReportDossier).where(ReportDossier.tenant_id == tenant_id).values(code="X"))


def test_rebuild_of_one_unit_touches_only_that_unit(app, platform, unit, other):
    some_dossiers(app, unit)
    some_dossiers(app, other)
    good = snapshot(platform, unit.tenant.id)
    spoil(platform, unit.tenant.id)
    spoil(platform, other.tenant.id)
    spoiled_other = snapshot(platform, other.tenant.id)
    result = app.test_cli_runner().invoke(reports_cli, ["rebuild", "--tenant", unit.tenant.slug])
    assert result.exit_code == 0, result.output
    assert "rebuilt" in result.output and "Đã tính lại" in result.output
    assert snapshot(platform, unit.tenant.id) == good
    assert snapshot(platform, other.tenant.id) == spoiled_other
    assert {row["withdrawn"] for row in spoiled_other["daily"]} == {99}


def test_rebuild_of_every_unit_and_an_unknown_one(app, platform, city):
    fresh = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind, shard="s2"))
    some_dossiers(app, fresh)
    good = snapshot(platform, fresh.tenant.id)
    spoil(platform, fresh.tenant.id)
    result = app.test_cli_runner().invoke(reports_cli, ["rebuild"])
    assert result.exit_code == 0, result.output
    assert snapshot(platform, fresh.tenant.id) == good
    unknown = app.test_cli_runner().invoke(reports_cli, ["rebuild", "--tenant", "khong-co"])
    assert unknown.exit_code == 2
    assert "không có đơn vị" in unknown.output and "no unit" in unknown.output


def test_the_store_keeps_no_personal_data():
    columns = {c.name for c in ReportDossier.__table__.columns}
    assert not {c for c in columns if c.startswith("applicant_") and c != "applicant_type"}


def test_the_feed_queues_national_portal_messages_with_the_facts_and_kicks_the_sender(app, platform, city):
    unit = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    with platform.shards.platform_session() as session, session.begin():
        session.add(
            DvcqgSettings(
                tenant_id=unit.tenant.id,
                enabled=True,
                madonvi="000.00.31.H99",
                endpoint_url="http://127.0.0.1:9/",
            )
        )
    dossier_id = receive(unit)
    relay(app)
    with platform.shards.platform_session() as session:
        queued = session.scalars(
            select(DvcqgMessage.dossier_id).where(DvcqgMessage.tenant_id == unit.tenant.id)
        )
        assert set(queued) == {dossier_id}
        assert session.get(ReportDossier, (unit.tenant.id, dossier_id)) is not None
    with app.app_context():
        kicks = [job.args[:2] for job in get_queue("default").jobs]
    assert ("app.integrations.dvcqg_sender.send_bound_tenant", unit.tenant.id) in kicks


def test_a_failing_unit_does_not_hold_back_the_others(app, platform, city):
    broken = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    good = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    schema = broken.tenant.schema_name
    receive(broken)
    receive(good)
    with platform.shards.platform_session() as session, session.begin():  # the unit's schema is unreachable
        session.execute(update(Tenant).where(Tenant.id == broken.tenant.id).values(schema_name="t_gone"))
    try:
        relay(app)
        assert snapshot(platform, good.tenant.id)["facts"]
        assert not snapshot(platform, broken.tenant.id)["facts"]
        with Session(platform.shards.engine("main")) as session:
            waiting = session.scalars(
                select(OutboxEvent).where(
                    OutboxEvent.tenant_id == broken.tenant.id, OutboxEvent.delivered_at.is_(None)
                )
            ).all()
        assert waiting and all(e.attempts == 1 and "t_gone" in e.last_error for e in waiting)
    finally:
        with platform.shards.platform_session() as session, session.begin():
            session.execute(update(Tenant).where(Tenant.id == broken.tenant.id).values(schema_name=schema))
    with Session(platform.shards.engine("main")) as session, session.begin():
        session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.tenant_id == broken.tenant.id)
            .values(next_attempt_at=OutboxEvent.created_at)
        )
    relay(app)
    assert snapshot(platform, broken.tenant.id)["facts"]


def test_concurrent_relays_leave_what_a_rebuild_writes(app, platform, city):
    unit = build_unit(platform, lambda kind: create_test_tenant(platform, city, kind))
    relay(app)  # other tests' leftovers first: the race below is this unit's alone
    for n in range(8):
        d = receive(unit, at(n / 4))
        act(unit, "transfer", d, "counter", at(n / 4 + 0.1))
        act(unit, "claim", d, "officer", at(n / 4 + 0.2))
        if n % 2:
            act(unit, "request_supplement", d, "officer", at(n / 4 + 0.3), items=["Tờ khai"])

    def small_batches() -> None:
        with app.app_context():
            while relay_outbox("main", batch_size=3).claimed:
                pass

    threads = [threading.Thread(target=small_batches) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fed = snapshot(platform, unit.tenant.id)
    assert len(fed["facts"]) == 8
    with app.app_context():
        rebuild(unit.tenant.id)
    assert snapshot(platform, unit.tenant.id) == fed
