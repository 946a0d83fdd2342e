"""Decommission: export, archive status (hosts 404), schema renamed, retention recorded and enforced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app.audit.platform_models import PlatformAuditEvent
from app.core.errors import DomainError
from provisioning import decommission, export, pipeline
from provisioning.pipeline_models import RunStatus
from tests.lifecycle_support import run_pipeline, schema_exists, sector_names, seed


@pytest.fixture(autouse=True)
def _quick(platform, monkeypatch, tmp_path):
    monkeypatch.setattr(platform.settings, "archive_dir", str(tmp_path))
    monkeypatch.setattr(platform.settings, "provisioning_retry_delays", (0.0,))
    yield
    platform.resolver.clear()


def _decommission(app, slug):
    return run_pipeline(app, "decommission", slug, settle_seconds=0)


def _records(platform, tenant, action: str) -> list[dict]:
    with platform.shards.platform_session() as session:
        return [
            e.data
            for e in session.scalars(
                select(PlatformAuditEvent).where(
                    PlatformAuditEvent.entity == "tenant",
                    PlatformAuditEvent.entity_id == str(tenant.id),
                    PlatformAuditEvent.action == action,
                )
            )
        ]


def test_decommission_exports_archives_the_schema_and_hides_the_hosts(app, platform, client_for, make_tenant):
    unit = make_tenant()
    seed(app, platform, unit, sectors=3)
    assert client_for(unit).get("/").status_code == 200

    run = _decommission(app, unit.slug)

    assert run.status == RunStatus.DONE, run.error
    assert client_for(unit).get("/").status_code == 404
    assert client_for(unit).get("/api/v1/procedures").status_code == 404
    archived = run.data["archive_schema"]
    today = datetime.now(UTC).strftime("%Y%m%d")
    assert archived == f"archived_{unit.schema_name}_{today}"
    assert not schema_exists(platform, unit.shard, unit.schema_name)
    assert schema_exists(platform, unit.shard, archived)
    assert export.verify_archive(Path(run.data["archive_path"])) == []
    (record,) = _records(platform, unit, "decommission")
    assert record["archive_schema"] == archived and record["shard"] == unit.shard
    dropped_at = datetime.fromisoformat(record["drop_after"]) - datetime.fromisoformat(
        record["decommissioned_at"]
    )
    assert dropped_at == timedelta(days=platform.settings.decommission_retention_days)
    with platform.shards.platform_session() as session:
        listed = [a for a in decommission.list_archives(session) if a["slug"] == unit.slug]
    assert [a["archive_schema"] for a in listed] == [archived]


def test_the_retention_job_drops_only_expired_archives(app, platform, make_tenant, monkeypatch):
    expired, kept, live = make_tenant(), make_tenant(), make_tenant()
    monkeypatch.setattr(platform.settings, "decommission_retention_days", 0)
    expired_run = _decommission(app, expired.slug)
    monkeypatch.setattr(platform.settings, "decommission_retention_days", 365)
    kept_run = _decommission(app, kept.slug)

    with app.app_context():
        dropped = decommission.drop_expired_archives(platform.shards)

    assert expired_run.data["archive_schema"] in dropped
    assert kept_run.data["archive_schema"] not in dropped
    assert not schema_exists(platform, expired.shard, expired_run.data["archive_schema"])
    assert schema_exists(platform, kept.shard, kept_run.data["archive_schema"])
    assert schema_exists(platform, live.shard, live.schema_name)
    assert [r["archive_schema"] for r in _records(platform, expired, "archive_dropped")] == [
        expired_run.data["archive_schema"]
    ]
    with app.app_context():  # a second pass finds nothing more to drop
        assert expired_run.data["archive_schema"] not in decommission.drop_expired_archives(platform.shards)
    assert len(_records(platform, expired, "archive_dropped")) == 1
    # A year later the other one goes too.
    later = datetime.now(UTC) + timedelta(days=366)
    with app.app_context():
        assert kept_run.data["archive_schema"] in decommission.drop_expired_archives(
            platform.shards, now=later
        )


def test_a_failed_decommission_rolls_back_to_a_live_unit(app, platform, client_for, make_tenant, monkeypatch):
    unit = make_tenant()
    seed(app, platform, unit, sectors=2)
    calls = []

    def final_invoice(tenant, when):
        calls.append((tenant.slug, when))
        raise RuntimeError("billing is down")

    monkeypatch.setattr(decommission, "FINAL_INVOICE_HOOKS", [final_invoice])

    run = _decommission(app, unit.slug)

    assert run.status == RunStatus.FAILED and "billing is down" in run.error
    assert calls and calls[0][0] == unit.slug and calls[0][1].tzinfo is not None
    assert client_for(unit).get("/").status_code == 404  # archived until someone decides
    with app.app_context():
        with platform.shards.platform_session() as session, session.begin():
            pipeline.rollback_run(session, run.id, actor_label="test")
        assert pipeline.execute_run(run.id).status == RunStatus.ROLLED_BACK
    platform.resolver.clear()
    assert schema_exists(platform, unit.shard, unit.schema_name)
    assert not schema_exists(platform, unit.shard, run.data["archive_schema"])
    assert len(sector_names(platform, unit)) == 2
    assert client_for(unit).get("/").status_code == 200
    with app.app_context():  # the record of the rolled-back run drops nothing
        far = datetime.now(UTC) + timedelta(days=10_000)
        assert run.data["archive_schema"] not in decommission.drop_expired_archives(platform.shards, now=far)
    assert schema_exists(platform, unit.shard, unit.schema_name)


def test_a_unit_with_live_children_or_the_city_is_not_decommissioned(app, platform, make_tenant, city):
    district = make_tenant("district")
    make_tenant("commune", parent=district.slug)
    for slug in (district.slug, city.slug):
        with pytest.raises(DomainError) as refused:
            _decommission(app, slug)
        assert refused.value.status == 400
    assert schema_exists(platform, district.shard, district.schema_name)


def test_archive_names_stay_within_postgres_limits():
    day = datetime(2026, 11, 27, tzinfo=UTC)
    assert decommission.archive_schema_name("t_ngo_quyen", day) == "archived_t_ngo_quyen_20261127"
    long_name = decommission.archive_schema_name("t_" + "a" * 61, day)
    assert len(long_name) <= 63 and long_name.startswith("archived_") and long_name.endswith("_20261127")
    assert long_name != decommission.archive_schema_name("t_" + "a" * 60 + "b", day)


def test_decommission_steps_run_twice_then_undone_leave_the_unit_as_it_was(
    app, platform, client_for, make_tenant
):
    """Each step again after a lost record, then the rollback: the unit is live with its data."""
    from provisioning import lifecycle

    unit = make_tenant()
    seed(app, platform, unit, sectors=2)
    with app.app_context():
        ctx = pipeline.StepContext(
            run_id=800_000 + unit.id,
            kind="decommission",
            spec=None,
            tenant_slug=unit.slug,
            params={"settle_seconds": 0},
            data={},
            platform=platform,
        )
        for step in lifecycle.DECOMMISSION_STEPS:
            lost = dict(ctx.data)
            step.do(ctx)
            ctx.data = lost  # the first attempt's values were never persisted
            step.do(ctx)
        assert client_for(unit).get("/").status_code == 404
        assert len(_records(platform, unit, "decommission")) == 1
        for step in reversed(lifecycle.DECOMMISSION_STEPS):
            if step.undo is not None:
                step.undo(ctx)
                step.undo(ctx)
    platform.resolver.clear()
    assert schema_exists(platform, unit.shard, unit.schema_name)
    assert len(sector_names(platform, unit)) == 2
    assert client_for(unit).get("/").status_code == 200
