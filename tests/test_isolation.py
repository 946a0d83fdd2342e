"""Tenant isolation: each host sees only its own tenant's rows, under concurrency too."""

from __future__ import annotations

import http.client
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from app import create_app
from app.catalog.models import Procedure, Sector
from tests.conftest import app_config


def add_procedure(platform, tenant, name: str) -> int:
    """Put one procedure named ``name`` into the tenant's schema; returns its id."""
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as s, s.begin():
        sector = s.scalar(select(Sector).where(Sector.code == "HT"))
        if sector is None:
            sector = Sector(code="HT", name="Hộ tịch")
            s.add(sector)
            s.flush()
        count = s.scalar(select(func.count()).select_from(Procedure))
        procedure = Procedure(
            code=f"1.{1193 + count:06d}",
            name=name,
            name_search=name.lower(),
            sector_id=sector.id,
            service_level=3,
            time_value=1,
            time_unit="working_days",
        )
        s.add(procedure)
        s.flush()
        return procedure.id


def test_same_route_returns_each_tenants_own_rows(make_tenant, client_for, platform):
    a = make_tenant("district")
    b = make_tenant("commune", shard="s2")
    id_a = add_procedure(platform, a, f"Thủ tục của {a.slug}")
    id_b = add_procedure(platform, b, f"Thủ tục của {b.slug}")

    list_a = client_for(a).get("/api/v1/procedures/").json
    list_b = client_for(b).get("/api/v1/procedures/").json
    assert [p["name"] for p in list_a] == [f"Thủ tục của {a.slug}"]
    assert [p["name"] for p in list_b] == [f"Thủ tục của {b.slug}"]
    assert client_for(a).get(f"/api/v1/procedures/{id_a}").json["name"] == f"Thủ tục của {a.slug}"
    assert client_for(b).get(f"/api/v1/procedures/{id_b}").json["name"] == f"Thủ tục của {b.slug}"


def test_id_of_other_tenant_is_404(make_tenant, client_for, platform):
    a = make_tenant("department")
    b = make_tenant("department")
    add_procedure(platform, a, "Thủ tục A1")
    id_a2 = add_procedure(platform, a, "Thủ tục A2")  # A has ids n and n+1; B has only n
    add_procedure(platform, b, "Thủ tục B1")
    assert client_for(a).get(f"/api/v1/procedures/{id_a2}").status_code == 200
    response = client_for(b).get(f"/api/v1/procedures/{id_a2}")
    assert response.status_code == 404
    assert "Thủ tục A2" not in response.text
    # The same answer as an id that exists nowhere: "not yours" reveals nothing.
    assert response.json == client_for(b).get("/api/v1/procedures/987654").json


def test_portal_pages_show_only_own_procedures(make_tenant, client_for, platform):
    a = make_tenant("district")
    b = make_tenant("district")
    add_procedure(platform, a, "Đăng ký khai sinh của A")
    add_procedure(platform, b, "Đăng ký khai sinh của B")
    page_a = client_for(a).get("/").text
    assert "Đăng ký khai sinh của A" in page_a and "Đăng ký khai sinh của B" not in page_a


@pytest.fixture
def live_server(services):
    """The real app behind a real threaded HTTP server, with a pool of 4 connections."""
    app = create_app(app_config(services, db_pool_size=4, db_max_overflow=0))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    app.extensions["motcua"].shards.dispose()


def test_concurrent_requests_never_cross_tenants(make_tenant, platform, live_server):
    def tenant_with_procedure(i: int):
        tenant = make_tenant("district", shard="s2" if i % 5 == 0 else "main")
        add_procedure(platform, tenant, f"Riêng của {tenant.slug}")
        return tenant

    # Built four at a time: one after another, the 50 schemas took most of this test's time.
    # The first (on s2) alone: a shard's first unit registers it, two at once race on that row.
    first = tenant_with_procedure(0)
    with ThreadPoolExecutor(max_workers=4) as pool:
        tenants = [first, *pool.map(tenant_with_procedure, range(1, 50))]

    def worker(offset: int) -> tuple[int, list[str]]:
        problems, served = [], 0
        conn = http.client.HTTPConnection("127.0.0.1", live_server, timeout=30)
        for k in range(125):
            tenant = tenants[(offset + k) % len(tenants)]
            conn.request("GET", "/api/v1/procedures/", headers={"Host": f"{tenant.slug}.localhost"})
            response = conn.getresponse()
            body = response.read()
            served += 1
            names = [p["name"] for p in json.loads(body)] if response.status == 200 else None
            if names != [f"Riêng của {tenant.slug}"]:
                problems.append(f"{tenant.slug}: {response.status} {body[:200]!r}")
        conn.close()
        return served, problems

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(worker, range(16)))
    assert [p for _, problems in results for p in problems] == []
    assert sum(served for served, _ in results) >= 2000
