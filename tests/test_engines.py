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


def test_a_connection_killed_while_idle_is_replaced_before_use(services, make_tenant, monkeypatch):
    """No ping per checkout, but a connection that sat idle is checked: a database restart
    (here: its backend terminated) costs no failed request."""
    from tenants import engines

    tenant = make_tenant("department")
    shards = ShardEngines(services["database_url"], pool_size=1, max_overflow=0)
    try:
        with shards.tenant_session("main", tenant.schema_name, read_only=True) as session:
            first = session.scalar(text("SELECT pg_backend_pid()"))
        killer = ShardEngines(services["database_url"])
        try:
            with killer.platform_session() as session:
                session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        finally:
            killer.dispose()
        monkeypatch.setattr(engines, "PING_AFTER_IDLE_SECONDS", 0.0)
        with shards.tenant_session("main", tenant.schema_name, read_only=True) as session:
            second = session.scalar(text("SELECT pg_backend_pid()"))
        assert second != first
        # Hot connections are not pinged: the same backend serves the next request.
        monkeypatch.setattr(engines, "PING_AFTER_IDLE_SECONDS", 60.0)
        with shards.tenant_session("main", tenant.schema_name) as session:
            assert session.scalar(text("SELECT pg_backend_pid()")) == second
    finally:
        shards.dispose()
