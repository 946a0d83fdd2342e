"""An approved request's stored status follows its run as the worker moves it (no page view needed)."""

from __future__ import annotations

import pytest

from provisioning import onboarding_review, pipeline
from provisioning.onboarding_models import RequestStatus
from tests.onboarding_support import audit_actions, reload_request, submitted_request


@pytest.fixture
def district(make_tenant):
    return make_tenant("district")


def test_the_request_is_live_when_its_run_is_done(app, platform, district, tmp_path, monkeypatch):
    monkeypatch.setattr(platform.settings, "mail_smtp_host", "")
    monkeypatch.setattr(platform.settings, "mail_dir", str(tmp_path))
    request = submitted_request(app, platform, district.slug)
    with app.app_context(), platform.shards.platform_session() as session, session.begin():
        run_id = onboarding_review.approve_request(
            session, request.id, actor_account_id=None, actor_label="ops"
        ).id
    assert reload_request(platform, request.id).status == RequestStatus.APPROVED
    with app.app_context():
        assert pipeline.execute_run(run_id).status == "done"
    assert reload_request(platform, request.id).status == RequestStatus.LIVE
    actions = [action for action, _, _ in audit_actions(platform, request.id)]
    assert "status_provisioning" in actions and "status_live" in actions
