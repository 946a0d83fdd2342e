"""The city's standard catalogue: drafts, publishing, rollouts through a real RQ worker, conflicts.

The module has a database and a Redis server of its own: publishing offers a
version to *every* tenant of a kind, so the session's shared database (where
other tests make communes) would see it.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from conftest import HostClient, _admin, _recreate_database, app_config
from sqlalchemy import event, func, make_url, select, text

from app import create_app
from app.catalog import standard
from app.catalog.actions import create_local_procedure, procedure_spec
from app.catalog.models import AppliedStandardVersion, FeeLine, Procedure
from app.catalog.rollout import PublishedSpecs, apply_standard_version
from app.catalog.specs import check_spec, tenant_view
from app.catalog.standard_jobs import run_rollout
from app.catalog.standard_models import StandardRollout
from app.core.errors import Conflict
from app.core.jobs import enqueue_for_tenant
from app.demo.data import PROCEDURES
from tenants import registry
from tenants.migrations import upgrade_platform
from tests.factories import next_unit_code
from tests.jobs_fixtures import PrivateRedis, run_worker
from tests.test_auth_support import carry_session, login, make_account, session_cookie

A, B, C, D, E = "1.001193", "1.000656", "1.000894", "1.004873", "2.000815"
BASE = "/backoffice/standard-catalog"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class World:
    app: object
    platform: object
    services: dict
    tenants: dict  # name -> Tenant
    admins: dict  # name -> Account (unit_admin of that tenant)
    _signed_in: dict = field(default_factory=dict)

    def client(self, tenant: str, account: str | None = None) -> HostClient:
        """A client on ``tenant``'s host, signed in as ``account`` (kept: hashing is slow)."""
        key = (tenant, account)
        if account is not None and key in self._signed_in:
            return self._signed_in[key]
        client = HostClient(self.app, self.app.response_class, use_cookies=True)
        client.host = f"{self.tenants[tenant].slug}.localhost"
        if account is not None:
            assert login(client, self.admins[account].email).status_code == 302
            self._signed_in[key] = client
        return client

    def tenant_session(self, name: str):
        t = self.tenants[name]
        return self.platform.shards.tenant_session(t.shard, t.schema_name)

    def procedures(self, name: str) -> dict[str, Procedure]:
        with self.tenant_session(name) as session:
            rows = list(session.scalars(select(Procedure)))
            session.expunge_all()
        return {p.code: p for p in rows}

    def snapshot(self, name: str) -> dict:
        """Every procedure of a tenant as spec + flags, and its ledger."""
        with self.tenant_session(name) as session:
            procedures = {
                p.code: (
                    procedure_spec(session, p),
                    p.is_active,
                    p.is_overridden,
                    p.standard_version,
                    p.pending_standard_version,
                    p.updated_at,
                )
                for p in session.scalars(select(Procedure))
            }
            ledger = [(r.version, r.results) for r in session.scalars(select(AppliedStandardVersion))]
        return {"procedures": procedures, "ledger": ledger}

    def rollout(self, kind: str, number: int, name: str) -> StandardRollout:
        with self.platform.shards.platform_session() as session:
            version = standard.get_version(session, kind, number)
            row = session.scalar(
                select(StandardRollout).where(
                    StandardRollout.version_id == version.id,
                    StandardRollout.tenant_id == self.tenants[name].id,
                )
            )
            session.expunge_all()
        return row

    def results(self, kind: str, number: int, name: str) -> dict[str, str]:
        return {r["code"]: r["result"] for r in self.rollout(kind, number, name).results}

    def work(self) -> None:
        run_worker(self.services, redis_url=self.services["redis_url"])


def csrf(client: HostClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return _CSRF.search(page.text).group(1)


def raw(of: str, **changes) -> dict:
    return {**PROCEDURES[of].to_raw(), **changes}


def form_data(spec: dict, **extra) -> dict:
    """The form fields that describe ``spec`` (what the procedure page posts)."""
    data = {
        "code": spec["code"],
        "name": spec["name"],
        "sector_code": spec["sector"]["code"],
        "sector_name": spec["sector"]["name"],
        "service_level": str(spec["service_level"]),
        "time_value": "" if spec["time_value"] is None else str(spec["time_value"]),
        "time_unit": spec["time_unit"],
        "online_time_value": "" if spec.get("online_time_value") is None else str(spec["online_time_value"]),
        "applicant_types": spec["applicant_types"],
        "channels": [str(c) for c in spec["channels"]],
        "result_delivery": spec["result_delivery"],
        "result_document_type": spec.get("result_document_type") or "",
        "legal_basis": spec.get("legal_basis") or "",
        "only_tenants": ", ".join(spec.get("only_tenants") or []),
        "is_active": "1",
    }
    for group in ("cases", "components", "fees", "legal_documents"):
        for i, row in enumerate(spec.get(group) or []):
            for key, value in row.items():
                name = f"{group}-{i}-{key}"
                if isinstance(value, bool):
                    if value:
                        data[name] = "1"
                elif value is not None:
                    data[name] = str(value)
    data.update(extra)
    return data


@pytest.fixture(scope="module")
def world(services, tmp_path_factory):
    run = uuid.uuid4().hex[:8]
    url = _recreate_database(services["database_url"], f"motcua_std_{run}")
    url2 = _recreate_database(services["database_url"], f"motcua_std_{run}_s2")
    redis = PrivateRedis(tmp_path_factory.mktemp("std-redis"))
    redis.start()
    own = {**services, "database_url": url, "shard2_url": url2, "redis_url": redis.url}
    app = create_app(app_config(own, database_url=url, shard_urls={"s2": url2}, redis_url=redis.url))
    app.testing = True
    platform = app.extensions["motcua"]
    upgrade_platform(platform.shards, platform.trees)
    head = platform.trees.tenant_head

    def make(name: str, kind: str, parent: str | None, **extra):
        return registry.create_tenant(
            platform.shards,
            head,
            name=f"Đơn vị {name} {run}",
            kind=kind,
            unit_code=extra.pop("unit_code", None) or next_unit_code(),
            parent=parent,
            slug=f"{name}-{run}",
            **extra,
        )

    tenants = {"city": make("city", "city", None, unit_code="000.00.00.H99")}
    tenants["d1"] = make("d1", "district", tenants["city"].slug)
    tenants["d2"] = make("d2", "district", tenants["city"].slug)
    for name in ("c1", "c2", "c3"):
        tenants[name] = make(name, "commune", tenants["d1"].slug)
    admins = {name: make_account(platform, memberships=[(t, ["unit_admin"])]) for name, t in tenants.items()}
    admins["city_officer"] = make_account(platform, memberships=[(tenants["city"], ["counter_officer"])])
    admins["c1_officer"] = make_account(platform, memberships=[(tenants["c1"], ["counter_officer"])])
    yield World(app, platform, own, tenants, admins)
    redis.stop()
    platform.shards.dispose()
    for each in (url, url2):
        _admin(services["database_url"], f'DROP DATABASE IF EXISTS "{make_url(each).database}" WITH (FORCE)')


@pytest.fixture(scope="module")
def scenario(world):
    """v1 (A B C D) to three communes; c1 overrides B, c2 overrides D; v2 changes B, adds E, drops C."""
    city = world.client("city", "city")
    page = city.get(f"{BASE}/")
    assert page.status_code == 200 and "Cấp xã, phường, thị trấn" in page.text
    token = csrf(city, f"{BASE}/")
    assert city.post(f"{BASE}/commune/drafts", data={"csrf_token": token}).status_code == 302
    # One procedure through the editor's form, the rest through the action.
    added = city.post(f"{BASE}/commune/v1/procedures/new", data=form_data(raw(A), csrf_token=token))
    assert added.status_code == 302, added.text
    with world.platform.shards.platform_session() as session, session.begin():
        v1 = standard.get_version(session, "commune", 1)
        for code in (B, C, D):
            standard.put_procedure(session, v1, raw(code))
    published = city.post(f"{BASE}/commune/v1/publish", data={"csrf_token": token})
    assert published.status_code == 302 and published.headers["Location"].endswith("/commune/v1/rollout")
    waiting = city.get(f"{BASE}/commune/v1/rollout")
    assert "0/3" in waiting.text and waiting.headers.get("Refresh") == "3"
    assert 'http-equiv="refresh"' in waiting.text
    world.work()
    done = city.get(f"{BASE}/commune/v1/rollout")
    assert "3/3" in done.text and "Refresh" not in done.headers

    # c1 overrides B (changed by v2), c2 overrides D (unchanged by v2).
    for name, code, change in (
        ("c1", B, {"name": "Đăng ký khai tử (bản của phường)"}),
        ("c2", D, {"time_value": "2"}),
    ):
        client = world.client(name, name)
        pid = world.procedures(name)[code].id
        spec = check_spec(raw(code))
        response = client.post(
            f"/backoffice/procedures/{pid}",
            data=form_data(spec, csrf_token=csrf(client, f"/backoffice/procedures/{pid}"), **change),
        )
        assert response.status_code == 302, response.text
    before = {name: world.snapshot(name) for name in ("c1", "c2", "c3", "d1", "d2")}

    token = csrf(city, f"{BASE}/")
    assert (
        city.post(f"{BASE}/commune/drafts", data={"csrf_token": token, "copy_latest": "1"}).status_code == 302
    )
    new_b = check_spec(raw(B))
    new_b["fees"] = [{**new_b["fees"][0], "amount": 5_000, "description": "Lệ phí đăng ký khai tử (demo)"}]
    saved = city.post(f"{BASE}/commune/v2/procedures/{B}", data=form_data(new_b, csrf_token=token))
    assert saved.status_code == 302, saved.text
    assert (
        city.post(f"{BASE}/commune/v2/procedures/{C}/delete", data={"csrf_token": token}).status_code == 302
    )
    added = city.post(f"{BASE}/commune/v2/procedures/new", data=form_data(raw(E), csrf_token=token))
    assert added.status_code == 302, added.text
    assert city.post(f"{BASE}/commune/v2/publish", data={"csrf_token": token}).status_code == 302
    world.work()
    return {"before": before, "new_b": new_b}


def test_first_version_reaches_every_commune(world, scenario):
    for name in ("c1", "c2", "c3"):
        assert world.results("commune", 1, name) == {A: "applied", B: "applied", C: "applied", D: "applied"}
        assert world.rollout("commune", 1, name).applied == 4


def test_second_version_applies_keeps_and_flags_per_tenant(world, scenario):
    assert world.results("commune", 2, "c1") == {
        A: "unchanged",
        B: "conflicted",
        C: "applied",
        D: "unchanged",
        E: "applied",
    }
    assert world.results("commune", 2, "c2") == {
        A: "unchanged",
        B: "applied",
        C: "applied",
        D: "kept",
        E: "applied",
    }
    assert world.results("commune", 2, "c3") == {
        A: "unchanged",
        B: "applied",
        C: "applied",
        D: "unchanged",
        E: "applied",
    }
    c1 = world.rollout("commune", 2, "c1")
    assert (c1.status, c1.applied, c1.kept, c1.conflicted, c1.unchanged) == ("done", 2, 0, 1, 2)
    c2 = world.rollout("commune", 2, "c2")
    assert (c2.applied, c2.kept, c2.conflicted, c2.unchanged) == (3, 1, 0, 1)

    c1_procs, c2_procs = world.procedures("c1"), world.procedures("c2")
    # c1's own copy of B stays, flagged; c2 and c3 got the new fee.
    assert c1_procs[B].name == "Đăng ký khai tử (bản của phường)"
    assert (
        c1_procs[B].is_overridden,
        c1_procs[B].pending_standard_version,
        c1_procs[B].standard_version,
    ) == (
        True,
        2,
        1,
    )
    for name in ("c2", "c3"):
        with world.tenant_session(name) as session:
            b = session.scalar(select(Procedure).where(Procedure.code == B))
            assert procedure_spec(session, b) == scenario["new_b"]
            assert b.standard_version == 2 and not b.is_overridden
    assert c2_procs[D].is_overridden and c2_procs[D].standard_version == 2 and c2_procs[D].time_value == 2
    for name in ("c1", "c2", "c3"):
        procs = world.procedures(name)
        assert not procs[C].is_active and procs[C].standard_version == 2
        assert procs[E].is_active and procs[E].standard_version == 2


def test_tenants_of_another_kind_are_untouched(world, scenario):
    for name in ("d1", "d2", "city"):
        assert world.procedures(name) == {}
        assert world.rollout("commune", 2, name) is None
    assert world.snapshot("d2") == scenario["before"]["d2"]


def test_rerunning_a_rollout_changes_nothing(world, scenario):
    before = {name: world.snapshot(name) for name in ("c1", "c2", "c3")}
    results = {name: world.rollout("commune", 2, name).results for name in ("c1", "c2", "c3")}
    # As if the platform's commit had been lost after the tenant's: pending again, jobs run again.
    with world.platform.shards.platform_session() as session, session.begin():
        version = standard.get_version(session, "commune", 2)
        for row in session.scalars(select(StandardRollout).where(StandardRollout.version_id == version.id)):
            row.status = "pending"
    with world.app.app_context():
        for name in ("c1", "c2", "c3"):
            enqueue_for_tenant(
                "default", run_rollout, world.tenants[name].id, world.rollout("commune", 2, name).id
            )
            enqueue_for_tenant(
                "default", run_rollout, world.tenants[name].id, world.rollout("commune", 2, name).id
            )
    world.work()
    for name in ("c1", "c2", "c3"):
        assert world.snapshot(name) == before[name]
        row = world.rollout("commune", 2, name)
        assert row.status == "done" and row.results == results[name]


def test_a_published_version_is_immutable(world, scenario):
    with world.platform.shards.platform_session() as session:
        v2 = standard.get_version(session, "commune", 2)
        with pytest.raises(Conflict):
            standard.put_procedure(session, v2, raw(A, name="Khác"), code=A)
        with pytest.raises(Conflict):
            standard.remove_procedure(session, v2, A)
        with pytest.raises(Conflict):
            standard.publish_version(session, v2, actor_id=None)
        session.rollback()
    city = world.client("city", "city")
    token = csrf(city, f"{BASE}/")
    spec = check_spec(raw(A))
    assert (
        city.post(f"{BASE}/commune/v1/procedures/{A}", data=form_data(spec, csrf_token=token)).status_code
        == 409
    )
    assert (
        city.post(f"{BASE}/commune/v1/procedures/{A}/delete", data={"csrf_token": token}).status_code == 409
    )
    assert city.post(f"{BASE}/commune/v1/publish", data={"csrf_token": token}).status_code == 409
    assert city.post(f"{BASE}/commune/v1/import", data={"csrf_token": token}).status_code == 409
    with world.platform.shards.platform_session() as session:
        v1 = standard.get_version(session, "commune", 1)
        assert [p.code for p in v1.procedures] == sorted([A, B, C, D])
        assert standard.find_spec(session, v1, A) == check_spec(raw(A), with_audience=True)


def test_draft_editor_shows_a_clear_error_and_writes_nothing(world, scenario):
    city = world.client("city", "city")
    token = csrf(city, f"{BASE}/")
    assert (
        city.post(f"{BASE}/commune/drafts", data={"csrf_token": token, "copy_latest": "1"}).status_code == 302
    )
    page = city.get(f"{BASE}/commune/v3")
    assert page.status_code == 200 and E in page.text
    bad = check_spec(raw(A))
    bad["fees"] = [{**bad["fees"][0], "amount": -5}]
    response = city.post(f"{BASE}/commune/v3/procedures/{A}", data=form_data(bad, csrf_token=token))
    assert response.status_code == 422
    assert "Số tiền (đồng) phải từ 0" in response.text
    duplicate = city.post(
        f"{BASE}/commune/v3/procedures/new", data=form_data(check_spec(raw(A)), csrf_token=token)
    )
    assert duplicate.status_code == 409
    with world.platform.shards.platform_session() as session:
        v3 = standard.get_version(session, "commune", 3)
        assert [p.code for p in v3.procedures] == sorted([A, B, D, E])
        assert standard.find_spec(session, v3, A) == check_spec(raw(A), with_audience=True)
    # Importing the previous version replaces the draft's contents.
    city.post(f"{BASE}/commune/v3/procedures/{A}/delete", data={"csrf_token": token})
    assert city.post(f"{BASE}/commune/v3/import", data={"csrf_token": token}).status_code == 302
    with world.platform.shards.platform_session() as session:
        assert [p.code for p in standard.get_version(session, "commune", 3).procedures] == sorted(
            [A, B, D, E]
        )


def test_a_failed_tenant_is_reported_and_retried(world, scenario):
    """v3 changes A's fee; c3's schema refuses that amount: c3 fails, the others finish, retry fixes it."""
    c2 = world.client("c2", "c2")
    pid = world.procedures("c2")[A].id
    mine = check_spec(raw(A))
    c2.post(
        f"/backoffice/procedures/{pid}",
        data=form_data(mine, csrf_token=csrf(c2, "/backoffice/procedures/"), name="Khai sinh (phường)"),
    )
    assert world.procedures("c2")[A].is_overridden

    city = world.client("city", "city")
    token = csrf(city, f"{BASE}/")
    new_a = check_spec(raw(A))
    new_a["fees"][1] = {**new_a["fees"][1], "amount": 12_345}
    assert (
        city.post(f"{BASE}/commune/v3/procedures/{A}", data=form_data(new_a, csrf_token=token)).status_code
        == 302
    )
    schema = world.tenants["c3"].schema_name
    with world.tenant_session("c3") as session, session.begin():
        session.execute(
            text(f'ALTER TABLE "{schema}".fee_lines ADD CONSTRAINT demo_refuses CHECK (amount <> 12345)')
        )
    before_c3 = world.snapshot("c3")
    assert city.post(f"{BASE}/commune/v3/publish", data={"csrf_token": token}).status_code == 302
    world.work()

    failed = world.rollout("commune", 3, "c3")
    assert failed.status == "failed" and "demo_refuses" in failed.error
    assert world.snapshot("c3") == before_c3  # nothing half-written
    assert world.results("commune", 3, "c1") == {
        A: "applied",
        B: "conflicted",
        C: "unchanged",
        D: "unchanged",
        E: "unchanged",
    }
    assert world.results("commune", 3, "c2")[A] == "conflicted"
    page = city.get(f"{BASE}/commune/v3/rollout")
    assert "2/3" in page.text and "demo_refuses" in page.text and "Refresh" not in page.headers

    with world.tenant_session("c3") as session, session.begin():
        session.execute(text(f'ALTER TABLE "{schema}".fee_lines DROP CONSTRAINT demo_refuses'))
    assert city.post(f"{BASE}/commune/v3/rollout/retry", data={"csrf_token": token}).status_code == 302
    world.work()
    retried = world.rollout("commune", 3, "c3")
    assert retried.status == "done" and retried.attempts == 2
    assert world.results("commune", 3, "c3")[A] == "applied"
    with world.tenant_session("c3") as session:
        amounts = session.scalars(select(FeeLine.amount).join(Procedure).where(Procedure.code == A))
        assert 12_345 in list(amounts)
    assert "3/3" in city.get(f"{BASE}/commune/v3/rollout").text

    # c2 keeps its own copy of A: the flag goes, the override stays.
    token = csrf(c2, "/backoffice/procedures/conflicts")
    conflicts = c2.get("/backoffice/procedures/conflicts")
    assert "Khai sinh (phường)" in conflicts.text and "Đăng ký khai sinh" in conflicts.text
    assert c2.post(f"/backoffice/procedures/{pid}/keep-mine", data={"csrf_token": token}).status_code == 302
    a = world.procedures("c2")[A]
    assert (a.name, a.is_overridden, a.standard_version, a.pending_standard_version) == (
        "Khai sinh (phường)",
        True,
        3,
        None,
    )


def test_accepting_the_standard_resolves_a_conflict(world, scenario):
    client = world.client("c1", "c1")
    page = client.get("/backoffice/procedures/conflicts")
    assert page.status_code == 200
    # Side by side: the unit's name and the standard's new fee.
    assert "Đăng ký khai tử (bản của phường)" in page.text and "5.000 đ" in page.text
    pid = world.procedures("c1")[B].id
    token = csrf(client, "/backoffice/procedures/conflicts")
    assert (
        client.post(f"/backoffice/procedures/{pid}/accept-standard", data={"csrf_token": token}).status_code
        == 302
    )
    with world.tenant_session("c1") as session:
        b = session.get(Procedure, pid)
        assert (b.is_overridden, b.pending_standard_version) == (False, None)
        assert b.standard_version >= 2
        assert procedure_spec(session, b) == scenario["new_b"]
    again = client.post(f"/backoffice/procedures/{pid}/accept-standard", data={"csrf_token": token})
    assert again.status_code == 409


def test_editing_marks_overridden_and_revert_restores_the_standard(world, scenario):
    client = world.client("c3", "c3")
    pid = world.procedures("c3")[E].id
    spec = check_spec(raw(E))
    token = csrf(client, f"/backoffice/procedures/{pid}")
    # Saving the standard's own values is not an override.
    assert (
        client.post(f"/backoffice/procedures/{pid}", data=form_data(spec, csrf_token=token)).status_code
        == 302
    )
    assert not world.procedures("c3")[E].is_overridden
    edited = form_data(
        spec, csrf_token=token, time_value="2", time_unit="working_days", **{"fees-0-amount": "3000"}
    )
    assert client.post(f"/backoffice/procedures/{pid}", data=edited).status_code == 302
    e = world.procedures("c3")[E]
    assert e.is_overridden and e.time_unit == "working_days" and not e.is_same_day_return
    page = client.get(f"/backoffice/procedures/{pid}")
    assert "Khôi phục theo danh mục chuẩn" in page.text
    assert client.post(f"/backoffice/procedures/{pid}/revert", data={"csrf_token": token}).status_code == 302
    with world.tenant_session("c3") as session:
        e = session.get(Procedure, pid)
        assert not e.is_overridden and e.is_active
        with world.platform.shards.platform_session() as platform_session:
            theirs = standard.published_spec(platform_session, "commune", e.standard_version, E)
        assert procedure_spec(session, e) == tenant_view(theirs)


def test_standard_catalogue_is_only_on_the_city(world, scenario):
    for name in ("c1", "d1"):
        client = world.client(name, name)
        assert client.get(f"{BASE}/").status_code == 404
        assert client.get(f"{BASE}/commune/v1").status_code == 404
        token = csrf(client, "/backoffice/procedures/")
        assert client.post(f"{BASE}/commune/drafts", data={"csrf_token": token}).status_code == 404
    officer = world.client("city", "city_officer")
    assert officer.get(f"{BASE}/").status_code == 403
    assert world.client("city", "city").get(f"{BASE}/province/v1").status_code == 404
    assert world.client("city").get(f"{BASE}/").status_code == 302  # to the login page


STANDARD_ROUTES = [
    ("get", "/"),
    ("post", "/commune/drafts"),
    ("get", "/commune/v1"),
    ("post", "/commune/v3/import"),
    ("get", "/commune/v1/procedures/new"),
    ("post", "/commune/v3/procedures/new"),
    ("get", f"/commune/v1/procedures/{A}"),
    ("post", f"/commune/v3/procedures/{A}"),
    ("post", f"/commune/v3/procedures/{A}/delete"),
    ("post", "/commune/v3/publish"),
    ("get", "/commune/v1/rollout"),
    ("post", "/commune/v1/rollout/retry"),
]
ADMIN_ROUTES = [
    ("get", "/"),
    ("get", "/new"),
    ("post", "/new"),
    ("get", "/{id}"),
    ("post", "/{id}"),
    ("post", "/{id}/revert"),
    ("get", "/conflicts"),
    ("post", "/{id}/accept-standard"),
    ("post", "/{id}/keep-mine"),
]


def test_cross_tenant_every_route(world, scenario):
    # c1's admin, signed in on c1, carries the session to c2's host and to the city's.
    c1 = world.client("c1", "c1")
    cookie = session_cookie(c1)
    token = csrf(c1, "/backoffice/procedures/")
    on_c2 = world.client("c2")
    carry_session(cookie, on_c2)
    on_city = world.client("city")
    carry_session(cookie, on_city)
    c2_id = world.procedures("c2")[B].id
    before = {name: world.snapshot(name) for name in ("c1", "c2")}
    for method, path in ADMIN_ROUTES:
        response = getattr(on_c2, method)(
            "/backoffice/procedures" + path.format(id=c2_id), data={"csrf_token": token, "name": "x"}
        )
        assert response.status_code == 403, (method, path)
    for method, path in STANDARD_ROUTES:
        response = getattr(on_city, method)(BASE + path, data={"csrf_token": token})
        assert response.status_code == 403, (method, path)
    # On its own host, c1's admin cannot reach c2's rows by id.
    with world.tenant_session("c2") as session, session.begin():
        for n in range(3):
            session.add(Procedure(**{**_bare(session, B), "code": f"C2-ONLY-{n}"}))
    with world.tenant_session("c2") as session:
        only_c2 = session.scalar(select(func.max(Procedure.id)))
    assert only_c2 not in {p.id for p in world.procedures("c1").values()}
    for method, path in ADMIN_ROUTES:
        if "{id}" in path:
            response = getattr(c1, method)(
                "/backoffice/procedures" + path.format(id=only_c2), data={"csrf_token": token}
            )
            assert response.status_code == 404, (method, path)
    assert world.snapshot("c1") == before["c1"]
    # The counter officer of c1 is no unit admin.
    officer = world.client("c1", "c1_officer")
    assert officer.get("/backoffice/procedures/").status_code == 403


def _bare(session, code: str) -> dict:
    p = session.scalar(select(Procedure).where(Procedure.code == code))
    return {
        "name": p.name,
        "sector_id": p.sector_id,
        "service_level": p.service_level,
        "time_value": p.time_value,
        "time_unit": p.time_unit,
    }


def test_posts_need_the_csrf_token(world, scenario):
    city = world.client("city", "city")
    assert city.post(f"{BASE}/commune/drafts").status_code == 400
    c1 = world.client("c1", "c1")
    assert (
        c1.post("/backoffice/procedures/new", data=form_data(check_spec(raw(D, code="X-1")))).status_code
        == 400
    )


def test_cli_publishes_and_reports(world, scenario):
    with world.platform.shards.platform_session() as session, session.begin():
        draft = standard.create_draft(session, "district", actor_id=None)
        standard.put_procedure(session, draft, PROCEDURES["2.000720"].to_raw())
    runner = world.app.test_cli_runner()
    result = runner.invoke(args=["catalog", "publish", "--kind", "district", "--version", "1", "--no-wait"])
    assert result.exit_code == 0, result.output
    assert "2 đơn vị / units" in result.output
    world.work()
    waited = runner.invoke(
        args=["catalog", "publish", "--kind", "district", "--version", "1", "--timeout", "5"]
    )
    assert waited.exit_code == 0, waited.output
    assert "already published" in waited.output and "2/2" in waited.output
    status = runner.invoke(args=["catalog", "status"])
    assert status.exit_code == 0 and "district: 1" in status.output and "commune: 3" in status.output
    missing = runner.invoke(args=["catalog", "publish", "--kind", "district", "--version", "9", "--no-wait"])
    assert missing.exit_code == 1 and "version 9" in missing.output
    for name in ("d1", "d2"):
        assert world.procedures(name)["2.000720"].standard_version == 1
    assert "2.000720" not in world.procedures("c1")


def test_every_page_renders_for_the_city_admin(world, scenario):
    city = world.client("city", "city")
    for path, expected in (
        ("/", "Danh mục thủ tục hành chính chuẩn"),
        ("/commune/v2", "Đã ban hành"),
        ("/commune/v2/rollout", "3/3"),
        (f"/commune/v2/procedures/{E}", "chỉ xem"),
        ("/commune/v1/procedures/new", "Thêm thủ tục vào bản nháp"),
        ("/commune/v9", "Không có phiên bản 9"),
    ):
        page = city.get(BASE + path)
        assert expected in page.text, path
        assert page.status_code == (404 if "v9" in path else 200), path
    english = city.get(f"{BASE}/commune/v2/rollout?lang=en")
    assert "rollout of version" in english.text and "Applied" in english.text
    assert 'name="code"' in city.get(f"{BASE}/commune/v2/procedures/{E}").text  # the fields, disabled


# --- a unit's own procedures, stale and unavailable rollouts, one rollout at a time -------------
# These use the department catalogue and departments of their own, after the commune scenario.


@pytest.fixture(scope="module")
def departments(world):
    """Three departments p1 p2 p3 (with their unit admins) in the world."""
    head, tag = world.platform.trees.tenant_head, uuid.uuid4().hex[:6]
    for name in ("p1", "p2", "p3"):
        tenant = registry.create_tenant(
            world.platform.shards,
            head,
            name=f"Sở thử {name} {tag}",
            kind="department",
            unit_code=next_unit_code(),
            parent=world.tenants["city"].slug,
            slug=f"{name}-{tag}",
        )
        world.tenants[name] = tenant
        world.admins[name] = make_account(world.platform, memberships=[(tenant, ["unit_admin"])])
    return world


def publish_for_departments(world, procedures: list[dict], *, offer: bool = True) -> int:
    """Publish a new department version holding ``procedures``; returns its number."""
    with world.app.app_context(), world.platform.shards.platform_session() as session, session.begin():
        draft = standard.create_draft(session, "department", actor_id=None, copy_latest=False)
        for each in procedures:
            standard.put_procedure(session, draft, each)
        standard.publish_version(session, draft, actor_id=None, offer=offer)
        return draft.number


def flags(world, name: str, code: str) -> tuple:
    p = world.procedures(name)[code]
    return p.name, p.standard_version, p.pending_standard_version, p.is_overridden


def test_keeping_the_units_own_procedure_survives_the_next_version(departments):
    world = departments
    own = "Khai sinh (bản riêng của sở)"
    with world.tenant_session("p1") as session, session.begin():
        create_local_procedure(session, raw(A, name=own))
    v1 = publish_for_departments(world, [raw(A)])
    world.work()
    assert world.results("department", v1, "p1") == {A: "conflicted"}
    assert flags(world, "p1", A) == (own, None, v1, False)

    client = world.client("p1", "p1")
    token = csrf(client, "/backoffice/procedures/conflicts")
    pid = world.procedures("p1")[A].id
    assert (
        client.post(f"/backoffice/procedures/{pid}/keep-mine", data={"csrf_token": token}).status_code == 302
    )
    assert flags(world, "p1", A) == (own, v1, None, True)

    # The next version changes A: the unit's copy stays and is flagged, never overwritten.
    v2 = publish_for_departments(world, [raw(A, name="Đăng ký khai sinh (sửa đổi)")])
    world.work()
    assert world.results("department", v2, "p1") == {A: "conflicted"}
    assert world.results("department", v2, "p2") == {A: "applied"}
    assert flags(world, "p1", A) == (own, v1, v2, True)


def test_a_kept_result_drops_an_older_pending_flag(departments):
    """v3 goes back to v1's text: p1's copy is kept and v2's flag goes (accepting would apply v2)."""
    world = departments
    number = publish_for_departments(world, [raw(A)])
    world.work()
    assert world.results("department", number, "p1") == {A: "kept"}
    own = world.procedures("p1")[A].name
    assert flags(world, "p1", A) == (own, number, None, True)
    client = world.client("p1", "p1")
    token = csrf(client, "/backoffice/procedures/conflicts")
    pid = world.procedures("p1")[A].id
    assert (
        client.post(f"/backoffice/procedures/{pid}/accept-standard", data={"csrf_token": token}).status_code
        == 409
    )


def test_rollouts_of_suspended_and_archived_units_finish_as_failed(departments):
    world = departments
    number = publish_for_departments(world, [raw(B)])
    registry.set_status(world.platform.shards, world.tenants["p2"].slug, "suspended", reason="thử")
    registry.set_status(world.platform.shards, world.tenants["p3"].slug, "archived")
    world.work()
    assert world.rollout("department", number, "p1").status == "done"
    suspended, archived = (world.rollout("department", number, name) for name in ("p2", "p3"))
    assert suspended.status == "failed" and "tạm ngừng" in suspended.error and "suspended" in suspended.error
    assert archived.status == "failed" and "archived" in archived.error
    assert B not in world.procedures("p2")

    city = world.client("city", "city")
    page = city.get(f"{BASE}/department/v{number}/rollout")
    assert "1/3" in page.text and "tạm ngừng" in page.text and "Refresh" not in page.headers
    runner = world.app.test_cli_runner()
    waited = runner.invoke(
        args=["catalog", "publish", "--kind", "department", "--version", str(number), "--timeout", "5"]
    )
    assert waited.exit_code == 1 and "already published" in waited.output, waited.output
    assert "timed out" not in waited.output and "suspended" in waited.output

    # Back in service, a retry brings p2 up to date; the archived unit is not sent again.
    registry.set_status(world.platform.shards, world.tenants["p2"].slug, "active")
    token = csrf(city, f"{BASE}/")
    retried = city.post(f"{BASE}/department/v{number}/rollout/retry", data={"csrf_token": token})
    assert retried.status_code == 302
    world.work()
    assert world.rollout("department", number, "p2").status == "done" and B in world.procedures("p2")
    assert world.rollout("department", number, "p3").status == "failed"


def test_a_stale_rollout_is_sent_again(departments):
    """A job that died while running, and one that never came: a retry sends both again."""
    world = departments
    number = publish_for_departments(world, [raw(B), raw(C)], offer=False)  # pending, no jobs
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    with world.platform.shards.platform_session() as session, session.begin():
        version = standard.get_version(session, "department", number)
        rows = {
            r.tenant_id: r
            for r in session.scalars(select(StandardRollout).where(StandardRollout.version_id == version.id))
        }
        assert set(rows) == {world.tenants["p1"].id, world.tenants["p2"].id}  # p3 is archived
        dead = rows[world.tenants["p1"].id]
        dead.status, dead.started_at, dead.created_at = "running", hour_ago, hour_ago
        rows[world.tenants["p2"].id].created_at = hour_ago

    city = world.client("city", "city")
    page = city.get(f"{BASE}/department/v{number}/rollout?lang=vi")
    assert "2 đơn vị đang chờ hoặc đang chạy quá 5 phút" in page.text
    assert "Chạy lại các đơn vị lỗi hoặc bị treo" in page.text
    status = world.app.test_cli_runner().invoke(args=["catalog", "status", "--kind", "department"])
    assert f"v{number} published 2 thủ tục / procedures; 0/2 done, 0 failed, 2 stuck" in status.output

    runner = world.app.test_cli_runner()
    result = runner.invoke(
        args=["catalog", "retry", "--kind", "department", "--version", str(number), "--no-wait"]
    )
    assert result.exit_code == 0 and "sent again: 2" in result.output, result.output
    again = runner.invoke(
        args=["catalog", "retry", "--kind", "department", "--version", str(number), "--no-wait"]
    )
    assert "sent again: 0" in again.output  # just sent: not stale
    world.work()
    for name in ("p1", "p2"):
        row = world.rollout("department", number, name)
        assert row.status == "done" and row.attempts == 1, name
        assert {B, C} <= set(world.procedures(name))


def test_rollouts_of_one_unit_run_one_at_a_time(departments):
    """Two rollouts of the same unit at once: the second waits for the first, then finds it done."""
    world = departments
    number = publish_for_departments(world, [raw(D)], offer=False)
    slug = world.tenants["p1"].slug

    def apply(session):
        with world.platform.shards.platform_session() as platform_session:
            catalog_id = standard.get_version(platform_session, "department", number).catalog_id
            return apply_standard_version(session, PublishedSpecs(platform_session, catalog_id, slug), number)

    outcome: dict = {}

    def second() -> None:
        try:
            with world.tenant_session("p1") as session, session.begin():
                outcome["results"] = apply(session)
        except Exception as exc:  # reported to the test below
            outcome["error"] = exc

    first = world.tenant_session("p1")
    thread = threading.Thread(target=second)
    try:
        with first.begin():
            results, _ = apply(first)
            created = {"code": D, "name": PROCEDURES[D].name, "result": "applied", "action": "created"}
            assert created in results
            thread.start()
            assert _waits_on_an_advisory_lock(world), "the second rollout did not wait for the unit's lock"
            assert thread.is_alive()
    finally:
        first.close()
    thread.join(30)
    assert not thread.is_alive() and "error" not in outcome, outcome
    assert outcome["results"] == (results, None)  # read from the ledger once the first committed
    with world.tenant_session("p1") as session:
        assert session.scalar(select(func.count()).where(Procedure.code == D)) == 1
        assert session.scalars(select(AppliedStandardVersion.version)).all().count(number) == 1


def _waits_on_an_advisory_lock(world, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    with world.platform.shards.platform_session() as session:
        while time.monotonic() < deadline:
            waiting = session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
                )
            )
            session.rollback()
            if waiting:
                return True
            time.sleep(0.05)
    return False


class Statements:
    """The SQL a block sends to the platform database."""

    def __init__(self, world) -> None:
        self.engine, self.sql = world.platform.shards.primary, []

    def _record(self, _conn, _cursor, statement, *_args) -> None:
        self.sql.append(statement)

    def __enter__(self) -> list[str]:
        event.listen(self.engine, "before_cursor_execute", self._record)
        return self.sql

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._record)


def test_lists_count_procedures_and_leave_specs_and_results_unloaded(departments, scenario):
    world = departments
    number = publish_for_departments(world, [raw(A), raw(B), raw(C)])
    world.work()
    city = world.client("city", "city")
    with Statements(world) as sql:
        index = city.get(f"{BASE}/?lang=vi")
        status = world.app.test_cli_runner().invoke(args=["catalog", "status"])
        progress = city.get(f"{BASE}/department/v{number}/rollout?lang=vi")
    assert index.status_code == 200 and status.exit_code == 0 and progress.status_code == 200
    assert not [s for s in sql if "standard_procedures.spec" in s]
    assert not [s for s in sql if "standard_rollouts.results" in s]
    # The counts are still right: the new department version holds three, v2 of the communes four.
    assert f"v{number} published 3 thủ tục" in status.output and "v2 published 4 thủ tục" in status.output
    assert re.search(rf">v{number}</a></td>\s*<td>[^<]*</td>\s*<td>3</td>", index.text)


def test_rollout_statuses_are_shown_in_words(world, scenario):
    city = world.client("city", "city")
    vi = city.get(f"{BASE}/commune/v2/rollout?lang=vi").text
    assert vi.count("</small></td><td>Hoàn thành</td>") == 3 and "<td>done</td>" not in vi
    en = city.get(f"{BASE}/commune/v2/rollout?lang=en").text
    assert en.count("</small></td><td>Done</td>") == 3


def test_publishing_checks_every_audience_in_one_query(departments):
    world = departments
    only = [world.tenants["p1"].slug, world.tenants["p2"].slug]
    session = world.platform.shards.platform_session()
    try:
        draft = standard.create_draft(session, "department", actor_id=None, copy_latest=False)
        for code in (A, B, C, D):
            standard.put_procedure(session, draft, raw(code, only_tenants=only))
        with Statements(world) as sql:
            standard.publish_version(session, draft, actor_id=None, offer=False)
        assert len([s for s in sql if "tenants.slug" in s]) == 1
    finally:
        session.rollback()
        session.close()
