"""The provisioning pipeline framework: runs recorded step by step, retries, resume, rollback,
one executor per run, the sweep for lost runs; on real PostgreSQL, Redis and RQ workers."""

from __future__ import annotations

import email
import email.policy
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app.audit.platform_models import PlatformAuditEvent
from app.auth.models import Account, Membership
from app.calendar.models import CalendarDay
from app.catalog.models import Procedure
from app.core.errors import DomainError
from app.core.jobs import get_queue, redis_connection
from app.processes.models import ProcessTemplate
from app.themes.models import ThemeVersion
from provisioning import pipeline, provision_steps
from provisioning.pipeline_models import ProvisioningRun
from provisioning.spec import ProvisionSpec
from tenants.models import Hostname, Tenant
from tests import provisioning_fixtures as fx
from tests.factories import next_unit_code
from tests.jobs_fixtures import ROOT, run_worker
from tests.test_auth_support import csrf_from, unique_email


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


def test_a_run_that_failed_while_rolling_back_is_rolled_back_again_not_resumed(app, platform, fast_retries):
    run_id = new_run(app, platform, kind="test-undo-fails")
    with app.app_context():
        redis_connection().set(fx.broken_key(run_id), 1)
        assert pipeline.execute_run(run_id).status == "failed"  # forward: the flaky step
        with platform.shards.platform_session() as session, session.begin():
            pipeline.rollback_run(session, run_id, actor_label="ops@test")
        assert pipeline.execute_run(run_id).status == "failed"  # backward: the undo of "one"
        assert not summary(app, platform, run_id)["can_resume"]
        with (
            platform.shards.platform_session() as session,
            session.begin(),
            pytest.raises(DomainError, match="roll it back again"),
        ):
            pipeline.resume_run(session, run_id, actor_label="ops@test")
        redis_connection().delete(fx.broken_key(run_id))
        with platform.shards.platform_session() as session, session.begin():
            pipeline.rollback_run(session, run_id, actor_label="ops@test")
        assert pipeline.execute_run(run_id).status == "rolled_back"
    assert "do:one" not in trace(app, run_id)[1:]  # "one" never ran forward again


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


# -- the "provision" pipeline ----------------------------------------------------------------------

SET_PASSWORD = re.compile(r"(http://localhost/dat-lai-mat-khau/[A-Za-z0-9_\-]+)")


@pytest.fixture(scope="module")
def catalogues(platform):
    fx.publish_district_catalogue(platform)


@pytest.fixture
def mailbox(app, tmp_path, monkeypatch):
    """Mails written as .eml files by the workers this test starts (no SMTP host)."""
    with app.app_context():
        get_queue("high").empty()  # mails queued by earlier tests go elsewhere
    monkeypatch.setenv("MAIL_DIR", str(tmp_path))
    monkeypatch.setenv("MAIL_SMTP_HOST", "")
    return tmp_path


def mails(folder: Path) -> list[email.message.EmailMessage]:
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]


def make_spec(city, **overrides) -> ProvisionSpec:
    values = {
        "name": f"Quận Thử {uuid.uuid4().hex[:6]}",
        "kind": "district",
        "unit_code": next_unit_code(),
        "slug": slug(),
        "parent_slug": city.slug,
        "admin_email": unique_email("qt"),
        "admin_name": "Nguyễn Văn Quản Trị",
        "theme": "hien-dai",
        "catalog_kind": "district",
    }
    values.update(overrides)
    return ProvisionSpec(**values)


def tenant_row(platform, slug_: str) -> Tenant | None:
    with platform.shards.platform_session() as session:
        return session.scalar(select(Tenant).where(Tenant.slug == slug_))


def schema_exists(platform, schema: str) -> bool:
    with platform.shards.primary.connect() as conn:
        return bool(
            conn.scalar(
                text("SELECT count(*) FROM information_schema.schemata WHERE schema_name = :s"), {"s": schema}
            )
        )


def count_in(platform, tenant, model) -> int:
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
        return session.scalar(select(func.count()).select_from(model))


def admin_roles(platform, tenant, email_: str) -> list[str] | None:
    with platform.shards.platform_session() as session:
        return session.scalar(
            select(Membership.roles)
            .join(Account)
            .where(Account.email == email_, Membership.tenant_id == tenant.id)
        )


def test_a_provision_run_on_a_real_worker_makes_a_live_unit(
    app, platform, services, city, catalogues, mailbox, client_for
):
    spec = make_spec(city)
    assert client_for(host=f"{spec.slug}.localhost").get("/").status_code == 404
    platform.resolver.clear()
    with app.app_context(), platform.shards.platform_session() as session, session.begin():
        run = pipeline.create_run(session, "provision", spec=spec, actor_label="ops@test")
        run_id = run.id
    assert tenant_row(platform, spec.slug) is None  # nothing is made before a worker runs it
    with app.app_context():
        assert pipeline.enqueue_run(run_id)

    run_worker(services)

    info = summary(app, platform, run_id)
    assert info["status"] == "done", info
    assert [s["status"] for s in info["steps"]] == ["done"] * len(provision_steps.STEPS)
    tenant = tenant_row(platform, spec.slug)
    assert tenant.status == "active" and tenant.schema_revision == platform.trees.tenant_head
    assert tenant.parent_id == city.id
    # Seeded from the district catalogue: procedures, a published process each, the calendar, the theme.
    procedures = count_in(platform, tenant, Procedure)
    assert procedures > 0 and info["data"]["procedures"] == procedures
    assert count_in(platform, tenant, ProcessTemplate) >= procedures
    assert count_in(platform, tenant, CalendarDay) > 0
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
        assert session.execute(select(ThemeVersion.theme, ThemeVersion.status)).all() == [
            ("hien-dai", "published")
        ]
    assert admin_roles(platform, tenant, spec.admin_email) == ["unit_admin"]

    portal = client_for(host=f"{spec.slug}.localhost").get("/")
    assert portal.status_code == 200
    assert spec.name in portal.get_data(as_text=True)

    to_admin = [m for m in mails(mailbox) if m["To"] == spec.admin_email]
    assert len(to_admin) == 2  # one invitation, one "your unit is live"
    invitation = next(m for m in to_admin if "Mời quản trị" in m["Subject"])
    body = invitation.get_content()
    assert f"http://{spec.slug}.localhost/dang-nhap" in body
    link = SET_PASSWORD.search(body).group(1)
    live = next(m for m in to_admin if "đã hoạt động" in m["Subject"])
    assert f"http://{spec.slug}.localhost/" in live.get_content()

    # The link lets the invitee set a password once, then sign in like any account.
    city_client = client_for()
    path = link.removeprefix("http://localhost")
    assert city_client.get(path).status_code == 200
    token = csrf_from(city_client, path)
    done = city_client.post(
        path,
        data={
            "password": "mat-khau-quan-tri-1",
            "password_confirm": "mat-khau-quan-tri-1",
            "csrf_token": token,
        },
    )
    assert done.status_code == 200
    with platform.shards.platform_session() as session:
        assert session.scalar(select(Account.password_hash).where(Account.email == spec.admin_email))
    again = client_for().get(path)
    assert again.status_code >= 400  # the invitation link works once


def run_step_twice(app, platform, run_id: int, step: pipeline.Step) -> None:
    with app.app_context():
        with platform.shards.platform_session() as session:
            run = pipeline.get_run(session, run_id)
            ctx = pipeline.StepContext(
                run_id=run.id,
                kind=run.kind,
                spec=ProvisionSpec.from_json(run.spec),
                tenant_slug=run.tenant_slug,
                params={},
                data=dict(run.data),
                platform=platform,
                step_name=step.name,
            )
        step.do(ctx)
        step.do(ctx)  # as after a crash between the step's work and its record
        with platform.shards.platform_session() as session, session.begin():
            pipeline.get_run(session, run_id).data = ctx.data


def test_every_provision_step_can_run_twice_with_the_same_result(app, platform, city, catalogues):
    spec = make_spec(city, hostnames=(f"{slug()}.example.vn",))
    run_id = new_run(app, platform, kind="provision", spec=spec)
    for step in provision_steps.STEPS:
        run_step_twice(app, platform, run_id, step)

    tenant = tenant_row(platform, spec.slug)
    assert tenant.status == "active"
    with platform.shards.platform_session() as session:
        hosts = session.execute(
            select(Hostname.hostname, Hostname.is_verified).where(Hostname.tenant_id == tenant.id)
        )
        assert hosts.all() == [(spec.hostnames[0], True)]
    assert schema_exists(platform, tenant.schema_name)
    procedures = count_in(platform, tenant, Procedure)
    assert procedures > 0
    assert count_in(platform, tenant, ThemeVersion) == 1
    with platform.shards.platform_session() as session:
        assert (
            session.scalar(select(func.count()).select_from(Account).where(Account.email == spec.admin_email))
            == 1
        )
        assert session.scalar(select(func.count()).select_from(Tenant).where(Tenant.slug == spec.slug)) == 1
    assert admin_roles(platform, tenant, spec.admin_email) == ["unit_admin"]
    assert audit_actions(platform, run_id) == ["created", "invitation_sent", "notified"]  # once each
    # Seeding a third time changes nothing either.
    run_step_twice(app, platform, run_id, provision_steps.STEPS[2])
    assert count_in(platform, tenant, Procedure) == procedures


def test_a_failing_seed_retries_stops_and_rolls_back_cleanly(
    app, platform, city, catalogues, fast_retries, client_for
):
    spec = make_spec(city, hostnames=(f"{slug()}.example.vn",))
    run_id = new_run(app, platform, kind="test-provision", spec=spec)
    with app.app_context():
        redis_connection().set(fx.broken_key(run_id), 1)
        assert pipeline.execute_run(run_id).status == "failed"

    info = summary(app, platform, run_id)
    seed_step = next(s for s in info["steps"] if s["name"] == "seed")
    assert (seed_step["status"], seed_step["attempts"]) == ("failed", 3)
    assert "seed failed on purpose" in seed_step["error"] and "seed failed on purpose" in info["error"]
    tenant = tenant_row(platform, spec.slug)
    assert tenant.status == "provisioning"
    assert client_for(host=f"{spec.slug}.localhost").get("/").status_code == 404  # not routable
    assert count_in(platform, tenant, Procedure) > 0  # half-made: seeded, then failed

    with app.app_context():
        with platform.shards.platform_session() as session, session.begin():
            pipeline.rollback_run(session, run_id, actor_label="ops@test")
        assert pipeline.execute_run(run_id).status == "rolled_back"

    assert tenant_row(platform, spec.slug) is None
    assert not schema_exists(platform, tenant.schema_name)
    with platform.shards.platform_session() as session:
        assert session.scalar(select(Account.id).where(Account.email == spec.admin_email)) is None
    assert audit_actions(platform, run_id) == ["created", "failed", "rollback", "rolled_back"]
    # The slug and code are free again.
    with app.app_context(), platform.shards.platform_session() as session:
        provision_steps.check_spec(session, spec, spec.slug, {})


def test_a_failed_provision_resumes_from_its_failed_step(
    app, platform, city, catalogues, fast_retries, client_for
):
    spec = make_spec(city)
    run_id = new_run(app, platform, kind="test-provision", spec=spec)
    with app.app_context():
        redis_connection().set(fx.broken_key(run_id), 1)
        pipeline.execute_run(run_id)
        redis_connection().delete(fx.broken_key(run_id))
        with platform.shards.platform_session() as session, session.begin():
            pipeline.resume_run(session, run_id, actor_label="ops@test")
        assert pipeline.execute_run(run_id).status == "done"
    assert [s["attempts"] for s in summary(app, platform, run_id)["steps"][:3]] == [1, 1, 4]
    platform.resolver.clear()
    assert client_for(host=f"{spec.slug}.localhost").get("/").status_code == 200


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda city, taken: {"slug": "admin"}, "reserved"),
        (lambda city, taken: {"slug": taken.slug}, "already taken"),
        (lambda city, taken: {"parent_slug": "khong-co"}, "no tenant"),
        (lambda city, taken: {"unit_code": "12-ab"}, "12-ab"),
        (lambda city, taken: {"unit_code": taken.unit_code}, "already taken"),
        (lambda city, taken: {"kind": "commune", "parent_slug": taken.slug}, "cannot sit under"),
        (lambda city, taken: {"theme": "khong-co"}, "no theme"),
        (lambda city, taken: {"catalog_version": 999}, "999"),
        (lambda city, taken: {"admin_email": "not-an-email"}, "admin"),
    ],
)
def test_bad_provision_input_is_refused_and_creates_nothing(
    app, platform, city, catalogues, make_tenant, change, expected
):
    taken = make_tenant("department")
    spec = make_spec(city, **change(city, taken))
    with platform.shards.platform_session() as session:
        runs_before = session.scalar(select(func.count()).select_from(ProvisioningRun))
        tenants_before = session.scalar(select(func.count()).select_from(Tenant))
    with pytest.raises(DomainError) as refused:
        new_run(app, platform, kind="provision", spec=spec)
    assert expected in refused.value.en
    assert refused.value.vi
    with platform.shards.platform_session() as session:
        assert session.scalar(select(func.count()).select_from(ProvisioningRun)) == runs_before
        assert session.scalar(select(func.count()).select_from(Tenant)) == tenants_before


def start_worker(services, *options: str) -> subprocess.Popen:
    """``flask jobs worker`` as a process of its own (not burst), to be killed by the test."""
    env = {
        **os.environ,
        "DATABASE_URL": services["database_url"],
        "SHARD_URLS": f"s2={services['shard2_url']}",
        "REDIS_URL": services["redis_url"],
        "FLASK_APP": "wsgi.py",
        "LOG_FORMAT": "plain",
        "PYTHONPATH": str(ROOT),
    }
    command = [
        str(ROOT / ".venv/bin/flask"),
        "jobs",
        "worker",
        "--import",
        "tests.provisioning_fixtures",
        *options,
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_for(predicate, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_worker_killed_mid_run_leaves_a_run_the_next_worker_completes_once(
    app, platform, services, city, catalogues, mailbox, client_for
):
    spec = make_spec(city)
    run_id = new_run(app, platform, kind="test-provision-pause", spec=spec)
    with app.app_context():
        redis_connection().set(fx.pause_key(run_id), 1)
        assert pipeline.enqueue_run(run_id)
    worker = start_worker(services, "--queue", "default")  # mails stay queued for the next worker
    try:
        wait_for(lambda: "paused:admin" in trace(app, run_id), "the worker to reach the admin step")
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    info = summary(app, platform, run_id)
    assert info["status"] == "running" and info["current_step"] == "admin"
    assert next(s for s in info["steps"] if s["name"] == "admin")["status"] == "running"
    with app.app_context():
        redis_connection().delete(fx.pause_key(run_id))

    # A new worker with the scheduler: the sweep finds the run nobody holds and enqueues it.
    run_worker(services, "--import", "tests.provisioning_fixtures", "--with-scheduler")

    info = summary(app, platform, run_id)
    assert info["status"] == "done", info
    admin = next(s for s in info["steps"] if s["name"] == "admin")
    assert admin["attempts"] == 2  # the interrupted attempt and the one that finished it
    tenant = tenant_row(platform, spec.slug)
    with platform.shards.primary.connect() as conn:
        schemas = conn.scalar(
            text("SELECT count(*) FROM information_schema.schemata WHERE schema_name = :s"),
            {"s": tenant.schema_name},
        )
    assert schemas == 1
    invitations = [
        m for m in mails(mailbox) if m["To"] == spec.admin_email and "Mời quản trị" in m["Subject"]
    ]
    assert len(invitations) == 1
    assert audit_actions(platform, run_id).count("invitation_sent") == 1
    platform.resolver.clear()
    assert client_for(host=f"{spec.slug}.localhost").get("/").status_code == 200


def test_a_run_failing_after_the_unit_went_live_is_resumed_not_rolled_back(
    app, platform, city, catalogues, fast_retries, client_for, make_tenant
):
    """Past "activate" people may use the unit: rolling back would destroy their work (and a
    child unit registered under it would stop the undo halfway). Ops resume; removal is a
    decommission, which exports first."""
    spec = make_spec(city)
    run_id = new_run(app, platform, kind="test-provision-late", spec=spec)
    with app.app_context():
        redis_connection().set(fx.broken_key(run_id), 1)
        assert pipeline.execute_run(run_id).status == "failed"
    platform.resolver.clear()
    assert client_for(host=f"{spec.slug}.localhost").get("/").status_code == 200  # it was live already
    tenant = tenant_row(platform, spec.slug)

    with (
        app.app_context(),
        platform.shards.platform_session() as session,
        session.begin(),
        pytest.raises(DomainError) as refused,
    ):
        pipeline.rollback_run(session, run_id, actor_label="ops@test")
    assert refused.value.status == 409 and "decommission" in refused.value.en
    assert summary(app, platform, run_id)["status"] == "failed"
    assert schema_exists(platform, tenant.schema_name)

    with app.app_context():
        redis_connection().delete(fx.broken_key(run_id))
        with platform.shards.platform_session() as session, session.begin():
            pipeline.resume_run(session, run_id, actor_label="ops@test")
        assert pipeline.execute_run(run_id).status == "done"
    assert client_for(host=f"{spec.slug}.localhost").get("/").status_code == 200


def test_a_failed_run_does_not_block_suspending_the_unit(app, platform, city, catalogues, fast_retries):
    spec = make_spec(city)
    run_id = new_run(app, platform, kind="test-provision-late", spec=spec, tenant_slug=spec.slug)
    with app.app_context():
        redis_connection().set(fx.broken_key(run_id), 1)
        assert pipeline.execute_run(run_id).status == "failed"
        redis_connection().delete(fx.broken_key(run_id))
        # Another ordinary run still waits for the failed one.
        with platform.shards.platform_session() as session, session.begin(), pytest.raises(DomainError):
            pipeline.create_run(session, "export", tenant_slug=spec.slug, actor_label="ops@test")
        with platform.shards.platform_session() as session, session.begin():
            suspend = pipeline.create_run(
                session,
                "suspend",
                tenant_slug=spec.slug,
                params={"reason": "Bảo trì"},
                actor_label="ops@test",
            ).id
        assert pipeline.execute_run(suspend).status == "done"
    assert tenant_row(platform, spec.slug).status == "suspended"


def test_a_lock_with_the_same_keys_in_another_database_does_not_hold_a_run(app, platform, services):
    run_id = new_run(app, platform)
    other_db = platform.shards.engine("s2").execution_options(isolation_level="AUTOCOMMIT")
    with other_db.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:c, :o)"), {"c": pipeline.LOCK_CLASS, "o": run_id})
        with platform.shards.platform_session() as session:
            assert not pipeline._is_locked(session.connection(), run_id)
        with app.app_context(), platform.shards.platform_session() as session, session.begin():
            pipeline.rollback_run(session, run_id, actor_label="ops@test")  # not "being executed"


def test_rolling_back_a_run_never_touches_a_unit_it_did_not_reserve(
    app, platform, city, catalogues, make_tenant, monkeypatch
):
    other = make_tenant("district")
    # A run for the same slug whose reservation failed (the slug was taken after it was created).
    spec = make_spec(city)
    run_id = new_run(app, platform, kind="provision", spec=spec)
    with platform.shards.platform_session() as session, session.begin():
        session.execute(
            text("UPDATE platform.tenants SET slug = :s WHERE id = :i"), {"s": spec.slug, "i": other.id}
        )
    try:
        with app.app_context():
            monkeypatch.setattr(platform.settings, "provisioning_retry_delays", ())
            assert pipeline.execute_run(run_id).status == "failed"
            assert "already taken" in summary(app, platform, run_id)["error"]
            with platform.shards.platform_session() as session, session.begin():
                pipeline.rollback_run(session, run_id)
            assert pipeline.execute_run(run_id).status == "rolled_back"
        row = tenant_row(platform, spec.slug)
        assert row is not None and row.id == other.id and row.status == "active"
        assert schema_exists(platform, other.schema_name)
    finally:
        with platform.shards.platform_session() as session, session.begin():
            session.execute(
                text("UPDATE platform.tenants SET slug = :s WHERE id = :i"), {"s": other.slug, "i": other.id}
            )


def test_a_step_this_process_does_not_know_stops_the_run_visibly(app, platform):
    run_id = new_run(app, platform)
    with platform.shards.platform_session() as session, session.begin():
        session.execute(
            text("UPDATE platform.provisioning_steps SET name = 'gone' WHERE run_id = :r AND position = 1"),
            {"r": run_id},
        )
    with app.app_context():
        run = pipeline.execute_run(run_id)
    assert run.status == "failed" and "unknown step 'gone'" in run.error
    assert trace(app, run_id) == ["do:one"]
    assert audit_actions(platform, run_id) == ["created", "failed"]
    with app.app_context():
        assert pipeline.sweep_runs(min_idle_seconds=0) == [] or run_id not in pipeline.sweep_runs(
            min_idle_seconds=0
        )
