"""The lifecycle pipelines of a unit: suspend, resume, export, decommission, move.

Each operation is a plain function in its own module (suspension, export,
decommission, shard_move) and a pipeline here, so every run is recorded, retried,
resumable and can be rolled back like a provisioning run (provisioning/pipeline.py).
Steps are idempotent: a step run twice (a retry, a worker killed after the step's
work committed but before the run recorded it) does the same as once.

Run parameters (``create_run(..., params=...)``):

- suspend: ``reason`` (required)
- move: ``to`` (the target shard, required)
- suspend, move, decommission: ``settle_seconds`` — how long to wait after the status
  change before touching the schema, so web processes' host caches (HostResolver, 5 s)
  and requests in flight see it first; default the resolver's TTL + 1 s.
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.audit.platform import record
from app.audit.platform_models import PlatformAuditEvent
from app.core.errors import DomainError
from app.core.outbox import TENANT_SUSPENDED, kick_relay
from app.core.outbox_models import OutboxEvent
from app.core.scheduler import register_periodic
from app.core.storage import get_storage
from billing import service_periods
from provisioning import decommission, export, shard_move, suspension, usage_move
from provisioning.pipeline import Step, StepContext, register_pipeline
from tenants.models import TenantStatus
from tenants.registry import TenantError, TenantNotFound, get_tenant

MOVE_REASON = "Đang chuyển dữ liệu sang máy chủ khác / moving to another database shard"
DECOMMISSION_REASON = "Đã giải thể / decommissioned"
RETENTION_JOB_SECONDS = 3600


def _shards(ctx: StepContext):
    return ctx.platform.shards


def _actor(ctx: StepContext) -> str:
    return f"run #{ctx.run_id}"


def _forget_hosts(ctx: StepContext) -> None:
    """This process sees the new status at once; others within the resolver's TTL."""
    ctx.platform.resolver.clear()


def _settle(ctx: StepContext) -> None:
    seconds = ctx.params.get("settle_seconds")
    seconds = float(ctx.platform.resolver.ttl + 1 if seconds is None else seconds)
    if seconds > 0:
        ctx.progress(f"chờ {seconds:g} s để mọi máy chủ web thấy trạng thái mới / settling")
        time.sleep(seconds)


def _archive_dir(ctx: StepContext) -> Path:
    path = Path(ctx.platform.settings.archive_dir)
    return path if path.is_absolute() else Path(__file__).resolve().parents[1] / path


def as_domain_error(error: TenantError) -> DomainError:
    """The registry's "vi / en" message as the app's bilingual error (400, or 404 for an unknown unit)."""
    vi, _, en = str(error).partition(" / ")
    return DomainError(vi, en or vi, status=404 if isinstance(error, TenantNotFound) else 400)


def _checked(check):
    """A pipeline's input check whose registry errors reach people as 4xx, never as a 500."""

    def run(session: Session, spec, tenant_slug, params) -> None:
        try:
            check(session, spec, tenant_slug, params)
        except TenantError as error:
            raise as_domain_error(error) from None

    return run


def _check_slug(session: Session, spec, tenant_slug: str | None, params: dict[str, Any]) -> None:
    if not tenant_slug:
        raise TenantError("Cần chỉ rõ đơn vị / a tenant slug is required")
    get_tenant(session, tenant_slug)


# -- suspend / resume ------------------------------------------------------------------------------


def _check_suspend(session: Session, spec, tenant_slug, params) -> None:
    _check_slug(session, spec, tenant_slug, params)
    # The same rules as suspend_tenant, here so a bad reason is a 4xx and no run is made.
    params["reason"] = suspension.clean_reason(params.get("reason"))
    tenant = get_tenant(session, tenant_slug)
    if tenant.status not in (TenantStatus.ACTIVE, TenantStatus.SUSPENDED):
        raise TenantError(f"Không thể tạm ngừng đơn vị ở trạng thái {tenant.status} / cannot suspend it")


def _remember_previous(ctx: StepContext, session: Session, tenant, action: str) -> None:
    """Keep the status the unit had before this run changed it, for the undo.

    An earlier attempt of this step may have changed it already (a worker killed after
    the commit, before the run recorded the step): its audit row still says what it was.
    """
    if "previous_status" in ctx.data:
        return
    earlier = session.scalar(
        select(PlatformAuditEvent.data)
        .where(
            PlatformAuditEvent.entity == "tenant",
            PlatformAuditEvent.entity_id == str(tenant.id),
            PlatformAuditEvent.action == action,
            PlatformAuditEvent.actor_label == _actor(ctx),
        )
        .order_by(PlatformAuditEvent.id)
        .limit(1)
    )
    if earlier is not None:
        ctx.data["previous_status"] = earlier.get("previous_status")
        ctx.data["previous_reason"] = earlier.get("previous_reason")
    else:
        ctx.data["previous_status"] = tenant.status
        ctx.data["previous_reason"] = tenant.status_reason


def suspend_do(ctx: StepContext) -> None:
    with _shards(ctx).platform_session() as session, session.begin():
        tenant = get_tenant(session, ctx.tenant_slug)
        _remember_previous(ctx, session, tenant, "suspend")
        suspension.suspend_tenant(
            session, ctx.tenant_slug, reason=ctx.params["reason"], actor_label=_actor(ctx)
        )
    _forget_hosts(ctx)


def suspend_undo(ctx: StepContext) -> None:
    if ctx.data.get("previous_status") != TenantStatus.ACTIVE:
        return  # it was suspended before this run: leave it so
    with _shards(ctx).platform_session() as session, session.begin():
        suspension.resume_tenant(session, ctx.tenant_slug, actor_label=_actor(ctx))
    _forget_hosts(ctx)


def _check_resume(session: Session, spec, tenant_slug, params) -> None:
    _check_slug(session, spec, tenant_slug, params)
    tenant = get_tenant(session, tenant_slug)
    if tenant.status not in (TenantStatus.ACTIVE, TenantStatus.SUSPENDED):
        raise TenantError(f"Không thể khôi phục đơn vị ở trạng thái {tenant.status} / cannot resume it")


def resume_do(ctx: StepContext) -> None:
    with _shards(ctx).platform_session() as session, session.begin():
        tenant = get_tenant(session, ctx.tenant_slug)
        if tenant.status == TenantStatus.SUSPENDED:
            ctx.data.setdefault("suspended_for", tenant.status_reason)
        suspension.resume_tenant(session, ctx.tenant_slug, actor_label=_actor(ctx))
    _forget_hosts(ctx)


def resume_undo(ctx: StepContext) -> None:
    reason = ctx.data.get("suspended_for")
    if not reason:
        return
    with _shards(ctx).platform_session() as session, session.begin():
        suspension.suspend_tenant(session, ctx.tenant_slug, reason=reason, actor_label=_actor(ctx))
    _forget_hosts(ctx)


def release_outbox_do(ctx: StepContext) -> None:
    """Events held while suspended are due now (instead of at their next hold check)."""
    release_held_events(ctx.platform, ctx.tenant_slug)


def release_held_events(platform, slug: str) -> int:
    with platform.shards.platform_session() as session:
        tenant_id = get_tenant(session, slug).id
    released = 0
    for shard in platform.shards.names:
        with Session(platform.shards.engine(shard)) as session, session.begin():
            result = session.execute(
                update(OutboxEvent)
                .where(
                    OutboxEvent.tenant_id == tenant_id,
                    OutboxEvent.delivered_at.is_(None),
                    OutboxEvent.last_error == TENANT_SUSPENDED,
                )
                .values(next_attempt_at=datetime.now(UTC), last_error=None)
            )
            released += result.rowcount or 0
        if result.rowcount:
            kick_relay(shard)
    return released


# -- export --------------------------------------------------------------------------------------


def _export_into(ctx: StepContext, purpose: str) -> None:
    # One folder per run: a retry rewrites the same folder instead of leaving a second one.
    target = _archive_dir(ctx) / f"{ctx.tenant_slug}-{purpose}-run{ctx.run_id}"
    result = export.export_tenant(
        _shards(ctx),
        ctx.tenant_slug,
        archive_dir=target.parent,
        storage=get_storage(),
        pg_bin=ctx.platform.settings.pg_bin,
        target=target,
        on_progress=lambda what, done, total: ctx.progress(f"{what} {done}/{total}"),
    )
    problems = export.verify_archive(result.path)
    if problems:
        raise TenantError(f"Bản xuất không khớp manifest / the archive does not verify: {problems[:3]}")
    ctx.data["archive_path"] = str(result.path)
    ctx.data["tables"] = result.tables
    ctx.data["attachments"] = result.attachments
    with _shards(ctx).platform_session() as session, session.begin():
        tenant = get_tenant(session, ctx.tenant_slug)
        record(
            session,
            entity="tenant",
            entity_id=tenant.id,
            action="export",
            actor_label=_actor(ctx),
            data={"slug": tenant.slug, "path": str(result.path), "purpose": purpose, "files": result.files},
        )


def export_do(ctx: StepContext) -> None:
    _export_into(ctx, "export")


def export_undo(ctx: StepContext) -> None:
    if ctx.data.get("archive_path"):
        shutil.rmtree(ctx.data["archive_path"], ignore_errors=True)


# -- decommission ---------------------------------------------------------------------------------


def _check_decommission(session: Session, spec, tenant_slug, params) -> None:
    _check_slug(session, spec, tenant_slug, params)
    tenant = get_tenant(session, tenant_slug)
    if tenant.status == TenantStatus.ARCHIVED:
        raise TenantError(f"Đơn vị {tenant_slug!r} đã được lưu trữ / is archived already")
    if tenant.status == TenantStatus.PROVISIONING:
        raise TenantError(f"Đơn vị {tenant_slug!r} đang được khởi tạo / is being provisioned")
    decommission.check_can_decommission(session, tenant)


def decommission_export_do(ctx: StepContext) -> None:
    _export_into(ctx, "decommission")


def archive_status_do(ctx: StepContext) -> None:
    ctx.data.setdefault("decommissioned_at", datetime.now(UTC).isoformat())
    with _shards(ctx).platform_session() as session, session.begin():
        tenant = get_tenant(session, ctx.tenant_slug)
        _remember_previous(ctx, session, tenant, "archive")
        if tenant.status != TenantStatus.ARCHIVED:
            suspension.set_status_audited(
                session,
                ctx.tenant_slug,
                TenantStatus.ARCHIVED,
                reason=DECOMMISSION_REASON,
                action="archive",
                actor_label=_actor(ctx),
            )
    _forget_hosts(ctx)
    _settle(ctx)


def archive_status_undo(ctx: StepContext) -> None:
    previous = ctx.data.get("previous_status")
    if not previous:
        return
    with _shards(ctx).platform_session() as session, session.begin():
        tenant = get_tenant(session, ctx.tenant_slug)
        if tenant.status == TenantStatus.ARCHIVED:
            suspension.set_status_audited(
                session,
                ctx.tenant_slug,
                previous,
                reason=ctx.data.get("previous_reason"),
                action="unarchive",
                actor_label=_actor(ctx),
            )
            service_periods.reopen(session, tenant.id)  # billed again: the decommission did not happen
    _forget_hosts(ctx)


def _archive_names(ctx: StepContext) -> tuple[str, str, str]:
    with _shards(ctx).platform_session() as session:
        tenant = get_tenant(session, ctx.tenant_slug)
        shard, schema = tenant.shard, tenant.schema_name
    day = datetime.fromisoformat(ctx.data["decommissioned_at"])
    return shard, schema, ctx.data.setdefault("archive_schema", decommission.archive_schema_name(schema, day))


def rename_schema_do(ctx: StepContext) -> None:
    shard, schema, archived = _archive_names(ctx)
    decommission.rename_schema(_shards(ctx), shard, schema, archived)


def rename_schema_undo(ctx: StepContext) -> None:
    if "decommissioned_at" not in ctx.data:
        return
    shard, schema, archived = _archive_names(ctx)
    if decommission.schema_exists(_shards(ctx), shard, archived):
        decommission.rename_schema(_shards(ctx), shard, archived, schema)


def record_retention_do(ctx: StepContext) -> None:
    with _shards(ctx).platform_session() as session, session.begin():
        tenant = get_tenant(session, ctx.tenant_slug)
        earlier = session.scalar(
            select(PlatformAuditEvent.data).where(
                PlatformAuditEvent.entity == "tenant",
                PlatformAuditEvent.entity_id == str(tenant.id),
                PlatformAuditEvent.action == decommission.AUDIT_ACTION,
                PlatformAuditEvent.data["run_id"].as_integer() == ctx.run_id,
            )
        )
        if earlier is not None:  # recorded by an earlier attempt of this run
            ctx.data["drop_after"] = earlier["drop_after"]
            return
        drop_after = decommission.record_decommission(
            session,
            tenant,
            archive_schema=ctx.data["archive_schema"],
            archive_path=ctx.data.get("archive_path"),
            decommissioned_at=datetime.fromisoformat(ctx.data["decommissioned_at"]),
            retention_days=ctx.platform.settings.decommission_retention_days,
            actor_label=_actor(ctx),
            run_id=ctx.run_id,
        )
    ctx.data["drop_after"] = drop_after.isoformat()


def final_invoice_do(ctx: StepContext) -> None:
    with _shards(ctx).platform_session() as session:
        tenant = get_tenant(session, ctx.tenant_slug)
        session.expunge(tenant)
    decommission.run_final_invoice_hooks(tenant, datetime.fromisoformat(ctx.data["decommissioned_at"]))
    ctx.data["final_invoice_hooks"] = len(decommission.FINAL_INVOICE_HOOKS)


# -- move to another shard ------------------------------------------------------------------------


def _check_move(session: Session, spec, tenant_slug, params) -> None:
    _check_slug(session, spec, tenant_slug, params)
    if not params.get("to"):
        raise TenantError("Cần chỉ rõ shard đích / the target shard (to) is required")
    shard_move.check_move(session, current_app.extensions["motcua"].shards, tenant_slug, params["to"])


def move_suspend_do(ctx: StepContext) -> None:
    with _shards(ctx).platform_session() as session, session.begin():
        tenant = get_tenant(session, ctx.tenant_slug)
        ctx.data.setdefault("source_shard", tenant.shard)
        if "previous_status" not in ctx.data:
            # Suspended with our own reason: an earlier attempt did it (the unit was active).
            ours = tenant.status == TenantStatus.SUSPENDED and tenant.status_reason == MOVE_REASON
            ctx.data["previous_status"] = TenantStatus.ACTIVE.value if ours else tenant.status
            ctx.data["previous_reason"] = None if ours else tenant.status_reason
        if tenant.status == TenantStatus.ACTIVE:
            suspension.suspend_tenant(session, ctx.tenant_slug, reason=MOVE_REASON, actor_label=_actor(ctx))
    _forget_hosts(ctx)
    _settle(ctx)


def _restore_status(ctx: StepContext) -> None:
    if ctx.data.get("previous_status") != TenantStatus.ACTIVE:
        return
    with _shards(ctx).platform_session() as session, session.begin():
        tenant = get_tenant(session, ctx.tenant_slug)
        if tenant.status == TenantStatus.SUSPENDED and tenant.status_reason == MOVE_REASON:
            suspension.resume_tenant(session, ctx.tenant_slug, actor_label=_actor(ctx))
    _forget_hosts(ctx)


def move_export_do(ctx: StepContext) -> None:
    _export_into(ctx, "move")


def move_import_do(ctx: StepContext) -> None:
    dump = Path(ctx.data["archive_path"]) / "schema.sql"
    # The copy this run makes carries this marker; a schema without it on the target is not ours.
    ctx.data["target_marker"] = shard_move.copy_marker(ctx.run_id)
    shard_move.import_schema(
        _shards(ctx),
        ctx.tenant_slug,
        ctx.params["to"],
        dump,
        marker=ctx.data["target_marker"],
        pg_bin=ctx.platform.settings.pg_bin,
    )
    ctx.data["usage_events"] = usage_move.copy_events(
        _shards(ctx), _tenant_id(ctx), ctx.data["source_shard"], ctx.params["to"]
    )


def _tenant_id(ctx: StepContext) -> int:
    with _shards(ctx).platform_session() as session:
        return get_tenant(session, ctx.tenant_slug).id


def move_import_undo(ctx: StepContext) -> None:
    shard_move.drop_target_copy(
        _shards(ctx), ctx.tenant_slug, ctx.params["to"], marker=shard_move.copy_marker(ctx.run_id)
    )
    usage_move.delete_events(_shards(ctx), ctx.params["to"], _tenant_id(ctx))  # not live there: checked above


def move_verify_do(ctx: StepContext) -> None:
    with _shards(ctx).platform_session() as session:
        schema = get_tenant(session, ctx.tenant_slug).schema_name
    # Counts and content: an UPDATE made after the export keeps the counts equal.
    differ = shard_move.compare_tables(_shards(ctx), schema, ctx.data["source_shard"], ctx.params["to"])
    if differ:
        raise TenantError(
            f"Dữ liệu hai bên khác nhau, chưa chuyển / the copy differs from the source "
            f"(rows, checksum on source, target): {differ}"
        )
    exported = ctx.data.get("tables") or {}
    with _shards(ctx).engine(ctx.params["to"]).connect() as conn:
        copied = export.count_rows(conn, schema)
    if exported and copied != exported:
        raise TenantError("Số dòng khác bản xuất / row counts differ from the export's manifest")
    ctx.data["verified_tables"] = len(copied)
    tenant_id = _tenant_id(ctx)
    sides = (ctx.data["source_shard"], ctx.params["to"])
    events = [usage_move.checksum(_shards(ctx), shard, tenant_id) for shard in sides]
    if events[0] != events[1]:
        raise TenantError(
            f"Sự kiện đo đếm hai bên khác nhau, chưa chuyển / the usage events differ "
            f"(events, checksum on source, target): {events}"
        )


def move_switch_do(ctx: StepContext) -> None:
    with _shards(ctx).platform_session() as session, session.begin():
        shard_move.switch_shard(
            session, _shards(ctx), ctx.tenant_slug, ctx.params["to"], actor_label=_actor(ctx)
        )
    _forget_hosts(ctx)
    ctx.data["usage_facts"] = usage_move.recount_on_new_shard(_shards(ctx), ctx.params["to"], _tenant_id(ctx))


def move_switch_undo(ctx: StepContext) -> None:
    source = ctx.data.get("source_shard")
    if not source:
        return
    with _shards(ctx).platform_session() as session:
        schema = get_tenant(session, ctx.tenant_slug).schema_name
    if not decommission.schema_exists(_shards(ctx), source, schema):
        raise TenantError(
            f"Schema nguồn trên {source!r} đã bị xóa, không thể quay lại / "
            "the source copy is gone: cannot switch back"
        )
    with _shards(ctx).platform_session() as session, session.begin():
        shard_move.switch_shard(session, _shards(ctx), ctx.tenant_slug, source, actor_label=_actor(ctx))
    _forget_hosts(ctx)


def move_drop_source_do(ctx: StepContext) -> None:
    shard_move.drop_source(_shards(ctx), ctx.tenant_slug, ctx.data["source_shard"])
    usage_move.delete_events(_shards(ctx), ctx.data["source_shard"], _tenant_id(ctx))


def move_resume_do(ctx: StepContext) -> None:
    _restore_status(ctx)


# -- registration ---------------------------------------------------------------------------------

SUSPEND_STEPS = [
    Step("suspend", ("Tạm ngừng đơn vị", "Suspend the unit"), suspend_do, suspend_undo),
]
RESUME_STEPS = [
    Step("resume", ("Khôi phục đơn vị", "Resume the unit"), resume_do, resume_undo),
    Step(
        "release_outbox", ("Gửi tiếp các sự kiện đang chờ", "Release held outbox events"), release_outbox_do
    ),
]
EXPORT_STEPS = [
    Step(
        "export", ("Xuất dữ liệu và kiểm tra checksum", "Export and verify checksums"), export_do, export_undo
    ),
]
DECOMMISSION_STEPS = [
    Step(
        "export", ("Xuất dữ liệu và kiểm tra checksum", "Export and verify checksums"), decommission_export_do
    ),
    Step(
        "archive_status",
        ("Chuyển trạng thái lưu trữ", "Mark archived"),
        archive_status_do,
        archive_status_undo,
    ),
    Step(
        "rename_schema",
        ("Đưa schema ra khỏi đường dùng", "Rename the schema out of the live path"),
        rename_schema_do,
        rename_schema_undo,
    ),
    Step("record_retention", ("Ghi hạn lưu giữ", "Record the retention date"), record_retention_do),
    Step("final_invoice", ("Hóa đơn cuối kỳ", "Final invoice"), final_invoice_do),
]
MOVE_STEPS = [
    Step(
        "suspend",
        ("Tạm ngừng trong lúc sao chép", "Suspend during the copy"),
        move_suspend_do,
        _restore_status,
    ),
    Step("export", ("Xuất dữ liệu nguồn", "Export the source"), move_export_do),
    Step("import", ("Nạp vào shard đích", "Import on the target shard"), move_import_do, move_import_undo),
    Step(
        "verify",
        ("So khớp số dòng và checksum từng bảng", "Compare row counts and checksums per table"),
        move_verify_do,
    ),
    Step("switch", ("Chuyển danh bạ shard", "Switch the shard directory"), move_switch_do, move_switch_undo),
    Step("drop_source", ("Xóa bản nguồn", "Drop the source schema"), move_drop_source_do),
    Step("resume", ("Mở lại đơn vị", "Reopen the unit"), move_resume_do),
]

register_pipeline("suspend", SUSPEND_STEPS, check=_checked(_check_suspend))
register_pipeline("resume", RESUME_STEPS, check=_checked(_check_resume))
register_pipeline("export", EXPORT_STEPS, check=_checked(_check_slug))
register_pipeline("decommission", DECOMMISSION_STEPS, check=_checked(_check_decommission))
register_pipeline("move", MOVE_STEPS, check=_checked(_check_move))


def drop_expired_archives_job() -> list[str]:
    """The periodic job: drop archived schemas past their retention date."""
    from app.core.db import get_platform

    return decommission.drop_expired_archives(get_platform().shards)


register_periodic(drop_expired_archives_job, "low", interval=RETENTION_JOB_SECONDS, name="archive-retention")
