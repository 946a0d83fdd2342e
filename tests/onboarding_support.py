"""Helpers shared by the onboarding tests (no tests here)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path

from sqlalchemy import select

from app.audit.platform_models import PlatformAuditEvent
from app.core.jobs import get_queue
from provisioning import onboarding
from provisioning.onboarding_models import OnboardingRequest
from provisioning.onboarding_tokens import new_token, now
from tests.jobs_fixtures import run_worker
from tests.test_auth_support import csrf_from, unique_email

LINK = re.compile(r"http://localhost(/dang-ky-don-vi/[a-z\-]+/[A-Za-z0-9_\-]+)")


def unit_code() -> str:
    """A fresh QCVN 102 code in a province letter the fixtures' factory does not use."""
    n = uuid.uuid4().int
    return f"{n % 1000:03d}.{n // 1000 % 100:02d}.{n // 100000 % 100:02d}.R{n // 10**7 % 100:02d}"


def form_of(parent_slug: str, /, **overrides) -> dict:
    label = uuid.uuid4().hex[:8]
    values = {
        "name": f"Phường Thử {label}",
        "name_en": f"Test Ward {label}",
        "kind": "commune",
        "parent_slug": parent_slug,
        "unit_code": unit_code(),
        "gso_code": "",
        "contact_name": "Phạm Thị Liên Hệ",
        "contact_position": "Chủ tịch UBND phường",
        "contact_email": unique_email("onb"),
        "contact_phone": "0912 345 678",
        "slug": f"p{label}",
        "theme": "trang-trong",
        "catalog": "",
        "accept_terms": "yes",
    }
    values.update(overrides)
    return values


def post_form(client, path: str, data: dict, *, query: str = ""):
    token = csrf_from(client, onboarding.FORM_PATH)
    return client.post(path + query, data={**data, "csrf_token": token})


def requests_by_email(platform, email: str) -> list[OnboardingRequest]:
    with platform.shards.platform_session() as session:
        return list(
            session.scalars(
                select(OnboardingRequest)
                .where(OnboardingRequest.contact_email == email)
                .order_by(OnboardingRequest.id)
            )
        )


def reload_request(platform, request_id: int) -> OnboardingRequest:
    with platform.shards.platform_session() as session:
        return session.get(OnboardingRequest, request_id)


def audit_actions(platform, request_id: int) -> list[tuple[str, int | None, str | None]]:
    with platform.shards.platform_session() as session:
        rows = session.execute(
            select(
                PlatformAuditEvent.action, PlatformAuditEvent.actor_account_id, PlatformAuditEvent.actor_label
            )
            .where(
                PlatformAuditEvent.entity == "onboarding_request",
                PlatformAuditEvent.entity_id == str(request_id),
            )
            .order_by(PlatformAuditEvent.id)
        )
        return [tuple(row) for row in rows]


def submitted_request(
    app, platform, parent_slug: str, *, confirm: bool = True, **overrides
) -> OnboardingRequest:
    """A request made through the verbs (no mail needed): submitted and, by default, confirmed."""
    with (
        app.test_request_context(base_url="http://localhost"),
        platform.shards.platform_session() as session,
        session.begin(),
    ):
        data, errors = onboarding.validate_request(session, form_of(parent_slug, **overrides))
        assert not errors, errors
        request = onboarding.submit_request(session, data, base_url="http://localhost/")
        token, digest = new_token()
        request.confirm_token_hash, request.confirm_expires_at = digest, now() + timedelta(hours=1)
        if confirm:
            onboarding.confirm_request(session, token, base_url="http://localhost/")
        request_id = request.id
    return reload_request(platform, request_id)


class Mailbox:
    """Mails delivered by a real worker process as .eml files in a folder of the test's own."""

    def __init__(self, services, folder: Path):
        self.services, self.folder = services, folder

    def deliver(self) -> None:
        run_worker(self.services, "-q", "high")

    def to(self, email: str) -> list:
        found = []
        for path in sorted(self.folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns):
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            if message["To"] == email:
                found.append(message)
        return found


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def link_in(message, kind: str) -> str:
    for path in LINK.findall(text_of(message)):
        if f"/dang-ky-don-vi/{kind}/" in path:
            return path
    raise AssertionError(f"no {kind} link in {text_of(message)}")


def mailbox_fixture(app, services, tmp_path, monkeypatch) -> Mailbox:
    with app.app_context():
        get_queue("high").empty()  # mails queued by earlier tests go nowhere
    monkeypatch.setenv("MAIL_SMTP_HOST", "")
    monkeypatch.setenv("MAIL_DIR", str(tmp_path))
    return Mailbox(services, tmp_path)
