"""'My dossiers' (hồ sơ của tôi): the platform index of where a citizen filed, and each unit's live rows.

The index (``CitizenDossier``) says which units hold a citizen's online drafts and dossiers;
the status, the procedure and what is asked are read from each of those units when the list
is shown, so nothing copied can go stale. The reads are bounded by the number of units the
citizen used, not by the number of units on the platform.

The index is written in the request that changes the draft, in the platform session, which
the edge commits after the unit's. Every write is an upsert, so writing it again is harmless;
if the platform commit fails after the unit's, ``reconcile`` (run whenever the citizen opens
"My dossiers" on that unit's portal) writes the missing rows again from the unit's own data.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import literal_column, select, union_all
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from app.catalog.models import Procedure
from app.dossiers import online
from app.dossiers.citizen_models import CitizenDossier
from app.dossiers.models import Dossier
from app.dossiers.online_models import OPEN, OnlineDraft
from app.dossiers.status import DRAFT, FINANCIAL, SUBMITTED, SUPPLEMENT, status_name
from tenants.models import Tenant, TenantStatus

log = logging.getLogger(__name__)

PAGE_SIZE = 50  # entries per unit on the city page, and per page on a unit's own page


def record(
    platform_session: Session,
    *,
    account_id: int,
    tenant_id: int,
    reference: uuid.UUID,
    dossier_id: int | None = None,
    code: str | None = None,
    submitted_at: datetime | None = None,
) -> None:
    """Upsert the index row of one draft; once it has a dossier, its id and code (idempotent)."""
    values = dict(account_id=account_id, tenant_id=tenant_id, draft_reference=reference)
    statement = insert(CitizenDossier).values(
        **values, dossier_id=dossier_id, dossier_code=code, submitted_at=submitted_at
    )
    if dossier_id is None:
        statement = statement.on_conflict_do_nothing(index_elements=["tenant_id", "draft_reference"])
    else:
        statement = statement.on_conflict_do_update(
            index_elements=["tenant_id", "draft_reference"],
            set_={"dossier_id": dossier_id, "dossier_code": code, "submitted_at": submitted_at},
        )
    platform_session.execute(statement)


def forget_draft(platform_session: Session, tenant_id: int, reference: uuid.UUID) -> None:
    row = platform_session.scalar(
        select(CitizenDossier).where(
            CitizenDossier.tenant_id == tenant_id, CitizenDossier.draft_reference == reference
        )
    )
    if row is not None and row.dossier_id is None:
        platform_session.delete(row)


def reconcile(platform_session: Session, tenant_session: Session, account_id: int, tenant_id: int) -> int:
    """Make the index rows of this account at this unit match the unit's own drafts; returns rows changed.

    Only what differs is written (a page view usually writes nothing): a missing or stale row is
    upserted, a row whose draft is gone (deleted) is removed.
    """
    truth = {
        reference: (dossier_id, code, submitted_at)
        for reference, dossier_id, code, submitted_at in tenant_session.execute(
            select(OnlineDraft.reference, OnlineDraft.dossier_id, Dossier.code, OnlineDraft.submitted_at)
            .outerjoin(Dossier, Dossier.id == OnlineDraft.dossier_id)
            .where(OnlineDraft.owner_account_id == account_id)
        )
    }
    indexed = {
        row.draft_reference: row
        for row in platform_session.scalars(
            select(CitizenDossier).where(
                CitizenDossier.account_id == account_id, CitizenDossier.tenant_id == tenant_id
            )
        )
    }
    changed = 0
    for reference, (dossier_id, code, submitted_at) in truth.items():
        row = indexed.get(reference)
        if row is None:
            record(
                platform_session,
                account_id=account_id,
                tenant_id=tenant_id,
                reference=reference,
                dossier_id=dossier_id,
                code=code,
                submitted_at=submitted_at,
            )
        elif (row.dossier_id, row.dossier_code) != (dossier_id, code):
            row.dossier_id, row.dossier_code, row.submitted_at = dossier_id, code, submitted_at
        else:
            continue
        changed += 1
    for reference, row in indexed.items():
        if reference not in truth:
            platform_session.delete(row)
            changed += 1
    return changed


def units_used(platform_session: Session, account_id: int) -> list[Tenant]:
    """The units where this account has drafts or dossiers (from the index)."""
    ids = select(CitizenDossier.tenant_id).where(CitizenDossier.account_id == account_id).distinct()
    return list(platform_session.scalars(select(Tenant).where(Tenant.id.in_(ids)).order_by(Tenant.name)))


@dataclass(frozen=True)
class Entry:
    """One line of "My dossiers": a draft (``code`` None) or a submitted dossier."""

    kind: str  # "draft" | "dossier"
    id: int
    code: str | None
    procedure_name: str
    status: int
    status_vi: str
    status_en: str
    updated_at: datetime
    is_asked: bool  # the unit waits for the citizen: guided in status 1, supplement (5) or payment (6)


def entries_in_unit(
    tenant_session: Session, account_id: int, *, limit: int | None = None, offset: int = 0
) -> list[Entry]:
    """The account's open drafts and its dossiers in one unit, newest first, read live from its schema.

    ``limit`` / ``offset`` page through them in the database (a busy applicant's list stays bounded).
    """
    drafts = (
        select(
            literal_column("'draft'").label("kind"),
            OnlineDraft.id.label("id"),
            literal_column("NULL").label("code"),
            Procedure.name.label("name"),
            literal_column(str(DRAFT)).label("status"),
            OnlineDraft.updated_at.label("updated_at"),
        )
        .join(Procedure, Procedure.id == OnlineDraft.procedure_id)
        .where(OnlineDraft.owner_account_id == account_id, OnlineDraft.status == OPEN)
    )
    dossiers = (
        select(
            literal_column("'dossier'"),
            Dossier.id,
            Dossier.code,
            Procedure.name,
            Dossier.status,
            Dossier.updated_at,
        )
        .join(Procedure, Procedure.id == Dossier.procedure_id)
        .where(Dossier.citizen_account_id == account_id, Dossier.status != DRAFT)
    )
    both = union_all(drafts, dossiers).subquery()
    query = select(both).order_by(both.c.updated_at.desc(), both.c.kind, both.c.id.desc()).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    rows = tenant_session.execute(query).all()
    guided = online.guided_unanswered(
        tenant_session, [r.id for r in rows if r.kind == "dossier" and r.status == SUBMITTED]
    )
    entries: list[Entry] = []
    for row in rows:
        vi, en = status_name(row.status)
        asked = row.kind == "dossier" and (row.status in (SUPPLEMENT, FINANCIAL) or row.id in guided)
        entries.append(Entry(row.kind, row.id, row.code, row.name, row.status, vi, en, row.updated_at, asked))
    return entries


@dataclass(frozen=True)
class UnitEntries:
    tenant: Tenant
    entries: list[Entry]
    unavailable: bool = False  # the unit is suspended or its database did not answer
    more: bool = False  # only the newest ``PAGE_SIZE`` are listed; the unit's own page has the rest


def across_units(platform, platform_session: Session, account_id: int) -> list[UnitEntries]:
    """The city portal's "My dossiers": for each unit the account used, that unit's live entries."""
    result: list[UnitEntries] = []
    for tenant in units_used(platform_session, account_id):
        if tenant.status != TenantStatus.ACTIVE:
            result.append(UnitEntries(tenant, [], unavailable=True))
            continue
        try:
            with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
                entries = entries_in_unit(session, account_id, limit=PAGE_SIZE + 1)
            result.append(UnitEntries(tenant, entries[:PAGE_SIZE], more=len(entries) > PAGE_SIZE))
        except Exception:  # one unit's database down must not hide the others
            log.exception("my dossiers: unit %s did not answer", tenant.slug)
            result.append(UnitEntries(tenant, [], unavailable=True))
    return result
