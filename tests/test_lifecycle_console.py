"""The lifecycle from the provider console (buttons start runs) and from `flask tenants ...`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from provisioning import export, pipeline
from provisioning.pipeline_models import ProvisioningRun, RunStatus
from tenants.registry import get_tenant
from tests.lifecycle_support import schema_exists, seed
from tests.test_auth_support import TEST_CSRF, make_account, sign_in_directly


@pytest.fixture(autouse=True)
def _quick(platform, monkeypatch, tmp_path):
    monkeypatch.setattr(platform.settings, "archive_dir", str(tmp_path))
    monkeypatch.setattr(platform.settings, "provisioning_retry_delays", (0.0,))
    monkeypatch.setattr(platform.resolver, "ttl", 0.0)  # the runs' settle wait becomes 1 s
    yield
    platform.resolver.clear()


def _runs(platform, slug) -> list[ProvisioningRun]:
    with platform.shards.platform_session() as session:
        return list(
            session.scalars(
                select(ProvisioningRun)
                .where(ProvisioningRun.tenant_slug == slug)
                .order_by(ProvisioningRun.id)
            )
        )


def _status(platform, slug) -> str:
    with platform.shards.platform_session() as session:
        return get_tenant(session, slug).status


# -- console ---------------------------------------------------------------------------------------


@pytest.fixture
def console(client_for, platform):
    ops = make_account(platform, platform_roles=["provider_ops"])
    client = client_for(host="admin.localhost")
    sign_in_directly(client, ops, site="console")
    client.ops = ops
    return client


def test_the_tenant_page_offers_the_operations_that_fit_the_status(console, platform, make_tenant):
    unit = make_tenant()
    page = console.get(f"/tenants/{unit.slug}").text
    for kind in ("suspend", "export", "move", "decommission"):
        assert f"/tenants/{unit.slug}/lifecycle/{kind}" in page
    assert f"/tenants/{unit.slug}/lifecycle/resume" not in page
    assert '<option value="s2">' in page and 'for="l-reason"' in page

    from tenants import registry

    registry.set_status(platform.shards, unit.slug, "suspended", reason="thử")
    page = console.get(f"/tenants/{unit.slug}").text
    assert f"/tenants/{unit.slug}/lifecycle/resume" in page
    assert f"/tenants/{unit.slug}/lifecycle/suspend" not in page


def test_a_button_starts_an_audited_run_and_goes_to_its_page(app, console, platform, make_tenant):
    unit = make_tenant()

    response = console.post(
        f"/tenants/{unit.slug}/lifecycle/suspend", data={"csrf_token": TEST_CSRF, "reason": "Bảo trì"}
    )

    assert response.status_code == 302
    (run,) = _runs(platform, unit.slug)
    assert (run.kind, run.params, run.created_by_account_id) == (
        "suspend",
        {"reason": "Bảo trì"},
        console.ops.id,
    )
    assert response.headers["Location"].endswith(f"/runs/{run.id}")
    page = console.get(f"/runs/{run.id}")
    assert page.status_code == 200 and "Tạm ngừng đơn vị" in page.text  # the step's label
    with app.app_context():
        assert pipeline.execute_run(run.id).status == RunStatus.DONE
    assert _status(platform, unit.slug) == "suspended"


@pytest.mark.parametrize(
    ("kind", "form", "status"),
    [
        ("suspend", {"reason": "x"}, 400),  # no CSRF token
        ("suspend", {"csrf_token": TEST_CSRF, "reason": " "}, 400),  # no reason
        ("move", {"csrf_token": TEST_CSRF, "to": "s9"}, 400),  # unknown shard
        ("decommission", {"csrf_token": TEST_CSRF, "confirm": "sai"}, 400),  # not confirmed
        ("explode", {"csrf_token": TEST_CSRF}, 404),
    ],
)
def test_bad_requests_get_a_clear_answer_and_start_nothing(
    console, platform, make_tenant, kind, form, status
):
    unit = make_tenant()
    response = console.post(f"/tenants/{unit.slug}/lifecycle/{kind}", data=form)
    assert response.status_code == status
    assert _runs(platform, unit.slug) == []
    assert _status(platform, unit.slug) == "active"


def test_only_provider_ops_may_start_an_operation(client_for, platform, make_tenant):
    unit = make_tenant()
    admin = make_account(platform, memberships=[(unit, ["unit_admin"])])
    client = client_for(host="admin.localhost")
    sign_in_directly(client, admin, site="console")
    response = client.post(f"/tenants/{unit.slug}/lifecycle/export", data={"csrf_token": TEST_CSRF})
    assert response.status_code == 403
    assert _runs(platform, unit.slug) == []


# -- CLI -------------------------------------------------------------------------------------------


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args, input=None):
        return runner.invoke(args=["tenants", *args], input=input)

    return run


def test_cli_export_packs_and_verifies(app, platform, cli, make_tenant):
    unit = make_tenant()
    seed(app, platform, unit, sectors=2)

    result = cli("export", unit.slug, "--tar")

    assert result.exit_code == 0, result.output
    tarball = Path(re.search(r"tar\.gz: (\S+)", result.output).group(1))
    folder = Path(re.search(r"archive_path: (\S+)", result.output).group(1))
    assert cli("verify-export", str(tarball)).exit_code == 0
    assert cli("verify-export", str(folder)).exit_code == 0
    (folder / "schema.sql").write_text("-- nothing\n")
    tampered = cli("verify-export", str(folder))
    assert tampered.exit_code == 1
    assert "schema.sql: checksum differs" in tampered.output
    assert "Lỗi / error:" in tampered.output
    assert export.verify_archive(tarball) == []  # the packed copy was made before


def test_cli_suspend_resume_move_and_decommission(app, platform, cli, make_tenant):
    unit = make_tenant()
    assert cli("suspend-unit", unit.slug).exit_code == 2  # --reason is required
    assert cli("suspend-unit", unit.slug, "--reason", "Bảo trì").exit_code == 0
    assert _status(platform, unit.slug) == "suspended"
    assert cli("resume-unit", unit.slug).exit_code == 0
    assert _status(platform, unit.slug) == "active"

    moved = cli("move", unit.slug, "--to", "s2")
    assert moved.exit_code == 0, moved.output
    assert schema_exists(platform, "s2", unit.schema_name)
    assert not schema_exists(platform, "main", unit.schema_name)

    gone = cli("decommission", unit.slug, "--yes")
    assert gone.exit_code == 0, gone.output
    assert "archive_schema: archived_" in gone.output
    assert _status(platform, unit.slug) == "archived"
    assert [r.kind for r in _runs(platform, unit.slug)] == ["suspend", "resume", "move", "decommission"]


@pytest.mark.parametrize(
    "args",
    [
        ("move", "{slug}", "--to", "s9"),
        ("move", "{slug}", "--to", "main"),
        ("export", "khong-co-don-vi"),
        ("resume-unit", "khong-co-don-vi"),
    ],
)
def test_cli_bad_input_is_one_bilingual_line_and_creates_nothing(platform, cli, make_tenant, args):
    unit = make_tenant()
    result = cli(*(a.format(slug=unit.slug) for a in args))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert (
        len(lines) == 1 and lines[0].startswith("Lỗi / error: ") and " / " in lines[0][len("Lỗi / error: ") :]
    )
    assert _runs(platform, unit.slug) == []
