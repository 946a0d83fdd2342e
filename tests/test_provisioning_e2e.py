"""Must hold (issue #5), end to end on real PostgreSQL, Redis and RQ worker processes:

a request on the city portal, its e-mail confirmed, approved in the provider console, the
pipeline run by a worker process, the new portal answering on its host, its admin invited
and signed in through single sign-on; and with Redis stopped at approval time, the
approval kept and the unit built once Redis is back (by the pipeline's own sweep).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app import create_app
from app.catalog import standard
from app.catalog.models import Procedure
from app.core.jobs import get_queue
from provisioning.onboarding_models import OnboardingRequest, RequestStatus
from provisioning.pipeline_models import ProvisioningRun
from tenants.models import Tenant
from tests import provisioning_fixtures as fx
from tests.conftest import HostClient, app_config
from tests.jobs_fixtures import PrivateRedis, run_worker
from tests.onboarding_support import form_of, link_in, mailbox_fixture, post_form, text_of
from tests.test_auth_support import TEST_CSRF, csrf_from, get_url, login, make_account, sign_in_directly

CONSOLE = "admin.localhost"
SET_PASSWORD = re.compile(r"http://localhost(/dat-lai-mat-khau/[A-Za-z0-9_\-]+)")
NEW_PASSWORD = "mat-khau-quan-tri-2026"


@pytest.fixture
def mailbox(app, services, tmp_path, monkeypatch):
    return mailbox_fixture(app, services, tmp_path, monkeypatch)


@pytest.fixture
def console(client_for, platform):
    client = client_for(host=CONSOLE)
    sign_in_directly(client, make_account(platform, platform_roles=["provider_ops"]), site="console")
    return client


@pytest.fixture(scope="module")
def district_catalogue(platform) -> str:
    """The form's value for the latest published district catalogue, e.g. "district:1"."""
    fx.publish_district_catalogue(platform)
    with platform.shards.platform_session() as session:
        catalog = standard.find_catalog(session, "district")
        return f"district:{standard.latest_published(session, catalog.id).number}"


def request_of(platform, slug: str) -> OnboardingRequest:
    with platform.shards.platform_session() as session:
        return session.scalar(select(OnboardingRequest).where(OnboardingRequest.slug == slug))


def runs_of(platform, request_id: int) -> list[ProvisioningRun]:
    with platform.shards.platform_session() as session:
        return list(
            session.scalars(
                select(ProvisioningRun).where(ProvisioningRun.onboarding_request_id == request_id)
            )
        )


def confirmed_request(client, mailbox, form) -> str:
    """Post the form on the city portal, follow the mailed confirmation link; returns the status page path."""
    page = post_form(client, "/dang-ky-don-vi", form)
    assert page.status_code == 200, page.text
    mailbox.deliver()
    (confirm_mail,) = mailbox.to(form["contact_email"])
    confirmed = post_form(client, link_in(confirm_mail, "xac-nhan"), {})
    assert confirmed.status_code == 303
    return confirmed.headers["Location"]


def test_from_the_request_to_a_live_portal_and_its_admin_signed_in(
    app, platform, services, city, console, client_for, mailbox, district_catalogue
):
    city_portal = client_for(host="localhost")
    form = form_of(city.slug, kind="district", catalog=district_catalogue, theme="hien-dai")
    host = f"{form['slug']}.localhost"
    status_path = confirmed_request(city_portal, mailbox, form)
    request = request_of(platform, form["slug"])
    assert request.status == RequestStatus.SUBMITTED
    assert client_for(host=host).get("/").status_code == 404  # nothing routable yet

    with app.app_context():
        get_queue("default").empty()  # runs left queued by earlier tests are not this worker's business
    approved = console.post(f"/onboarding/{request.id}/approve", data={"csrf_token": TEST_CSRF})
    assert approved.status_code == 303
    (run,) = runs_of(platform, request.id)
    assert run.status == "pending" and run.created_by_label  # recorded, waiting for a worker
    with platform.shards.platform_session() as session:
        assert session.scalar(select(Tenant.id).where(Tenant.slug == form["slug"])) is None

    run_worker(services)  # a real worker process: the provisioning run, then the mails

    (run,) = runs_of(platform, request.id)
    assert run.status == "done", run.error
    run_page = console.get(f"/runs/{run.id}").text
    assert "Hoàn tất" in run_page and 'value="100"' in run_page
    status_page = city_portal.get(status_path)
    assert status_page.status_code == 200 and f"http://{host}/" in status_page.text
    assert request_of(platform, form["slug"]).status == RequestStatus.LIVE

    platform.resolver.clear()  # this process cached the 404 above (for at most 5 s)
    portal = client_for(host=host).get("/")
    assert portal.status_code == 200 and form["name"] in portal.text
    with platform.shards.platform_session() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.slug == form["slug"]))
    assert tenant.status == "active" and tenant.kind == "district" and tenant.parent_id == city.id
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as session:
        assert session.scalar(select(func.count()).select_from(Procedure)) > 0

    # The requester, named the unit's admin, got one invitation: set a password, then sign in by SSO.
    invitations = [m for m in mailbox.to(form["contact_email"]) if "Mời quản trị" in m["Subject"]]
    assert len(invitations) == 1
    body = text_of(invitations[0])
    path = SET_PASSWORD.search(body).group(1)
    token = csrf_from(city_portal, path)
    reset = city_portal.post(
        path, data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD, "csrf_token": token}
    )
    assert reset.status_code == 200
    assert city_portal.get(path).status_code >= 400  # the link works once

    sign_in_link = re.search(rf"http://{re.escape(host)}/dang-nhap\?next=/backoffice/", body).group(0)
    admin = client_for(host=host)
    back = login(admin, form["contact_email"], NEW_PASSWORD, path=sign_in_link.removeprefix(f"http://{host}"))
    assert back.status_code == 302 and back.headers["Location"].endswith("/backoffice/")
    office = get_url(admin, back.headers["Location"])
    assert office.status_code == 200


def test_an_approval_while_redis_is_down_is_kept_and_the_sweep_builds_the_unit_when_it_is_back(
    app, platform, services, city, client_for, mailbox, tmp_path, monkeypatch
):
    city_portal = client_for(host="localhost")
    form = form_of(city.slug, kind="district")
    confirmed_request(city_portal, mailbox, form)
    request = request_of(platform, form["slug"])

    redis = PrivateRedis(tmp_path)  # its port; nothing listens there yet
    offline = create_app(app_config(services, redis_url=redis.url))
    offline.testing = True
    try:
        console = HostClient(offline, offline.response_class, use_cookies=True)
        console.host = CONSOLE
        sign_in_directly(console, make_account(platform, platform_roles=["provider_ops"]), site="console")
        approved = console.post(f"/onboarding/{request.id}/approve", data={"csrf_token": TEST_CSRF})
        assert approved.status_code == 303  # the approval stands although nothing could be queued
        (run,) = runs_of(platform, request.id)
        assert run.status == "pending"
        assert request_of(platform, form["slug"]).status == RequestStatus.APPROVED

        redis.start()
        # A worker with its scheduler: the pipeline's periodic sweep finds the lost run.
        monkeypatch.setenv("PROVISIONING_SWEEP_IDLE_SECONDS", "0")
        run_worker(services, "--with-scheduler", redis_url=redis.url)
        assert redis.client().llen("rq:queue:default") == 0

        (run,) = runs_of(platform, request.id)
        assert run.status == "done", run.error
        platform.resolver.clear()
        assert client_for(host=f"{form['slug']}.localhost").get("/").status_code == 200
        # Swept once: a second worker finds nothing more to do.
        run_worker(services, "--with-scheduler", redis_url=redis.url)
        assert [r.status for r in runs_of(platform, request.id)] == ["done"]
    finally:
        redis.stop()
        offline.extensions["motcua"].shards.dispose()
