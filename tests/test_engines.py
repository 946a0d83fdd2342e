"""Connections are recycled after serving many distinct tenant schemas."""

from __future__ import annotations

from sqlalchemy import text

from tenants.engines import ShardEngines


def test_connection_recycled_after_distinct_tenants(services, make_tenant, platform):
    tenants = [make_tenant("department") for _ in range(5)]
    shards = ShardEngines(services["database_url"], pool_size=1, max_overflow=0, recycle_after_tenants=3)
    try:
        pids = []
        for tenant in tenants + tenants[:1]:
            with shards.tenant_session("main", tenant.schema_name) as session:
                pids.append(session.scalar(text("SELECT pg_backend_pid()")))
        # One connection serves 3 distinct schemas, then a fresh backend takes over.
        assert pids[0] == pids[1] == pids[2]
        assert pids[3] != pids[2]
        assert pids[3] == pids[4] == pids[5]
    finally:
        shards.dispose()


def test_same_tenant_does_not_recycle(services, make_tenant):
    tenant = make_tenant("department")
    shards = ShardEngines(services["database_url"], pool_size=1, max_overflow=0, recycle_after_tenants=2)
    try:
        pids = set()
        for _ in range(10):
            with shards.tenant_session("main", tenant.schema_name) as session:
                pids.add(session.scalar(text("SELECT pg_backend_pid()")))
        assert len(pids) == 1
    finally:
        shards.dispose()


def test_connection_that_creates_tenants_is_recycled_too(services, platform, city):
    from tenants import registry
    from tests.factories import next_unit_code

    shards = ShardEngines(services["database_url"], pool_size=1, max_overflow=0, recycle_after_tenants=2)
    try:
        pids = []
        for i in range(3):
            registry.create_tenant(
                shards,
                platform.trees.tenant_head,
                name=f"Sở Tái Dùng {i}",
                kind="department",
                parent="hai-phong",
                unit_code=next_unit_code(),
                slug=f"so-tai-dung-{i}",
            )
            with shards.primary.connect() as conn:
                pids.append(conn.scalar(text("SELECT pg_backend_pid()")))
        # After building the second schema the connection is over budget: the next checkout is fresh.
        assert pids[0] != pids[1] == pids[2]
    finally:
        shards.dispose()
