"""Aggregation of usage events into daily facts: re-runs, late events, distinct counts, shards, tenants."""

from __future__ import annotations

import time
import uuid
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from app.core.scheduler import _periodic
from app.core.usage import record_usage, usage_hash
from billing import ledger
from billing.aggregate import (
    VN_TZ,
    aggregate_all,
    aggregate_shard,
    aggregate_tenant,
    local_day,
    period_quantity,
)
from billing.models import AggregationRun, DailyFact

DAY = date(2026, 3, 9)


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=VN_TZ)


def record(platform, tenant, **event) -> None:
    """One event in its own committed shard transaction (as an action records it)."""
    event.setdefault("source", "dossier.received")
    event.setdefault("event_id", uuid.uuid4().hex)
    event.setdefault("metric", "dossiers_received")
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session, session.begin():
        record_usage(session, tenant_id=tenant.id, **event)


def aggregate(platform, tenant, first: date, last: date) -> int:
    with (
        platform.shards.platform_session() as session,
        platform.shards.engine(tenant.shard).connect() as shard,
    ):
        count = aggregate_tenant(session, shard, tenant.id, first, last)
        session.commit()
    return count


def facts_of(platform, tenant) -> list[DailyFact]:
    with platform.shards.platform_session() as session:
        return list(
            session.scalars(
                select(DailyFact)
                .where(DailyFact.tenant_id == tenant.id)
                .order_by(DailyFact.day, DailyFact.metric, DailyFact.dimension)
            )
        )


def shape(facts) -> list[tuple]:
    return [
        (f.day, f.metric, f.dimension, f.event_count, f.quantity_sum, f.quantity_max, f.distinct_subjects)
        for f in facts
    ]


def test_facts_count_sum_max_distinct_and_hashes_and_a_rerun_changes_nothing(platform, make_tenant):
    tenant = make_tenant()
    for hour, channel in ((8, "counter"), (9, "counter"), (10, "online")):
        record(platform, tenant, occurred_at=at(DAY, hour), dimension=channel)
    # 23:30 in Hà Nội is 16:30 UTC, still the 9th locally; 00:30 on the 10th is the 10th.
    record(platform, tenant, occurred_at=at(DAY, 23, 30), dimension="counter")
    record(platform, tenant, occurred_at=at(DAY + timedelta(days=1), 0, 30), dimension="counter")
    for size, who in ((100, None), (2_500, None)):
        record(
            platform,
            tenant,
            source="attachment.stored",
            metric="attachment_bytes",
            quantity=size,
            occurred_at=at(DAY),
            dimension="component",
            subject=who,
        )
    for official in ("7", "7", "8"):
        record(
            platform,
            tenant,
            source="official.active",
            metric="active_officials",
            subject=official,
            occurred_at=at(DAY),
        )

    assert aggregate(platform, tenant, DAY, DAY + timedelta(days=1)) == 5
    facts = facts_of(platform, tenant)
    assert shape(facts) == [
        (DAY, "active_officials", "", 3, 3, 1, 2),
        (DAY, "attachment_bytes", "component", 2, 2_600, 2_500, 0),
        (DAY, "dossiers_received", "counter", 3, 3, 1, 0),
        (DAY, "dossiers_received", "online", 1, 1, 1, 0),
        (DAY + timedelta(days=1), "dossiers_received", "counter", 1, 1, 1, 0),
    ]
    with platform.shards.engine(tenant.shard).connect() as shard:
        for fact in facts:
            hashes = shard.scalars(
                text(
                    f"SELECT row_hash FROM shard.usage_events e WHERE tenant_id = :t AND metric = :m"
                    f" AND dimension = :d AND {ledger.DAY_SQL} = :day ORDER BY id"
                ),
                {"t": tenant.id, "m": fact.metric, "d": fact.dimension, "day": fact.day},
            ).all()
            assert fact.events_digest == ledger.events_digest(hashes)
            assert fact.content_hash == ledger.fact_row_hash(fact)

    assert aggregate(platform, tenant, DAY, DAY + timedelta(days=1)) == 5
    again = facts_of(platform, tenant)
    assert [(f.id, f.content_hash, f.computed_at) for f in again] == [
        (f.id, f.content_hash, f.computed_at) for f in facts
    ]


def test_the_sql_hashes_are_the_python_definitions(platform, make_tenant):
    tenant = make_tenant()
    record(
        platform,
        tenant,
        source="citizen.active",
        metric="active_citizens",
        event_id="42:2026-03-09",
        subject="Nguyễn|42",
        dimension="",
        occurred_at=datetime(2026, 3, 9, 1, 2, 3, 4005, tzinfo=VN_TZ),
    )
    record(platform, tenant, occurred_at=at(DAY), dimension="postal")
    with platform.shards.engine(tenant.shard).connect() as shard:
        rows = shard.execute(
            text(
                f"SELECT e.*, {ledger.EVENT_HASH_SQL} AS sql_hash"
                " FROM shard.usage_events e WHERE tenant_id = :t"
            ),
            {"t": tenant.id},
        ).all()
    assert len(rows) == 2
    for row in rows:
        python = usage_hash(
            row.tenant_id,
            row.source,
            row.event_id,
            row.metric,
            row.dimension,
            row.quantity,
            row.subject,
            row.occurred_at,
        )
        assert row.sql_hash == python == row.row_hash
    aggregate(platform, tenant, DAY, DAY)
    assert all(f.content_hash == ledger.fact_row_hash(f) for f in facts_of(platform, tenant))


def test_late_events_in_the_window_and_beyond_it_are_counted_and_vanished_ones_removed(
    app, platform, make_tenant
):
    tenant = make_tenant()
    with app.app_context():
        today = local_day(datetime.now(VN_TZ))
        record(platform, tenant, occurred_at=at(today - timedelta(days=3)), dimension="counter")
        aggregate_all(tenant_ids=None)
        assert shape(facts_of(platform, tenant)) == [
            (today - timedelta(days=3), "dossiers_received", "counter", 1, 1, 1, 0)
        ]
        first_id = facts_of(platform, tenant)[0].id

        # A late event three days back (within the 10-day window) and one forty days back.
        record(platform, tenant, occurred_at=at(today - timedelta(days=3), 15), dimension="counter")
        record(
            platform, tenant, occurred_at=at(today - timedelta(days=40)), dimension="online", event_id="old"
        )
        runs = aggregate_all()
        facts = facts_of(platform, tenant)
        assert shape(facts) == [
            (today - timedelta(days=40), "dossiers_received", "online", 1, 1, 1, 0),
            (today - timedelta(days=3), "dossiers_received", "counter", 2, 2, 1, 0),
        ]
        assert facts[1].id == first_id  # updated in place: invoice lines keep pointing at it
        main = next(run for run in runs if run.shard == tenant.shard)
        assert main.finished_at is not None and main.first_day <= today - timedelta(days=40)

        # The forty-day-old event disappears: a run over its day removes the fact.
        with platform.shards.engine(tenant.shard).begin() as shard:
            shard.execute(
                text("DELETE FROM shard.usage_events WHERE tenant_id = :t AND event_id = 'old'"),
                {"t": tenant.id},
            )
        aggregate_all(first_day=today - timedelta(days=41), last_day=today)
        assert [f.day for f in facts_of(platform, tenant)] == [today - timedelta(days=3)]


def test_distinct_officials_of_a_period_are_not_the_sum_of_days(app, platform, make_tenant):
    tenant = make_tenant()
    for offset in range(3):  # official 7 every day, official 8 on the first day only
        record(
            platform,
            tenant,
            source="official.active",
            metric="active_officials",
            subject="7",
            event_id=f"7:{offset}",
            occurred_at=at(DAY + timedelta(days=offset)),
        )
    record(
        platform,
        tenant,
        source="official.active",
        metric="active_officials",
        subject="8",
        event_id="8:0",
        occurred_at=at(DAY),
    )
    record(platform, tenant, occurred_at=at(DAY), dimension="counter")
    record(platform, tenant, occurred_at=at(DAY + timedelta(days=2)), dimension="counter")
    aggregate(platform, tenant, DAY, DAY + timedelta(days=2))
    facts = [f for f in facts_of(platform, tenant) if f.metric == "active_officials"]
    assert sum(f.distinct_subjects for f in facts) == 4
    with app.app_context():
        assert period_quantity(tenant.id, "active_officials", DAY, DAY + timedelta(days=3)) == 2
        assert (
            period_quantity(tenant.id, "active_officials", DAY + timedelta(days=1), DAY + timedelta(days=3))
            == 1
        )
        assert period_quantity(tenant.id, "dossiers_received", DAY, DAY + timedelta(days=3)) == 2
        assert (
            period_quantity(tenant.id, "dossiers_received", DAY + timedelta(days=1), DAY + timedelta(days=2))
            == 0
        )


def test_a_tenant_on_the_second_shard_is_aggregated_onto_the_primary(app, platform, make_tenant):
    tenant = make_tenant(shard="s2")
    record(platform, tenant, occurred_at=at(DAY), dimension="postal")
    record(platform, tenant, occurred_at=at(DAY, 11), dimension="postal")
    with app.app_context():
        runs = aggregate_all(first_day=DAY, last_day=DAY)
    assert {run.shard for run in runs} == {"main", "s2"}
    assert shape(facts_of(platform, tenant)) == [(DAY, "dossiers_received", "postal", 2, 2, 1, 0)]
    with platform.shards.engine("main").connect() as main:  # the events stayed on s2
        assert (
            main.scalar(
                text("SELECT count(*) FROM shard.usage_events WHERE tenant_id = :t"), {"t": tenant.id}
            )
            == 0
        )
    with platform.shards.platform_session() as session:
        run = session.get(AggregationRun, next(r.id for r in runs if r.shard == "s2"))
        assert run.finished_at is not None and run.events >= 2


def test_facts_never_mix_tenants(platform, make_tenant):
    one, other = make_tenant(), make_tenant()
    for tenant, count in ((one, 3), (other, 2)):
        for n in range(count):  # the same event ids in both units
            record(platform, tenant, event_id=f"same-{n}", occurred_at=at(DAY), dimension="counter")
    aggregate(platform, one, DAY, DAY)
    aggregate(platform, other, DAY, DAY)
    assert shape(facts_of(platform, one)) == [(DAY, "dossiers_received", "counter", 3, 3, 1, 0)]
    assert shape(facts_of(platform, other)) == [(DAY, "dossiers_received", "counter", 2, 2, 1, 0)]
    before = facts_of(platform, other)
    # Re-aggregating one unit after its events vanished never touches the other's facts.
    with platform.shards.engine(one.shard).begin() as shard:
        shard.execute(text("DELETE FROM shard.usage_events WHERE tenant_id = :t"), {"t": one.id})
    assert aggregate(platform, one, DAY, DAY) == 0
    assert facts_of(platform, one) == []
    assert [(f.id, f.content_hash) for f in facts_of(platform, other)] == [
        (f.id, f.content_hash) for f in before
    ]


def test_the_cli_aggregates_a_range_of_one_unit_and_refuses_an_unknown_one(app, platform, make_tenant):
    tenant = make_tenant()
    record(platform, tenant, occurred_at=at(DAY), dimension="counter")
    runner = app.test_cli_runner()
    days = ["--from", "2026-03-01", "--to", "2026-03-31"]
    result = runner.invoke(args=["billing", "aggregate", *days, "--tenant", tenant.slug, "--settle", "0"])
    assert result.exit_code == 0, result.output
    assert "facts=1" in result.output
    assert shape(facts_of(platform, tenant)) == [(DAY, "dossiers_received", "counter", 1, 1, 1, 0)]
    with platform.shards.platform_session() as session:
        run = session.scalars(select(AggregationRun).where(AggregationRun.tenant_id == tenant.id)).one()
        assert (run.first_day, run.last_day, run.events, run.facts) == (
            date(2026, 3, 1),
            date(2026, 3, 31),
            1,
            1,
        )

    result = runner.invoke(args=["billing", "aggregate", "--from", "2026-03-01", "--tenant", "no-such-unit"])
    assert result.exit_code != 0 and "no-such-unit" in result.output


def test_the_periodic_job_is_registered_for_workers(app):
    assert "billing.aggregate" in app.extensions["motcua.job_modules"]
    import billing.aggregate  # noqa: F401  (a worker imports the job modules)

    assert any(spec["path"] == "billing.aggregate.aggregate_job" for spec in _periodic)


@pytest.mark.parametrize("days", [0, 9])
def test_a_cut_off_leaves_newer_events_for_the_next_run(platform, make_tenant, days):
    tenant = make_tenant()
    day = DAY + timedelta(days=days)
    record(platform, tenant, occurred_at=at(day), dimension="counter")
    with (
        platform.shards.platform_session() as session,
        platform.shards.engine(tenant.shard).connect() as shard,
    ):
        recorded = shard.scalar(
            text("SELECT max(recorded_at) FROM shard.usage_events WHERE tenant_id = :t"), {"t": tenant.id}
        )
        assert aggregate_tenant(session, shard, tenant.id, day, day, as_of=recorded) == 0
        session.commit()
    assert facts_of(platform, tenant) == []
    assert aggregate(platform, tenant, day, day) == 1


def test_a_run_of_chosen_units_does_not_hide_late_events_from_the_next_full_run(
    app, platform, make_tenant, monkeypatch
):
    import billing.aggregate as module

    monkeypatch.setattr(module, "LATE_MARGIN", timedelta(0))  # no overlap: only the runs' cut-offs count
    tenant, other = make_tenant(), make_tenant(shard="s2")  # the run of `other` leaves main alone
    with app.app_context():
        today = local_day(datetime.now(VN_TZ))
        aggregate_all()
        record(platform, tenant, occurred_at=at(today - timedelta(days=30)), dimension="online")
        runs = aggregate_all(tenant_ids=[other.id])  # one unit: recorded per unit, not as a shard run
        assert [(run.shard, run.tenant_id) for run in runs] == [("s2", other.id)]
        assert facts_of(platform, tenant) == []
        aggregate_all()
    assert shape(facts_of(platform, tenant)) == [
        (today - timedelta(days=30), "dossiers_received", "online", 1, 1, 1, 0)
    ]


def _move_events(platform, tenant_id: int, source: str, target: str) -> None:
    """The usage part of a shard move (provisioning/lifecycle.py): copy, switch, drop the source's."""
    from provisioning import usage_move

    usage_move.copy_events(platform.shards, tenant_id, source, target)
    with platform.shards.platform_session() as session, session.begin():
        session.execute(
            text("UPDATE platform.tenants SET shard = :s WHERE id = :t"), {"s": target, "t": tenant_id}
        )
    usage_move.delete_events(platform.shards, source, tenant_id)


def test_a_unit_moved_to_another_shard_during_a_run_keeps_its_facts(app, platform, make_tenant):
    """A run lists the shard's units first; one moved away meanwhile has no events left on the
    shard it was listed on. Reading them there deleted all its facts of the run's days."""
    first, moving = make_tenant(), make_tenant()
    assert first.id < moving.id
    make_tenant(shard="s2")  # the second shard is registered
    for tenant in (first, moving):
        record(platform, tenant, occurred_at=at(DAY), dimension="counter")
    with app.app_context():
        aggregate_all(first_day=DAY, last_day=DAY, tenant_ids=[first.id, moving.id])
        before = shape(facts_of(platform, moving))
        assert before == [(DAY, "dossiers_received", "counter", 1, 1, 1, 0)]

        def move_after_the_first(result) -> None:
            if result.tenant_id == first.id:
                _move_events(platform, moving.id, "main", "s2")

        try:
            aggregate_shard(
                "main",
                first_day=DAY,
                last_day=DAY,
                tenant_ids=[first.id, moving.id],
                progress=move_after_the_first,
            )
            assert shape(facts_of(platform, moving)) == before
            aggregate_all(first_day=DAY, last_day=DAY, tenant_ids=[moving.id])  # now read on s2
            assert shape(facts_of(platform, moving)) == before
        finally:
            _move_events(platform, moving.id, "s2", "main")  # its schema never left main


def test_the_cli_from_a_day_aggregates_up_to_todays_local_day_whatever_the_servers_zone(
    app, platform, make_tenant, monkeypatch
):
    """--from without --to runs to today in Asia/Ho_Chi_Minh, not the server's local date (a
    server on UTC is still on yesterday until 07:00 in Hà Nội)."""
    tenant = make_tenant()
    now = datetime.now(VN_TZ)
    record(platform, tenant, occurred_at=now, dimension="counter")
    command = [
        "billing",
        "aggregate",
        "--from",
        now.date().isoformat(),
        "--tenant",
        tenant.slug,
        "--settle",
        "0",
    ]
    monkeypatch.setenv("TZ", "<-24>24")  # a server a day behind UTC: its date is never Hà Nội's today
    time.tzset()
    try:
        result = app.test_cli_runner().invoke(args=command)
    finally:
        monkeypatch.undo()
        time.tzset()
    assert result.exit_code == 0, result.output
    assert [(f.day, f.event_count) for f in facts_of(platform, tenant)] == [(now.date(), 1)]
