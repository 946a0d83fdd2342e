"""The Hai Phong demo: units, codes, parents, per-tenant catalogues, idempotent seeding."""

from __future__ import annotations

import uuid

import pytest
from conftest import _admin, _recreate_database, app_config
from sqlalchemy import func, make_url, select

from app import create_app
from app.catalog.models import (
    FeeLine,
    LegalDocument,
    Procedure,
    ProcedureCase,
    ProcedureComponent,
    ProcedureLegalDocument,
    Sector,
)
from app.catalog.standard import get_version
from app.catalog.standard_models import StandardRollout
from app.demo import data
from app.demo.seed import seed_demo
from app.dossiers.models import Dossier
from app.processes import services as processes
from app.processes.models import ProcessVersion
from tenants.migrations import upgrade_platform
from tenants.models import Tenant
from tenants.naming import UNIT_CODE_RE, slugify, strip_diacritics

GSO_DISTRICTS = {str(code) for code in range(303, 319)} - {"310"}


@pytest.fixture(scope="module")
def demo(services):
    """A fresh database of its own (the session's ``city`` fixture owns hai-phong elsewhere)."""
    url = _recreate_database(services["database_url"], f"motcua_demo_{uuid.uuid4().hex[:8]}")
    app = create_app(app_config(services, database_url=url, shard_urls={}))
    platform = app.extensions["motcua"]
    upgrade_platform(platform.shards, platform.trees)
    with app.app_context():
        report = seed_demo(platform, progress=False)
    yield app, platform, report
    platform.shards.dispose()
    _admin(services["database_url"], f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def _tenants(platform) -> dict[str, Tenant]:
    with platform.shards.platform_session() as session:
        return {t.slug: t for t in session.scalars(select(Tenant))}


def _snapshot(platform) -> dict:
    """Every registry row and every tenant's catalogue row counts."""
    snap = {}
    for slug, t in _tenants(platform).items():
        with platform.shards.tenant_session(t.shard, t.schema_name) as session:
            counts = tuple(
                session.scalar(select(func.count()).select_from(model))
                for model in (
                    Sector,
                    Procedure,
                    ProcedureCase,
                    ProcedureComponent,
                    FeeLine,
                    ProcessVersion,
                    Dossier,
                )
            )
        snap[slug] = (t.id, t.name, t.kind, t.parent_id, t.unit_code, t.gso_code, t.updated_at, counts)
    return snap


def _codes(platform, tenant: Tenant) -> list[str]:
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
        return list(session.scalars(select(Procedure.code).order_by(Procedure.code)))


def test_data_is_consistent():
    slugs = [u.slug for u in data.UNITS]
    codes = [u.unit_code for u in data.UNITS]
    assert len(set(slugs)) == len(slugs)
    assert len(set(codes)) == len(codes)
    assert all(UNIT_CODE_RE.match(c) and c.endswith(".H99") for c in codes)
    assert all(u.slug == slugify(u.name) for u in data.UNITS)
    assert {"so-tu-phap", "ngo-quyen", "hong-bang", "bach-long-vi", "thuy-nguyen", "may-chai"} <= set(slugs)
    assert set(data.DEPARTMENT_SETS) <= {d.slug for d in data.DEPARTMENTS}
    for unit in data.UNITS:
        data.catalog_for(unit)  # every code it names exists


def test_seeding_creates_the_city_units(demo):
    _, platform, report = demo
    tenants = _tenants(platform)
    assert len(report.tenants_created) == len(data.UNITS) == len(tenants)
    by_kind: dict[str, list[Tenant]] = {}
    for t in tenants.values():
        by_kind.setdefault(t.kind, []).append(t)

    (city,) = by_kind["city"]
    assert (city.slug, city.name, city.gso_code, city.unit_code) == (
        "hai-phong",
        "Thành phố Hải Phòng",
        "31",
        "000.00.00.H99",
    )
    districts = by_kind["district"]
    assert len(districts) == 15
    assert {d.gso_code for d in districts} == GSO_DISTRICTS
    assert tenants["bach-long-vi"].name == "Huyện Bạch Long Vĩ"
    assert tenants["thuy-nguyen"].name == "Huyện Thủy Nguyên"
    assert tenants["hong-bang"].name_en == "Hong Bang District"
    assert len(by_kind["department"]) >= 12
    assert tenants["so-tu-phap"].name == "Sở Tư pháp"
    assert all(t.parent_id == city.id for t in districts + by_kind["department"])

    for district in ("ngo-quyen", "hong-bang"):
        number = tenants[district].unit_code.split(".")[2]
        communes = [c for c in by_kind["commune"] if c.parent_id == tenants[district].id]
        assert len(communes) >= 3
        assert all(c.unit_code.split(".")[2] == number for c in communes)
    assert tenants["may-chai"].name == "Phường Máy Chai"
    assert tenants["may-chai"].parent_id == tenants["ngo-quyen"].id


def test_seeding_twice_changes_nothing(demo):
    app, platform, _ = demo
    before = _snapshot(platform)
    with app.app_context():
        again = seed_demo(platform, progress=False)
    assert not again.changed
    assert again.tenants_created == [] and again.procedures_created == 0
    assert _snapshot(platform) == before


def test_each_unit_has_its_own_catalogue(demo):
    app, platform, _ = demo
    tenants = _tenants(platform)
    commune = _codes(platform, tenants["may-chai"])
    department = _codes(platform, tenants["so-tu-phap"])
    district = _codes(platform, tenants["ngo-quyen"])
    assert "1.001193" in commune and "1.001193" not in department
    assert "2.000720" in district and "2.000720" not in commune
    assert commune != department != district
    # The island district has no communes: it offers the commune set too.
    assert set(data.COMMUNE_SET) <= set(_codes(platform, tenants["bach-long-vi"]))

    t = tenants["may-chai"]
    with platform.shards.tenant_session(t.shard, t.schema_name) as session:
        birth = session.scalar(select(Procedure).where(Procedure.code == "1.001193"))
        assert birth.name == "Đăng ký khai sinh"
        assert birth.name_search == strip_diacritics(birth.name).lower() == "dang ky khai sinh"
        assert birth.time_unit == "same_day" and birth.is_same_day_return
        components = session.scalars(
            select(ProcedureComponent).where(ProcedureComponent.procedure_id == birth.id)
        )
        assert len(list(components)) >= 2

    client = app.test_client()
    page = client.get("/", headers={"Host": "may-chai.localhost"})
    assert page.status_code == 200
    assert "Phường Máy Chai" in page.text and "Đăng ký khai sinh" in page.text
    page = client.get("/", headers={"Host": "so-tu-phap.localhost"})
    assert "Phiếu lý lịch tư pháp" in page.text and "Đăng ký khai sinh" not in page.text


def test_flask_demo_seed_is_idempotent(demo):
    app, _, _ = demo
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code == 0, result.output
    assert "0 đơn vị mới / tenants created, 0 thủ tục mới / procedures created" in result.output


def test_catalogues_come_from_the_standard_catalogue_of_each_kind(demo):
    _, platform, report = demo
    assert sorted(report.versions_published) == ["commune v1", "department v1", "district v1"]
    tenants = _tenants(platform)
    with platform.shards.platform_session() as session:
        for kind, count in (("commune", 6), ("district", 11), ("department", 18)):
            version = get_version(session, kind, 1)
            assert version.is_published and len(version.procedures) == count
            rollouts = session.scalars(
                select(StandardRollout).where(StandardRollout.version_id == version.id)
            )
            statuses = {r.tenant_id: r.status for r in rollouts}
            assert statuses == {t.id: "done" for t in tenants.values() if t.kind == kind}
    # The city offers none; each department only its own.
    assert _codes(platform, tenants["hai-phong"]) == []
    assert _codes(platform, tenants["so-giao-thong-van-tai"]) == ["DEMO-S-GT01"]
    assert _codes(platform, tenants["ban-quan-ly-khu-kinh-te-hai-phong"]) == ["DEMO-S-LD01"]
    assert _codes(platform, tenants["van-phong-ubnd-thanh-pho"]) == []

    t = tenants["may-chai"]
    with platform.shards.tenant_session(t.shard, t.schema_name) as session:
        procedures = {p.code: p for p in session.scalars(select(Procedure))}
        assert all(p.standard_version == 1 and not p.is_overridden for p in procedures.values())
        marriage = procedures["1.000894"]
        cases = {
            c.code: (c.time_value, c.time_unit)
            for c in session.scalars(select(ProcedureCase).where(ProcedureCase.procedure_id == marriage.id))
        }
        assert cases == {"thuong": (None, None), "xac-minh": (5, "working_days")}
        assert marriage.channels == [1] and marriage.result_delivery == ["counter"]
        status = procedures["1.004873"]
        assert (status.time_value, status.time_unit, status.service_level) == (3, "working_days", 3)
        assert 2 in status.channels and "online" not in status.result_delivery
        fees = session.scalars(select(FeeLine).where(FeeLine.procedure_id == status.id))
        assert [(f.amount, "demo" in f.description) for f in fees] == [(10_000, True)]
        laws = set(
            session.scalars(
                select(LegalDocument.number)
                .join(ProcedureLegalDocument)
                .where(ProcedureLegalDocument.procedure_id == procedures["1.001193"].id)
            )
        )
        assert laws == {"60/2014/QH13", "123/2015/NĐ-CP", "15/2015/TT-BTP"}
        template = session.scalar(
            select(ProcedureComponent.template_file).where(
                ProcedureComponent.procedure_id == procedures["1.001193"].id,
                ProcedureComponent.template_file.is_not(None),
            )
        )
        assert template == "to-khai-dang-ky-khai-sinh.docx"
    d = tenants["ngo-quyen"]
    with platform.shards.tenant_session(d.shard, d.schema_name) as session:
        business = session.scalar(select(Procedure).where(Procedure.code == "2.000720"))
        assert (business.service_level, business.time_value, business.time_unit) == (4, 3, "working_days")
        assert business.channels == [1, 2, 3] and "online" in business.result_delivery
    # Only the island district (no commune level) offers the commune set.
    assert "1.001193" not in _codes(platform, tenants["ngo-quyen"])


def test_every_procedure_has_a_published_process_and_featured_units_work(demo):
    _, platform, report = demo
    assert report.processes_published > 0 and report.dossiers_created > 0
    for slug, tenant in _tenants(platform).items():
        with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
            for procedure_id in session.scalars(select(Procedure.id)):
                assert processes.published_version(session, procedure_id) is not None, (slug, procedure_id)
            dossiers = session.scalars(select(Dossier)).all()
            if slug in data.FEATURED:
                assert dossiers and all(d.code.startswith(tenant.unit_code) for d in dossiers)
                assert {d.status for d in dossiers} - {2}  # some moved along their process
            else:
                assert not dossiers


def test_the_demo_shows_billing_from_the_start(demo):
    """The demo's contract, its units' usage as daily facts and this year's statements, verified."""
    from billing.demo import DEMO_NUMBER
    from billing.models import Contract, DailyFact, Invoice
    from billing.verify import verify

    app, platform, _report = demo
    with platform.shards.platform_session() as session:
        contract = session.scalar(select(Contract).where(Contract.number == DEMO_NUMBER))
        received = session.scalar(
            select(func.sum(DailyFact.quantity_sum)).where(DailyFact.metric == "dossiers_received")
        )
        invoices = session.scalars(select(Invoice).where(Invoice.contract_id == contract.id)).all()
        dossiers = 0
        for tenant in _tenants(platform).values():
            with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as tenant_session:
                dossiers += tenant_session.scalar(
                    select(func.count()).select_from(Dossier).where(Dossier.received_at.is_not(None))
                )
    assert received == dossiers > 0  # every received demo dossier is metered and aggregated
    assert invoices and {i.status for i in invoices} <= {"draft", "final"}
    with app.app_context():
        result = verify()
    assert result.ok, result.first_problem
