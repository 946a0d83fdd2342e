"""The standard catalogue's reads and writes (platform session): drafts, publishing, rollouts.

Writes flush and never commit; the edge (request, CLI, seeding) commits. Publishing
and retrying emit one outbox event in the same transaction; its handler
(``app.catalog.standard_jobs``) enqueues one job per tenant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, defer

from app.catalog.specs import AUDIENCE, SpecInvalid, applies_to, check_spec, tenant_view
from app.catalog.standard_models import (
    DONE,
    DRAFT,
    FAILED,
    PENDING,
    PUBLISHED,
    RUNNING,
    StandardCatalog,
    StandardProcedure,
    StandardRollout,
    StandardVersion,
)
from app.core.errors import Conflict, DomainError, NotFound
from app.core.outbox import emit_event
from tenants.models import Tenant, TenantStatus, UnitKind

ROLLOUTS_DUE = "catalog.standard_rollouts_due"

# A rollout pending or running this long after it was last sent or started has lost its job
# (the worker died, Redis lost the queue): a retry sends it again. Sending one twice is safe:
# the unit's rollouts run one at a time and its ledger makes a rerun change nothing.
STALE_AFTER = timedelta(minutes=5)

KIND_LABELS = {
    UnitKind.COMMUNE: ("Cấp xã, phường, thị trấn", "Communes and wards"),
    UnitKind.DISTRICT: ("Cấp quận, huyện", "Districts"),
    UnitKind.DEPARTMENT: ("Sở, ban, ngành", "Departments"),
    UnitKind.CITY: ("Cấp thành phố", "City"),
}


def check_kind(kind: str) -> str:
    if kind not in KIND_LABELS:
        raise NotFound(
            "Không có danh mục chuẩn cho loại đơn vị này", "No standard catalogue for this unit kind"
        )
    return kind


# --- reads ----------------------------------------------------------------------------------


def find_catalog(session: Session, kind: str) -> StandardCatalog | None:
    return session.scalar(select(StandardCatalog).where(StandardCatalog.kind == check_kind(kind)))


def get_version(session: Session, kind: str, number: int) -> StandardVersion:
    version = session.scalar(
        select(StandardVersion)
        .join(StandardCatalog)
        .where(StandardCatalog.kind == check_kind(kind), StandardVersion.number == number)
    )
    if version is None:
        raise NotFound(
            f"Không có phiên bản {number} của danh mục này", f"There is no version {number} of this catalogue"
        )
    return version


def latest_published(
    session: Session, catalog_id: int, *, before: int | None = None
) -> StandardVersion | None:
    query = select(StandardVersion).where(
        StandardVersion.catalog_id == catalog_id, StandardVersion.status == PUBLISHED
    )
    if before is not None:
        query = query.where(StandardVersion.number < before)
    return session.scalar(query.order_by(StandardVersion.number.desc()).limit(1))


def find_spec(session: Session, version: StandardVersion, code: str) -> dict[str, Any] | None:
    row = session.scalar(
        select(StandardProcedure).where(
            StandardProcedure.version_id == version.id, StandardProcedure.code == code
        )
    )
    return None if row is None else row.spec


def published_spec(session: Session, kind: str, number: int, code: str) -> dict[str, Any] | None:
    """A published version's spec of ``code`` (the standard side of a unit's conflict)."""
    version = get_version(session, kind, number)
    if not version.is_published:
        raise NotFound("Phiên bản chưa được ban hành", "That version is not published")
    return find_spec(session, version, code)


def _stale(now: datetime | None = None):
    """Rollouts still pending or running although nothing touched them for ``STALE_AFTER``."""
    cutoff = (now or datetime.now(UTC)) - STALE_AFTER
    last_touched = func.coalesce(StandardRollout.started_at, StandardRollout.created_at)
    return and_(StandardRollout.status.in_((PENDING, RUNNING)), last_touched < cutoff)


def unavailable_reason(tenant: Tenant) -> str | None:
    """Why a tenant cannot take a rollout now (None: it can), as the rollout's error."""
    if tenant.status == TenantStatus.SUSPENDED:
        return (
            "Đơn vị đang tạm ngừng; chạy lại sau khi đơn vị hoạt động trở lại / "
            "the unit is suspended; retry once it is active again"
        )
    if tenant.status == TenantStatus.ARCHIVED:
        return "Đơn vị đã lưu trữ, không áp dụng / the unit is archived; nothing to apply"
    return None


def record_unavailable(rollout: StandardRollout, reason: str) -> None:
    rollout.status = FAILED
    rollout.error = reason
    rollout.finished_at = datetime.now(UTC)


@dataclass
class Progress:
    total: int = 0
    by_status: dict[str, int] = field(default_factory=lambda: {PENDING: 0, RUNNING: 0, DONE: 0, FAILED: 0})
    applied: int = 0
    kept: int = 0
    conflicted: int = 0
    unchanged: int = 0
    stale: int = 0  # pending or running with no sign of a job for STALE_AFTER: retry them

    @property
    def finished(self) -> int:
        return self.by_status[DONE] + self.by_status[FAILED]

    @property
    def is_finished(self) -> bool:
        return self.finished == self.total

    @property
    def percent(self) -> int:
        return 100 if not self.total else round(100 * self.by_status[DONE] / self.total)


def rollout_progress(session: Session, version_id: int) -> Progress:
    progress = Progress()
    rows = session.execute(
        select(
            StandardRollout.status,
            func.count(),
            func.sum(StandardRollout.applied),
            func.sum(StandardRollout.kept),
            func.sum(StandardRollout.conflicted),
            func.sum(StandardRollout.unchanged),
            func.count().filter(_stale()),
        )
        .where(StandardRollout.version_id == version_id)
        .group_by(StandardRollout.status)
    )
    for status, count, applied, kept, conflicted, unchanged, stale in rows:
        progress.by_status[status] = count
        progress.total += count
        progress.applied += applied or 0
        progress.kept += kept or 0
        progress.conflicted += conflicted or 0
        progress.unchanged += unchanged or 0
        progress.stale += stale
    return progress


def procedure_counts(session: Session, version_ids: list[int]) -> dict[int, int]:
    """How many procedures each version holds (a count, not the specs)."""
    if not version_ids:
        return {}
    rows = session.execute(
        select(StandardProcedure.version_id, func.count())
        .where(StandardProcedure.version_id.in_(version_ids))
        .group_by(StandardProcedure.version_id)
    )
    counts = dict.fromkeys(version_ids, 0)
    counts.update({version_id: count for version_id, count in rows})
    return counts


def list_versions(session: Session, kind: str) -> list[StandardVersion]:
    """A catalogue's versions, oldest first, without their procedures."""
    return list(
        session.scalars(
            select(StandardVersion)
            .join(StandardCatalog)
            .where(StandardCatalog.kind == check_kind(kind))
            .order_by(StandardVersion.number)
        )
    )


def list_rollouts(session: Session, version_id: int) -> list[tuple[StandardRollout, Tenant]]:
    """The version's rollouts with their tenants, failed first; the per-procedure results stay unloaded."""
    order = (StandardRollout.status != FAILED, Tenant.unit_code)
    rows = session.execute(
        select(StandardRollout, Tenant)
        .options(defer(StandardRollout.results))
        .join(Tenant, Tenant.id == StandardRollout.tenant_id)
        .where(StandardRollout.version_id == version_id)
        .order_by(*order)
    )
    return [(rollout, tenant) for rollout, tenant in rows]


# --- drafts ---------------------------------------------------------------------------------


def _immutable(version: StandardVersion) -> None:
    if version.status != DRAFT:
        raise Conflict(
            f"Phiên bản {version.number} đã ban hành và không thể sửa. Hãy tạo phiên bản mới.",
            f"Version {version.number} is published and cannot change. Create a new version.",
        )


def get_or_create_catalog(session: Session, kind: str) -> StandardCatalog:
    catalog = find_catalog(session, kind)
    if catalog is None:
        catalog = StandardCatalog(kind=kind)
        session.add(catalog)
        session.flush()
    return catalog


def create_draft(
    session: Session, kind: str, *, actor_id: int | None, copy_latest: bool = True
) -> StandardVersion:
    """A new draft version (one at a time), optionally starting from the latest published one."""
    catalog = get_or_create_catalog(session, kind)
    draft = session.scalar(
        select(StandardVersion).where(
            StandardVersion.catalog_id == catalog.id, StandardVersion.status == DRAFT
        )
    )
    if draft is not None:
        raise Conflict(
            f"Danh mục đang có bản nháp phiên bản {draft.number}; hãy hoàn thành hoặc sửa bản nháp đó.",
            f"The catalogue already has draft version {draft.number}; finish or edit that draft.",
        )
    number = (
        session.scalar(
            select(func.max(StandardVersion.number)).where(StandardVersion.catalog_id == catalog.id)
        )
        or 0
    ) + 1
    version = StandardVersion(catalog_id=catalog.id, number=number, status=DRAFT, created_by=actor_id)
    session.add(version)
    session.flush()
    if copy_latest:
        previous = latest_published(session, catalog.id)
        if previous is not None:
            _copy_procedures(session, previous, version)
    return version


def _copy_procedures(session: Session, source: StandardVersion, target: StandardVersion) -> None:
    for row in source.procedures:
        session.add(StandardProcedure(version_id=target.id, code=row.code, spec=dict(row.spec)))
    session.flush()
    session.expire(target, ["procedures"])


def import_previous(session: Session, version: StandardVersion) -> int:
    """Replace the draft's procedures with the latest published version's; returns how many."""
    _immutable(version)
    previous = latest_published(session, version.catalog_id, before=version.number)
    if previous is None:
        raise Conflict(
            "Chưa có phiên bản nào đã ban hành để nhập.", "There is no published version to import yet."
        )
    for row in list(version.procedures):
        session.delete(row)
    session.flush()
    _copy_procedures(session, previous, version)
    return len(previous.procedures)


def _check_audience(session: Session, kind: str, slugs: list[str]) -> None:
    if not slugs:
        return
    known = set(session.scalars(select(Tenant.slug).where(Tenant.kind == kind, Tenant.slug.in_(slugs))))
    unknown = list(dict.fromkeys(s for s in slugs if s not in known))
    if unknown:
        names = ", ".join(unknown)
        raise SpecInvalid(
            {
                AUDIENCE: (
                    f"Không có đơn vị loại này với mã: {names}",
                    f"no unit of this kind with slug: {names}",
                )
            }
        )


def put_procedure(
    session: Session, version: StandardVersion, raw: dict[str, Any], *, code: str | None = None
) -> dict:
    """Add a procedure to a draft (``code`` None) or replace the one with ``code``; returns the spec."""
    _immutable(version)
    spec = check_spec(raw, with_audience=True)
    _check_audience(session, version.catalog.kind, spec[AUDIENCE])
    rows = {row.code: row for row in version.procedures}
    if code is not None and code not in rows:
        raise NotFound(f"Bản nháp không có thủ tục {code}", f"The draft has no procedure {code}")
    if spec["code"] in rows and spec["code"] != code:
        raise Conflict(
            f"Bản nháp đã có thủ tục mã {spec['code']}.",
            f"The draft already has a procedure with code {spec['code']}.",
        )
    if code is not None and code != spec["code"]:
        session.delete(rows[code])
        session.flush()
        code = None
    if code is None:
        session.add(StandardProcedure(version_id=version.id, code=spec["code"], spec=spec))
    else:
        rows[code].spec = spec
    session.flush()
    session.expire(version, ["procedures"])
    return spec


def remove_procedure(session: Session, version: StandardVersion, code: str) -> None:
    _immutable(version)
    row = next((r for r in version.procedures if r.code == code), None)
    if row is None:
        raise NotFound(f"Bản nháp không có thủ tục {code}", f"The draft has no procedure {code}")
    session.delete(row)
    session.flush()
    session.expire(version, ["procedures"])


# --- publishing and rollouts ----------------------------------------------------------------


def publish_version(
    session: Session, version: StandardVersion, *, actor_id: int | None, offer: bool = True
) -> int:
    """Publish a draft (immutable from now on) and offer it to every active tenant of its kind.

    Returns the number of tenants offered. With ``offer`` the rollout jobs are
    enqueued after the commit (an outbox event); without it the caller runs them.
    """
    _immutable(version)
    if not version.procedures:
        raise DomainError(
            "Phiên bản không có thủ tục nào; hãy thêm thủ tục trước khi ban hành.",
            "The version has no procedures; add some before publishing.",
            status=422,
        )
    # Every procedure's audience in one query (the units may have changed since the draft was saved).
    _check_audience(
        session,
        version.catalog.kind,
        [slug for row in version.procedures for slug in row.spec.get(AUDIENCE) or []],
    )
    version.status = PUBLISHED
    version.published_at = datetime.now(UTC)
    version.published_by = actor_id
    session.flush()
    offered = offer_to_missing(session, version)
    if offer:
        emit_event(session, ROLLOUTS_DUE, {"version_id": version.id})
    return offered


def offer_to_missing(session: Session, version: StandardVersion) -> int:
    """Create pending rollouts for active tenants of the kind that have none; returns how many."""
    have = select(StandardRollout.tenant_id).where(StandardRollout.version_id == version.id)
    tenant_ids = session.scalars(
        select(Tenant.id)
        .where(
            Tenant.kind == version.catalog.kind,
            Tenant.status == TenantStatus.ACTIVE,
            Tenant.id.not_in(have),
        )
        .order_by(Tenant.id)
    ).all()
    session.add_all(
        StandardRollout(version_id=version.id, tenant_id=tid, status=PENDING) for tid in tenant_ids
    )
    session.flush()
    return len(tenant_ids)


def retry_rollouts(session: Session, version: StandardVersion) -> int:
    """Send failed and stale rollouts again, and offer the latest version to tenants that never got it.

    Stale: pending or running for ``STALE_AFTER`` with no sign of a job. Rollouts of
    suspended or archived tenants are not sent: they are recorded as failed with
    the reason, so the rollout finishes. Returns how many were sent.
    """
    if not version.is_published:
        raise Conflict("Phiên bản chưa ban hành.", "The version is not published.")
    rows = session.execute(
        select(StandardRollout, Tenant)
        .options(defer(StandardRollout.results))
        .join(Tenant, Tenant.id == StandardRollout.tenant_id)
        .where(
            StandardRollout.version_id == version.id,
            or_(StandardRollout.status == FAILED, _stale()),
        )
        .order_by(StandardRollout.id)
        .with_for_update(of=StandardRollout, skip_locked=True)  # locked: its job is running now
    ).all()
    count = 0
    for rollout, tenant in rows:
        reason = unavailable_reason(tenant)
        if reason is not None:
            record_unavailable(rollout, reason)
        else:
            # Sent again now: "started" counts from here until the job marks it running.
            rollout.status, rollout.started_at, rollout.finished_at = PENDING, datetime.now(UTC), None
            count += 1
    latest = latest_published(session, version.catalog_id)
    if latest is not None and latest.id == version.id:
        count += offer_to_missing(session, version)
    session.flush()
    if count:
        emit_event(session, ROLLOUTS_DUE, {"version_id": version.id})
    return count


def due_rollouts(session: Session, version_id: int) -> list[tuple[int, int]]:
    """(rollout id, tenant id) of the version's rollouts still to run."""
    rows = session.execute(
        select(StandardRollout.id, StandardRollout.tenant_id)
        .where(StandardRollout.version_id == version_id, StandardRollout.status.in_((PENDING, RUNNING)))
        .order_by(StandardRollout.id)
    )
    return [tuple(row) for row in rows]


def standard_spec_for(
    session: Session, kind: str, slug: str, number: int, code: str
) -> dict[str, Any] | None:
    """What published version ``number`` says about ``code`` for unit ``slug`` (None: not offered)."""
    spec = published_spec(session, kind, number, code)
    if spec is None or not applies_to(spec, slug):
        return None
    return tenant_view(spec)
