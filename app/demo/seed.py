"""Seeding the Hai Phong demo: units through the registry, then each unit's catalogue.

Idempotent and resumable: a unit whose slug exists is reused, a procedure whose
code exists in the unit's schema is left as it is, so a second run writes nothing
and an interrupted run finishes where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session
from tqdm import tqdm

from app.auth.demo import seed_demo_accounts
from app.catalog.models import FeeLine, Procedure, ProcedureCase, ProcedureComponent, Sector
from app.core.db import Platform
from app.demo.data import FEATURED, SECTORS, UNITS, ProcedureSpec, Unit, catalog_for
from tenants.models import Tenant
from tenants.naming import strip_diacritics
from tenants.registry import TenantError, create_tenant


@dataclass
class SeedReport:
    tenants_created: list[str] = field(default_factory=list)
    procedures_created: int = 0
    # Demo accounts by kind (ops, unit_admins, counter_officers), for the dev server's hints.
    accounts: dict[str, list[str]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(self.tenants_created or self.procedures_created)


def seed_demo(platform: Platform, *, progress: bool = True) -> SeedReport:
    """Create the Hai Phong units that are missing and fill in their catalogues."""
    report = SeedReport()
    disable = None if progress else True  # None: a bar only on a terminal
    existing = _tenants_by_slug(platform)
    cities = [t for t in existing.values() if t.kind == "city"]
    if cities and cities[0].slug != UNITS[0].slug:
        raise TenantError(
            f"Cơ sở dữ liệu đã có thành phố khác / this database already holds another city "
            f"({cities[0].slug!r}); seed the demo into a fresh database"
        )
    missing = [u for u in UNITS if u.slug not in existing]
    head = platform.trees.tenant_head
    for unit in tqdm(missing, desc="Tạo đơn vị / creating tenants", unit="tenant", disable=disable):
        create_tenant(
            platform.shards,
            head,
            name=unit.name,
            name_en=unit.name_en,
            kind=unit.kind,
            unit_code=unit.unit_code,
            parent=unit.parent,
            slug=unit.slug,
            gso_code=unit.gso_code,
        )
        report.tenants_created.append(unit.slug)

    tenants = _tenants_by_slug(platform)
    for unit in tqdm(UNITS, desc="Thủ tục / procedures", unit="tenant", disable=disable):
        report.procedures_created += seed_catalog(platform, tenants[unit.slug], unit)
    demo_tenants = {unit.slug: tenants[unit.slug] for unit in UNITS}
    report.accounts = seed_demo_accounts(platform.shards, demo_tenants, counter_officer_slugs=FEATURED)
    return report


def _tenants_by_slug(platform: Platform) -> dict[str, Tenant]:
    with platform.shards.platform_session() as session:
        return {t.slug: t for t in session.scalars(select(Tenant))}


def seed_catalog(platform: Platform, tenant: Tenant, unit: Unit) -> int:
    """Write the unit's missing procedures into its own schema; returns how many."""
    specs = catalog_for(unit)
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session, session.begin():
        have = set(session.scalars(select(Procedure.code)))
        todo = [spec for spec in specs if spec.code not in have]
        if not todo:
            return 0
        sectors = {s.code: s for s in session.scalars(select(Sector))}
        for spec in todo:
            if spec.sector not in sectors:
                sectors[spec.sector] = Sector(
                    code=spec.sector, name=SECTORS[spec.sector], sort_order=list(SECTORS).index(spec.sector)
                )
                session.add(sectors[spec.sector])
                session.flush()
            _add_procedure(session, spec, sectors[spec.sector])
    return len(todo)


def _add_procedure(session: Session, spec: ProcedureSpec, sector: Sector) -> None:
    procedure = Procedure(
        code=spec.code,
        name=spec.name,
        name_search=strip_diacritics(spec.name).lower(),
        sector_id=sector.id,
        service_level=spec.service_level,
        applicant_types=list(spec.applicant_types),
        time_value=Decimal(str(spec.time_value)),
        time_unit=spec.time_unit,
        legal_basis=spec.legal_basis,
        result_document_type=spec.result_document_type,
        channels=list(spec.channels),
        result_delivery=list(spec.result_delivery),
        is_same_day_return=spec.is_same_day_return,
    )
    session.add(procedure)
    session.flush()
    cases: dict[str, ProcedureCase] = {}
    for order, case in enumerate(spec.cases):
        cases[case.code] = ProcedureCase(
            procedure_id=procedure.id,
            code=case.code,
            name=case.name,
            time_value=None if case.time_value is None else Decimal(str(case.time_value)),
            time_unit=case.time_unit,
            is_default=case.is_default,
            sort_order=order,
        )
        session.add(cases[case.code])
    session.flush()
    for order, component in enumerate(spec.components):
        session.add(
            ProcedureComponent(
                procedure_id=procedure.id,
                code=f"TP{order + 1:02d}",
                name=component.name,
                original_or_copy=component.original_or_copy,
                quantity=component.quantity,
                is_mandatory=component.is_mandatory,
                sort_order=order,
            )
        )
    for order, fee in enumerate(spec.fees):
        session.add(
            FeeLine(
                procedure_id=procedure.id,
                case_id=cases[fee.case].id if fee.case else None,
                kind=fee.kind,
                description=fee.description,
                amount=fee.amount,
                online_amount=fee.online_amount,
                sort_order=order,
            )
        )
