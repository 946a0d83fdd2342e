"""``flask billing verify``: tampering with an event or a fact by SQL is found and the record named."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from app.core.usage import record_usage, usage_hash
from billing import ledger
from billing.aggregate import aggregate_all
from billing.verify import verify
from tests.test_billing_aggregate import DAY, aggregate, at, facts_of, record


@pytest.fixture(params=["main", "s2"])
def ledger_unit(request, app, platform, make_tenant):
    """A unit with five events on DAY (three counter, two online) and one official, aggregated."""
    tenant = make_tenant(shard=request.param)
    for n, channel in enumerate(("counter", "counter", "counter", "online", "online")):
        record(platform, tenant, event_id=f"D-{n}", occurred_at=at(DAY, 8 + n), dimension=channel)
    record(
        platform,
        tenant,
        source="official.active",
        metric="active_officials",
        subject="5",
        event_id="5:2026-03-09",
        occurred_at=at(DAY),
    )
    aggregate(platform, tenant, DAY, DAY)
    with app.app_context():
        result = verify([tenant.id], invoices=False)
    assert result.ok, result.problems
    assert (result.checked["events"], result.checked["facts"]) == (6, 3)
    return tenant


def shard_sql(platform, tenant, sql: str, **params):
    with platform.shards.engine(tenant.shard).begin() as conn:
        return conn.execute(text(sql), {"t": tenant.id, **params})


def primary_sql(platform, sql: str, **params):
    with platform.shards.primary.begin() as conn:
        return conn.execute(text(sql), params)


def event_row_id(platform, tenant, event_id: str) -> int:
    with platform.shards.engine(tenant.shard).connect() as conn:
        return conn.scalar(
            text("SELECT id FROM shard.usage_events WHERE tenant_id = :t AND event_id = :e"),
            {"t": tenant.id, "e": event_id},
        )


def fact_id(platform, tenant, dimension: str) -> int:
    return next(f.id for f in facts_of(platform, tenant) if f.dimension == dimension)


def check(app, tenant):
    with app.app_context():
        return verify([tenant.id], invoices=False)


def test_an_events_quantity_changed_by_sql_names_the_event(app, platform, ledger_unit):
    tenant = ledger_unit
    shard_sql(
        platform,
        tenant,
        "UPDATE shard.usage_events SET quantity = 2 WHERE tenant_id = :t AND event_id = 'D-1'",
    )
    result = check(app, tenant)
    assert not result.ok
    row_id = event_row_id(platform, tenant, "D-1")
    assert result.first_problem == (
        f"usage event {row_id} (tenant {tenant.slug}, dossier.received/D-1):"
        " its content no longer matches its row hash"
    )
    # The fact's sum no longer follows from its events either (reported after the event).
    assert any(
        p.startswith(f"daily fact {fact_id(platform, tenant, 'counter')} ") for p in result.problems[1:]
    )


def test_an_event_deleted_by_sql_names_its_fact(app, platform, ledger_unit):
    tenant = ledger_unit
    shard_sql(platform, tenant, "DELETE FROM shard.usage_events WHERE tenant_id = :t AND event_id = 'D-4'")
    result = check(app, tenant)
    fact = fact_id(platform, tenant, "online")
    assert result.first_problem == (
        f"daily fact {fact} (tenant {tenant.slug}, 2026-03-09, dossiers_received/online):"
        " its events no longer match its digest (1 events now, 2 when computed:"
        " an event was deleted, inserted or changed)"
    )
    assert len(result.problems) == 1


def insert_event(platform, tenant, event_id: str, recorded_at: str) -> None:
    occurred = at(DAY, 15)
    row_hash = usage_hash(
        tenant.id, "dossier.received", event_id, "dossiers_received", "counter", 1, None, occurred
    )
    shard_sql(
        platform,
        tenant,
        "INSERT INTO shard.usage_events (tenant_id, source, event_id, metric, dimension, quantity, subject,"
        " occurred_at, recorded_at, row_hash) VALUES (:t, 'dossier.received', :e, 'dossiers_received',"
        f" 'counter', 1, NULL, :o, {recorded_at}, :h)",
        e=event_id,
        o=occurred,
        h=row_hash,
    )


def test_an_event_inserted_by_sql_into_an_aggregated_day_names_the_fact(app, platform, ledger_unit):
    tenant = ledger_unit
    # A well-formed row (its own hash is right) that claims to have been there all along.
    insert_event(platform, tenant, "FORGED", "'2026-03-09 10:00+07'")
    result = check(app, tenant)
    fact = fact_id(platform, tenant, "counter")
    assert result.first_problem.startswith(
        f"daily fact {fact} (tenant {tenant.slug}, 2026-03-09, dossiers_received/counter)"
    )
    assert "4 events now, 3 when computed" in result.first_problem


def test_an_event_recorded_after_its_fact_is_pending_until_the_next_aggregation(app, platform, ledger_unit):
    tenant = ledger_unit
    insert_event(platform, tenant, "LATE", "now()")
    result = check(app, tenant)
    assert result.ok and result.checked["pending_events"] == 1
    aggregate(platform, tenant, DAY, DAY)
    result = check(app, tenant)
    assert result.ok and result.checked["pending_events"] == 0
    assert next(f for f in facts_of(platform, tenant) if f.dimension == "counter").event_count == 4


def test_a_facts_value_changed_by_sql_names_the_fact(app, platform, ledger_unit):
    tenant = ledger_unit
    fact = fact_id(platform, tenant, "counter")
    primary_sql(platform, "UPDATE platform.billing_daily_facts SET quantity_sum = 2 WHERE id = :f", f=fact)
    result = check(app, tenant)
    assert result.first_problem == (
        f"daily fact {fact} (tenant {tenant.slug}, 2026-03-09, dossiers_received/counter):"
        " its stored values no longer match its content hash (the fact row was altered)"
    )


def test_a_fact_changed_with_a_recomputed_hash_still_disagrees_with_its_events(app, platform, ledger_unit):
    tenant = ledger_unit
    fact = next(f for f in facts_of(platform, tenant) if f.dimension == "counter")
    fact.quantity_sum = fact.event_count = 2
    forged = ledger.fact_row_hash(fact)
    primary_sql(
        platform,
        "UPDATE platform.billing_daily_facts SET quantity_sum = 2, event_count = 2, content_hash = :h"
        " WHERE id = :f",
        f=fact.id,
        h=forged,
    )
    result = check(app, tenant)
    assert result.first_problem.startswith(f"daily fact {fact.id} ")
    assert result.first_problem.endswith(
        "count, sum, max, distinct (2, 2, 1, 0) but its events give (3, 3, 1, 0)"
    )


def test_a_deleted_fact_leaves_its_events_named(app, platform, ledger_unit):
    tenant = ledger_unit
    with app.app_context():
        aggregate_all(first_day=DAY, last_day=DAY)  # a complete run after the events were recorded
    fact = fact_id(platform, tenant, "online")
    primary_sql(platform, "DELETE FROM platform.billing_daily_facts WHERE id = :f", f=fact)
    result = check(app, tenant)
    row_id = event_row_id(platform, tenant, "D-3")
    assert result.first_problem == (
        f"usage event {row_id} (tenant {tenant.slug}, dossier.received/D-3): no daily fact counts it"
        " (2026-03-09, dossiers_received), though aggregation ran after it was recorded"
    )


def test_the_cli_exits_1_naming_the_altered_record(app, platform, make_tenant):
    tenant = make_tenant()
    record(platform, tenant, event_id="C-1", occurred_at=at(DAY + timedelta(days=1)), dimension="counter")
    aggregate(platform, tenant, DAY, DAY + timedelta(days=1))
    runner = app.test_cli_runner()
    shard_sql(platform, tenant, "UPDATE shard.usage_events SET event_id = 'C-2' WHERE tenant_id = :t")
    try:
        result = runner.invoke(args=["billing", "verify"])
        assert result.exit_code == 1, result.output
        assert f"(tenant {tenant.slug}, dossier.received/C-2): its content no longer matches" in result.output
        assert "ALTERED" in result.output
    finally:  # the database is shared by the session's tests: put the row back
        shard_sql(platform, tenant, "UPDATE shard.usage_events SET event_id = 'C-1' WHERE tenant_id = :t")
    with app.app_context():
        assert verify([tenant.id], invoices=False).ok


def test_verify_reads_a_large_shard_in_batches(app, platform, make_tenant, monkeypatch):
    """More events than one batch: every one is checked, the facts agree."""
    import billing.verify as module

    monkeypatch.setattr(module, "BATCH", 7)
    tenant = make_tenant()
    for n in range(30):
        record(
            platform,
            tenant,
            event_id=f"B-{n}",
            occurred_at=at(DAY) + timedelta(minutes=n * 50),
            dimension="online",
        )
    aggregate(platform, tenant, DAY, DAY + timedelta(days=2))
    result = check(app, tenant)
    assert result.ok and result.checked["events"] == 30
    assert result.checked["facts"] == len(facts_of(platform, tenant)) == 2


@pytest.mark.parametrize("shard", ["main", "s2"])
def test_an_event_of_a_transaction_that_commits_after_an_aggregation_is_pending_not_altered(
    app, platform, make_tenant, shard
):
    """The action's transaction began before the aggregation's cut-off and wrote its event (as
    metering does, at its commit) after the aggregation had read. The event was stamped with the
    transaction's start (now()), before the fact's computed_at, so verify counted it in the fact
    and called the fact altered; it is stamped when it is written (clock_timestamp())."""
    tenant = make_tenant(shard=shard)
    record(platform, tenant, event_id="EARLY", occurred_at=at(DAY, 8), dimension="counter")
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session, session.begin():
        session.execute(text("SELECT 1"))  # the action's transaction has begun
        shard_sql(platform, tenant, "SELECT pg_sleep(0.01)")
        aggregate(platform, tenant, DAY, DAY)  # cut-off now: the transaction is still open
        record_usage(
            session,
            tenant_id=tenant.id,
            source="dossier.received",
            event_id="SLOW",
            metric="dossiers_received",
            dimension="counter",
            occurred_at=at(DAY, 9),
        )
    result = check(app, tenant)
    assert result.ok, result.problems
    assert result.checked["pending_events"] == 1
    aggregate(platform, tenant, DAY, DAY)
    result = check(app, tenant)
    assert result.ok and result.checked["pending_events"] == 0
    assert [f.event_count for f in facts_of(platform, tenant)] == [2]


def test_an_event_moved_to_a_later_day_by_sql_is_named_before_the_facts_it_upsets(app, platform, ledger_unit):
    """The altered record is the event (its hash no longer fits): it is named first, not the
    fact of its old day, which comes earlier in day order and only lost an event."""
    tenant = ledger_unit
    shard_sql(
        platform,
        tenant,
        "UPDATE shard.usage_events SET occurred_at = occurred_at + interval '1 day'"
        " WHERE tenant_id = :t AND event_id = 'D-1'",
    )
    result = check(app, tenant)
    row_id = event_row_id(platform, tenant, "D-1")
    assert result.first_problem == (
        f"usage event {row_id} (tenant {tenant.slug}, dossier.received/D-1):"
        " its content no longer matches its row hash"
    )
    assert result.problems[1].startswith(f"daily fact {fact_id(platform, tenant, 'counter')} ")


def test_an_event_whose_recorded_at_is_moved_into_the_future_is_named(app, platform, ledger_unit):
    """Aggregation counts the events recorded before its cut-off, so an event "recorded" in ten
    years drops out of the next run's fact, which then agrees with its events, and verify called
    it pending: usage hidden from billing without a trace."""
    tenant = ledger_unit
    shard_sql(
        platform,
        tenant,
        "UPDATE shard.usage_events SET recorded_at = now() + interval '10 years'"
        " WHERE tenant_id = :t AND event_id = 'D-1'",
    )
    aggregate(platform, tenant, DAY, DAY)
    assert next(f for f in facts_of(platform, tenant) if f.dimension == "counter").event_count == 2
    result = check(app, tenant)
    assert not result.ok
    row_id = event_row_id(platform, tenant, "D-1")
    assert result.first_problem.startswith(
        f"usage event {row_id} (tenant {tenant.slug}, dossier.received/D-1):"
    )
    assert "recorded_at" in result.first_problem
