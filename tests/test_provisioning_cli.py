"""``flask tenants provision|runs|run-resume|run-rollback``: good input makes a live unit with a
progress bar; bad input one bilingual line, exit 1, nothing created."""

from __future__ import annotations

import re
import uuid

import pytest
from sqlalchemy import func, select, text

from app.core.jobs import get_queue, redis_connection
from provisioning import pipeline
from provisioning.pipeline_models import ProvisioningRun
from tenants.models import Tenant
from tests import provisioning_fixtures as fx
from tests.factories import next_unit_code
from tests.jobs_fixtures import run_worker
from tests.test_auth_support import unique_email


@pytest.fixture(scope="module")
def catalogues(platform):
    fx.publish_district_catalogue(platform)


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args):
        return runner.invoke(args=["tenants", *args])

    return run


def state(platform) -> tuple:
    with platform.shards.platform_session() as s:
        return (
            s.scalar(select(func.count()).select_from(Tenant)),
            s.scalar(select(func.count()).select_from(ProvisioningRun)),
            s.scalar(text("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 't\\_%'")),
        )


def provision_args(city, **overrides) -> list[str]:
    values = {
        "--name": f"Quận CLI {uuid.uuid4().hex[:6]}",
        "--kind": "district",
        "--unit-code": next_unit_code(),
        "--slug": f"c{uuid.uuid4().hex[:10]}",
        "--parent": city.slug,
        "--admin-email": unique_email("cli"),
        "--admin-name": "Lê Thị Quản Trị",
        "--theme": "trang-trong",
        "--catalog-kind": "district",
    }
    values.update(overrides)
    args = ["provision"]
    for key, value in values.items():
        if value is not None:
            args += [key, value]
    return args


def tenant_of(platform, slug: str) -> Tenant | None:
    with platform.shards.platform_session() as session:
        return session.scalar(select(Tenant).where(Tenant.slug == slug))


def test_provision_runs_here_with_a_progress_bar_and_makes_a_live_unit(
    cli, city, platform, catalogues, client_for
):
    args = provision_args(city)
    slug = args[args.index("--slug") + 1]
    result = cli(*args)

    assert result.exit_code == 0, result.output
    assert "Hoàn tất / Done" in result.output
    assert "Khởi tạo / provisioning" in result.output  # the bar's label (stderr)
    assert "· reserve" in result.output and "· notify" in result.output  # the bar names each step
    assert tenant_of(platform, slug).status == "active"
    platform.resolver.clear()
    assert client_for(host=f"{slug}.localhost").get("/").status_code == 200

    listed = cli("runs")
    assert listed.exit_code == 0
    assert re.search(rf"provision\s+{slug}\s+done\s+8/8", listed.output), listed.output


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"--slug": "admin"}, "is reserved"),
        ({"--parent": "khong-co-don-vi"}, "no tenant"),
        ({"--unit-code": "abc"}, "abc"),
        ({"--theme": "khong-co"}, "no theme"),
        ({"--catalog-kind": "district", "--catalog-version": "999"}, "999"),
    ],
)
def test_bad_input_gets_one_bilingual_line_and_creates_nothing(
    cli, city, platform, catalogues, overrides, expected
):
    before = state(platform)
    result = cli(*provision_args(city, **overrides))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Lỗi / error:"), result.output
    assert expected in lines[0]
    assert "Traceback" not in result.output
    assert state(platform) == before


def test_a_commune_under_a_district_it_is_not_is_refused(cli, city, platform, catalogues, make_tenant):
    department = make_tenant("department")
    before = state(platform)
    result = cli(*provision_args(city, **{"--kind": "commune", "--parent": department.slug}))
    assert result.exit_code == 1
    assert "cannot sit under" in result.output
    assert state(platform) == before


def test_enqueue_hands_the_run_to_a_worker(cli, city, platform, services, catalogues, app):
    with app.app_context():
        get_queue("high").empty()
    args = provision_args(city)
    slug = args[args.index("--slug") + 1]
    result = cli(*args, "--enqueue")
    assert result.exit_code == 0, result.output
    run_id = int(re.search(r"run #(\d+)", result.output).group(1))
    assert tenant_of(platform, slug) is None  # nothing built before a worker takes it

    run_worker(services)

    assert tenant_of(platform, slug).status == "active"
    with platform.shards.platform_session() as session:
        assert pipeline.get_run(session, run_id).status == "done"


def test_a_failed_run_is_resumed_or_rolled_back_from_the_cli(
    cli, app, city, platform, catalogues, monkeypatch
):
    monkeypatch.setattr(platform.settings, "provisioning_retry_delays", (0.0,))
    from provisioning.spec import ProvisionSpec

    runs = []
    for _ in range(2):
        spec = ProvisionSpec(
            name=f"Quận hỏng {uuid.uuid4().hex[:6]}",
            kind="district",
            unit_code=next_unit_code(),
            slug=f"c{uuid.uuid4().hex[:10]}",
            parent_slug=city.slug,
            admin_email=unique_email("cli"),
            admin_name="Quản Trị",
            catalog_kind="district",
        )
        with app.app_context(), platform.shards.platform_session() as session, session.begin():
            run_id = pipeline.create_run(session, "test-provision", spec=spec, actor_label="test").id
        with app.app_context():
            redis_connection().set(fx.broken_key(run_id), 1)
            assert pipeline.execute_run(run_id).status == "failed"
        runs.append((run_id, spec))

    (resumed, resumed_spec), (undone, undone_spec) = runs
    failed = cli("run-resume", str(resumed))
    assert failed.exit_code == 1
    assert f"run-rollback {resumed}" in failed.output and "seed failed on purpose" in failed.output

    with app.app_context():
        redis_connection().delete(fx.broken_key(resumed))
    again = cli("run-resume", str(resumed))
    assert again.exit_code == 0, again.output
    assert tenant_of(platform, resumed_spec.slug).status == "active"

    rolled = cli("run-rollback", str(undone))
    assert rolled.exit_code == 0, rolled.output
    assert "Đã hoàn tác / Rolled back" in rolled.output
    assert tenant_of(platform, undone_spec.slug) is None

    refused = cli("run-rollback", str(resumed))  # a finished run is not undone
    assert refused.exit_code == 1 and refused.output.startswith("Lỗi / error:")
    missing = cli("run-resume", "987654321")
    assert missing.exit_code == 1 and "no provisioning run" in missing.output
