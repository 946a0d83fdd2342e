"""Regressions from the review of the lifecycle code (issue #5): a move to the same database,
passwords on command lines, an UPDATE lost by a move, an over-long suspension reason, files
left after the retention drop, and units made under (or decommissioned from beneath) a parent."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from app import create_app
from app.audit.platform_models import PlatformAuditEvent
from app.catalog.models import Sector
from app.core.errors import DomainError
from app.core.storage import get_storage
from provisioning import decommission, export, lifecycle, pipeline, shard_move
from provisioning.onboarding_models import OnboardingRequest
from provisioning.pipeline_models import ProvisioningRun, RunStatus
from provisioning.suspension import REASON_MAX_CHARS
from tenants import registry
from tenants.libpq import libpq_target
from tenants.registry import TenantError, get_tenant
from tests.conftest import app_config
from tests.factories import next_unit_code
from tests.lifecycle_support import run_pipeline, schema_exists, sector_names, seed
from tests.test_auth_support import TEST_CSRF, make_account, sign_in_directly


@pytest.fixture(autouse=True)
def _quick(platform, monkeypatch, tmp_path):
    monkeypatch.setattr(platform.settings, "archive_dir", str(tmp_path))
    monkeypatch.setattr(platform.settings, "provisioning_retry_delays", (0.0,))
    yield
    platform.resolver.clear()


def _runs(platform, slug) -> list[ProvisioningRun]:
    with platform.shards.platform_session() as session:
        return list(session.scalars(select(ProvisioningRun).where(ProvisioningRun.tenant_slug == slug)))


def _registry(platform, slug):
    with platform.shards.platform_session() as session:
        tenant = get_tenant(session, slug)
        return tenant.shard, tenant.status


def _context(app, slug: str, params: dict, run_id: int) -> pipeline.StepContext:
    return pipeline.StepContext(
        run_id=run_id,
        kind="move",
        spec=None,
        tenant_slug=slug,
        params=params,
        data={},
        platform=app.extensions["motcua"],
    )


# -- 1. a move to a shard that is the same database -------------------------------------------------


@pytest.fixture
def aliased_app(services, tmp_path):
    """An app whose shard "s3" is another name for the main database."""
    application = create_app(
        app_config(
            services,
            shard_urls={"s2": services["shard2_url"], "s3": services["database_url"]},
        )
    )
    application.testing = True
    yield application
    application.extensions["motcua"].shards.dispose()


def test_a_move_to_a_shard_that_is_the_same_database_is_refused(app, aliased_app, platform, make_tenant):
    unit = make_tenant()
    seed(app, platform, unit, sectors=2)
    before = sector_names(platform, unit)
    aliased = aliased_app.extensions["motcua"]

    with pytest.raises(DomainError) as refused:
        run_pipeline(aliased_app, "move", unit.slug, to="s3", settle_seconds=0)

    assert refused.value.status == 400
    assert "same database" in refused.value.en
    assert _runs(platform, unit.slug) == []
    assert _registry(platform, unit.slug) == ("main", "active")
    assert sector_names(platform, unit) == before
    # The import step checks again (a run made before the alias was configured).
    with aliased_app.app_context():
        ctx = _context(aliased_app, unit.slug, {"to": "s3", "settle_seconds": 0}, run_id=910_000 + unit.id)
        ctx.data["archive_path"] = "/nonexistent"
        with pytest.raises(TenantError, match="same database"):
            lifecycle.move_import_do(ctx)
    assert schema_exists(platform, "main", unit.schema_name)
    assert sector_names(platform, unit) == before
    # Two names for one database are the same database; two databases are not.
    assert shard_move.database_identity(aliased.shards, "s3") == shard_move.database_identity(
        aliased.shards, "main"
    )
    assert shard_move.database_identity(aliased.shards, "s2") != shard_move.database_identity(
        aliased.shards, "main"
    )


def _foreign_schema(platform, schema: str) -> None:
    with platform.shards.engine("s2").begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        conn.exec_driver_sql(f'CREATE TABLE "{schema}".keep (note text)')
        conn.exec_driver_sql(f"INSERT INTO \"{schema}\".keep VALUES ('not yours')")


def _foreign_rows(platform, schema: str) -> list[str]:
    with platform.shards.engine("s2").connect() as conn:
        return [n for (n,) in conn.exec_driver_sql(f'SELECT note FROM "{schema}".keep')]


def test_a_schema_already_on_the_target_is_never_overwritten_nor_dropped(app, platform, make_tenant):
    unit = make_tenant()
    seed(app, platform, unit, sectors=1)
    _foreign_schema(platform, unit.schema_name)
    try:
        with pytest.raises(DomainError) as refused:
            run_pipeline(app, "move", unit.slug, to="s2", settle_seconds=0)
        assert refused.value.status == 400
        assert _runs(platform, unit.slug) == []

        # A run that got past the check (the schema appeared later): the import refuses, its undo
        # (a rollback undoes the failed step too) leaves the schema alone.
        with app.app_context():
            ctx = _context(app, unit.slug, {"to": "s2", "settle_seconds": 0}, run_id=920_000 + unit.id)
            lifecycle.move_suspend_do(ctx)
            lifecycle.move_export_do(ctx)
            with pytest.raises(TenantError, match="did not create"):
                lifecycle.move_import_do(ctx)
            lifecycle.move_import_undo(ctx)
            lifecycle._restore_status(ctx)
        assert _foreign_rows(platform, unit.schema_name) == ["not yours"]
        assert _registry(platform, unit.slug) == ("main", "active")
        assert len(sector_names(platform, unit)) == 1
    finally:
        with platform.shards.engine("s2").begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{unit.schema_name}" CASCADE')


# -- 2. no password on a command line ----------------------------------------------------------------


def test_libpq_tools_get_the_password_in_their_environment_not_their_arguments():
    dsn, env = libpq_target("postgresql+psycopg://motcua:s3cr%40t-pw@db.example:6543/motcua?sslmode=require")

    assert "s3cr" not in dsn and "pw" not in dsn
    assert dsn == "postgresql://motcua@db.example:6543/motcua?sslmode=require"
    assert env["PGPASSWORD"] == "s3cr@t-pw"
    # A password given as a query parameter is moved too.
    dsn, env = libpq_target("postgresql://motcua@db.example/motcua?password=hidden")
    assert "hidden" not in dsn and env["PGPASSWORD"] == "hidden"


def test_no_caller_builds_a_libpq_dsn_with_the_password():
    root = Path(__file__).resolve().parents[1]
    for path in ("provisioning/export.py", "provisioning/shard_move.py", "tenants/registry.py"):
        assert "hide_password=False" not in (root / path).read_text(encoding="utf-8"), path


# -- 3. an UPDATE after the export is caught by the verify step -------------------------------------


def test_the_verify_step_refuses_a_copy_whose_content_differs(app, platform, make_tenant):
    unit = make_tenant()
    seed(app, platform, unit, sectors=3)
    with app.app_context():
        ctx = _context(app, unit.slug, {"to": "s2", "settle_seconds": 0}, run_id=930_000 + unit.id)
        lifecycle.move_suspend_do(ctx)
        lifecycle.move_export_do(ctx)
        lifecycle.move_import_do(ctx)
        # Same row counts, one row changed on the source after the export.
        with platform.shards.tenant_session("main", unit.schema_name) as session, session.begin():
            session.execute(
                update(Sector).where(Sector.code == f"{unit.slug}-1").values(name="đổi sau khi xuất")
            )
        with pytest.raises(TenantError, match="differs") as refused:
            lifecycle.move_verify_do(ctx)
        assert "sectors" in str(refused.value)
        lifecycle.move_import_undo(ctx)
        lifecycle._restore_status(ctx)
    assert _registry(platform, unit.slug) == ("main", "active")
    assert "đổi sau khi xuất" in sector_names(platform, unit)
    assert not schema_exists(platform, "s2", unit.schema_name)


def test_checksums_of_empty_and_equal_tables_match(app, platform, make_tenant):
    unit = make_tenant()
    with platform.shards.engine("main").connect() as conn:
        sums = shard_move.table_checksums(conn, unit.schema_name)
    assert sums["sectors"] == (0, "")
    seed(app, platform, unit, sectors=2)
    with platform.shards.engine("main").connect() as conn:
        count, digest = shard_move.table_checksums(conn, unit.schema_name)["sectors"]
    assert count == 2 and len(digest) == 32


# -- 4. an over-long suspension reason is a 4xx and starts nothing ----------------------------------


@pytest.fixture
def console(client_for, platform):
    ops = make_account(platform, platform_roles=["provider_ops"])
    client = client_for(host="admin.localhost")
    sign_in_directly(client, ops, site="console")
    return client


def test_a_too_long_suspension_reason_is_refused_and_creates_no_run(console, platform, make_tenant):
    unit = make_tenant()
    response = console.post(
        f"/tenants/{unit.slug}/lifecycle/suspend",
        data={"csrf_token": TEST_CSRF, "reason": "x" * (REASON_MAX_CHARS + 1)},
    )
    assert response.status_code == 400
    assert "quá dài" in response.text
    assert _runs(platform, unit.slug) == []
    assert _registry(platform, unit.slug) == ("main", "active")


def test_control_characters_are_taken_out_of_the_reason(console, platform, make_tenant):
    unit = make_tenant()
    response = console.post(
        f"/tenants/{unit.slug}/lifecycle/suspend",
        data={"csrf_token": TEST_CSRF, "reason": "Bảo\x00 trì\x07\r\nhệ thống"},
    )
    assert response.status_code == 302
    (run,) = _runs(platform, unit.slug)
    assert run.params["reason"] == "Bảo trì  hệ thống"


# -- 5. the retention drop removes the unit's files and its export ----------------------------------


def test_the_retention_drop_deletes_the_attachments_and_the_export(app, platform, make_tenant, monkeypatch):
    unit, neighbour = make_tenant(), make_tenant()
    made = seed(app, platform, unit, sectors=1)
    kept = seed(app, platform, neighbour, sectors=1)
    monkeypatch.setattr(platform.settings, "decommission_retention_days", 0)
    run = run_pipeline(app, "decommission", unit.slug, settle_seconds=0)
    assert run.status == RunStatus.DONE, run.error
    archive = Path(run.data["archive_path"])
    with app.app_context():
        storage = get_storage()
        assert export.list_keys(storage, unit.slug) == sorted(made["files"])
        assert archive.is_dir()

        assert run.data["archive_schema"] in decommission.drop_expired_archives(platform.shards)

        assert export.list_keys(storage, unit.slug) == []
        assert export.list_keys(storage, neighbour.slug) == sorted(kept["files"])
    assert not archive.exists()
    with platform.shards.platform_session() as session:
        (dropped,) = session.scalars(
            select(PlatformAuditEvent.data).where(
                PlatformAuditEvent.entity_id == str(unit.id), PlatformAuditEvent.action == "archive_dropped"
            )
        ).all()
    assert dropped["files_deleted"] == 2
    assert dropped["export_deleted"] is True and dropped["archive_path"] == str(archive)


# -- 6. parents: new units need an active one; a parent with units on the way stays -----------------


@pytest.mark.parametrize("status", ["suspended", "provisioning"])
def test_a_unit_cannot_be_created_under_a_parent_that_is_not_active(platform, make_tenant, status):
    district = make_tenant("district")
    with platform.shards.platform_session() as session, session.begin():
        get_tenant(session, district.slug).status = status
    with pytest.raises(TenantError, match="active parent"):
        registry.create_tenant(
            platform.shards,
            platform.trees.tenant_head,
            name=f"Xã dưới {district.slug}",
            kind="commune",
            unit_code=next_unit_code(),
            parent=district.slug,
        )
    with platform.shards.platform_session() as session:
        assert registry.list_tenants(session, parent=district.slug) == []


def _request(parent_slug: str, status: str) -> OnboardingRequest:
    from datetime import UTC, datetime

    return OnboardingRequest(
        name="Xã Mới",
        name_key="xa-moi",
        kind="commune",
        parent_slug=parent_slug,
        unit_code="999.99.99.H99",
        contact_name="Nguyễn Văn A",
        contact_position="Chủ tịch",
        contact_email="a@example.vn",
        contact_phone="0900000000",
        slug=f"{parent_slug[:30]}-moi",
        theme="trang-trong",
        terms_version="1",
        terms_accepted_at=datetime.now(UTC),
        status=status,
    )


@pytest.mark.parametrize("what", ["run", "request"])
def test_a_parent_is_not_decommissioned_while_a_unit_is_being_made_under_it(app, platform, make_tenant, what):
    district = make_tenant("district")
    with platform.shards.platform_session() as session, session.begin():
        if what == "run":
            row = ProvisioningRun(
                kind="provision",
                tenant_slug=f"{district.slug[:30]}-moi",
                spec={"slug": f"{district.slug[:30]}-moi", "parent_slug": district.slug},
                status=RunStatus.FAILED.value,
            )
        else:
            row = _request(district.slug, "approved")
        session.add(row)
    try:
        with pytest.raises(DomainError) as refused:
            run_pipeline(app, "decommission", district.slug, settle_seconds=0)
        assert refused.value.status == 400
        assert _runs(platform, district.slug) == []
        assert _registry(platform, district.slug) == ("main", "active")
        # Once it is over (rolled back / live) the parent may go.
        with platform.shards.platform_session() as session, session.begin():
            done = session.get(type(row), row.id)
            done.status = "rolled_back" if what == "run" else "live"
        with platform.shards.platform_session() as session:
            decommission.check_can_decommission(session, get_tenant(session, district.slug))
    finally:
        with platform.shards.platform_session() as session, session.begin():
            session.delete(session.get(type(row), row.id))
