"""National portal sync pages: the unit admin's settings/status page and the console page;
bilingual form errors, write-only token, retry, cross-tenant isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.audit.platform_models import PlatformAuditEvent
from app.core.secrets import decrypt
from app.integrations.dvcqg_models import DvcqgMessage, DvcqgSettings
from tests.dvcqg_support import TOKEN, act, at, connected_unit, messages, queue, receive, send, serve_portal
from tests.test_auth_support import TEST_CSRF, make_account, sign_in_directly

PAGE = "/backoffice/integrations/dvcqg/"
CONSOLE_PAGE = "/integrations/dvcqg/"
CONSOLE = "admin.localhost"


@pytest.fixture(scope="module")
def portal():
    yield from serve_portal()


@pytest.fixture(scope="module")
def units(app, platform, city, portal):
    """Two connected units, each with one dossier held back by a failure."""
    built = []
    for _ in range(2):
        unit = connected_unit(app, platform, city, portal)
        dossier_id = receive(unit, at(0))
        act(unit, "transfer", dossier_id, "counter", at(1))
        queue(unit, [dossier_id])
        portal.fail_next(1, code="31")
        assert send(app, unit).failed == 1
        built.append((unit, dossier_id))
    return built


def admin_client(client_for, unit):
    client = client_for(unit.tenant)
    sign_in_directly(client, unit.accounts["admin"], unit.tenant)
    return client


def code_of(unit, dossier_id):
    return messages(unit.platform, unit.tenant.id, dossier_id=dossier_id)[0].dossier_code


def test_status_page_shows_pending_lag_and_the_remote_error(client_for, units):
    (unit, dossier_id), (other, other_id) = units
    page = admin_client(client_for, unit).get(PAGE)
    assert page.status_code == 200
    assert code_of(unit, dossier_id) in page.text and "31: " in page.text
    assert 'id="pending-count">4<' in page.text
    assert "Kết nối Cổng DVC quốc gia" in page.text
    assert "National portal sync" in admin_client(client_for, unit).get(PAGE + "?lang=en").text
    assert code_of(other, other_id) not in page.text  # never another unit's messages
    assert TOKEN not in page.text


def test_invalid_settings_are_422_with_bilingual_field_errors(client_for, units, platform):
    unit, _ = units[0]
    client = admin_client(client_for, unit)
    bad = {
        "csrf_token": TEST_CSRF,
        "madonvi": "",
        "endpoint_url": "ftp://x",
        "timeout_seconds": "999",
        "dstcode": "a b",
        "token": "with space",
        "enabled": "1",
    }
    response = client.post(PAGE, data=bad)
    assert response.status_code == 422
    for text in (
        "Mã đơn vị bắt buộc",
        "phải là một URL http(s)",
        "Thời gian chờ từ 1 đến 120",
        "Mã dstcode tối đa 80",
        "không được chứa khoảng trắng",
    ):
        assert text in response.text
    english = client.post(PAGE + "?lang=en", data=bad)
    assert english.status_code == 422 and "The unit code is required" in english.text
    assert "full http(s) URL" in english.text and "dstcode is up to 80" in english.text
    with platform.shards.platform_session() as session:
        assert session.get(DvcqgSettings, unit.tenant.id).madonvi != ""  # nothing saved


def test_odd_form_values_are_refused_or_ignored_never_a_server_error(client_for, units):
    unit, _ = units[0]
    client = admin_client(client_for, unit)
    form = {
        "csrf_token": TEST_CSRF,
        "madonvi": "X1",
        "endpoint_url": "http://portal.test/",
        "timeout_seconds": "5",
    }
    for field, value in (
        ("endpoint_url", "http://[::1"),
        ("timeout_seconds", "²"),
        ("timeout_seconds", "9" * 30),
    ):
        response = client.post(PAGE, data=form | {field: value})
        assert response.status_code == 422, (field, value)
    for value in ("²", "9" * 30, "-1", "abc"):  # not a dossier id: the whole unit is retried
        assert (
            client.post(PAGE + "retry", data={"csrf_token": TEST_CSRF, "dossier_id": value}).status_code
            == 302
        )


def test_token_is_write_only_and_encrypted(app, client_for, units, platform, portal):
    unit, _ = units[1]
    client = admin_client(client_for, unit)
    form = {
        "csrf_token": TEST_CSRF,
        "madonvi": "000.00.31.H26",
        "endpoint_url": portal.url,
        "dstcode": "VN:GOV:000.00.00.G22",
        "timeout_seconds": "1",
        "enabled": "1",
        "token": "moi-ma-2",
    }
    assert client.post(PAGE, data=form).status_code == 302
    with app.app_context(), platform.shards.platform_session() as session:
        stored = session.get(DvcqgSettings, unit.tenant.id).session_token_encrypted
        assert stored != "moi-ma-2" and decrypt(stored) == "moi-ma-2"
        audit = session.scalars(
            select(PlatformAuditEvent)
            .where(
                PlatformAuditEvent.entity == "dvcqg_settings",
                PlatformAuditEvent.entity_id == str(unit.tenant.id),
            )
            .order_by(PlatformAuditEvent.id.desc())
        ).first()
        assert audit.action == "settings_saved" and audit.data["token_changed"] is True
        assert "moi-ma-2" not in str(audit.data)
    page = client.get(PAGE)
    assert "moi-ma-2" not in page.text and stored not in page.text
    assert client.post(PAGE, data=form | {"token": ""}).status_code == 302  # empty keeps the token
    with app.app_context(), platform.shards.platform_session() as session, session.begin():
        assert decrypt(session.get(DvcqgSettings, unit.tenant.id).session_token_encrypted) == "moi-ma-2"
        session.get(DvcqgSettings, unit.tenant.id).session_token_encrypted = None
    assert client.post(PAGE, data=form | {"token": ""}).status_code == 422  # enabled needs a token
    assert client.post(PAGE, data=form | {"token": TOKEN}).status_code == 302


def test_retry_button_makes_the_dossier_due_and_sends(app, client_for, units, platform):
    unit, dossier_id = units[0]
    client = admin_client(client_for, unit)
    assert (
        client.post(PAGE + "retry", data={"csrf_token": TEST_CSRF, "dossier_id": str(dossier_id)}).status_code
        == 302
    )
    head = messages(platform, unit.tenant.id, dossier_id=dossier_id, status="pending")[0]
    assert head.next_attempt_at <= datetime.now(UTC)
    assert send(app, unit, now=datetime.now(UTC) + timedelta(seconds=1)).sent == 4
    assert 'id="pending-count">0<' in client.get(PAGE).text


def test_other_units_and_roles_are_refused(client_for, units, platform):
    (unit, _), (other, other_id) = units
    admin_of_a = admin_client(client_for, unit)
    on_b = client_for(other.tenant)
    sign_in_directly(on_b, unit.accounts["admin"], unit.tenant)  # A's admin on B's host
    assert on_b.get(PAGE).status_code in (403, 404)
    assert on_b.post(
        PAGE + "retry", data={"csrf_token": TEST_CSRF, "dossier_id": str(other_id)}
    ).status_code in (
        403,
        404,
    )
    officer = client_for(unit.tenant)
    sign_in_directly(officer, unit.accounts["officer"], unit.tenant)
    assert officer.get(PAGE).status_code == 403
    # A's admin cannot reach B's messages through A's host either: ids are scoped by the bound unit.
    before = messages(platform, other.tenant.id, dossier_id=other_id, status="pending")[0].next_attempt_at
    admin_of_a.post(PAGE + "retry", data={"csrf_token": TEST_CSRF, "dossier_id": str(other_id)})
    assert (
        messages(platform, other.tenant.id, dossier_id=other_id, status="pending")[0].next_attempt_at
        == before
    )
    # Console: a unit official is refused.
    console = client_for(host=CONSOLE)
    sign_in_directly(console, unit.accounts["admin"], site="console")
    assert console.get(CONSOLE_PAGE).status_code == 403


def test_console_lists_every_unit_ops_retry_auditor_reads(client_for, units, platform):
    (unit, _), (other, _) = units
    with platform.shards.platform_session() as session, session.begin():  # hold B back again
        session.execute(
            update(DvcqgMessage)
            .where(DvcqgMessage.tenant_id == other.tenant.id, DvcqgMessage.status == "pending")
            .values(next_attempt_at=datetime.now(UTC) + timedelta(hours=1), last_error="31: held", attempts=1)
        )
    ops = client_for(host=CONSOLE)
    sign_in_directly(ops, make_account(platform, platform_roles=["provider_ops"]), site="console")
    page = ops.get(CONSOLE_PAGE)
    assert page.status_code == 200
    assert unit.tenant.name in page.text and other.tenant.name in page.text and "31: held" in page.text
    retried = ops.post(f"{CONSOLE_PAGE}{other.tenant.id}/retry", data={"csrf_token": TEST_CSRF})
    assert retried.status_code == 302
    assert all(
        m.next_attempt_at <= datetime.now(UTC) for m in messages(platform, other.tenant.id, status="pending")
    )
    assert ops.post(f"{CONSOLE_PAGE}999999/retry", data={"csrf_token": TEST_CSRF}).status_code == 404
    auditor = client_for(host=CONSOLE)
    sign_in_directly(auditor, make_account(platform, platform_roles=["city_auditor"]), site="console")
    seen = auditor.get(CONSOLE_PAGE)
    assert seen.status_code == 200 and other.tenant.name in seen.text and "/retry" not in seen.text
    assert (
        auditor.post(f"{CONSOLE_PAGE}{other.tenant.id}/retry", data={"csrf_token": TEST_CSRF}).status_code
        == 403
    )
    assert client_for(unit.tenant).get(CONSOLE_PAGE).status_code == 404  # no console route on a unit host


def test_test_connection_reports_what_the_portal_answered(client_for, units, portal):
    unit, _ = units[0]
    client = admin_client(client_for, unit)
    accepted = len(portal.accepted)
    client.post(PAGE + "test", data={"csrf_token": TEST_CSRF})
    assert "Kết nối thành công" in client.get(PAGE).text
    portal.fail_next(1, code="503")
    client.post(PAGE + "test", data={"csrf_token": TEST_CSRF})
    assert "Kết nối lỗi: http 503" in client.get(PAGE).text
    assert len(portal.accepted) == accepted  # a lookup publishes nothing
