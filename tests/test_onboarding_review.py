"""The review of onboarding requests in the provider console: the queue, each request's
checks, approve (exactly one provisioning run), reject and ask for changes with their
mails, auto-approval, seats, the audit trail, and who may see any of it.
"""

from __future__ import annotations

import html
import uuid

import pytest
from sqlalchemy import func, select

from app import create_app
from app.audit.platform_models import PlatformAuditEvent
from app.auth.roles import UNIT_ADMIN
from app.core.jobs import get_queue
from provisioning import onboarding_review, pipeline
from provisioning.onboarding_models import OnboardingRequest, OnboardingSettings, RequestStatus
from provisioning.pipeline_models import ProvisioningRun
from provisioning.seats import seats_left
from tenants import registry
from tests.conftest import HostClient, app_config
from tests.jobs_fixtures import PrivateRedis, run_worker
from tests.onboarding_support import (
    audit_actions,
    form_of,
    link_in,
    mailbox_fixture,
    post_form,
    reload_request,
    submitted_request,
    text_of,
    unit_code,
)
from tests.test_auth_support import TEST_CSRF, make_account, sign_in_directly

CONSOLE = "admin.localhost"


@pytest.fixture
def mailbox(app, services, tmp_path, monkeypatch):
    return mailbox_fixture(app, services, tmp_path, monkeypatch)


@pytest.fixture
def district(make_tenant):
    return make_tenant("district")


@pytest.fixture
def ops(platform):
    return make_account(platform, platform_roles=["provider_ops"])


@pytest.fixture
def console(client_for, ops):
    client = client_for(host=CONSOLE)
    sign_in_directly(client, ops, site="console")
    return client


@pytest.fixture(autouse=True)
def auto_approval_off(platform):
    """Each test starts with auto-approval off and no seat limit (tests that want them set them)."""
    _set_auto(platform, False)
    yield
    _set_auto(platform, False)


def _set_auto(platform, on: bool) -> None:
    with platform.shards.platform_session() as session, session.begin():
        row = session.get(OnboardingSettings, 1)
        if row is None:
            session.add(OnboardingSettings(id=1, auto_approve=on))
        else:
            row.auto_approve = on


def runs_of(platform, request_id: int) -> list[ProvisioningRun]:
    with platform.shards.platform_session() as session:
        return list(
            session.scalars(
                select(ProvisioningRun).where(ProvisioningRun.onboarding_request_id == request_id)
            )
        )


def decide(console, request_id: int, action: str, **form):
    return console.post(f"/onboarding/{request_id}/{action}", data={"csrf_token": TEST_CSRF, **form})


# --- the queue and one request ----------------------------------------------------------------


def test_the_queue_lists_confirmed_requests_with_a_status_filter(app, platform, district, console):
    waiting = submitted_request(app, platform, district.slug)
    unconfirmed = submitted_request(app, platform, district.slug, confirm=False)
    page = console.get("/onboarding/")
    assert page.status_code == 200 and '<label for="f-status">' in page.text
    assert f">#{waiting.id}<" in page.text and waiting.name in page.text
    assert f">#{unconfirmed.id}<" not in page.text
    assert f">#{waiting.id}<" in console.get("/onboarding/?status=submitted").text
    assert f">#{waiting.id}<" not in console.get("/onboarding/?status=rejected").text
    assert console.get("/onboarding/?status=unconfirmed").status_code == 400
    assert console.get("/onboarding/?status=asleep").status_code == 400


def test_a_request_shows_its_checks_passing(app, platform, district, console):
    request = submitted_request(app, platform, district.slug)
    page = console.get(f"/onboarding/{request.id}")
    assert page.status_code == 200
    assert page.text.count('class="check-pass"') == 5 and 'class="check-fail"' not in page.text
    assert request.contact_email in page.text and request.unit_code in page.text
    assert console.get("/onboarding/999999999").status_code == 404


# --- approve ----------------------------------------------------------------------------------


def test_approve_creates_exactly_one_run_and_a_second_approve_is_refused(
    app, platform, district, console, ops, client_for
):
    request = submitted_request(app, platform, district.slug)
    approved = decide(console, request.id, "approve")
    assert approved.status_code == 303
    (run,) = runs_of(platform, request.id)
    assert run.kind == "provision" and run.tenant_slug == request.slug
    assert run.spec["unit_code"] == request.unit_code and run.spec["admin_email"] == request.contact_email
    assert run.spec["parent_slug"] == district.slug and run.created_by_account_id == ops.id
    stored = reload_request(platform, request.id)
    assert stored.status == RequestStatus.APPROVED and stored.run_id == run.id
    assert stored.reviewer_account_id == ops.id and stored.reviewed_at is not None

    again = decide(console, request.id, "approve")
    assert again.status_code == 409 and "không thể thực hiện" in again.text
    assert len(runs_of(platform, request.id)) == 1
    assert [a for a, _, _ in audit_actions(platform, request.id)] == [
        "submitted",
        "confirmed",
        "approved",
        "approval_refused",
    ]
    assert audit_actions(platform, request.id)[2] == ("approved", ops.id, ops.email)

    detail = console.get(f"/onboarding/{request.id}")
    assert f'href="/runs/{run.id}"' in detail.text and 'class="run-progress"' in detail.text


def _refused(console, platform, request, reason_vi: str) -> None:
    detail = console.get(f"/onboarding/{request.id}")
    assert 'class="check-fail"' in detail.text and reason_vi in detail.text
    refused = decide(console, request.id, "approve")
    assert refused.status_code == 409 and reason_vi in refused.text
    assert runs_of(platform, request.id) == []
    assert reload_request(platform, request.id).status == RequestStatus.SUBMITTED
    assert audit_actions(platform, request.id)[-1][0] == "approval_refused"


def test_approval_is_refused_when_the_parent_is_gone(app, platform, make_tenant, console):
    parent = make_tenant("district")
    request = submitted_request(app, platform, parent.slug)
    registry.set_status(platform.shards, parent.slug, "suspended")
    _refused(console, platform, request, "Không tìm thấy đơn vị cấp trên đang hoạt động")


def test_approval_is_refused_when_the_code_was_taken_since(app, platform, district, console, make_tenant):
    request = submitted_request(app, platform, district.slug)
    registry.create_tenant(
        platform.shards,
        platform.trees.tenant_head,
        name=f"Xã Khác {uuid.uuid4().hex[:6]}",
        kind="commune",
        unit_code=request.unit_code,
        parent=district.slug,
        slug=f"x{uuid.uuid4().hex[:8]}",
    )
    _refused(console, platform, request, "Đơn vị có mã này đã hoạt động trên hệ thống")


def test_approval_is_refused_when_the_subdomain_was_taken_since(app, platform, district, console):
    request = submitted_request(app, platform, district.slug)
    registry.create_tenant(
        platform.shards,
        platform.trees.tenant_head,
        name=f"Xã Khác {uuid.uuid4().hex[:6]}",
        kind="commune",
        unit_code=unit_code(),
        parent=district.slug,
        slug=request.slug,
    )
    _refused(console, platform, request, "đã được sử dụng")


def test_approval_is_refused_without_seats(app, platform, city, console, monkeypatch):
    request = submitted_request(app, platform, city.slug, kind="department")
    with app.app_context(), platform.shards.platform_session() as session:
        monkeypatch.setattr(platform.settings, "onboarding_seats", {"department": 10**6})
        taken = 10**6 - seats_left(session, "department")
    monkeypatch.setattr(platform.settings, "onboarding_seats", {"department": taken})
    queue = console.get("/onboarding/").text
    assert "không giới hạn" in queue  # districts and communes: no limit set
    _refused(console, platform, request, "không còn chỗ cho đơn vị loại này")
    monkeypatch.setattr(platform.settings, "onboarding_seats", {"department": taken + 1})
    assert decide(console, request.id, "approve").status_code == 303
    with app.app_context(), platform.shards.platform_session() as session:
        assert (
            seats_left(session, "department") == 0
        )  # the approved one holds its seat before its tenant exists


def test_a_failed_request_is_approved_again_only_after_its_run_was_rolled_back(
    app, platform, district, console
):
    request = submitted_request(app, platform, district.slug)
    assert decide(console, request.id, "approve").status_code == 303
    (first,) = runs_of(platform, request.id)
    with app.app_context(), platform.shards.platform_session() as session, session.begin():
        pipeline.rollback_run(session, first.id, actor_label="test")
    with app.app_context():
        assert pipeline.execute_run(first.id).status == "rolled_back"
    page = console.get(f"/onboarding/{request.id}")
    assert reload_request(platform, request.id).status == RequestStatus.FAILED
    assert "Approve again" in page.text or "Duyệt lại" in page.text
    assert decide(console, request.id, "approve").status_code == 303
    second = [run for run in runs_of(platform, request.id) if run.id != first.id]
    assert len(second) == 1 and reload_request(platform, request.id).run_id == second[0].id


# --- reject, ask for changes ------------------------------------------------------------------


def confirmed_via_form(client_for, mailbox, parent_slug: str) -> tuple[OnboardingRequest, str]:
    """A request sent through the city form and confirmed by its mailed link: (request, status page path)."""
    city = client_for(host="localhost")
    form = form_of(parent_slug)
    assert post_form(city, "/dang-ky-don-vi", form).status_code == 200
    mailbox.deliver()
    confirm_mail = mailbox.to(form["contact_email"])[-1]
    status_path = post_form(city, link_in(confirm_mail, "xac-nhan"), {}).headers["Location"]
    with city.application.extensions["motcua"].shards.platform_session() as session:
        request = session.scalar(select(OnboardingRequest).where(OnboardingRequest.slug == form["slug"]))
    return request, status_path


def test_reject_needs_a_reason_and_mails_it(platform, district, console, ops, mailbox, client_for):
    request, status_path = confirmed_via_form(client_for, mailbox, district.slug)
    empty = decide(console, request.id, "reject", reason="   ")
    assert empty.status_code == 422
    assert reload_request(platform, request.id).status == RequestStatus.SUBMITTED
    reason = "Mã đơn vị không khớp quyết định thành lập."
    assert decide(console, request.id, "reject", reason=reason).status_code == 303
    stored = reload_request(platform, request.id)
    assert stored.status == RequestStatus.REJECTED and stored.review_reason == reason
    assert stored.reviewer_account_id == ops.id
    assert decide(console, request.id, "approve").status_code == 409
    assert runs_of(platform, request.id) == []
    mailbox.deliver()
    messages = mailbox.to(request.contact_email)
    assert reason in text_of(messages[-1]) and "bị từ chối" in messages[-1]["Subject"]
    assert audit_actions(platform, request.id)[-2] == ("rejected", ops.id, ops.email)
    status_page = client_for(host="localhost").get(status_path)
    assert "Bị từ chối" in status_page.text and reason in status_page.text


def test_changes_requested_mails_a_link_to_edit_and_resubmit_the_same_request(
    platform, district, console, client_for, mailbox
):
    request, status_path = confirmed_via_form(client_for, mailbox, district.slug)
    message = "Vui lòng ghi tên tiếng Anh chính thức."
    assert decide(console, request.id, "changes", message=message).status_code == 303
    assert reload_request(platform, request.id).status == RequestStatus.CHANGES_REQUESTED
    mailbox.deliver()
    mail = mailbox.to(request.contact_email)[-1]
    assert message in text_of(mail)
    edit_path = link_in(mail, "sua")
    status_page = client_for(host="localhost").get(status_path)
    assert "Cần bổ sung" in status_page.text and message in status_page.text

    city = client_for(host="localhost")
    page = city.get(edit_path)
    assert page.status_code == 200 and message in page.text and request.name in page.text
    form = form_of(
        district.slug,
        name=request.name,
        name_en="Official English Name",
        unit_code=request.unit_code,
        slug=request.slug,
        contact_email="someone-else@example.vn",  # not a field of the edit page: the e-mail stays
    )
    bad = post_form(city, edit_path, {**form, "contact_phone": "12"})
    assert bad.status_code == 422 and "Số điện thoại không hợp lệ" in bad.text
    assert reload_request(platform, request.id).status == RequestStatus.CHANGES_REQUESTED
    done = post_form(city, edit_path, form)
    assert done.status_code == 200 and f"#{request.id}" in done.text
    stored = reload_request(platform, request.id)
    assert stored.status == RequestStatus.SUBMITTED and stored.name_en == "Official English Name"
    assert stored.contact_email == request.contact_email
    assert city.get(edit_path).status_code == 410  # the link worked once
    with platform.shards.platform_session() as session:
        assert (
            session.scalar(
                select(func.count()).where(OnboardingRequest.contact_email == request.contact_email)
            )
            == 1
        )
    actions = [a for a, _, _ in audit_actions(platform, request.id)]
    assert actions[-2:] == ["changes_requested", "resubmitted"]
    assert decide(console, request.id, "approve").status_code == 303


# --- auto-approval ------------------------------------------------------------------------------


def test_the_switch_and_auto_approval_at_confirmation(app, platform, district, console, ops, monkeypatch):
    off = submitted_request(app, platform, district.slug)
    assert off.status == RequestStatus.SUBMITTED and runs_of(platform, off.id) == []

    assert (
        console.post("/onboarding/settings", data={"csrf_token": TEST_CSRF, "auto_approve": "on"}).status_code
        == 303
    )
    assert "BẬT" in console.get("/onboarding/").text
    on = submitted_request(app, platform, district.slug)
    assert on.status == RequestStatus.APPROVED
    (run,) = runs_of(platform, on.id)
    assert run.created_by_label == onboarding_review.AUTO_LABEL and run.created_by_account_id is None
    assert audit_actions(platform, on.id)[-1] == ("approved", None, onboarding_review.AUTO_LABEL)

    duplicate = submitted_request(app, platform, district.slug, name=on.name)
    assert duplicate.status == RequestStatus.SUBMITTED and runs_of(platform, duplicate.id) == []

    monkeypatch.setattr(platform.settings, "onboarding_seats", {"commune": 0})
    no_seats = submitted_request(app, platform, district.slug)
    assert no_seats.status == RequestStatus.SUBMITTED and runs_of(platform, no_seats.id) == []
    skipped = audit_actions(platform, no_seats.id)[-1]
    assert skipped[0] == "auto_approval_skipped"

    assert console.post("/onboarding/settings", data={"csrf_token": TEST_CSRF}).status_code == 303
    assert "TẮT" in console.get("/onboarding/").text
    monkeypatch.setattr(platform.settings, "onboarding_seats", {})
    later = submitted_request(app, platform, district.slug)
    assert later.status == RequestStatus.SUBMITTED and runs_of(platform, later.id) == []
    with platform.shards.platform_session() as session:
        switches = session.execute(
            select(PlatformAuditEvent.action, PlatformAuditEvent.actor_account_id)
            .where(PlatformAuditEvent.entity == "onboarding_settings")
            .order_by(PlatformAuditEvent.id.desc())
            .limit(2)
        ).all()
    assert [tuple(s) for s in switches] == [("auto_approve_off", ops.id), ("auto_approve_on", ops.id)]


# --- the requester's status page after approval ---------------------------------------------


def test_the_status_page_follows_the_run(app, platform, district, console, client_for, mailbox):
    city = client_for(host="localhost")
    form = form_of(district.slug)
    assert post_form(city, "/dang-ky-don-vi", form).status_code == 200
    mailbox.deliver()
    (confirm_mail,) = mailbox.to(form["contact_email"])
    status_path = post_form(city, link_in(confirm_mail, "xac-nhan"), {}).headers["Location"]
    request_id = reload_request_by_slug(platform, form["slug"])
    assert decide(console, request_id, "approve").status_code == 303
    page = city.get(status_path)
    assert page.status_code == 200 and page.headers.get("Refresh") == "3"
    assert 'class="run-progress"' in page.text and "<progress" in page.text
    assert "Đã duyệt" in html.unescape(page.text) or "Đang khởi tạo" in page.text


def reload_request_by_slug(platform, slug: str) -> int:
    with platform.shards.platform_session() as session:
        return session.scalar(select(OnboardingRequest.id).where(OnboardingRequest.slug == slug))


# --- who may ------------------------------------------------------------------------------------


def test_review_pages_need_provider_ops(app, platform, district, client_for):
    request = submitted_request(app, platform, district.slug)
    admin = make_account(platform, memberships=[(district, [UNIT_ADMIN])])
    unit_admin = client_for(host=CONSOLE)
    sign_in_directly(unit_admin, admin, site="console")
    for path in ("/onboarding/", f"/onboarding/{request.id}"):
        assert unit_admin.get(path).status_code == 403, path
        anonymous = client_for(host=CONSOLE).get(path)
        assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login?next=")
    assert decide(unit_admin, request.id, "approve").status_code == 403
    assert decide(unit_admin, request.id, "reject", reason="x").status_code == 403
    assert (
        unit_admin.post(
            "/onboarding/settings", data={"csrf_token": TEST_CSRF, "auto_approve": "on"}
        ).status_code
        == 403
    )
    assert reload_request(platform, request.id).status == RequestStatus.SUBMITTED
    assert runs_of(platform, request.id) == []


def test_review_pages_answer_on_the_console_only(app, platform, district, ops, client_for):
    request = submitted_request(app, platform, district.slug)
    tenant_client = client_for(district)
    sign_in_directly(tenant_client, ops, district)
    city = client_for(host="localhost")
    sign_in_directly(city, ops)
    for client in (tenant_client, city):
        assert client.get(f"/onboarding/{request.id}").status_code == 404
        assert decide(client, request.id, "approve").status_code == 404
    assert runs_of(platform, request.id) == []


def test_decisions_need_the_csrf_token(app, platform, district, console):
    request = submitted_request(app, platform, district.slug)
    assert console.post(f"/onboarding/{request.id}/approve").status_code == 400
    assert runs_of(platform, request.id) == []


def test_an_approval_while_redis_is_down_is_kept_and_runs_once_it_is_back(
    platform, services, district, ops, tmp_path, app
):
    request = submitted_request(app, platform, district.slug)
    redis = PrivateRedis(tmp_path)  # its port, with nothing listening yet
    other = create_app(app_config(services, redis_url=redis.url))
    other.testing = True
    try:
        console = HostClient(other, other.response_class, use_cookies=True)
        console.host = CONSOLE
        sign_in_directly(console, ops, site="console")
        assert (
            decide(console, request.id, "approve").status_code == 303
        )  # neither the run nor the mail queued
        (run,) = runs_of(platform, request.id)
        assert (
            run.status == "pending" and reload_request(platform, request.id).status == RequestStatus.APPROVED
        )
        redis.start()
        with other.app_context():
            assert pipeline.enqueue_run(run.id)  # what the pipeline's periodic sweep does for a lost run
        run_worker(services, redis_url=redis.url)
        (done,) = runs_of(platform, request.id)
        assert done.status == "done"
        page = console.get(f"/onboarding/{request.id}")
        assert reload_request(platform, request.id).status == RequestStatus.LIVE and page.status_code == 200
    finally:
        redis.stop()
        other.extensions["motcua"].shards.dispose()


# --- end to end: a real worker builds the unit ----------------------------------------------


def test_from_the_form_to_a_live_portal_with_a_real_worker(
    app, platform, services, district, console, client_for, mailbox
):
    city = client_for(host="localhost")
    form = form_of(district.slug)
    assert post_form(city, "/dang-ky-don-vi", form).status_code == 200
    mailbox.deliver()
    (confirm_mail,) = mailbox.to(form["contact_email"])
    status_path = post_form(city, link_in(confirm_mail, "xac-nhan"), {}).headers["Location"]
    request_id = reload_request_by_slug(platform, form["slug"])
    assert client_for(host=f"{form['slug']}.localhost").get("/").status_code == 404  # nothing yet

    with app.app_context():
        get_queue("default").empty()  # runs approved by earlier tests are not this worker's business
    assert decide(console, request_id, "approve").status_code == 303
    run_worker(services)  # every queue: the provisioning run, then the mails

    page = city.get(status_path)
    assert page.status_code == 200 and "Đã hoạt động" in page.text
    assert f"http://{form['slug']}.localhost/" in page.text and "Refresh" not in page.headers
    assert reload_request(platform, request_id).status == RequestStatus.LIVE
    (run,) = runs_of(platform, request_id)
    assert run.status == "done"
    platform.resolver.clear()  # this process cached the earlier 404 (for at most 5 s)
    assert client_for(host=f"{form['slug']}.localhost").get("/").status_code == 200
    assert audit_actions(platform, request_id)[-1][0] == "status_live"
