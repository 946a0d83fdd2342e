"""Suspend and resume a unit as pipelines: notice, 503 API, sign-in refused, jobs skipped, events held."""

from __future__ import annotations

import uuid

import pytest
from rq.job import Job, JobStatus
from sqlalchemy import select

from app.audit.platform_models import PlatformAuditEvent
from app.catalog.models import Sector
from app.core.errors import DomainError
from app.core.jobs import enqueue_for_tenant
from app.core.outbox import TENANT_SUSPENDED, emit_event, relay_outbox
from app.core.outbox_models import OutboxEvent
from provisioning import pipeline
from provisioning.pipeline_models import ProvisioningRun, RunStatus
from tests.jobs_fixtures import record_tenant, run_worker
from tests.lifecycle_support import run_pipeline
from tests.test_auth_support import make_account, sign_in_directly
from tests.test_sso import _authorize, _city_signed_in, _tokens

REASON = "Chưa thanh toán phí thuê bao quý III"


@pytest.fixture
def unit(make_tenant, platform):
    tenant = make_tenant()
    yield tenant
    platform.resolver.clear()


def _status(platform, slug) -> tuple[str, str | None]:
    from tenants.registry import get_tenant

    with platform.shards.platform_session() as session:
        tenant = get_tenant(session, slug)
        return tenant.status, tenant.status_reason


def _audit_actions(platform, tenant) -> list[str]:
    with platform.shards.platform_session() as session:
        return list(
            session.scalars(
                select(PlatformAuditEvent.action)
                .where(PlatformAuditEvent.entity == "tenant", PlatformAuditEvent.entity_id == str(tenant.id))
                .order_by(PlatformAuditEvent.id)
            )
        )


def test_suspended_unit_shows_a_notice_answers_503_and_refuses_sign_in(app, platform, client_for, unit):
    official = make_account(platform, memberships=[(unit, ["counter_officer"])])
    citizen = make_account(platform)
    backoffice, portal = client_for(unit), client_for(unit)
    sign_in_directly(backoffice, official, unit)
    sign_in_directly(portal, citizen, unit)
    assert backoffice.get("/backoffice/").status_code == 200
    idp = _city_signed_in(client_for, official)
    tokens = _tokens(client_for, official, unit, scope="openid offline_access dossiers:read")
    access = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client_for(unit).get("/api/v1/dossiers", headers=access).status_code == 200

    run = run_pipeline(app, "suspend", unit.slug, reason=REASON)

    assert run.status == RunStatus.DONE, run.error
    assert _status(platform, unit.slug) == ("suspended", REASON)
    page = client_for(unit).get("/")
    assert page.status_code == 503
    assert "Tạm ngừng dịch vụ" in page.text and REASON in page.text
    api = client_for(unit).get("/api/v1/procedures")
    assert api.status_code == 503 and api.is_json
    # Sessions that were open stop at once, with the same notice.
    assert backoffice.get("/backoffice/").status_code == 503
    assert portal.get("/ho-so-cua-toi").status_code == 503
    # Starting a sign-in on the unit's host is refused, and so is the provider's authorize for it.
    assert client_for(unit).get("/dang-nhap").status_code == 503
    assert _authorize(idp, unit)[0].status_code == 400
    # Tokens issued before: the API refuses them, the provider will not refresh them.
    assert client_for(unit).get("/api/v1/dossiers", headers=access).status_code == 503
    refreshed = idp.post(
        "/oidc/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": f"tenant:{unit.slug}",
        },
    )
    assert refreshed.status_code in (400, 401) and "access_token" not in refreshed.get_json()
    assert _audit_actions(platform, unit)[-1] == "suspend"


def test_resume_restores_pages_sessions_and_sign_in(app, platform, client_for, unit):
    official = make_account(platform, memberships=[(unit, ["counter_officer"])])
    backoffice = client_for(unit)
    sign_in_directly(backoffice, official, unit)
    idp = _city_signed_in(client_for, official)
    assert run_pipeline(app, "suspend", unit.slug, reason=REASON).status == RunStatus.DONE
    assert backoffice.get("/backoffice/").status_code == 503

    run = run_pipeline(app, "resume", unit.slug)

    assert run.status == RunStatus.DONE, run.error
    assert _status(platform, unit.slug) == ("active", None)
    assert client_for(unit).get("/").status_code == 200
    assert backoffice.get("/backoffice/").status_code == 200
    assert _authorize(idp, unit)[0].status_code == 302
    assert _audit_actions(platform, unit)[-2:] == ["suspend", "resume"]


def test_a_suspension_needs_a_reason_and_creates_no_run(app, platform, unit):
    with pytest.raises(DomainError) as refused:
        run_pipeline(app, "suspend", unit.slug, reason="  ")
    assert refused.value.status == 400
    with platform.shards.platform_session() as session:
        assert session.scalar(select(ProvisioningRun).where(ProvisioningRun.tenant_slug == unit.slug)) is None
    assert _status(platform, unit.slug) == ("active", None)


def test_rolling_back_a_suspension_makes_the_unit_active_again(app, platform, unit):
    run = run_pipeline(app, "suspend", unit.slug, reason=REASON)
    with app.app_context():
        with platform.shards.platform_session() as session, session.begin():
            session.get(
                ProvisioningRun, run.id
            ).status = RunStatus.FAILED.value  # as if a later step had failed
        with platform.shards.platform_session() as session, session.begin():
            pipeline.rollback_run(session, run.id, actor_label="test")
        assert pipeline.execute_run(run.id).status == RunStatus.ROLLED_BACK
    assert _status(platform, unit.slug) == ("active", None)


def test_a_suspended_units_jobs_are_skipped_on_a_real_worker(app, platform, services, make_tenant, unit):
    live = make_tenant()
    codes = {"unit": uuid.uuid4().hex[:12], "live": uuid.uuid4().hex[:12]}
    with app.app_context():
        with platform.shards.platform_session() as session, session.begin():
            run = pipeline.create_run(session, "suspend", tenant_slug=unit.slug, params={"reason": REASON})
        assert pipeline.enqueue_run(run.id)
    run_worker(services)  # the worker executes the suspension run
    with app.app_context():
        skipped = enqueue_for_tenant("default", record_tenant, unit.id, codes["unit"])
        done = enqueue_for_tenant("default", record_tenant, live.id, codes["live"])

    run_worker(services)

    assert pipeline_status(platform, run.id) == RunStatus.DONE
    skipped, done = (Job.fetch(j.id, connection=j.connection) for j in (skipped, done))
    assert skipped.get_status() == JobStatus.FINISHED and skipped.return_value() is None
    assert done.return_value() == live.slug
    assert _sector_codes(platform, unit) == []
    assert _sector_codes(platform, live) == [codes["live"]]


def pipeline_status(platform, run_id: int) -> str:
    with platform.shards.platform_session() as session:
        return session.get(ProvisioningRun, run_id).status


def _sector_codes(platform, tenant) -> list[str]:
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
        return list(session.scalars(select(Sector.code)))


def test_outbox_events_of_a_suspended_unit_wait_and_go_after_resume(app, platform, unit):
    import tests.jobs_fixtures  # noqa: F401  (registers the test.sector handler)

    run_pipeline(app, "suspend", unit.slug, reason=REASON)
    with app.app_context():
        with platform.shards.engine(unit.shard).connect() as conn, conn.begin():
            from sqlalchemy.orm import Session

            with Session(bind=conn) as session:
                event = emit_event(session, "test.sector", {}, tenant_id=unit.id)
                session.flush()
                event_id = event.event_id
        relay_outbox(unit.shard)
        held = _event(platform, unit.shard, event_id)
        assert held.delivered_at is None
        assert (held.last_error, held.attempts) == (TENANT_SUSPENDED, 0)

        assert run_pipeline(app, "resume", unit.slug).status == RunStatus.DONE
        assert _event(platform, unit.shard, event_id).last_error is None
        relay_outbox(unit.shard)

    assert _event(platform, unit.shard, event_id).delivered_at is not None
    assert _sector_codes(platform, unit) == [event_id.hex]


def _event(platform, shard, event_id) -> OutboxEvent:
    from sqlalchemy.orm import Session

    with Session(platform.shards.engine(shard)) as session:
        return session.scalar(select(OutboxEvent).where(OutboxEvent.event_id == event_id))


def test_suspend_run_twice_after_a_lost_record_is_still_undone_to_active(app, platform, unit):
    from provisioning import lifecycle

    with app.app_context():
        ctx = pipeline.StepContext(
            run_id=700_000 + unit.id,
            kind="suspend",
            spec=None,
            tenant_slug=unit.slug,
            params={"reason": REASON},
            data={},
            platform=platform,
        )
        lifecycle.suspend_do(ctx)
        ctx.data = {}  # the worker died before the run recorded the step
        lifecycle.suspend_do(ctx)
        assert ctx.data["previous_status"] == "active"
        lifecycle.suspend_undo(ctx)
    assert _status(platform, unit.slug) == ("active", None)
    assert _audit_actions(platform, unit).count("suspend") == 1  # the second attempt changed nothing
