"""Decommission a unit (giải thể / ngừng sử dụng): archive its schema out of the live path, drop it later.

The pipeline (provisioning/lifecycle.py) exports the unit first, then marks it
``archived`` (its hosts answer 404, its jobs are refused, migrations skip it) and
renames its schema to ``archived_<schema>_<yyyymmdd>``: nothing that builds
``t_<slug>`` can reach it any more, yet the data stays where it was for the retention
period (``DECOMMISSION_RETENTION_DAYS``). The record of that is a platform audit event
(entity ``tenant``, action ``decommission``) holding the archive schema's name, its
shard, the export's path and the drop-after date; ``drop_expired_archives`` (a
periodic job) drops schemas whose date has passed, deletes the unit's stored files
(keys under ``<slug>/``) and the decommission export folder, and records
``archive_dropped``.

``FINAL_INVOICE_HOOKS`` is where billing (#6) plugs in the unit's last invoice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import String, select
from sqlalchemy.orm import Session

from app.audit.platform import record
from app.audit.platform_models import PlatformAuditEvent
from app.core.storage import Storage
from billing import invoices, service_periods
from provisioning.export import MANIFEST, list_keys
from provisioning.onboarding_models import OnboardingRequest, RequestStatus
from provisioning.pipeline_models import ProvisioningRun, RunStatus
from tenants.ddl import quote_schema
from tenants.engines import ShardEngines
from tenants.models import Tenant, TenantStatus
from tenants.registry import TenantError

log = logging.getLogger("motcua.lifecycle")

AUDIT_ACTION = "decommission"
DROPPED_ACTION = "archive_dropped"
ARCHIVE_PREFIX = "archived_"
MAX_IDENTIFIER = 63  # PostgreSQL's NAMEDATALEN - 1

# Called as hook(tenant, decommissioned_at) once the unit is archived, in order; billing (#6)
# plugs in here (billing may not import provisioning, so the list names billing's functions).
# A hook that raises fails the step (and is retried), so hooks must be idempotent.
# end_service: the unit's service period ends on the decommission day (not billed);
# final_invoice_for_decommission: then the draft of the unit's last period is recomputed.
FinalInvoiceHook = Callable[[Tenant, datetime], None]
FINAL_INVOICE_HOOKS: list[FinalInvoiceHook] = [
    service_periods.end_service,
    invoices.final_invoice_for_decommission,
]


def archive_schema_name(schema: str, day: datetime) -> str:
    """``archived_<schema>_<yyyymmdd>``, or a hashed form when that passes 63 characters."""
    stamp = day.strftime("%Y%m%d")
    name = f"{ARCHIVE_PREFIX}{schema}_{stamp}"
    if len(name) <= MAX_IDENTIFIER:
        return name
    digest = hashlib.sha256(schema.encode()).hexdigest()[:16]
    return f"{ARCHIVE_PREFIX}{schema[: MAX_IDENTIFIER - len(ARCHIVE_PREFIX) - 27]}_{digest}_{stamp}"


def schema_exists(shards: ShardEngines, shard: str, schema: str) -> bool:
    with shards.engine(shard).connect() as conn:
        return bool(
            conn.exec_driver_sql("SELECT 1 FROM pg_namespace WHERE nspname = %(s)s", {"s": schema}).scalar()
        )


def rename_schema(shards: ShardEngines, shard: str, old: str, new: str) -> None:
    """Rename ``old`` to ``new``; done already (``new`` there, ``old`` gone) is fine."""
    with shards.engine(shard).begin() as conn:
        names = {
            name
            for (name,) in conn.exec_driver_sql(
                "SELECT nspname FROM pg_namespace WHERE nspname IN (%(a)s, %(b)s)", {"a": old, "b": new}
            )
        }
        if old in names and new in names:
            raise TenantError(f"Cả hai schema {old!r} và {new!r} đều tồn tại / both schemas exist")
        if old in names:
            conn.exec_driver_sql(f"ALTER SCHEMA {quote_schema(old)} RENAME TO {quote_schema(new)}")
        elif new not in names:
            raise TenantError(f"Không có schema / neither {old!r} nor {new!r} exists on shard {shard!r}")
    shards.forget_schema(old)
    shards.forget_schema(new)


def check_can_decommission(session: Session, tenant: Tenant) -> None:
    children = session.scalars(
        select(Tenant.slug).where(Tenant.parent_id == tenant.id, Tenant.status != TenantStatus.ARCHIVED)
    ).all()
    if children:
        raise TenantError(
            f"Đơn vị {tenant.slug!r} còn đơn vị trực thuộc đang hoạt động / has live child units: "
            f"{', '.join(children)}"
        )
    if tenant.kind == "city":
        raise TenantError(
            "Không thể giải thể đơn vị cấp thành phố / the city itself cannot be decommissioned"
        )
    _check_no_child_on_the_way(session, tenant)


def _check_no_child_on_the_way(session: Session, tenant: Tenant) -> None:
    """No unit is being made under this one: an approved request or a provision run naming it parent."""
    requests = session.scalars(
        select(OnboardingRequest.id).where(
            OnboardingRequest.parent_slug == tenant.slug,
            OnboardingRequest.status.in_([RequestStatus.APPROVED, RequestStatus.PROVISIONING]),
        )
    ).all()
    runs = session.scalars(
        select(ProvisioningRun.id).where(
            ProvisioningRun.kind == "provision",
            ProvisioningRun.status.not_in([RunStatus.DONE, RunStatus.ROLLED_BACK]),
            ProvisioningRun.spec["parent_slug"].astext == tenant.slug,
        )
    ).all()
    if requests or runs:
        what = [f"request #{i}" for i in requests] + [f"run #{i}" for i in runs]
        raise TenantError(
            f"Đang khởi tạo đơn vị trực thuộc {tenant.slug!r}; hãy hoàn tất hoặc hoàn tác trước / "
            f"units are being provisioned under {tenant.slug!r} ({', '.join(what)}): finish or roll "
            "them back first"
        )


def record_decommission(
    session: Session,
    tenant: Tenant,
    *,
    archive_schema: str,
    archive_path: str | None,
    decommissioned_at: datetime,
    retention_days: int,
    actor_label: str | None = None,
    run_id: int | None = None,
) -> datetime:
    """The lasting record of an archived schema (read by ``drop_expired_archives``); returns drop-after."""
    drop_after = decommissioned_at + timedelta(days=retention_days)
    record(
        session,
        entity="tenant",
        entity_id=tenant.id,
        action=AUDIT_ACTION,
        actor_label=actor_label,
        data={
            "slug": tenant.slug,
            "schema": tenant.schema_name,
            "archive_schema": archive_schema,
            "shard": tenant.shard,
            "archive_path": archive_path,
            "decommissioned_at": decommissioned_at.isoformat(),
            "drop_after": drop_after.isoformat(),
            "run_id": run_id,
        },
    )
    return drop_after


def run_final_invoice_hooks(tenant: Tenant, decommissioned_at: datetime) -> None:
    for hook in list(FINAL_INVOICE_HOOKS):
        hook(tenant, decommissioned_at)


def list_archives(session: Session) -> list[dict]:
    """Every decommission record of a unit still archived, newest first, with whether it was dropped."""
    dropped = {
        (e.entity_id, e.data.get("archive_schema"))
        for e in session.scalars(
            select(PlatformAuditEvent).where(
                PlatformAuditEvent.entity == "tenant", PlatformAuditEvent.action == DROPPED_ACTION
            )
        )
    }
    rows = session.execute(
        select(PlatformAuditEvent, Tenant)
        .join(Tenant, Tenant.id.cast(String) == PlatformAuditEvent.entity_id)
        .where(
            PlatformAuditEvent.entity == "tenant",
            PlatformAuditEvent.action == AUDIT_ACTION,
            Tenant.status == TenantStatus.ARCHIVED,
        )
        .order_by(PlatformAuditEvent.id.desc())
    )
    return [
        {
            "tenant_id": tenant.id,
            "slug": tenant.slug,
            **event.data,
            "dropped": (event.entity_id, event.data.get("archive_schema")) in dropped,
        }
        for event, tenant in rows
    ]


def delete_files(storage: Storage, slug: str) -> int:
    """Delete every stored object of ``slug`` (keys under ``<slug>/``); returns how many."""
    keys = list_keys(storage, slug)
    for key in keys:
        storage.delete(key)
    return len(keys)


def delete_export(path: str | None, slug: str) -> bool:
    """Delete the decommission export folder (and its .tar.gz) if it is this unit's export."""
    if not path:
        return False
    folder = Path(path)
    manifest = folder / MANIFEST
    try:
        ours = json.loads(manifest.read_text(encoding="utf-8")).get("tenant") == slug
    except (OSError, ValueError):
        ours = False
    deleted = False
    if ours:  # never remove a folder that is not this unit's export
        shutil.rmtree(folder)
        deleted = True
    tarball = folder.with_name(folder.name + ".tar.gz")
    if folder.name and tarball.is_file():
        tarball.unlink()
        deleted = True
    return deleted


def drop_expired_archives(
    shards: ShardEngines, *, storage: Storage | None = None, now: datetime | None = None
) -> list[str]:
    """Drop archived schemas whose retention has passed, with the unit's stored files and its
    decommission export (audited); returns the schemas' names.

    Only units still ``archived`` count, and only schemas named by their record, so a
    rolled-back decommission (schema renamed back, unit live again) is never touched.
    Without ``storage`` the app's configured storage is used.
    """
    if storage is None:
        from app.core.storage import get_storage

        storage = get_storage()
    now = now or datetime.now(UTC)
    with shards.platform_session() as session:
        due = [
            a
            for a in list_archives(session)
            if not a["dropped"] and datetime.fromisoformat(a["drop_after"]) <= now
        ]
    dropped: list[str] = []
    for archive in due:
        name, shard = archive["archive_schema"], archive["shard"]
        if not name.startswith(ARCHIVE_PREFIX):  # never drop anything but an archive
            continue
        existed = schema_exists(shards, shard, name)
        if existed:
            with shards.engine(shard).begin() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {quote_schema(name)} CASCADE")
            shards.forget_schema(name)
        # Files first, the record last: a failure here leaves the archive due, so the next run retries.
        files = delete_files(storage, archive["slug"])
        export_deleted = delete_export(archive.get("archive_path"), archive["slug"])
        with shards.platform_session() as session, session.begin():
            record(
                session,
                entity="tenant",
                entity_id=archive["tenant_id"],
                action=DROPPED_ACTION,
                actor_label="retention job",
                data={
                    "slug": archive["slug"],
                    "archive_schema": name,
                    "shard": shard,
                    "drop_after": archive["drop_after"],
                    "existed": existed,
                    "files_deleted": files,
                    "archive_path": archive.get("archive_path"),
                    "export_deleted": export_deleted,
                },
            )
        log.info("dropped archived schema %s of %s (shard %s)", name, archive["slug"], shard)
        dropped.append(name)
    return dropped
