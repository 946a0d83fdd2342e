"""Jobs run in their tenant's scope, on a real worker process, like a request does."""

from __future__ import annotations

import uuid

import pytest
from rq.job import Job, JobStatus
from sqlalchemy import select

from app.catalog.models import Sector
from app.core.jobs import (
    TenantUnavailable,
    enqueue_for_platform,
    enqueue_for_tenant,
    func_path,
    get_queue,
    redis_connection,
    run_in_tenant_scope,
)
from app.core.scheduler import LEADER_KEY, SchedulerThread, build_cron
from tenants import registry
from tests.jobs_fixtures import record_platform, record_tenant, record_then_fail, run_worker


def sectors_of(platform, tenant) -> list[tuple[str, str]]:
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
        return sorted((c, n) for c, n in session.execute(select(Sector.code, Sector.name)))


def code() -> str:
    return uuid.uuid4().hex[:12]


def test_each_job_runs_in_its_own_tenant_scope_on_a_real_worker(app, platform, services, make_tenant):
    tenant_a, tenant_b = make_tenant(), make_tenant()
    tenant_c = make_tenant(shard="s2")
    suspended = make_tenant()
    registry.set_status(platform.shards, suspended.slug, "suspended", reason="test")
    codes = {name: code() for name in ("b", "a1", "c", "a2", "fail", "suspended")}
    with app.app_context():
        # B first, then A: the worker's previous job was another tenant's.
        jobs = {
            "b": enqueue_for_tenant("default", record_tenant, tenant_b.id, codes["b"]),
            "a1": enqueue_for_tenant("default", record_tenant, tenant_a.id, codes["a1"]),
            "c": enqueue_for_tenant("high", record_tenant, tenant_c.id, code=codes["c"]),
            "fail": enqueue_for_tenant("default", record_then_fail, tenant_a.id, codes["fail"]),
            "a2": enqueue_for_tenant("low", record_tenant, tenant_a.id, codes["a2"]),
            "suspended": enqueue_for_tenant("default", record_tenant, suspended.id, codes["suspended"]),
            "unknown": enqueue_for_tenant("default", record_tenant, 987654321, code()),
        }

    run_worker(services)

    assert sectors_of(platform, tenant_a) == sorted(
        [(codes["a1"], tenant_a.slug), (codes["a2"], tenant_a.slug)]
    )
    assert sectors_of(platform, tenant_b) == [(codes["b"], tenant_b.slug)]
    assert sectors_of(platform, tenant_c) == [(codes["c"], tenant_c.slug)]
    assert sectors_of(platform, suspended) == []
    fetched = {name: Job.fetch(job.id, connection=job.connection) for name, job in jobs.items()}
    assert fetched["a1"].return_value() == tenant_a.slug
    assert fetched["b"].return_value() == tenant_b.slug
    assert fetched["c"].return_value() == tenant_c.slug
    assert fetched["suspended"].get_status() == JobStatus.FINISHED
    assert fetched["suspended"].return_value() is None
    assert fetched["fail"].get_status() == JobStatus.FAILED  # and its row was rolled back (A has 2 rows)
    assert fetched["unknown"].get_status() == JobStatus.FAILED
    assert "TenantUnavailable" in fetched["unknown"].latest_result().exc_string


def test_platform_jobs_run_with_no_tenant_bound(app, services):
    key = f"test:platform:{uuid.uuid4().hex}"
    with app.app_context():
        job = enqueue_for_platform("low", record_platform, key)

    run_worker(services, "--queue", "low")

    assert Job.fetch(job.id, connection=job.connection).return_value() == "platform"
    with app.app_context():
        assert job.connection.lrange(key, 0, -1) == [b"no tenant"]


def test_jobs_refuse_unknown_and_archived_tenants(app, platform, make_tenant):
    tenant = make_tenant()
    registry.set_status(platform.shards, tenant.slug, "archived")
    with app.app_context():
        for tenant_id in (tenant.id, 987654321):
            with pytest.raises(TenantUnavailable):
                run_in_tenant_scope(func_path(record_tenant), tenant_id, [code()], {})
    assert sectors_of(platform, tenant) == []


def test_a_failing_job_rolls_back_its_writes(app, platform, make_tenant):
    tenant = make_tenant()
    with app.app_context(), pytest.raises(RuntimeError, match="after writing"):
        run_in_tenant_scope(func_path(record_then_fail), tenant.id, [code()], {})
    assert sectors_of(platform, tenant) == []


def test_only_module_level_functions_can_be_jobs():
    with pytest.raises(ValueError, match="module-level"):
        func_path(lambda: None)


def test_status_command_lists_queues(app):
    with app.app_context():
        enqueue_for_platform("high", record_platform, f"test:status:{uuid.uuid4().hex}")
    result = app.test_cli_runner().invoke(args=["jobs", "status"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split()[1:] for line in result.output.splitlines()[1:-1]}
    assert set(lines) == {"high", "default", "outbox", "low"}
    assert int(lines["high"][0]) >= 1
    assert "workers:" in result.output


def test_one_scheduler_leads_and_enqueues_each_periodic_job_once(app):
    with app.app_context():
        connection = redis_connection()
        outbox_queue, low_queue = get_queue("outbox"), get_queue("low")
    connection.delete(LEADER_KEY)
    leader, follower = (
        SchedulerThread(build_cron(app, connection)),
        SchedulerThread(build_cron(app, connection)),
    )
    before = set(outbox_queue.job_ids)
    try:
        leader.tick()
        follower.tick()
        leader.tick()  # the sweep interval has not passed yet
    finally:
        leader.stop()
        follower.stop()
    sweeps = [outbox_queue.fetch_job(job_id) for job_id in set(outbox_queue.job_ids) - before]
    assert sorted(job.args[1][0] for job in sweeps) == ["main", "s2"]
    assert {job.args[0] for job in sweeps} == {"app.core.outbox.drain_outbox"}
    assert connection.get(LEADER_KEY) is None  # the leader resigned on stop
    assert low_queue.count >= 1  # pruning
