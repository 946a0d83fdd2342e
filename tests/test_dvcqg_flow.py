"""The whole path: a desk action's outbox event -> the reporting feed queues DVCQG messages and
kicks the sender job -> the job sends to the fake portal; the minute sweep and the CLI."""

from __future__ import annotations

import pytest
from rq.job import Job

import app.reports.feed  # noqa: F401  (registers the outbox handlers, as workers do)
from app.core.jobs import get_queue
from app.core.outbox import drain_outbox
from app.integrations import dvcqg_jobs, dvcqg_queue
from app.integrations.dvcqg_cli import dvcqg_cli
from tests.dvcqg_support import act, at, connected_unit, messages, receive, serve_portal

SENDER = "app.integrations.dvcqg_sender.send_bound_tenant"


@pytest.fixture(scope="module")
def portal():
    yield from serve_portal()


@pytest.fixture(scope="module")
def unit(app, platform, city, portal):
    return connected_unit(app, platform, city, portal)


def sender_jobs(app, tenant_id: int) -> list[Job]:
    with app.app_context():
        queue = get_queue("default")
        jobs = [queue.fetch_job(job_id) for job_id in queue.job_ids]
        return [j for j in jobs if j and j.args and j.args[0] == SENDER and j.args[1] == tenant_id]


def run_jobs(app, jobs: list[Job]) -> None:
    with app.app_context():
        for job in jobs:
            job.perform()
            get_queue("default").remove(job)


def test_an_action_reaches_the_portal_through_the_outbox_feed_and_the_kicked_job(app, unit, portal):
    run_jobs(app, sender_jobs(app, unit.tenant.id))
    dossier_id = receive(unit, at(0))
    act(unit, "transfer", dossier_id, "counter", at(1))
    with app.app_context():
        drain_outbox("main")
    assert len(messages(unit.platform, unit.tenant.id, dossier_id=dossier_id)) == 4
    jobs = sender_jobs(app, unit.tenant.id)
    assert jobs  # the feed kicked the sender after its commit
    run_jobs(app, jobs)
    assert not messages(unit.platform, unit.tenant.id, dossier_id=dossier_id, status="pending")
    code = messages(unit.platform, unit.tenant.id, dossier_id=dossier_id)[0].dossier_code
    assert [s for s, _, i in portal.accepted if i["MaHoSo"] == code] == [
        "DongBoHoSoMC",
        "CapNhatTienDoHoSoMC",
        "DongBoHoSoMC",
        "CapNhatTienDoHoSoMC",
    ]


def test_the_minute_sweep_kicks_units_with_due_messages(app, unit, portal):
    dossier_id = receive(unit, at(0))
    portal.fail_next(1, code="55")
    with app.app_context():
        drain_outbox("main")
        run_jobs(app, sender_jobs(app, unit.tenant.id))  # fails once, backs off
        assert unit.tenant.id not in dvcqg_jobs.units_with_due_messages(
            app.extensions["motcua"].shards.platform_session()
        )
    with unit.platform.shards.platform_session() as ps, ps.begin():
        from app.integrations.dvcqg_sender import retry_now

        retry_now(ps, unit.tenant.id, dossier_id)
    with app.test_request_context():
        assert dvcqg_jobs.sweep() >= 1
    run_jobs(app, sender_jobs(app, unit.tenant.id))
    assert not messages(unit.platform, unit.tenant.id, dossier_id=dossier_id, status="pending")


def test_kick_never_raises_without_redis():
    assert dvcqg_queue.kick(1) is False  # no app context at all: logged, not raised


def test_cli_send_reconcile_status(app, unit, portal):
    runner = app.test_cli_runner()
    receive(unit, at(0))
    with app.app_context():
        drain_outbox("main")
    portal.fail_until_told(code="503")
    failed = runner.invoke(dvcqg_cli, ["send", "--tenant", unit.tenant.slug])
    assert failed.exit_code == 0 and "failed 1" in failed.output and "http 503" in failed.output
    status = runner.invoke(dvcqg_cli, ["status"])
    assert f"{unit.tenant.slug}: on, pending 2" in status.output and "http 503" in status.output
    portal.recover()
    reconciled = runner.invoke(dvcqg_cli, ["reconcile", "--tenant", unit.tenant.slug])
    assert "missing 0, mismatched 0, requeued 0" in reconciled.output  # pending ones are in flight
    assert runner.invoke(dvcqg_cli, ["send", "--retry"]).exit_code == 0
    assert f"{unit.tenant.slug}: on, pending 0" in runner.invoke(dvcqg_cli, ["status"]).output
    assert runner.invoke(dvcqg_cli, ["send", "--tenant", "no-such-unit"]).exit_code != 0
