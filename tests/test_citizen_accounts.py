"""Citizen local accounts on the city host: registration, email verification, password reset.

Mail goes through the real path: an RQ job on Redis, run by a real worker process
(``flask jobs worker --burst``), which speaks SMTP to a server the test starts.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select

from app.auth import citizens
from app.auth.citizen_models import RESET, VERIFY, AccountToken
from app.auth.models import Account
from app.auth.passwords import verify_password
from app.auth.roles import COUNTER_OFFICER
from app.auth.sso_models import SsoSession
from app.core import mail
from app.core.jobs import get_queue
from tests.jobs_fixtures import run_worker
from tests.smtp_server import SmtpServer
from tests.test_auth_support import csrf_from, make_account, reload, sign_in_directly, unique_email

PASSWORD = "mat-khau-cong-dan-1"
NEW_PASSWORD = "mat-khau-moi-2026"
LINK = re.compile(r"(http://localhost/(?:xac-thuc-email|dat-lai-mat-khau)/[A-Za-z0-9_\-]+)")


@pytest.fixture
def smtp(app, monkeypatch):
    """A running SMTP server; workers started by the test deliver to it."""
    with app.app_context():
        get_queue("high").empty()  # mails queued by earlier tests go nowhere
    server = SmtpServer().start()
    monkeypatch.setenv("MAIL_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("MAIL_SMTP_PORT", str(server.port))
    monkeypatch.setenv("MAIL_FROM", "Cổng dịch vụ công <no-reply@haiphong.example.vn>")
    yield server
    server.stop()


@pytest.fixture
def city_client(client_for):
    def make(ip: str | None = None):
        client = client_for(host="localhost")
        client.environ_base["REMOTE_ADDR"] = ip or f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
        return client

    return make


def form_of(**overrides) -> dict:
    values = {
        "full_name": "Trần Thị Công Dân",
        "email": unique_email("cd"),
        "phone": "0912 345 678",
        "personal_id": "",
        "password": PASSWORD,
        "password_confirm": PASSWORD,
        "accept_terms": "yes",
    }
    values.update(overrides)
    return values


def post_form(client, path: str, data: dict, *, query: str = ""):
    token = csrf_from(client, path)
    return client.post(path + query, data={**data, "csrf_token": token})


def account_by_email(platform, email: str) -> Account | None:
    with platform.shards.platform_session() as session:
        return session.scalar(select(Account).where(Account.email == email))


def link_in(message) -> str:
    found = LINK.search(message.get_body(("plain",)).get_content())
    assert found, message
    return found.group(1)


def path_of(link: str) -> str:
    return link.removeprefix("http://localhost")


# --- registration and verification ----------------------------------------------------


def test_registration_mails_a_link_that_verifies_once(platform, services, smtp, city_client):
    client = city_client()
    form = form_of(personal_id=f"0{uuid.uuid4().int % 10**11:011d}")
    page = post_form(client, "/dang-ky", form)
    assert page.status_code == 200, page.text
    assert "Kiểm tra hộp thư" in page.text

    account = account_by_email(platform, form["email"])
    assert account.email_verified_at is None and account.self_registered_at is not None
    assert account.phone == "0912345678" and account.personal_id == form["personal_id"]
    assert citizens.verification_refusal(account) is not None  # the login view refuses it for now

    run_worker(services)
    (message,) = smtp.to(form["email"])
    assert message["From"].addresses[0].addr_spec == "no-reply@haiphong.example.vn"
    assert message["Subject"] == "Xác thực địa chỉ email / Verify your email address"
    text = message.get_body(("plain",)).get_content()
    assert text.index("Xin chào") < text.index("English") < text.index("Hello")
    assert form["full_name"] not in text  # unproven text typed by whoever registered stays out of the mail
    link = link_in(message)
    token = link.rsplit("/", 1)[1]
    with platform.shards.platform_session() as session:  # only the hash is stored
        stored = session.scalars(select(AccountToken.token_hash).where(AccountToken.account_id == account.id))
        assert list(stored) == [hashlib.sha256(token.encode()).hexdigest()]

    form_page = client.get(path_of(link))
    assert form_page.status_code == 200 and "Xác thực email" in form_page.text
    assert form_page.headers["Referrer-Policy"] == "no-referrer"
    done = post_form(client, path_of(link), {})
    assert done.status_code == 200 and "Email đã được xác thực" in done.text
    verified = reload(platform, account.id)
    assert verified.email_verified_at is not None
    assert citizens.verification_refusal(verified) is None

    again = post_form(client, "/dang-ky", form_of())  # a fresh page for a CSRF token, then the reuse
    assert again.status_code == 200
    reused = client.post(path_of(link), data={"csrf_token": csrf_from(client, "/dang-ky")})
    assert reused.status_code == 410 and "đã được sử dụng" in reused.text
    assert client.get(path_of(link)).status_code == 410


def test_an_expired_verification_link_is_refused(app, platform, city_client):
    account = make_account(platform)
    with platform.shards.platform_session() as session, session.begin():
        row = session.get(Account, account.id)
        row.self_registered_at, row.email_verified_at = datetime.now(UTC), None
        token = citizens.issue_token(session, row, VERIFY, datetime.now(UTC) - timedelta(hours=49))
    client = city_client()
    refused = client.get(f"/xac-thuc-email/{token}")
    assert refused.status_code == 410
    assert "hết hạn" in refused.text and "/gui-lai-xac-thuc" in refused.text
    posted = client.post(f"/xac-thuc-email/{token}", data={"csrf_token": csrf_from(client, "/dang-ky")})
    assert posted.status_code == 410
    assert reload(platform, account.id).email_verified_at is None


def test_staff_accounts_are_not_asked_to_verify(platform):
    account = make_account(platform)  # made by an admin: email_verified_at None, not self-registered
    assert citizens.verification_refusal(account) is None


def test_registering_a_known_email_answers_the_same_and_mails_the_owner(
    platform, services, smtp, city_client
):
    owner = make_account(platform)
    fresh = post_form(city_client(), "/dang-ky", form_of())
    known = post_form(city_client(), "/dang-ky", form_of(email=owner.email.upper()))
    assert known.status_code == fresh.status_code == 200
    assert "Kiểm tra hộp thư" in known.text
    with platform.shards.platform_session() as session:
        assert (
            session.scalar(select(Account.full_name).where(Account.email == owner.email)) == "Nguyễn Văn Thử"
        )

    run_worker(services)
    (message,) = smtp.to(owner.email)
    assert "đã có tài khoản" in message["Subject"]
    assert "http://localhost/quen-mat-khau" in message.get_body(("plain",)).get_content()


def test_a_taken_personal_id_is_refused_without_saying_whose(platform, city_client):
    personal_id = f"1{uuid.uuid4().int % 10**11:011d}"
    first = post_form(city_client(), "/dang-ky", form_of(personal_id=personal_id, full_name="Lê Văn Một"))
    assert first.status_code == 200
    first_email = first.text.split("Nếu địa chỉ ")[1].split(" ")[0]
    second_form = form_of(personal_id=personal_id)
    second = post_form(city_client(), "/dang-ky", second_form)
    assert second.status_code == 409
    assert "Số định danh cá nhân này đã được dùng cho một tài khoản khác" in second.text
    assert "Lê Văn Một" not in second.text and first_email not in second.text
    assert account_by_email(platform, second_form["email"]) is None


@pytest.mark.parametrize(
    ("field", "value", "vi", "en"),
    [
        ("full_name", "A" * 5000, "Họ và tên không hợp lệ", "The full name is invalid"),
        ("email", "khong-phai-email", "Email không hợp lệ", "Invalid email address"),
        ("email", "a" * 300 + "@example.vn", "Email dài quá 254 ký tự", "longer than 254 characters"),
        ("phone", "12345", "Số điện thoại không hợp lệ", "Invalid phone number"),
        ("phone", "0" * 5000, "Số điện thoại không hợp lệ", "Invalid phone number"),
        ("personal_id", "03120000123", "gồm đúng 12 chữ số", "exactly 12 digits"),
        ("password", "ngan", "Mật khẩu phải có ít nhất 8 ký tự", "at least 8 characters"),
        ("accept_terms", "", "đồng ý với điều khoản", "accept the terms"),
    ],
)
def test_hostile_or_wrong_input_is_refused_in_both_languages(platform, city_client, field, value, vi, en):
    form = form_of(**{field: value})
    if field == "password":
        form["password_confirm"] = value
    vi_page = post_form(city_client(), "/dang-ky", form)
    assert vi_page.status_code == 422
    assert vi in vi_page.text and 'aria-invalid="true"' in vi_page.text and 'href="#' + field in vi_page.text
    en_page = post_form(city_client(), "/dang-ky", form, query="?lang=en")
    assert en_page.status_code == 422 and en in en_page.text
    assert account_by_email(platform, form["email"]) is None


def test_markup_in_a_name_is_shown_inert(city_client):
    page = post_form(city_client(), "/dang-ky", form_of(full_name="<script>alert(1)</script>", phone="x"))
    assert page.status_code == 422
    assert "<script>alert(1)" not in page.text and "&lt;script&gt;" in page.text


def test_registration_is_rate_limited_per_client_address(city_client):
    client = city_client()
    for _ in range(citizens.REGISTER_LIMIT_PER_IP):
        assert post_form(client, "/dang-ky", form_of(phone="bad")).status_code == 422
    refused = post_form(client, "/dang-ky", form_of())
    assert refused.status_code == 429 and "quá nhiều yêu cầu" in refused.text
    assert post_form(city_client(), "/dang-ky", form_of(phone="bad")).status_code == 422  # others unaffected


def test_forms_without_the_csrf_token_are_refused(platform, city_client):
    client = city_client()
    form = form_of()
    assert client.post("/dang-ky", data=form).status_code == 400
    assert account_by_email(platform, form["email"]) is None
    assert client.post("/quen-mat-khau", data={"email": form["email"]}).status_code == 400
    assert client.post("/gui-lai-xac-thuc", data={"email": form["email"]}).status_code == 400
    account = make_account(platform)
    with platform.shards.platform_session() as session, session.begin():
        token = citizens.issue_token(session, session.get(Account, account.id), RESET)
    forged = client.post(
        f"/dat-lai-mat-khau/{token}",
        data={"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD, "csrf_token": "forged"},
    )
    assert forged.status_code == 400
    assert client.get(f"/dat-lai-mat-khau/{token}").status_code == 200  # the link still works


# --- password reset -------------------------------------------------------------------


def test_reset_sets_the_password_lifts_the_lockout_and_ends_every_session(
    platform, services, smtp, city_client, client_for, make_tenant
):
    tenant = make_tenant()
    account = make_account(platform, memberships=[(tenant, [COUNTER_OFFICER])])
    backoffice = client_for(tenant)
    sign_in_directly(backoffice, account, tenant)
    assert backoffice.get("/backoffice/").status_code == 200
    with platform.shards.platform_session() as session, session.begin():
        locked = session.get(Account, account.id)
        locked.failed_logins, locked.locked_until = 5, datetime.now(UTC) + timedelta(minutes=15)

    client = city_client()
    asked = post_form(client, "/quen-mat-khau", {"email": account.email})
    assert asked.status_code == 200 and "đặt lại mật khẩu" in asked.text
    run_worker(services)
    (message,) = smtp.to(account.email)
    assert message["Subject"] == "Đặt lại mật khẩu / Reset your password"
    link = path_of(link_in(message))

    assert client.get(link).status_code == 200
    mismatch = post_form(client, link, {"password": NEW_PASSWORD, "password_confirm": "khac-han-roi"})
    assert mismatch.status_code == 422 and "không khớp" in mismatch.text
    done = post_form(client, link, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD})
    assert done.status_code == 200 and "đăng nhập lại" in done.text

    changed = reload(platform, account.id)
    assert verify_password(changed.password_hash, NEW_PASSWORD)[0]
    assert changed.failed_logins == 0 and changed.locked_until is None
    with platform.shards.platform_session() as session:
        ended = session.scalars(select(SsoSession.ended_at).where(SsoSession.account_id == account.id))
        assert all(when is not None for when in ended)
    old = backoffice.get("/backoffice/")
    assert old.status_code == 302 and "/backoffice/login" in old.headers["Location"]

    reused = post_form(client, "/quen-mat-khau", {"email": unique_email()})  # a page for a fresh token
    assert reused.status_code == 200
    again = client.post(
        link,
        data={
            "password": "lai-mot-lan-nua",
            "password_confirm": "lai-mot-lan-nua",
            "csrf_token": csrf_from(client, "/quen-mat-khau"),
        },
    )
    assert again.status_code == 410


def test_an_expired_reset_link_is_refused(platform, city_client):
    account = make_account(platform)
    with platform.shards.platform_session() as session, session.begin():
        token = citizens.issue_token(
            session, session.get(Account, account.id), RESET, datetime.now(UTC) - timedelta(minutes=61)
        )
    client = city_client()
    assert client.get(f"/dat-lai-mat-khau/{token}").status_code == 410
    posted = client.post(
        f"/dat-lai-mat-khau/{token}",
        data={
            "password": NEW_PASSWORD,
            "password_confirm": NEW_PASSWORD,
            "csrf_token": csrf_from(client, "/quen-mat-khau"),
        },
    )
    assert posted.status_code == 410 and "/quen-mat-khau" in posted.text
    assert not verify_password(reload(platform, account.id).password_hash, NEW_PASSWORD)[0]


def test_reset_answers_the_same_for_an_unknown_email(platform, services, smtp, city_client):
    known = make_account(platform)
    unknown = unique_email("khong-co")
    known_page = post_form(city_client(), "/quen-mat-khau", {"email": known.email})
    unknown_page = post_form(city_client(), "/quen-mat-khau", {"email": unknown})
    assert known_page.status_code == unknown_page.status_code == 200
    assert known_page.text.replace(known.email, "@") == unknown_page.text.replace(unknown, "@")
    run_worker(services)
    assert len(smtp.to(known.email)) == 1 and smtp.to(unknown) == []


def test_reset_requests_are_rate_limited_per_email(platform, city_client):
    account = make_account(platform)
    for _ in range(citizens.MAIL_REQUEST_LIMIT_PER_EMAIL):
        assert post_form(city_client(), "/quen-mat-khau", {"email": account.email}).status_code == 200
    refused = post_form(city_client(), "/quen-mat-khau", {"email": account.email}, query="?lang=en")
    assert refused.status_code == 429 and "Too many requests" in refused.text


def test_resend_mails_a_new_link_and_the_old_one_stops_working(platform, services, smtp, city_client):
    form = form_of()
    client = city_client()
    assert post_form(client, "/dang-ky", form).status_code == 200
    assert post_form(client, "/gui-lai-xac-thuc", {"email": form["email"]}).status_code == 200
    run_worker(services)
    first, second = smtp.to(form["email"])
    assert client.get(path_of(link_in(first))).status_code == 410
    assert post_form(client, path_of(link_in(second)), {}).status_code == 200
    assert reload(platform, account_by_email(platform, form["email"]).id).email_verified_at is not None


# --- mail without a server ------------------------------------------------------------


def test_without_an_smtp_host_the_mail_is_written_as_an_eml_file(
    app, platform, tmp_path, monkeypatch, caplog
):
    monkeypatch.setattr(platform.settings, "mail_smtp_host", "")
    monkeypatch.setattr(platform.settings, "mail_dir", str(tmp_path))
    message = mail.compose(
        "dan@example.vn",
        subject=("Tiêu đề", "Subject"),
        body=("Nội dung tiếng Việt http://localhost/x", "English text"),
        links=["http://localhost/x"],
    )
    with app.app_context(), caplog.at_level("INFO", logger="motcua.mail"):
        path = mail.deliver(asdict(message))
    (written,) = tmp_path.glob("*.eml")
    assert str(written) == path
    parsed = message_from_bytes(written.read_bytes(), policy=policy.default)
    assert parsed["Subject"] == "Tiêu đề / Subject"
    assert "Nội dung tiếng Việt" in parsed.get_body(("plain",)).get_content()
    assert "http://localhost/x" in caplog.text


def test_the_pages_exist_on_the_city_host_only(platform, client_for, make_tenant):
    account = make_account(platform)
    with platform.shards.platform_session() as session, session.begin():
        token = citizens.issue_token(session, session.get(Account, account.id), RESET)
    unit = client_for(make_tenant())
    for path in ("/dang-ky", "/quen-mat-khau", "/gui-lai-xac-thuc", f"/dat-lai-mat-khau/{token}"):
        assert unit.get(path).status_code == 404, path
    assert client_for(host="admin.localhost").get("/dang-ky").status_code == 404
    assert client_for(host="localhost").get(f"/dat-lai-mat-khau/{token}").status_code == 200
