"""Shared set-up of the lifecycle tests: a unit with rows, attachments and a member."""

from __future__ import annotations

from sqlalchemy import select

from app.catalog.models import Sector
from app.core.storage import get_storage
from provisioning import lifecycle, pipeline  # noqa: F401  (lifecycle registers its pipelines)
from provisioning.pipeline_models import ProvisioningRun
from tests.test_auth_support import make_account


def seed(app, platform, tenant, *, sectors: int = 3) -> dict:
    """Rows (sectors named after the unit), two stored files and a member; returns what was made."""
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session, session.begin():
        for n in range(sectors):
            session.add(Sector(code=f"{tenant.slug}-{n}", name=f"Lĩnh vực của {tenant.slug} số {n}"))
    with app.app_context():
        storage = get_storage()
        files = {
            f"{tenant.slug}/dossiers/HS-1/giay-to.pdf": f"%PDF of {tenant.slug}".encode(),
            f"{tenant.slug}/receipts/bien-nhan.txt": f"receipt of {tenant.slug}".encode(),
        }
        for key, data in files.items():
            storage.put(key, data, "application/octet-stream")
    account = make_account(platform, memberships=[(tenant, ["counter_officer"])])
    return {"sectors": sectors, "files": files, "account": account}


def sector_names(platform, tenant, shard: str | None = None) -> list[str]:
    with platform.shards.tenant_session(shard or tenant.shard, tenant.schema_name) as session:
        return sorted(session.scalars(select(Sector.name)))


def schema_exists(platform, shard: str, schema: str) -> bool:
    with platform.shards.engine(shard).connect() as conn:
        return bool(
            conn.exec_driver_sql("SELECT 1 FROM pg_namespace WHERE nspname = %(s)s", {"s": schema}).scalar()
        )


def run_pipeline(app, kind: str, slug: str, **params) -> ProvisioningRun:
    """Create and execute a run in this process (as the CLI does); returns the finished run."""
    platform = app.extensions["motcua"]
    with app.app_context():
        with platform.shards.platform_session() as session, session.begin():
            run = pipeline.create_run(session, kind, tenant_slug=slug, params=params, actor_label="test")
        return pipeline.execute_run(run.id)
