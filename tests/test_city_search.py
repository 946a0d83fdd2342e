"""City portal: search across every unit's procedures through the platform index, and the teaser.

The module has a database of its own: the index and the statistics count every unit,
so the session's shared database (where other tests add units and procedures) would
change the counts and the rankings under us.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal

import pytest
from conftest import HostClient, _admin, _recreate_database, app_config
from sqlalchemy import delete, make_url, select

from app import create_app
from app.catalog import standard
from app.catalog.actions import create_local_procedure, edit_procedure
from app.catalog.index import city_statistics, reindex, search_city
from app.catalog.index_models import CHANGED_TOPIC, ProcedureIndex
from app.catalog.models import Procedure, Sector
from app.catalog.rollout import perform_rollout
from app.catalog.standard_models import StandardRollout
from app.core.db import bind_tenant, close_scope
from app.core.outbox import relay_outbox
from app.core.outbox_models import OutboxEvent
from app.demo.data import PROCEDURES
from app.portal.procedures import search as unit_search
from tenants import registry
from tenants.migrations import upgrade_platform
from tenants.resolution import TenantRef
from tests.factories import next_unit_code
from tests.jobs_fixtures import PrivateRedis

KHAI_SINH, KHAI_TU = "1.001193", "1.000656"


@dataclass
class World:
    app: object
    platform: object
    tenants: dict  # name -> Tenant

    def session(self, name: str):
        t = self.tenants[name]
        return self.platform.shards.tenant_session(t.shard, t.schema_name)

    def relay(self) -> None:
        with self.app.app_context():
            while relay_outbox("main").claimed:
                pass

    def client(self, host: str = "localhost") -> HostClient:
        client = HostClient(self.app, self.app.response_class, use_cookies=True)
        client.host = host
        return client

    def index_rows(self) -> list[tuple]:
        with self.platform.shards.platform_session() as session:
            return [
                (
                    r.tenant_id,
                    r.procedure_id,
                    r.code,
                    r.name,
                    r.name_search,
                    r.sector_name,
                    r.level,
                    r.is_active,
                )
                for r in session.scalars(
                    select(ProcedureIndex).order_by(ProcedureIndex.tenant_id, ProcedureIndex.procedure_id)
                )
            ]

    def search(self, text: str) -> list[tuple[str, str]]:
        with self.platform.shards.platform_session() as session:
            return [(hit.tenant_slug, hit.name) for hit in search_city(session, text)]


def _add(session, sector_id: int, code: str, name: str, level: int = 3, **extra) -> int:
    procedure = Procedure(
        code=code,
        name=name,
        sector_id=sector_id,
        service_level=level,
        time_value=Decimal("5"),
        time_unit="working_days",
        **extra,
    )
    session.add(procedure)
    session.flush()
    return procedure.id


@pytest.fixture(scope="module")
def world(services, tmp_path_factory):
    run = uuid.uuid4().hex[:8]
    url = _recreate_database(services["database_url"], f"motcua_city_{run}")
    # Publishing a standard version enqueues rollout jobs: a Redis of our own keeps them from other modules.
    redis = PrivateRedis(tmp_path_factory.mktemp("city-redis"))
    redis.start()
    engines = None
    try:
        app = create_app(app_config(services, database_url=url, shard_urls={}, redis_url=redis.url))
        app.testing = True
        platform = app.extensions["motcua"]
        engines = platform.shards
        upgrade_platform(platform.shards, platform.trees)
        head = platform.trees.tenant_head

        def make(name: str, kind: str, parent: str | None, label: str, **extra):
            return registry.create_tenant(
                platform.shards,
                head,
                name=label,
                kind=kind,
                unit_code=extra.pop("unit_code", None) or next_unit_code(),
                parent=parent,
                slug=f"{name}-{run}",
            )

        tenants = {"city": make("city", "city", None, "Thành phố thử", unit_code="000.00.00.H99")}
        tenants["d1"] = make("d1", "district", tenants["city"].slug, "Quận Một")
        tenants["c1"] = make("c1", "commune", tenants["d1"].slug, "Phường Hai")
        tenants["c2"] = make("c2", "commune", tenants["d1"].slug, "Phường Ba")
        tenants["p1"] = make("p1", "department", tenants["city"].slug, "Sở Tư pháp thử")
        world = World(app, platform, tenants)
        ids: dict[str, int] = {}
        for name, rows in {
            "d1": [
                ("HT.01", "Đăng ký khai sinh", 3, True),
                ("HT.02", "Đăng ký lại khai sinh", 2, True),
                ("HT.03", "Thủ tục đã bãi bỏ khai sinh", 3, False),
            ],
            "c1": [("HT.01", "Đăng ký khai sinh lưu động", 4, True), ("CT.01", "Chứng thực chữ ký", 1, True)],
            "c2": [("HT.09", "Đăng ký khai sinh", 3, True)],  # c2 is suspended below
            "p1": [("KS-1", "Khai sinh cho trẻ bị bỏ rơi: đăng ký", 2, True)],
        }.items():
            with world.session(name) as session, session.begin():
                sector = Sector(code="HT", name="Hộ tịch")
                session.add(sector)
                session.flush()
                for code, label, level, active in rows:
                    ids[f"{name}:{code}"] = _add(session, sector.id, code, label, level, is_active=active)
        world.relay()
        registry.set_status(platform.shards, tenants["c2"].slug, "suspended", reason="thử")
        world.ids = ids
        yield world
    finally:
        redis.stop()
        if engines is not None:
            engines.dispose()
        _admin(services["database_url"], f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


def test_search_ignores_diacritics_and_case_and_ranks(world):
    d1, c1, p1 = (world.tenants[n].slug for n in ("d1", "c1", "p1"))
    assert world.search("dang ky khai sinh") == [
        (d1, "Đăng ký khai sinh"),  # the name starts with the query, shortest first
        (c1, "Đăng ký khai sinh lưu động"),
        (d1, "Đăng ký lại khai sinh"),  # every word as a whole word, shorter name first
        (p1, "Khai sinh cho trẻ bị bỏ rơi: đăng ký"),
    ]
    assert world.search("ĐĂNG KÝ KHAI SINH") == world.search("dang ky khai sinh")
    assert world.search("ct.01") == [(c1, "Chứng thực chữ ký")]  # exact code first
    assert world.search("chu ky") == [(c1, "Chứng thực chữ ký")]
    assert world.search("   ") == [] and world.search("khong co thu tuc nay") == []


def test_inactive_procedures_and_suspended_units_are_not_found(world):
    names = world.search("khai sinh")
    assert "Thủ tục đã bãi bỏ khai sinh" not in {name for _slug, name in names}
    assert world.tenants["c2"].slug not in {slug for slug, _name in names}
    # Still indexed: a resumed unit is found again without a rebuild.
    registry.set_status(world.platform.shards, world.tenants["c2"].slug, "active")
    try:
        assert world.tenants["c2"].slug in {slug for slug, _name in world.search("khai sinh")}
    finally:
        registry.set_status(world.platform.shards, world.tenants["c2"].slug, "suspended", reason="thử")


def test_city_home_searches_and_links_to_the_unit_portal(world):
    client = world.client()
    page = client.get("/?q=dang+ky+khai+sinh")
    assert page.status_code == 200
    slug, pid = world.tenants["d1"].slug, world.ids["d1:HT.01"]
    assert f'href="//{slug}.localhost/thu-tuc/{pid}"' in page.text
    assert "4 thủ tục phù hợp" in page.text
    assert world.tenants["c2"].slug not in page.text  # suspended: neither found nor listed
    # The link opens that unit's procedure page.
    unit_page = world.client(f"{slug}.localhost").get(f"/thu-tuc/{pid}")
    assert unit_page.status_code == 200 and "Đăng ký khai sinh" in unit_page.text
    hostile = client.get("/", query_string={"q": "<script>alert(1)</script>"})
    assert hostile.status_code == 200 and "<script>alert(1)" not in hostile.text


def test_statistics_teaser_counts_what_exists(world):
    with world.platform.shards.platform_session() as session:
        stats = city_statistics(session)
    assert stats.units_by_kind == {"city": 1, "department": 1, "district": 1, "commune": 1}
    # d1: 2 active (levels 3, 2), c1: 2 (4, 1), p1: 1 (2); c2 is suspended, HT.03 inactive.
    assert stats.by_level == {1: 1, 2: 2, 3: 1, 4: 1}
    assert (stats.procedures, stats.online_procedures) == (5, 2)
    page = world.client().get("/")
    assert page.status_code == 200
    assert re.search(r'<svg role="img" aria-labelledby="chart-title chart-desc"', page.text)
    assert "Mức độ 2: 2" in page.text  # the chart's text alternative
    assert 'href="/thong-ke"' in page.text  # the dossier statistics page (issue #7)


def test_the_index_follows_an_admin_edit(world):
    """The admin pages call these actions on ``tenant_db()`` and the edge commits (sign-in is
    being reworked by the SSO work, so the verbs are driven here without the pages)."""
    tenant = world.tenants["c1"]
    spec = {**PROCEDURES[KHAI_TU].to_raw(), "code": "KT.77", "name": "Đăng ký khai tử lưu động"}
    with world.session("c1") as session, session.begin():
        pid = create_local_procedure(session, spec).id
    world.relay()
    assert world.search("khai tu luu dong") == [(tenant.slug, "Đăng ký khai tử lưu động")]
    with world.session("c1") as session, session.begin():
        edit_procedure(
            session, session.get(Procedure, pid), {**spec, "name": "Đăng ký khai tử tại nhà"}, is_active=True
        )
    world.relay()
    assert world.search("khai tu luu dong") == []
    assert world.search("khai tu tai nha") == [(tenant.slug, "Đăng ký khai tử tại nhà")]
    with world.session("c1") as session, session.begin():
        edit_procedure(
            session, session.get(Procedure, pid), {**spec, "name": "Đăng ký khai tử tại nhà"}, is_active=False
        )
    world.relay()
    assert world.search("khai tu tai nha") == []


def test_the_index_follows_a_standard_rollout(world):
    with world.app.app_context(), world.platform.shards.platform_session() as session, session.begin():
        draft = standard.create_draft(session, "department", actor_id=None, copy_latest=False)
        standard.put_procedure(session, draft, PROCEDURES[KHAI_SINH].to_raw())
        standard.publish_version(session, draft, actor_id=None, offer=True)
        number = draft.number
    tenant = world.tenants["p1"]
    with (
        world.platform.shards.platform_session() as platform_session,
        world.session("p1") as tenant_session,
    ):
        rollout = platform_session.scalar(
            select(StandardRollout).where(StandardRollout.tenant_id == tenant.id)
        )
        assert rollout.version.number == number
        perform_rollout(tenant_session, platform_session, rollout, tenant.slug)
        tenant_session.commit()
        platform_session.commit()
    with world.platform.shards.platform_session() as session:
        assert session.scalar(
            select(OutboxEvent.id).where(
                OutboxEvent.topic == CHANGED_TOPIC, OutboxEvent.delivered_at.is_(None)
            )
        )
    world.relay()
    hits = world.search(KHAI_SINH)
    assert hits == [(tenant.slug, PROCEDURES[KHAI_SINH].to_raw()["name"])]


def test_a_change_and_its_index_event_commit_together(world):
    with world.session("d1") as session:
        sector = session.scalar(select(Sector).where(Sector.code == "HT"))
        _add(session, sector.id, "RB.01", "Thủ tục chưa lưu")
        session.rollback()
    world.relay()
    assert world.search("chua luu") == []
    with world.session("d1") as session, session.begin():  # a sector renamed reindexes its procedures
        session.scalar(select(Sector).where(Sector.code == "HT")).name = "Hộ tịch (mới)"
    world.relay()
    with world.platform.shards.platform_session() as session:
        sectors = {
            hit.sector_name
            for hit in search_city(session, "khai sinh")
            if hit.tenant_slug == world.tenants["d1"].slug
        }
    assert sectors == {"Hộ tịch (mới)"}


def test_a_rebuild_gives_the_same_rows(world):
    before = world.index_rows()
    assert before
    with world.platform.shards.platform_session() as session, session.begin():
        session.execute(delete(ProcedureIndex))
    with world.app.app_context():
        seen = []
        assert reindex(progress=lambda tenant, count: seen.append((tenant.slug, count))) == len(world.tenants)
    assert world.index_rows() == before
    assert dict(seen)[world.tenants["d1"].slug] == 3
    # One unit, from the CLI with its progress bar.
    runner = world.app.test_cli_runner()
    result = runner.invoke(args=["catalog", "reindex", "--tenant", world.tenants["c1"].slug])
    assert result.exit_code == 0, result.output
    assert "1 units" in result.output
    assert world.index_rows() == before
    assert runner.invoke(args=["catalog", "reindex", "--tenant", "khong-co"]).exit_code == 1


def test_a_local_procedure_created_outside_a_request_is_indexed(world):
    with world.session("p1") as session, session.begin():
        raw = {**PROCEDURES[KHAI_TU].to_raw(), "code": "LOCAL-9", "name": "Cấp bản sao trích lục khai tử"}
        create_local_procedure(session, raw)
    world.relay()
    assert world.search("trich luc khai tu") == [(world.tenants["p1"].slug, "Cấp bản sao trích lục khai tử")]


@pytest.mark.parametrize("query", ["dang ky khai sinh", "inh", "ky", "KHAI", "ht.0", "lai khai"])
def test_the_city_ranks_a_unit_as_the_unit_portal_does(world, query):
    """The trigram prefilter changes nothing: a unit's hits, in order, are its portal's own."""
    tenant = world.tenants["d1"]
    with world.app.app_context():
        bind_tenant(TenantRef.of(tenant))
        try:
            own = [(row.id, row.name) for row in unit_search(query)]
        finally:
            close_scope()
    with world.platform.shards.platform_session() as session:
        hits = search_city(session, query, limit=1000)
    assert own and [(h.procedure_id, h.name) for h in hits if h.tenant_slug == tenant.slug] == own
