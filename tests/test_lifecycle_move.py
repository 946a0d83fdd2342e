"""Move a unit to shard s2: same data, reads through its host on the new shard, source dropped;
a failure before the switch leaves the source in charge, and resume or rollback finishes the job."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from app.audit.platform_models import PlatformAuditEvent
from app.catalog.models import Procedure, Sector
from app.core.errors import DomainError
from provisioning import export, pipeline, shard_move
from provisioning.pipeline_models import ProvisioningRun, RunStatus
from tenants.registry import get_tenant
from tests.lifecycle_support import run_pipeline, schema_exists, sector_names, seed


@pytest.fixture(autouse=True)
def _quick(platform, monkeypatch, tmp_path):
    monkeypatch.setattr(platform.settings, "archive_dir", str(tmp_path))
    monkeypatch.setattr(platform.settings, "provisioning_retry_delays", (0.0,))
    yield
    platform.resolver.clear()


@pytest.fixture
def unit(app, platform, make_tenant):
    tenant = make_tenant()
    seed(app, platform, tenant, sectors=3)
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session, session.begin():
        sector = session.scalar(select(Sector).where(Sector.code == f"{tenant.slug}-0"))
        session.add(
            Procedure(
                code="1.000001",
                name=f"Thủ tục của {tenant.slug}",
                sector_id=sector.id,
                service_level=3,
                time_value=Decimal("5"),
                time_unit="working_days",
            )
        )
    return tenant


def _move(app, slug, to="s2"):
    return run_pipeline(app, "move", slug, to=to, settle_seconds=0)


def _registry(platform, slug):
    with platform.shards.platform_session() as session:
        tenant = get_tenant(session, slug)
        return tenant.shard, tenant.status


def _counts(platform, shard, schema):
    with platform.shards.engine(shard).connect() as conn:
        return export.count_rows(conn, schema)


def _procedure_names(client) -> list[str]:
    response = client.get("/api/v1/procedures/")
    assert response.status_code == 200, response.text
    return [p["name"] for p in response.get_json()]


def test_move_copies_everything_switches_and_drops_the_source(app, platform, client_for, unit, make_tenant):
    neighbour = make_tenant()
    seed(app, platform, neighbour, sectors=1)
    before_names = sector_names(platform, unit)
    before_counts = _counts(platform, "main", unit.schema_name)
    assert _procedure_names(client_for(unit)) == [f"Thủ tục của {unit.slug}"]

    run = _move(app, unit.slug)

    assert run.status == RunStatus.DONE, run.error
    assert _registry(platform, unit.slug) == ("s2", "active")
    assert not schema_exists(platform, "main", unit.schema_name)
    assert _counts(platform, "s2", unit.schema_name) == before_counts
    assert sector_names(platform, unit, "s2") == before_names
    # Reads through the unit's host now come from s2 (the source schema is gone).
    assert _procedure_names(client_for(unit)) == [f"Thủ tục của {unit.slug}"]
    # New writes keep working on the new shard (sequences came along).
    with platform.shards.tenant_session("s2", unit.schema_name) as session, session.begin():
        session.add(Sector(code="after-move", name="sau khi chuyển"))
    assert len(sector_names(platform, unit, "s2")) == len(before_names) + 1
    # The neighbour on the same source shard is untouched and was not copied.
    assert schema_exists(platform, "main", neighbour.schema_name)
    assert not schema_exists(platform, "s2", neighbour.schema_name)
    assert len(sector_names(platform, neighbour)) == 1
    with platform.shards.platform_session() as session:
        moves = session.scalars(
            select(PlatformAuditEvent.data).where(
                PlatformAuditEvent.entity_id == str(unit.id), PlatformAuditEvent.action == "move"
            )
        ).all()
    assert moves == [{"slug": unit.slug, "from_shard": "main", "to_shard": "s2"}]


def _break_verify(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("injected failure before the switch")

    monkeypatch.setattr(shard_move, "compare_tables", broken)


def test_a_failure_before_the_switch_leaves_the_source_in_charge_and_resume_completes(
    app, platform, client_for, unit, monkeypatch
):
    before_names = sector_names(platform, unit)
    _break_verify(monkeypatch)

    run = _move(app, unit.slug)

    assert run.status == RunStatus.FAILED and "injected failure" in run.error
    assert _registry(platform, unit.slug) == ("main", "suspended")  # held still while the copy is pending
    assert sector_names(platform, unit, "main") == before_names
    assert schema_exists(platform, "s2", unit.schema_name)  # the copy waits for a decision
    platform_session = platform.shards.platform_session()
    # One unfinished run per unit: nothing else starts until this one is resumed or rolled back.
    with app.app_context(), platform_session as session, session.begin(), pytest.raises(DomainError):
        pipeline.create_run(session, "export", tenant_slug=unit.slug)

    monkeypatch.undo()
    monkeypatch.setattr(platform.settings, "provisioning_retry_delays", (0.0,))
    with app.app_context():
        with platform.shards.platform_session() as session, session.begin():
            pipeline.resume_run(session, run.id, actor_label="test")
        finished = pipeline.execute_run(run.id)

    assert finished.status == RunStatus.DONE, finished.error
    assert _registry(platform, unit.slug) == ("s2", "active")
    assert not schema_exists(platform, "main", unit.schema_name)
    assert sector_names(platform, unit, "s2") == before_names
    platform.resolver.clear()
    assert _procedure_names(client_for(unit)) == [f"Thủ tục của {unit.slug}"]


def test_rolling_back_before_the_switch_drops_the_half_made_copy(
    app, platform, client_for, unit, monkeypatch
):
    before_counts = _counts(platform, "main", unit.schema_name)
    _break_verify(monkeypatch)
    run = _move(app, unit.slug)
    assert run.status == RunStatus.FAILED

    with app.app_context():
        with platform.shards.platform_session() as session, session.begin():
            pipeline.rollback_run(session, run.id, actor_label="test")
        assert pipeline.execute_run(run.id).status == RunStatus.ROLLED_BACK

    assert _registry(platform, unit.slug) == ("main", "active")
    assert not schema_exists(platform, "s2", unit.schema_name)
    assert _counts(platform, "main", unit.schema_name) == before_counts
    platform.resolver.clear()
    assert _procedure_names(client_for(unit)) == [f"Thủ tục của {unit.slug}"]


def test_the_import_never_overwrites_the_live_copy(app, platform, unit, tmp_path):
    with pytest.raises(ValueError, match="not overwritten"):
        shard_move.import_schema(platform.shards, unit.slug, "main", tmp_path / "schema.sql", marker="m")
    with pytest.raises(ValueError, match="not dropped"):
        shard_move.drop_source(platform.shards, unit.slug, "main")
    assert schema_exists(platform, "main", unit.schema_name)


@pytest.mark.parametrize("target", ["main", "s9", ""])
def test_a_move_to_the_same_or_an_unknown_shard_is_refused_and_creates_no_run(app, platform, unit, target):
    with pytest.raises(DomainError) as refused:
        _move(app, unit.slug, to=target)
    assert refused.value.status == 400
    with platform.shards.platform_session() as session:
        assert session.scalar(select(ProvisioningRun).where(ProvisioningRun.tenant_slug == unit.slug)) is None
    assert _registry(platform, unit.slug) == ("main", "active")


def _context(app, kind: str, slug: str, params: dict, run_id: int) -> pipeline.StepContext:
    return pipeline.StepContext(
        run_id=run_id,
        kind=kind,
        spec=None,
        tenant_slug=slug,
        params=params,
        data={},
        platform=app.extensions["motcua"],
    )


def test_every_move_step_run_twice_does_what_once_does(app, platform, client_for, unit):
    """A worker killed after a step's work but before the run recorded it runs the step again."""
    from provisioning import lifecycle

    before = _counts(platform, "main", unit.schema_name)
    with app.app_context():
        ctx = _context(app, "move", unit.slug, {"to": "s2", "settle_seconds": 0}, run_id=900_000 + unit.id)
        for step in lifecycle.MOVE_STEPS:
            lost = dict(ctx.data)
            step.do(ctx)
            ctx.data = lost  # the first attempt's values were never persisted
            step.do(ctx)

    assert _registry(platform, unit.slug) == ("s2", "active")
    assert _counts(platform, "s2", unit.schema_name) == before
    assert not schema_exists(platform, "main", unit.schema_name)
    platform.resolver.clear()
    assert _procedure_names(client_for(unit)) == [f"Thủ tục của {unit.slug}"]


def test_a_move_runs_on_a_real_worker(app, platform, services, client_for, unit, monkeypatch, tmp_path):
    from tests.jobs_fixtures import run_worker

    # The worker process reads its settings from the environment: the test's folders.
    monkeypatch.setenv("ARCHIVE_DIR", str(tmp_path))
    monkeypatch.setenv("STORAGE_DIR", platform.settings.storage_dir)
    before = _counts(platform, "main", unit.schema_name)
    with app.app_context():
        with platform.shards.platform_session() as session, session.begin():
            run = pipeline.create_run(
                session, "move", tenant_slug=unit.slug, params={"to": "s2", "settle_seconds": 0}
            )
        assert pipeline.enqueue_run(run.id)

    run_worker(services)

    with platform.shards.platform_session() as session:
        done = session.get(ProvisioningRun, run.id)
        assert done.status == RunStatus.DONE, done.error
        assert done.data["attachments"] == 2
        assert Path(done.data["archive_path"]).parent == tmp_path
    assert _registry(platform, unit.slug) == ("s2", "active")
    assert _counts(platform, "s2", unit.schema_name) == before
    assert not schema_exists(platform, "main", unit.schema_name)
    platform.resolver.clear()
    assert _procedure_names(client_for(unit)) == [f"Thủ tục của {unit.slug}"]


def _record_events(platform, tenant, shard, count):
    from datetime import UTC, datetime, timedelta

    from app.core.usage import record_usage

    start = datetime.now(UTC) - timedelta(hours=2)
    with platform.shards.tenant_session(shard, tenant.schema_name) as session, session.begin():
        for n in range(count):
            record_usage(
                session,
                tenant_id=tenant.id,
                source="dossier.received",
                event_id=f"{tenant.slug}-{n}",
                metric="dossiers_received",
                dimension="counter",
                occurred_at=start + timedelta(seconds=n),
            )


def _events(platform, shard, tenant_id):
    from provisioning import usage_move

    return usage_move.checksum(platform.shards, shard, tenant_id)


def test_a_moved_unit_takes_its_usage_events_and_its_facts_still_verify(app, platform, unit, make_tenant):
    from billing.aggregate import aggregate_all
    from billing.models import DailyFact
    from billing.verify import verify

    neighbour = make_tenant()
    _record_events(platform, unit, "main", 7)
    _record_events(platform, neighbour, "main", 3)
    with app.app_context():
        aggregate_all()
    with platform.shards.platform_session() as session:
        facts_before = session.execute(
            select(DailyFact.id, DailyFact.event_count, DailyFact.content_hash).where(
                DailyFact.tenant_id == unit.id
            )
        ).all()
    events_before = _events(platform, "main", unit.id)
    assert events_before[0] == 7 and sum(f.event_count for f in facts_before) == 7

    run = _move(app, unit.slug)

    assert run.status == RunStatus.DONE, run.error
    assert run.data["usage_events"] == 7
    assert _events(platform, "s2", unit.id) == events_before  # same rows, same order
    assert _events(platform, "main", unit.id) == (0, "")  # gone from the source with its schema
    assert _events(platform, "main", neighbour.id)[0] == 3  # the neighbour's stay
    assert run.data["usage_facts"] >= 1  # the switch re-counted the unit's days on s2, however old
    with app.app_context():
        aggregate_all()  # reads the unit's events on s2 now: its facts do not change
        result = verify([unit.id], invoices=False)
    with platform.shards.platform_session() as session:
        facts_after = session.execute(
            select(DailyFact.id, DailyFact.event_count, DailyFact.content_hash).where(
                DailyFact.tenant_id == unit.id
            )
        ).all()
    assert sorted(facts_after) == sorted(facts_before)
    assert result.ok, result.first_problem


def test_a_move_whose_usage_events_differ_is_not_switched(app, platform, unit, monkeypatch):
    from provisioning import usage_move

    _record_events(platform, unit, "main", 4)
    copy = usage_move.copy_events

    def copy_and_lose_one(shards, tenant_id, source, target):
        copied = copy(shards, tenant_id, source, target)
        with shards.engine(target).begin() as conn:
            conn.exec_driver_sql(
                f"DELETE FROM shard.usage_events WHERE id = "
                f"(SELECT max(id) FROM shard.usage_events WHERE tenant_id = {int(tenant_id)})"
            )
        return copied

    monkeypatch.setattr(usage_move, "copy_events", copy_and_lose_one)
    run = _move(app, unit.slug)

    assert run.status == RunStatus.FAILED
    assert "usage events differ" in run.error
    assert _registry(platform, unit.slug)[0] == "main"  # the source stays in charge
    assert _events(platform, "main", unit.id)[0] == 4


def test_old_events_not_yet_aggregated_are_counted_on_the_new_shard_by_the_move(app, platform, unit):
    """Events older than the late window that the old shard never aggregated: the move's switch
    counts them on the new shard (the next periodic runs only look at the window)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import func

    from app.core.usage import record_usage
    from billing.models import DailyFact

    old = datetime.now(UTC) - timedelta(days=40)
    with platform.shards.tenant_session("main", unit.schema_name) as session, session.begin():
        for n in range(3):
            record_usage(
                session,
                tenant_id=unit.id,
                source="dossier.received",
                event_id=f"OLD-{n}",
                metric="dossiers_received",
                dimension="counter",
                occurred_at=old + timedelta(minutes=n),
            )

    run = _move(app, unit.slug)

    assert run.status == RunStatus.DONE, run.error
    with platform.shards.platform_session() as session:
        counted = session.scalar(
            select(func.sum(DailyFact.quantity_sum)).where(
                DailyFact.tenant_id == unit.id, DailyFact.metric == "dossiers_received"
            )
        )
    assert counted == 3
