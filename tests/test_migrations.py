"""Migration trees: no drift from the models, fast-built schemas equal migrated ones,
and migrate-all is per-schema, resumable and ledger-driven."""

from __future__ import annotations

import shutil
import textwrap

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text, update

from app.core.db import MIGRATIONS_ROOT
from tenants import registry
from tenants.base import PLATFORM_SCHEMA, SHARD_SCHEMA, PlatformBase, ShardBase
from tenants.ddl import create_schema_at_head, unqualified_tenant_metadata
from tenants.migrations import Trees, migrate_tenants
from tenants.models import Tenant


def _diff_fixed(engine, metadata, schema):
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "include_schemas": True,
                "include_name": lambda name, type_, parents: type_ != "schema" or name == schema,
                "version_table_schema": schema,
                "compare_type": True,
                "compare_server_default": True,
            },
        )
        return compare_metadata(ctx, metadata)


def test_platform_and_shard_trees_match_the_models(platform):
    assert _diff_fixed(platform.shards.primary, PlatformBase.metadata, PLATFORM_SCHEMA) == []
    for shard in platform.shards.names:
        assert _diff_fixed(platform.shards.engine(shard), ShardBase.metadata, SHARD_SCHEMA) == []


def _migrate_step_by_step(conn, trees: Trees, schema: str) -> None:
    """Create ``schema`` empty and apply every tenant revision, one at a time (the slow way)."""
    conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    conn.exec_driver_sql(f"SET LOCAL search_path TO {schema}")
    cfg = trees.config("tenant")
    cfg.attributes["connection"] = conn
    revisions = list(trees.tenant_script.walk_revisions("base", "heads"))
    for rev in reversed(revisions):
        command.upgrade(cfg, rev.revision)
    conn.exec_driver_sql("SET LOCAL search_path TO DEFAULT")


def test_tenant_tree_matches_the_models(platform):
    with platform.shards.primary.connect() as conn, conn.begin() as trans:
        _migrate_step_by_step(conn, platform.trees, "t_drift_check")
        conn.exec_driver_sql("SET LOCAL search_path TO t_drift_check")
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(ctx, unqualified_tenant_metadata()) == []
        trans.rollback()


CATALOG_QUERIES = {
    "columns": """
        SELECT table_name, column_name, data_type, udt_name, is_nullable,
               replace(coalesce(column_default, ''), :schema || '.', ''),
               character_maximum_length, numeric_precision, numeric_scale
        FROM information_schema.columns WHERE table_schema = :schema""",
    "constraints": """
        SELECT c.relname, k.conname, k.contype, replace(pg_get_constraintdef(k.oid), :schema || '.', '')
        FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :schema""",
    "indexes": """
        SELECT tablename, indexname, replace(indexdef, :schema || '.', '')
        FROM pg_indexes WHERE schemaname = :schema""",
    "sequences": """
        SELECT sequence_name, data_type FROM information_schema.sequences WHERE sequence_schema = :schema""",
}


def _catalog(conn, schema: str) -> dict[str, list]:
    found = {
        k: sorted(tuple(r) for r in conn.execute(text(q), {"schema": schema}))
        for k, q in CATALOG_QUERIES.items()
    }
    found["version"] = [conn.exec_driver_sql(f"SELECT version_num FROM {schema}.alembic_version").scalar()]
    return found


def test_fast_schema_equals_one_migrated_revision_by_revision(platform):
    head = platform.trees.tenant_head
    with platform.shards.primary.connect() as conn, conn.begin() as trans:
        create_schema_at_head(conn, "t_fast_way", head)
        _migrate_step_by_step(conn, platform.trees, "t_slow_way")
        fast, slow = _catalog(conn, "t_fast_way"), _catalog(conn, "t_slow_way")
        trans.rollback()
    assert len(fast["columns"]) > 100 and len(fast["indexes"]) > 25
    for key in fast:
        assert fast[key] == slow[key], key


ADD_COLUMN = '''
"""add portal_ref to dossiers"""
from alembic import op
import sqlalchemy as sa

revision = "c0ffee000001"
down_revision = {down!r}
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("dossiers", sa.Column("portal_ref", sa.String(64), nullable=True))
    op.create_index("ix_dossiers_portal_ref", "dossiers", ["portal_ref"])


def downgrade():
    op.drop_index("ix_dossiers_portal_ref", "dossiers")
    op.drop_column("dossiers", "portal_ref")
'''

DATA_REVISION = '''
"""a data migration that needs the live connection"""
from alembic import op
import sqlalchemy as sa

revision = "c0ffee000002"
down_revision = "c0ffee000001"
branch_labels = None
depends_on = None
RENDERED_SQL = False  # computes from live rows: run online, per schema


def upgrade():
    bind = op.get_bind()
    count = bind.execute(sa.text("SELECT count(*) FROM dossiers")).scalar()
    bind.execute(sa.text("INSERT INTO tenant_settings (key, value) VALUES ('dossier_count', :v)"),
                 {"v": '{"n": %d}' % count})


def downgrade():
    pass
'''


@pytest.fixture
def extra_tree(platform, tmp_path):
    """A copy of the tenant tree with one additive revision on top of head."""
    target = tmp_path / "tenant"
    shutil.copytree(MIGRATIONS_ROOT / "tenant", target, ignore=shutil.ignore_patterns("__pycache__"))
    (target / "versions" / "c0ffee000001_portal_ref.py").write_text(
        textwrap.dedent(ADD_COLUMN.format(down=platform.trees.tenant_head))
    )
    return Trees(MIGRATIONS_ROOT, target)


@pytest.fixture
def scratch_tenants(make_tenant, platform):
    made = []

    def make(n: int):
        made.extend(make_tenant("department", shard="s2" if i == 1 else "main") for i in range(n))
        return made

    yield make
    for tenant in made:
        registry.drop_tenant(platform.shards, tenant.slug, archive_dir=None)


def _version(platform, tenant) -> str:
    with platform.shards.engine(tenant.shard).connect() as conn:
        return conn.exec_driver_sql(f"SELECT version_num FROM {tenant.schema_name}.alembic_version").scalar()


def _ledger(platform, tenant) -> str | None:
    with platform.shards.platform_session() as s:
        return s.get(Tenant, tenant.id).schema_revision


def _has_column(platform, tenant, column: str) -> bool:
    with platform.shards.engine(tenant.shard).connect() as conn:
        return bool(
            conn.scalar(
                text(
                    "SELECT count(*) FROM information_schema.columns "
                    "WHERE table_schema = :s AND table_name = 'dossiers' AND column_name = :c"
                ),
                {"s": tenant.schema_name, "c": column},
            )
        )


def test_failing_schema_is_left_behind_and_a_rerun_finishes_it(platform, extra_tree, scratch_tenants):
    tenants = scratch_tenants(4)
    slugs = [t.slug for t in tenants]
    old_head = platform.trees.tenant_head
    blocked = tenants[2]

    # Another transaction holds a lock on one schema's table: that schema times out.
    with platform.shards.engine(blocked.shard).connect() as holder, holder.begin():
        holder.exec_driver_sql(f"LOCK TABLE {blocked.schema_name}.dossiers IN ACCESS SHARE MODE")
        report = migrate_tenants(platform.shards, extra_tree, jobs=3, slugs=slugs, lock_timeout_ms=200)

    assert [r.slug for r in report.failed] == [blocked.slug], report.failed
    assert "lock timeout" in report.failed[0].error
    assert _version(platform, blocked) == old_head and _ledger(platform, blocked) == old_head
    assert not _has_column(platform, blocked, "portal_ref")
    for tenant in tenants:
        if tenant is not blocked:
            assert _version(platform, tenant) == "c0ffee000001" == _ledger(platform, tenant)
            assert _has_column(platform, tenant, "portal_ref")

    rerun = migrate_tenants(platform.shards, extra_tree, jobs=3, slugs=slugs)
    assert rerun.failed == []
    assert [r.slug for r in rerun.migrated] == [blocked.slug]
    assert rerun.skipped == 3  # the ledger said they were at head: not opened
    assert _version(platform, blocked) == "c0ffee000001" == _ledger(platform, blocked)
    assert _has_column(platform, blocked, "portal_ref")


def test_revision_needing_live_data_runs_online(platform, extra_tree, scratch_tenants):
    (extra_tree.tenant_dir / "versions" / "c0ffee000002_data.py").write_text(textwrap.dedent(DATA_REVISION))
    tenants = scratch_tenants(2)
    report = migrate_tenants(platform.shards, extra_tree, slugs=[t.slug for t in tenants])
    assert report.failed == [] and len(report.migrated) == 2, report.results
    with platform.shards.engine(tenants[0].shard).connect() as conn:
        value = conn.exec_driver_sql(
            f"SELECT value FROM {tenants[0].schema_name}.tenant_settings WHERE key = 'dossier_count'"
        ).scalar()
    assert value == {"n": 0}
    assert _version(platform, tenants[0]) == "c0ffee000002"


def test_ledger_lag_is_reconciled_and_heads_are_not_opened(platform, scratch_tenants):
    lagging, at_head = scratch_tenants(2)
    head = platform.trees.tenant_head
    with platform.shards.primary.begin() as conn:
        conn.execute(update(Tenant).where(Tenant.id == lagging.id).values(schema_revision=None))
    # Break the other schema: if migrate opened it, it would fail.
    with platform.shards.engine(at_head.shard).begin() as conn:
        conn.exec_driver_sql(f"ALTER TABLE {at_head.schema_name}.alembic_version RENAME TO hidden_version")
    try:
        report = migrate_tenants(platform.shards, platform.trees, slugs=[lagging.slug, at_head.slug])
        assert report.failed == [] and report.skipped == 1
        assert [r.slug for r in report.checked] == [lagging.slug]
        assert _ledger(platform, lagging) == head

        opened = migrate_tenants(platform.shards, platform.trees, slugs=[at_head.slug], check_all=True)
        assert [r.slug for r in opened.failed] == [at_head.slug]
    finally:
        with platform.shards.engine(at_head.shard).begin() as conn:
            conn.exec_driver_sql(
                f"ALTER TABLE {at_head.schema_name}.hidden_version RENAME TO alembic_version"
            )


def test_migrate_cli_reports_and_exits_cleanly(app, scratch_tenants):
    scratch_tenants(1)
    result = app.test_cli_runner().invoke(args=["tenants", "migrate", "--jobs", "2"])
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output
