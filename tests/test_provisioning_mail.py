"""The unit admin's invitation is never lost: a mail server that is down fails the step, which
is retried; once the server is back, a resumed run sends exactly one invitation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.auth.citizen_models import AccountToken
from app.auth.models import Account
from provisioning import pipeline
from tests.jobs_fixtures import free_port
from tests.smtp_server import SmtpServer
from tests.test_auth_support import reload
from tests.test_provisioning_pipeline import (  # noqa: F401  (catalogues, fast_retries: fixtures)
    SET_PASSWORD,
    audit_actions,
    catalogues,
    fast_retries,
    make_spec,
    new_run,
    summary,
)


@pytest.mark.usefixtures("catalogues", "fast_retries")
def test_smtp_down_at_the_invitation_fails_the_step_and_a_resume_sends_it_once(
    app, platform, city, monkeypatch, client_for
):
    spec = make_spec(city)
    monkeypatch.setattr(platform.settings, "mail_smtp_host", "127.0.0.1")
    monkeypatch.setattr(platform.settings, "mail_smtp_port", free_port())  # nobody listens
    run_id = new_run(app, platform, kind="provision", spec=spec)
    with app.app_context():
        assert pipeline.execute_run(run_id).status == "failed"
    failed = next(s for s in summary(app, platform, run_id)["steps"] if s["status"] == "failed")
    assert failed["name"] == "admin" and failed["attempts"] == 3 and failed["error"]
    assert "invitation_sent" not in audit_actions(platform, run_id)

    server = SmtpServer().start()
    try:
        monkeypatch.setattr(platform.settings, "mail_smtp_port", server.port)
        with app.app_context():
            with platform.shards.platform_session() as session, session.begin():
                pipeline.resume_run(session, run_id, actor_label="ops@test")
            assert pipeline.execute_run(run_id).status == "done"
        received = server.to(spec.admin_email)
    finally:
        server.stop()
    subjects = [m["Subject"] for m in received]
    assert len(received) == 2, subjects  # one invitation, one "live" notice
    assert audit_actions(platform, run_id).count("invitation_sent") == 1

    # An invitation link past its validity is refused with a clear message and changes nothing.
    invitation = next(m for m in received if "Mời quản trị" in m["Subject"])
    path = SET_PASSWORD.search(invitation.get_content()).group(1).removeprefix("http://localhost")
    with platform.shards.platform_session() as session, session.begin():
        account = session.scalar(select(Account).where(Account.email == spec.admin_email))
        session.execute(
            update(AccountToken)
            .where(AccountToken.account_id == account.id)
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
        password_before = account.password_hash
    expired = client_for(host="localhost").get(path, query_string={"lang": "en"})
    assert expired.status_code == 410 and "expired" in expired.text
    assert reload(platform, account.id).password_hash == password_before
