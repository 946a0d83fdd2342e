"""The independent recount: a unit's own rows against what billing counts, per metric and dimension."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text

from app.calendar.workcal import VN_TZ
from app.dossiers import intake
from billing.recount import RecountRow, recount
from tests.test_billing_aggregate import aggregate, record
from tests.test_billing_concurrency import counter_unit

DAY = date(2026, 5, 6)


@pytest.fixture(scope="module")
def unit(platform, city):
    """Three dossiers received at the counter (two on DAY, one the day after), one API call."""
    built = counter_unit(platform, city)
    for n, day in enumerate((DAY, DAY, DAY + timedelta(days=1))):
        with built.session() as session, session.begin():
            now = datetime(day.year, day.month, day.day, 9, n, tzinfo=VN_TZ)
            intake.receive_at_counter(built.desk(session, now), built.actor("counter"), built.intake())
    record(
        platform,
        built.tenant,
        source="api.call",
        event_id="req-1",
        metric="api_calls",
        subject="3",
        occurred_at=datetime(DAY.year, DAY.month, DAY.day, 10, tzinfo=VN_TZ),
    )
    aggregate(platform, built.tenant, DAY, DAY + timedelta(days=1))
    return built


def test_the_recount_agrees_with_the_facts_and_lists_api_calls_as_not_recountable(app, unit):
    tenant = unit.tenant
    with app.app_context():
        rows = recount(DAY, DAY + timedelta(days=2), [tenant.id])
        first_day_only = recount(DAY, DAY + timedelta(days=1), [tenant.id])
    assert rows == [
        RecountRow(tenant.id, tenant.slug, "active_officials", "", 1, 1, 0),
        RecountRow(tenant.id, tenant.slug, "api_calls", "", 1, None, None),
        RecountRow(tenant.id, tenant.slug, "documents_generated", "01", 3, 3, 0),
        RecountRow(tenant.id, tenant.slug, "dossiers_received", "counter", 3, 3, 0),
    ]
    received = next(r for r in first_day_only if r.metric == "dossiers_received")
    assert (received.facts, received.source) == (2, 2)


def test_a_missing_event_shows_as_a_difference_and_the_cli_exits_1(app, platform, unit):
    tenant = unit.tenant
    runner = app.test_cli_runner()
    command = [
        "billing",
        "recount",
        "--from",
        DAY.isoformat(),
        "--to",
        DAY.isoformat(),
        "--tenant",
        tenant.slug,
    ]
    agreed = runner.invoke(args=command)
    assert agreed.exit_code == 0, agreed.output
    assert "0 with a difference" in agreed.output

    with platform.shards.engine(tenant.shard).begin() as shard:  # one received dossier was never metered
        shard.execute(
            text(
                "DELETE FROM shard.usage_events WHERE id = (SELECT min(id) FROM shard.usage_events"
                " WHERE tenant_id = :t AND source = 'dossier.received')"
            ),
            {"t": tenant.id},
        )
    aggregate(platform, tenant, DAY, DAY + timedelta(days=1))
    with app.app_context():
        rows = recount(DAY, DAY + timedelta(days=2), [tenant.id])
    assert [r for r in rows if r.difference] == [
        RecountRow(tenant.id, tenant.slug, "dossiers_received", "counter", 2, 3, -1)
    ]
    result = runner.invoke(args=command)
    assert result.exit_code == 1, result.output
    assert f"{tenant.slug}" in result.output and "dossiers_received" in result.output
    assert "billed=1 source=2 difference=-1" in result.output
