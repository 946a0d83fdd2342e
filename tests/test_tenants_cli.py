"""``flask tenants ...``: the provider ops CLI, good and bad input."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from app.catalog.models import Sector
from tenants.models import Hostname, Tenant
from tests.factories import next_unit_code


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()

    def run(*args):
        return runner.invoke(args=["tenants", *args])

    return run


def _state(platform) -> tuple:
    """Everything a failed command must leave unchanged: registry rows and schemas."""
    with platform.shards.platform_session() as s:
        tenants = s.scalar(select(func.count()).select_from(Tenant))
        hosts = s.scalar(select(func.count()).select_from(Hostname))
        schemas = s.scalar(text("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 't\\_%'"))
    return tenants, hosts, schemas


def test_create_show_list_rename(cli, city, platform):
    code = next_unit_code()
    result = cli(
        "create",
        "Quận Ngô Quyền Thử",
        "--kind",
        "district",
        "--parent",
        "hai-phong",
        "--unit-code",
        code,
        "--name-en",
        "Ngo Quyen Test District",
    )
    assert result.exit_code == 0, result.output
    assert "ngo-quyen-thu" in result.output

    shown = json.loads(cli("show", "ngo-quyen-thu").output)
    assert shown["schema"] == "t_ngo_quyen_thu"
    assert shown["parent"] == "hai-phong"
    assert shown["unit_code"] == code
    assert shown["revision"] == platform.trees.tenant_head

    listed = cli("list", "--kind", "district", "--parent", "hai-phong").output
    assert "ngo-quyen-thu" in listed
    assert "ngo-quyen-thu" not in cli("list", "--kind", "commune").output

    assert cli("rename", "ngo-quyen-thu", "Quận Ngô Quyền Mới").exit_code == 0
    shown = json.loads(cli("show", "ngo-quyen-thu").output)
    assert shown["name"] == "Quận Ngô Quyền Mới"
    assert shown["slug"] == "ngo-quyen-thu" and shown["schema"] == "t_ngo_quyen_thu"  # never change


def test_hostnames_suspend_resume(cli, make_tenant, client_for, platform):
    tenant = make_tenant("department")
    assert cli("add-hostname", tenant.slug, "dichvucong.example.vn").exit_code == 0
    # Unverified: it does not route yet.
    assert client_for(host="dichvucong.example.vn").get("/").status_code == 404
    assert cli("verify-hostname", "dichvucong.example.vn").exit_code == 0
    platform.resolver.clear()
    page = client_for(host="dichvucong.example.vn").get("/")
    assert page.status_code == 200 and tenant.name in page.text

    assert cli("suspend", tenant.slug, "--reason", "Hết hạn hợp đồng").exit_code == 0
    assert json.loads(cli("show", tenant.slug).output)["status"] == "suspended"
    assert cli("resume", tenant.slug).exit_code == 0
    assert json.loads(cli("show", tenant.slug).output)["status"] == "active"

    assert cli("remove-hostname", "dichvucong.example.vn").exit_code == 0
    assert json.loads(cli("show", tenant.slug).output)["hostnames"] == []


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["Xã Sai", "--kind", "commune", "--slug", "Bad_Slug"], "invalid slug"),
        (["Sở Sai", "--kind", "department", "--slug", "-bad"], "invalid slug"),
        (["Quản trị", "--kind", "department", "--slug", "admin"], "reserved"),
        (["Www", "--kind", "department", "--slug", "www"], "reserved"),
        (["Api", "--kind", "department", "--slug", "api"], "reserved"),
        (["Public", "--kind", "department", "--slug", "public"], "reserved"),
        (["Pg", "--kind", "department", "--slug", "pg_catalog"], "reserved"),
        (["Pg", "--kind", "department", "--slug", "pg-toast"], "reserved"),
        (["Info", "--kind", "department", "--slug", "information_schema"], "reserved"),
        (["Quận Mới", "--kind", "district", "--parent", "khong-ton-tai"], "no tenant"),
        (["Quận Mới", "--kind", "planet", "--parent", "hai-phong"], "unknown kind"),
        (["Quận Mới", "--kind", "district"], "needs a parent"),
        (["Thành phố Khác", "--kind", "city"], "already exists"),
        (["Quận Mới", "--kind", "district", "--parent", "hai-phong", "--shard", "nowhere"], "unknown shard"),
        (["Quận Mới", "--kind", "district", "--parent", "hai-phong", "--gso-code", "3a"], "GSO"),
        (["", "--kind", "department", "--parent", "hai-phong"], "required"),
    ],
)
def test_create_rejects_bad_input_and_changes_nothing(cli, city, platform, args, fragment):
    before = _state(platform)
    result = cli("create", *args, "--unit-code", next_unit_code())
    assert result.exit_code != 0
    assert fragment in result.output
    assert len(result.output.strip().splitlines()) == 1  # one clear line
    assert _state(platform) == before


def test_create_rejects_bad_unit_code(cli, city, platform):
    before = _state(platform)
    result = cli("create", "Sở Mới", "--kind", "department", "--parent", "hai-phong", "--unit-code", "12345")
    assert result.exit_code != 0 and "unit code" in result.output
    assert _state(platform) == before


def test_commune_parent_must_be_a_district(cli, make_tenant, platform):
    department = make_tenant("department")
    before = _state(platform)
    result = cli(
        "create",
        "Phường Lạc",
        "--kind",
        "commune",
        "--parent",
        department.slug,
        "--unit-code",
        next_unit_code(),
    )
    assert result.exit_code != 0 and "cannot sit under" in result.output
    assert _state(platform) == before


def test_duplicates_are_refused(cli, make_tenant, platform):
    tenant = make_tenant("district")
    other = make_tenant("district")
    assert cli("add-hostname", other.slug, "motcua.example.vn", "--verified").exit_code == 0
    before = _state(platform)
    dup_slug = cli(
        "create",
        "Quận Khác",
        "--kind",
        "district",
        "--parent",
        "hai-phong",
        "--slug",
        tenant.slug,
        "--unit-code",
        next_unit_code(),
    )
    assert dup_slug.exit_code != 0 and "already taken" in dup_slug.output
    dup_code = cli(
        "create", "Quận Khác", "--kind", "district", "--parent", "hai-phong", "--unit-code", tenant.unit_code
    )
    assert dup_code.exit_code != 0 and "already taken" in dup_code.output
    dup_host = cli(
        "create",
        "Quận Khác",
        "--kind",
        "district",
        "--parent",
        "hai-phong",
        "--unit-code",
        next_unit_code(),
        "--hostname",
        "motcua.example.vn",
    )
    assert dup_host.exit_code != 0 and "already taken" in dup_host.output
    dup_add = cli("add-hostname", tenant.slug, "MOTCUA.example.vn")
    assert dup_add.exit_code != 0 and "already taken" in dup_add.output
    bad_host = cli("add-hostname", tenant.slug, "not a host")
    assert bad_host.exit_code != 0 and "invalid hostname" in bad_host.output
    assert _state(platform) == before


def test_unknown_tenant_commands_fail_cleanly(cli):
    for args in (
        ["show", "nope"],
        ["rename", "nope", "X"],
        ["suspend", "nope"],
        ["resume", "nope"],
        ["drop", "nope", "--yes"],
        ["remove-hostname", "nope.example.vn"],
    ):
        result = cli(*args)
        assert result.exit_code != 0, args
        assert "error" in result.output


def test_drop_archives_first(cli, make_tenant, platform, tmp_path):
    tenant = make_tenant("department")
    with platform.shards.tenant_session(tenant.shard, tenant.schema_name) as s, s.begin():
        s.add(Sector(code="HT", name="Hộ tịch"))
    platform.settings.archive_dir = str(tmp_path)
    result = cli("drop", tenant.slug, "--yes")
    assert result.exit_code == 0, result.output
    archives = list(tmp_path.glob(f"{tenant.slug}-*.sql"))
    assert len(archives) == 1
    dump = archives[0].read_text()
    assert "Hộ tịch" in dump and tenant.schema_name in dump
    assert _schema_exists(platform, tenant.schema_name) is False
    assert cli("show", tenant.slug).exit_code != 0


def test_drop_force_skips_archive_and_refuses_parents(cli, make_tenant, platform, tmp_path):
    commune = make_tenant("commune")
    with platform.shards.platform_session() as s:
        parent_slug = s.get(Tenant, commune.parent_id).slug
    refused = cli("drop", parent_slug, "--yes", "--force")
    assert refused.exit_code != 0 and "child units" in refused.output
    platform.settings.archive_dir = str(tmp_path)
    assert cli("drop", commune.slug, "--yes", "--force").exit_code == 0
    assert list(tmp_path.iterdir()) == []
    assert _schema_exists(platform, commune.schema_name) is False


def test_tenant_on_second_shard(cli, city, platform):
    result = cli(
        "create",
        "Sở Thử Shard",
        "--kind",
        "department",
        "--parent",
        "hai-phong",
        "--unit-code",
        next_unit_code(),
        "--shard",
        "s2",
    )
    assert result.exit_code == 0, result.output
    assert _schema_exists(platform, "t_so_thu_shard", shard="s2") is True
    assert _schema_exists(platform, "t_so_thu_shard") is False  # not on the primary


def _schema_exists(platform, schema: str, shard: str = "main") -> bool:
    with platform.shards.engine(shard).connect() as conn:
        return bool(conn.scalar(text("SELECT count(*) FROM pg_namespace WHERE nspname = :s"), {"s": schema}))


def test_existing_schema_on_target_shard_is_refused_and_kept(cli, city, platform):
    with platform.shards.engine("s2").begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA t_so_con_sot")
        conn.exec_driver_sql("CREATE TABLE t_so_con_sot.keep_me (id int)")
    before = _state(platform)
    result = cli(
        "create",
        "Sở Còn Sót",
        "--kind",
        "department",
        "--parent",
        "hai-phong",
        "--unit-code",
        next_unit_code(),
        "--shard",
        "s2",
    )
    assert result.exit_code != 0 and "could not create" in result.output
    assert _state(platform) == before
    with platform.shards.engine("s2").connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM t_so_con_sot.keep_me")) == 0  # untouched


def test_a_unit_name_must_be_one_line(platform, city):
    """Names go into mail subjects and page titles: a line break would break the mail (header)."""
    from tenants import registry

    for bad in ("Quận\nMới", "Quận\u2028Mới", "Q" * 201):
        with pytest.raises(registry.TenantError, match="one line"):
            registry.check_unit_name(bad)
    assert registry.check_unit_name("  Quận Mới  ") == "Quận Mới"
