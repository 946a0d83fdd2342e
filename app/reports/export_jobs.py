"""Report exports as RQ jobs (queue "low"): ask for one, run it with progress, keep the file.

``request_export`` writes the ``ReportExport`` row (the view commits, then enqueues
``run_export``). The job claims the row, checks again that the requester may still read
every unit it names, builds the table in chunks (``done``/``total`` move as it goes, each
step in its own short transaction so the progress page sees it), renders the file, stores it
through ``app.core.storage`` under a key fixed by the export's id, and marks the row done.
A second run of the same job (an RQ retry, a duplicate enqueue) finds the row done and stops;
a crashed run is simply run again, writing the same key. Failures are recorded with a
bilingual message; the requester can ask again.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import roles as r
from app.auth.access import Forbidden, Official
from app.auth.models import Account
from app.auth.queries import find_membership
from app.core.db import get_platform, platform_db
from app.core.errors import DomainError
from app.core.scheduler import register_periodic
from app.core.storage import delete_after_commit, get_storage, storage_key
from app.reports import exports, scope
from app.reports.export_models import ReportExport
from app.reports.officials import OfficialRow, officials_report
from app.reports.periods import Period
from app.reports.tthc06 import BY, breakdown_06, report_06, total_of
from tenants.models import Tenant
from tenants.resolution import TenantRef

log = logging.getLogger("motcua.reports.exports")

QUEUE = "low"
KINDS = {
    "tthc06": ("Báo cáo tình hình giải quyết TTHC (06a)", "TTHC handling report (06a)"),
    "officials": ("Kết quả giải quyết theo cán bộ, đơn vị", "Officials' and units' results"),
}
CHUNK = 50  # units per query of a unit-by-unit report: progress moves, no single huge read
PLATFORM_PREFIX = "platform"  # storage prefix of console exports (a reserved slug: no tenant has it)
JOB_TIMEOUT = 1800
KEEP = timedelta(days=30)  # exports (rows and files) older than this are deleted
REQUEUE_AFTER = timedelta(minutes=15)  # still queued after this: the job may have been lost


class BadExport(DomainError):
    status = 400


@dataclass(frozen=True)
class Requester:
    """Who asks, and from where: a unit's back office (tenant) or the console (tenant None)."""

    account_id: int
    tenant: TenantRef | None


# -- asking -----------------------------------------------------------------------------------------


def check_choice(value: str, allowed, vi: str, en: str) -> str:
    if value not in allowed:
        raise BadExport(
            f"{vi} không hợp lệ (chỉ nhận: {', '.join(allowed)}).",
            f"Invalid {en} (one of: {', '.join(allowed)}).",
        )
    return value


def request_export(
    session: Session,
    requester: Requester,
    *,
    kind: str,
    fmt: str,
    tenant_ids: list[int],
    period: Period,
    by: str = "unit",
    group: str = "",
    unit_name: str = "",
) -> ReportExport:
    """The export row, queued; the caller commits and then enqueues ``run_export``."""
    check_choice(kind, KINDS, "Loại báo cáo", "report kind")
    check_choice(fmt, exports.FORMATS, "Định dạng tệp", "file format")
    check_choice(by, BY, "Cách chia số liệu", "breakdown")
    if kind == "officials":
        by = "unit"  # officials are listed unit by unit
    if not tenant_ids:
        raise BadExport("Chưa chọn đơn vị nào.", "No unit chosen.")
    export = ReportExport(
        id=uuid.uuid4(),
        tenant_id=requester.tenant.id if requester.tenant else None,
        account_id=requester.account_id,
        kind=kind,
        format=fmt,
        status="queued",
        params={
            "tenant_ids": sorted(set(tenant_ids)),
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "period_label": period.label_vi,
            "by": by,
            "group": group,
            "unit_name": unit_name,
        },
    )
    session.add(export)
    session.flush()
    return export


def enqueue(export_id: uuid.UUID):
    """Queue the job (after the row's commit); the export id doubles as the RQ job id."""
    from app.core.jobs import enqueue_for_platform

    return enqueue_for_platform(
        QUEUE,
        run_export,
        str(export_id),
        job_options={"timeout": JOB_TIMEOUT, "job_id": f"report-export-{export_id}-{uuid.uuid4().hex[:8]}"},
    )


# -- who may read what ------------------------------------------------------------------------------


def visible_ids(session: Session, requester: Requester) -> set[int]:
    """What the requester may read now (memberships and roles may have changed since asking)."""
    account = session.get(Account, requester.account_id)
    if account is None or not account.is_active:
        raise _no_longer_allowed()
    if requester.tenant is None:
        if not {r.CITY_AUDITOR, r.PROVIDER_OPS} & set(account.platform_roles or []):
            raise _no_longer_allowed()
        return set(scope.every_tenant_id(session))
    membership = find_membership(session, account.id, requester.tenant.id)
    if membership is None or not membership.roles:
        raise _no_longer_allowed()
    try:
        return set(scope.visible_tenant_ids(Official(account, membership), requester.tenant, session))
    except Forbidden:
        raise _no_longer_allowed() from None


def _no_longer_allowed() -> Forbidden:
    return Forbidden(
        "Tài khoản không (còn) được xem số liệu của các đơn vị trong báo cáo này.",
        "This account may not (or no longer) read the figures of the units in this report.",
    )


# -- running ----------------------------------------------------------------------------------------


def _update(export_id: uuid.UUID, **values: Any) -> None:
    """One short transaction of its own: the progress page sees it at once."""
    with get_platform().shards.platform_session() as session, session.begin():
        export = session.get(ReportExport, export_id, with_for_update=True)
        if export is not None:
            for name, value in values.items():
                setattr(export, name, value)


def _claim(export_id: uuid.UUID) -> ReportExport | None:
    """Mark the export running (None when it is gone or already done: nothing to do)."""
    with get_platform().shards.platform_session() as session, session.begin():
        export = session.get(ReportExport, export_id, with_for_update=True)
        if export is None or export.status == "done":
            return None
        export.status, export.done, export.error, export.finished_at = "running", 0, None, None
        session.flush()
        session.expunge(export)
        return export


def run_export(export_id: str) -> str:
    """The RQ job: build, render and store one export; returns its final status."""
    key = uuid.UUID(export_id)
    export = _claim(key)
    if export is None:
        return "done"
    try:
        data, name = _build(export)
        stored = _store(export, data, name)
    except DomainError as exc:
        _update(key, status="failed", error=f"{exc.vi} / {exc.en}", finished_at=_now())
        return "failed"
    except Exception:
        log.exception("report export %s failed", export_id)
        _update(
            key,
            status="failed",
            error="Lỗi khi tạo tệp báo cáo; hãy yêu cầu lại. / The report file could not be made; ask again.",
            finished_at=_now(),
        )
        raise
    _update(key, status="done", done=export.total, storage_key=stored, filename=name, finished_at=_now())
    return "done"


def _now() -> datetime:
    return datetime.now(UTC)


def _requester(session: Session, export: ReportExport) -> Requester:
    tenant = session.get(Tenant, export.tenant_id) if export.tenant_id is not None else None
    return Requester(export.account_id, TenantRef.of(tenant) if tenant is not None else None)


def _build(export: ReportExport) -> tuple[bytes, str]:
    params = export.params
    period = Period(date.fromisoformat(params["start"]), date.fromisoformat(params["end"]))
    ids = [int(i) for i in params["tenant_ids"]]
    with get_platform().shards.platform_session() as session:
        if set(ids) - visible_ids(session, _requester(session, export)):
            raise _no_longer_allowed()
        layout = exports.LAYOUTS[export.kind]
        table = exports.Table(layout, params.get("unit_name") or "", period.start, period.end)
        if export.kind == "officials":
            _by_units(session, export, table, ids, lambda units: _officials_rows(session, units, period))
            table.total = _officials_total(row for _, row in table.rows)
        elif params.get("by", "unit") == "unit":
            _by_units(session, export, table, ids, lambda units: _unit_rows(session, units, period))
            table.total = total_of(row for _, row in table.rows)
        else:
            export.total = 2
            _update(export.id, total=export.total)
            rows = breakdown_06(session, ids, period, params["by"])
            table.rows = [(label.text, row) for _, label, row in rows]
            table.total = total_of(row for _, row in table.rows)
            _update(export.id, done=1)
    name = exports.file_name(export.kind, period.start, period.end, export.format)
    return exports.render(table, export.format), name


def _by_units(session: Session, export: ReportExport, table, ids: list[int], read) -> None:
    """Rows read CHUNK units at a time; ``done`` counts units, ``total`` is units plus one (the file)."""
    units = scope.units(session, ids)
    export.total = len(units) + 1
    _update(export.id, total=export.total)
    for start in range(0, len(units), CHUNK):
        chunk = units[start : start + CHUNK]
        table.rows.extend(read(chunk))
        _update(export.id, done=start + len(chunk))


def _unit_rows(session: Session, units: list[Tenant], period: Period) -> list[tuple[str, Any]]:
    figures = report_06(session, [unit.id for unit in units], period)
    return [(unit.name, figures[unit.id]) for unit in units]


def _officials_rows(session: Session, units: list[Tenant], period: Period) -> list[tuple[str, Any]]:
    """Each unit's officials, then the unit's own total line (named after the unit)."""
    rows = officials_report(session, [unit.id for unit in units], period)
    return [(row.name if row.account_id is not None else f"{row.unit_name} (cả đơn vị)", row) for row in rows]


def _officials_total(rows) -> OfficialRow:
    """The sum of the units' total lines (officials are already in them)."""
    total = OfficialRow(0, "", None, "Tổng cộng")
    for row in rows:
        if row.account_id is None:
            total.add(row)
    return total


def _store(export: ReportExport, data: bytes, name: str) -> str:
    """The file under a key fixed by the export's id: a re-run overwrites, never duplicates."""
    with get_platform().shards.platform_session() as session:
        slug = (
            session.scalar(select(Tenant.slug).where(Tenant.id == export.tenant_id))
            if export.tenant_id
            else None
        )
    key = storage_key(slug or PLATFORM_PREFIX, "report-exports", f"{export.id.hex}-{name}")
    get_storage().put(key, data, exports.CONTENT_TYPES[export.format])
    return key


# -- housekeeping -----------------------------------------------------------------------------------


def tidy_exports(now: datetime | None = None) -> dict[str, int]:
    """Periodic: delete old exports with their files, queue again exports whose job was lost
    (Redis emptied), and fail exports whose worker died mid-run, so the requester can ask again."""
    now = now or datetime.now(UTC)
    session = platform_db()
    old = session.scalars(select(ReportExport).where(ReportExport.created_at < now - KEEP).limit(1000)).all()
    delete_after_commit(session, [export.storage_key for export in old])
    for export in old:
        session.delete(export)
    dead = session.scalars(
        select(ReportExport).where(
            ReportExport.status == "running",
            ReportExport.created_at < now - timedelta(seconds=JOB_TIMEOUT) - REQUEUE_AFTER,
        )
    ).all()
    for export in dead:
        export.status, export.finished_at = "failed", now
        export.error = "Việc tạo tệp bị gián đoạn; hãy yêu cầu lại. / The export was interrupted; ask again."
    lost = session.scalars(
        select(ReportExport.id).where(
            ReportExport.status == "queued", ReportExport.created_at < now - REQUEUE_AFTER
        )
    ).all()
    session.commit()
    requeued = [export_id for export_id in lost if not _waiting(export_id)]
    for export_id in requeued:
        enqueue(export_id)
    return {"deleted": len(old), "interrupted": len(dead), "requeued": len(requeued)}


def _waiting(export_id: uuid.UUID) -> bool:
    """A job for this export is still in the queue (a long backlog, not a lost job)."""
    from app.core.jobs import get_queue

    prefix = f"report-export-{export_id}-"
    return any(job_id.startswith(prefix) for job_id in get_queue(QUEUE).get_job_ids())


register_periodic(tidy_exports, "low", interval=900, name="report-exports-tidy")
