"""Seeding the Hai Phong demo: units through the registry, the city's standard catalogues, rollouts.

Each unit's catalogue comes from the standard catalogue of its kind, exactly as in
production: version 1 of each catalogue is published (``app.catalog.standard``)
and rolled out to every unit of the kind, here in-process (``perform_rollout``)
rather than by RQ jobs, so ``make run`` and the tests need no worker to seed.

Idempotent and resumable: a unit whose slug exists is reused, a catalogue that has
a published version is left as it is, and only rollouts not yet done run; a
second run writes nothing and an interrupted run finishes where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app, has_app_context
from sqlalchemy import select
from tqdm import tqdm

from app.auth.demo import seed_demo_accounts
from app.catalog import standard
from app.catalog.rollout import perform_rollout
from app.catalog.standard_models import DONE, FAILED, StandardRollout, StandardVersion
from app.core.db import Platform
from app.demo import onestop
from app.demo.data import FEATURED, UNITS, standard_catalogue
from app.reports.store import rebuild
from app.themes.demo import seed_demo_theme
from tenants.models import Tenant
from tenants.registry import TenantError, create_tenant
from tenants.resolution import TenantRef


@dataclass
class SeedReport:
    tenants_created: list[str] = field(default_factory=list)
    procedures_created: int = 0
    versions_published: list[str] = field(default_factory=list)
    processes_published: int = 0
    dossiers_created: int = 0
    # Demo accounts by kind (ops, unit_admins, counter_officers), for the dev server's hints.
    accounts: dict[str, list[str]] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return bool(
            self.tenants_created
            or self.procedures_created
            or self.versions_published
            or self.processes_published
            or self.dossiers_created
        )


def seed_demo(platform: Platform, *, progress: bool = True) -> SeedReport:
    """Create the Hai Phong units that are missing, publish the standard catalogues, roll them out."""
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

    report.versions_published = seed_standard_catalogues(platform)
    tenants = _tenants_by_slug(platform)
    for unit in tqdm(UNITS, desc="Danh mục thủ tục / catalogues", unit="tenant", disable=disable):
        report.procedures_created += roll_out_pending(platform, tenants[unit.slug])
    demo_tenants = {unit.slug: tenants[unit.slug] for unit in UNITS}
    report.accounts = seed_demo_accounts(platform.shards, demo_tenants, counter_officer_slugs=FEATURED)
    for unit in tqdm(UNITS, desc="Quy trình nội bộ / processes", unit="tenant", disable=disable):
        report.processes_published += seed_one_stop(platform, tenants[unit.slug], report)
    rebuild_report_store([tenants[slug] for slug in FEATURED])
    for seeder in demo_seeders():
        seeder(platform, report)
    return report


def demo_seeders() -> list:
    """What extensions add to the demo (``app.extensions["motcua.demo_seeders"]``: billing's contract),
    called as ``seeder(platform, report)`` after the units exist; each must be idempotent."""
    if not has_app_context():
        return []
    return list(current_app.extensions.get("motcua.demo_seeders", ()))


def rebuild_report_store(tenants: list[Tenant]) -> int:
    """The reporting store of the units with demo dossiers, written now: ``make run`` shows report
    figures at once instead of after the worker relays the seeding's events (which then change nothing)."""
    if not has_app_context():
        return 0
    return sum(rebuild(tenant.id) for tenant in tenants)


def seed_one_stop(platform: Platform, tenant: Tenant, report: SeedReport) -> int:
    """Published processes for every unit; staff places and a few dossiers in the featured ones."""
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session, session.begin():
        published = onestop.seed_processes(session)
    if tenant.slug in FEATURED:
        with (
            platform.shards.platform_session() as accounts,
            platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session,
            session.begin(),
        ):
            people = onestop.place_staff(accounts, session, tenant.slug)
            seed_demo_theme(session, tenant.slug)  # two featured units show the two portal themes
            report.dossiers_created += onestop.seed_dossiers(session, TenantRef.of(tenant), people)
    return published


def _tenants_by_slug(platform: Platform) -> dict[str, Tenant]:
    with platform.shards.platform_session() as session:
        return {t.slug: t for t in session.scalars(select(Tenant))}


def seed_standard_catalogues(platform: Platform) -> list[str]:
    """Publish version 1 of each kind's catalogue where none is published; offer it to units lacking it."""
    published = []
    with platform.shards.platform_session() as session, session.begin():
        for kind in standard.KIND_LABELS:
            specs = standard_catalogue(kind)
            if not specs:
                continue
            catalog = standard.get_or_create_catalog(session, kind)
            latest = standard.latest_published(session, catalog.id)
            if latest is None:
                if any(not v.is_published for v in catalog.versions):
                    continue  # someone's draft: the demo does not touch it
                draft = standard.create_draft(session, kind, actor_id=None, copy_latest=False)
                for raw in specs:
                    standard.put_procedure(session, draft, raw)
                standard.publish_version(session, draft, actor_id=None, offer=False)
                published.append(f"{kind} v{draft.number}")
            else:
                standard.offer_to_missing(session, latest)
    return published


def roll_out_pending(platform: Platform, tenant: Tenant) -> int:
    """Run the tenant's rollouts that are not done, oldest version first; returns procedures created."""
    created = 0
    with (
        platform.shards.platform_session() as platform_session,
        platform.shards.tenant_session(tenant.shard, tenant.schema_name) as tenant_session,
    ):
        rollouts = platform_session.scalars(
            select(StandardRollout)
            .join(StandardVersion)
            .where(StandardRollout.tenant_id == tenant.id, StandardRollout.status != DONE)
            .order_by(StandardVersion.number)
        ).all()
        for rollout in rollouts:
            perform_rollout(tenant_session, platform_session, rollout, tenant.slug)
            if rollout.status == FAILED:
                raise TenantError(f"{tenant.slug}: danh mục chuẩn / standard catalogue: {rollout.error}")
            tenant_session.commit()
            platform_session.commit()
            created += sum(1 for entry in rollout.results if entry["action"] == "created")
    return created
