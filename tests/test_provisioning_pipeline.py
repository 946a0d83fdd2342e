"""The provisioning pipeline framework: runs recorded step by step, retries, resume, rollback,
one executor per run, the sweep for lost runs; on real PostgreSQL, Redis and RQ workers."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import select

from app.audit.platform_models import PlatformAuditEvent
from app.core.errors import DomainError
from app.core.jobs import redis_connection
from provisioning import pipeline
from provisioning.pipeline_models import ProvisioningRun
from tests import provisioning_fixtures as fx
from tests.jobs_fixtures import run_worker


@pytest.fixture
def fast_retries(platform, monkeypatch):
    """Two retries with no wait, here and in the worker processes the test starts."""
    monkeypatch.setattr(platform.settings, "provisioning_retry_delays", (0.0, 0.0))
    monkeypatch.setenv("PROVISIONING_RETRY_DELAYS", "0,0")


def slug() -> str:
    return f"p{uuid.uuid4().hex[:10]}"


def new_run(app, platform, kind="test-ok", **options) -> int:
    options.setdefault("tenant_slug", slug())
    with app.app_context(), platform.shards.platform_session() as session, session.begin():
        run = pipeline.create_run(session, kind, actor_label="test", **options)
        return run.id


def summary(app, platform, run_id) -> dict:
    with app.app_context(), platform.shards.platform_session() as session:
        return pipeline.run_summary(session, run_id)


def trace(app, run_id) -> list[str]:
    with app.app_context():
        return [x.decode() for x in redis_connection().lrange(fx.trace_key(run_id), 0, -1)]


def audit_actions(platform, run_id) -> list[str]:
    with platform.shards.platform_session() as session:
        return list(
            session.scalars(
                select(PlatformAuditEvent.action)
                .where(
                    PlatformAuditEvent.entity == "provisioning_run",
                    PlatformAuditEvent.entity_id == str(run_id),
                )
                .order_by(PlatformAuditEvent.id)
            )
        )


def test_a_run_executes_its_steps_in_order_and_records_each(app, platform):
    run_id = new_run(app, platform)
    seen = []
    with app.app_context():
        run = pipeline.execute_run(run_id, on_step=lambda name, status: seen.append((name, status)))

    assert run.status == "done"
    assert trace(app, run_id) == ["do:one", "do:two", "do:three"]
    assert seen == [(n, s) for n in ("one", "two", "three") for s in ("running", "done")]
    info = summary(app, platform, run_id)
    assert info["percent"] == 100
    assert [(s["name"], s["status"], s["attempts"]) for s in info["steps"]] == [
        ("one", "done", 1),
        ("two", "done", 1),
        ("three", "done", 1),
    ]
    assert info["steps"][0]["label"] == ("Bước one", "Step one")
    assert all(s["started_at"] and s["finished_at"] for s in info["steps"])
    assert info["data"] == {"seen": ["one", "two", "three"]}  # passed on from step to step
    assert audit_actions(platform, run_id) == ["created", "done"]

    # Executing a finished run again does nothing.
    with app.app_context():
        assert pipeline.execute_run(run_id).status == "done"
    assert trace(app, run_id) == ["do:one", "do:two", "do:three"]


def test_bad_input_and_a_second_live_run_for_one_tenant_create_nothing(app, platform):
    with app.app_context(), platform.shards.platform_session() as session:
        before = session.scalar(select(ProvisioningRun.id).order_by(ProvisioningRun.id.desc()).limit(1))
    with pytest.raises(DomainError) as refused:
        new_run(app, platform, params={"refuse": True})
    assert refused.value.en == "input refused"
    with pytest.raises(DomainError) as unknown:
        new_run(app, platform, kind="no-such-kind")
    assert "no pipeline" in unknown.value.en

    taken = slug()
    first = new_run(app, platform, tenant_slug=taken)
    with pytest.raises(DomainError) as busy:
        new_run(app, platform, tenant_slug=taken)
    assert busy.value.status == 409
    assert f"#{first}" in busy.value.vi and f"#{first}" in busy.value.en
    with platform.shards.platform_session() as session:
        ids = session.scalars(select(ProvisioningRun.id).where(ProvisioningRun.id > (before or 0))).all()
    assert ids == [first]

    with app.app_context():
        pipeline.execute_run(first)
    assert new_run(app, platform, tenant_slug=taken) > first  # a finished run no longer blocks


def test_a_failing_step_retries_then_fails_visibly_and_resumes_from_there(app, platform, fast_retries):
    run_id = new_run(app, platform, kind="test-flaky")
    with app.app_context():
        redis_connection().set(fx.broken_key(run_id), 1)
        run = pipeline.execute_run(run_id)

    assert run.status == "failed"
    assert trace(app, run_id) == ["do:one", "do:flaky", "do:flaky", "do:flaky"]  # 1 + 2 retries
    info = summary(app, platform, run_id)
    flaky = info["steps"][1]
    assert (flaky["status"], flaky["attempts"]) == ("failed", 3)
    assert "flaky step is broken (attempt 3)" in flaky["error"]
    assert "flaky step is broken" in info["error"]
    assert info["steps"][2]["status"] == "pending"
    assert (info["can_resume"], info["can_rollback"]) == (True, True)
    assert audit_actions(platform, run_id) == ["created", "failed"]

    # A failed run waits for a person: executing it again does nothing.
    with app.app_context():
        assert pipeline.execute_run(run_id).status == "failed"
        redis_connection().delete(fx.broken_key(run_id))
        with platform.shards.platform_session() as session, session.begin():
            pipeline.resume_run(session, run_id, actor_account_id=None, actor_label="ops@test")
        run = pipeline.execute_run(run_id)

    assert run.status == "done"
    assert trace(app, run_id)[4:] == ["do:flaky", "do:three"]  # step one is not run again
    assert summary(app, platform, run_id)["steps"][1]["attempts"] == 4
    assert audit_actions(platform, run_id) == ["created", "failed", "resume", "done"]
    with app.app_context(), platform.shards.platform_session() as session:
        with pytest.raises(DomainError):
            pipeline.resume_run(session, run_id)
        with pytest.raises(DomainError):
            pipeline.rollback_run(session, run_id)  # a finished run is not undone by the pipeline


def test_rollback_undoes_the_steps_that_ran_in_reverse(app, platform, fast_retries):
    run_id = new_run(app, platform, kind="test-flaky")
    with app.app_context():
        redis_connection().set(fx.broken_key(run_id), 1)
        pipeline.execute_run(run_id)
        with platform.shards.platform_session() as session, session.begin():
            pipeline.rollback_run(session, run_id, actor_label="ops@test")
        run = pipeline.execute_run(run_id)

    assert run.status == "rolled_back"
    assert trace(app, run_id)[4:] == ["undo:flaky", "undo:one"]
    info = summary(app, platform, run_id)
    assert [s["status"] for s in info["steps"]] == ["undone", "undone", "pending"]
    assert info["percent"] == 100
    assert audit_actions(platform, run_id) == ["created", "failed", "rollback", "rolled_back"]


def test_two_executions_of_one_run_at_once_run_each_step_once(app, platform):
    run_id = new_run(app, platform, params={"sleep": 0.3})
    results = []

    def execute():
        with app.app_context():
            results.append(pipeline.execute_run(run_id).status)

    threads = [threading.Thread(target=execute) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert trace(app, run_id) == ["do:one", "do:two", "do:three"]
    assert summary(app, platform, run_id)["status"] == "done"
    assert [s["attempts"] for s in summary(app, platform, run_id)["steps"]] == [1, 1, 1]
    assert "done" in results


def test_a_run_goes_through_a_real_worker_and_a_lost_one_is_swept_up(app, platform, services):
    queued = new_run(app, platform)
    lost = new_run(app, platform)  # its enqueue never happened (Redis was down, say)
    with app.app_context():
        assert pipeline.enqueue_run(queued) is True
        # Not idle long enough yet: the sweep leaves it for its job that may be on its way.
        assert lost not in pipeline.sweep_runs(min_idle_seconds=3600)
        # A run whose job is already waiting is not enqueued twice.
        swept = pipeline.sweep_runs(min_idle_seconds=0)
        assert lost in swept and queued not in swept

    run_worker(services, "--import", "tests.provisioning_fixtures")

    for run_id in (queued, lost):
        assert summary(app, platform, run_id)["status"] == "done"
        assert trace(app, run_id) == ["do:one", "do:two", "do:three"]
    with app.app_context():
        assert pipeline.sweep_runs(min_idle_seconds=0) == []  # nothing left that should be moving


def test_enqueue_with_redis_away_keeps_the_run_pending(app, platform, services):
    from app import create_app
    from tests.conftest import app_config

    run_id = new_run(app, platform)
    offline = create_app(app_config(services, redis_url="redis://127.0.0.1:1/0"))
    try:
        with offline.app_context():
            assert pipeline.enqueue_run(run_id) is False
    finally:
        offline.extensions["motcua"].shards.dispose()
    assert summary(app, platform, run_id)["status"] == "pending"
