"""Pipeline runs in the provider console: list, live progress, resume and rollback (CSRF, audited);
provider ops only; nothing of it on a tenant's host."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from app.audit.platform_models import PlatformAuditEvent
from app.core.jobs import get_queue, redis_connection
from provisioning import pipeline
from tests import provisioning_fixtures as fx
from tests.jobs_fixtures import run_worker
from tests.test_auth_support import TEST_CSRF, make_account, sign_in_directly

CONSOLE = "admin.localhost"


@pytest.fixture
def ops(platform):
    return make_account(platform, platform_roles=["provider_ops"])


@pytest.fixture
def console(client_for, ops):
    client = client_for(host=CONSOLE)
    sign_in_directly(client, ops, site="console")
    return client


@pytest.fixture
def fast_retries(platform, monkeypatch):
    monkeypatch.setattr(platform.settings, "provisioning_retry_delays", (0.0,))
    monkeypatch.setenv("PROVISIONING_RETRY_DELAYS", "0")


def new_run(app, platform, kind="test-flaky") -> int:
    with app.app_context(), platform.shards.platform_session() as session, session.begin():
        return pipeline.create_run(
            session, kind, tenant_slug=f"v{uuid.uuid4().hex[:10]}", actor_label="test"
        ).id


def failed_run(app, platform) -> int:
    run_id = new_run(app, platform)
    with app.app_context():
        redis_connection().set(fx.broken_key(run_id), 1)
        assert pipeline.execute_run(run_id).status == "failed"
    return run_id


def audit_of(platform, run_id: int) -> list[tuple[str, str | None, int | None]]:
    with platform.shards.platform_session() as session:
        return session.execute(
            select(
                PlatformAuditEvent.action, PlatformAuditEvent.actor_label, PlatformAuditEvent.actor_account_id
            )
            .where(
                PlatformAuditEvent.entity == "provisioning_run", PlatformAuditEvent.entity_id == str(run_id)
            )
            .order_by(PlatformAuditEvent.id)
        ).all()


def test_the_run_page_shows_progress_and_refreshes_while_the_run_moves(app, platform, console):
    run_id = new_run(app, platform, kind="test-ok")
    page = console.get(f"/runs/{run_id}")
    assert page.status_code == 200
    html = page.text
    assert "Đang chờ" in html and 'http-equiv="refresh"' in html
    assert '<progress max="100" value="0"' in html
    assert "Bước one" in html and "Bước three" in html
    assert f'href="/runs/{run_id}"' in console.get("/runs/").text

    with app.app_context():
        pipeline.execute_run(run_id)
    done = console.get(f"/runs/{run_id}").text
    assert "Hoàn tất" in done and 'value="100"' in done
    assert 'http-equiv="refresh"' not in done  # a finished run's page stays still
    assert "Tiếp tục từ bước lỗi" not in done and "Hoàn tác toàn bộ" not in done


def test_a_failed_run_shows_its_error_and_is_resumed_from_the_console_on_a_worker(
    app, platform, services, console, ops, fast_retries
):
    run_id = failed_run(app, platform)
    page = console.get(f"/runs/{run_id}").text
    assert "Thất bại" in page and "flaky step is broken" in page
    assert "Tiếp tục từ bước lỗi" in page and "Hoàn tác toàn bộ" in page

    assert console.post(f"/runs/{run_id}/resume").status_code == 400  # no CSRF token
    assert pipeline_status(app, platform, run_id) == "failed"
    with app.app_context():
        redis_connection().delete(fx.broken_key(run_id))
        get_queue("default").empty()
    answer = console.post(f"/runs/{run_id}/resume", data={"csrf_token": TEST_CSRF})
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/runs/{run_id}")
    assert pipeline_status(app, platform, run_id) == "pending"

    run_worker(services, "--import", "tests.provisioning_fixtures")

    assert pipeline_status(app, platform, run_id) == "done"
    assert ("resume", ops.email, ops.id) in audit_of(platform, run_id)
    # Resuming a finished run is refused with a message, not a 500.
    again = console.post(f"/runs/{run_id}/resume", data={"csrf_token": TEST_CSRF})
    assert again.status_code == 409 and "Chỉ tiếp tục được lần chạy thất bại" in again.text


def test_rollback_from_the_console(app, platform, services, console, ops, fast_retries):
    run_id = failed_run(app, platform)
    with app.app_context():
        get_queue("default").empty()
    answer = console.post(f"/runs/{run_id}/rollback", data={"csrf_token": TEST_CSRF})
    assert answer.status_code == 303
    assert pipeline_status(app, platform, run_id) == "rolling_back"

    run_worker(services, "--import", "tests.provisioning_fixtures")

    assert pipeline_status(app, platform, run_id) == "rolled_back"
    assert ("rollback", ops.email, ops.id) in audit_of(platform, run_id)
    assert "Đã hoàn tác" in console.get(f"/runs/{run_id}").text
    assert console.get("/runs/?status=rolled_back").status_code == 200
    assert console.get("/runs/?status=nonsense").status_code == 400
    assert console.get("/runs/987654321").status_code == 404


def pipeline_status(app, platform, run_id: int) -> str:
    with app.app_context(), platform.shards.platform_session() as session:
        return pipeline.get_run(session, run_id).status


def test_run_pages_are_for_provider_ops_only(app, platform, client_for, make_tenant, fast_retries):
    run_id = failed_run(app, platform)
    anonymous = client_for(host=CONSOLE)
    assert anonymous.get("/runs/").status_code == 302
    assert anonymous.get(f"/runs/{run_id}").headers["Location"].startswith("/login")

    tenant = make_tenant("district")
    unit_admin = make_account(platform, memberships=[(tenant, ["unit_admin"])])
    admin_console = client_for(host=CONSOLE)
    sign_in_directly(admin_console, unit_admin, site="console")
    assert admin_console.get("/runs/").status_code == 403
    assert admin_console.get(f"/runs/{run_id}").status_code == 403
    refused = admin_console.post(f"/runs/{run_id}/rollback", data={"csrf_token": TEST_CSRF})
    assert refused.status_code == 403
    assert pipeline_status(app, platform, run_id) == "failed"

    # On a unit's host (even signed in as its admin) the console's pages do not exist.
    on_tenant = client_for(tenant)
    sign_in_directly(on_tenant, unit_admin, tenant)
    assert on_tenant.get("/runs/").status_code == 404
    assert on_tenant.get(f"/runs/{run_id}").status_code == 404
    assert on_tenant.post(f"/runs/{run_id}/rollback", data={"csrf_token": TEST_CSRF}).status_code == 404
    assert client_for().get(f"/runs/{run_id}").status_code == 404  # nor on the city portal


def test_the_console_lists_a_unit_being_provisioned(app, platform, console, city, fast_retries):
    from provisioning.spec import ProvisionSpec
    from tests.factories import next_unit_code

    slug = f"v{uuid.uuid4().hex[:10]}"
    spec = ProvisionSpec(
        name="Quận đang khởi tạo",
        kind="district",
        unit_code=next_unit_code(),
        slug=slug,
        parent_slug=city.slug,
        admin_email=f"{slug}@example.vn",
        admin_name="Quản Trị",
    )
    with app.app_context(), platform.shards.platform_session() as session, session.begin():
        run_id = pipeline.create_run(session, "test-provision", spec=spec, actor_label="test").id
    with app.app_context():
        redis_connection().set(fx.broken_key(run_id), 1)
        assert pipeline.execute_run(run_id).status == "failed"  # the unit stays "provisioning"

    listed = console.get("/")
    assert listed.status_code == 200 and "Đang khởi tạo" in listed.text and slug in listed.text
    assert console.get("/?status=provisioning").status_code == 200
    detail = console.get(f"/tenants/{slug}")
    assert detail.status_code == 200 and "Đang khởi tạo" in detail.text
    assert f'href="/runs/{run_id}"' in console.get("/runs/").text
