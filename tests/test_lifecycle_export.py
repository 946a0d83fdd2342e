"""Export of a unit: SQL dump, a CSV per table, attachments, registry rows, a manifest that verifies."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from app.core.errors import DomainError
from app.core.storage import get_storage
from provisioning import export
from provisioning.pipeline_models import RunStatus
from tests.lifecycle_support import run_pipeline, seed


def _export(app, platform, tenant, tmp_path: Path):
    with app.app_context():
        return export.export_tenant(
            platform.shards,
            tenant.slug,
            archive_dir=tmp_path,
            storage=get_storage(),
            pg_bin=platform.settings.pg_bin,
        )


@pytest.fixture
def exported(app, platform, make_tenant, tmp_path):
    unit, other = make_tenant(), make_tenant()
    made = seed(app, platform, unit, sectors=4)
    seed(app, platform, other, sectors=2)
    return unit, other, made, _export(app, platform, unit, tmp_path)


def test_archive_holds_dump_csv_per_table_attachments_registry_and_manifest(platform, exported):
    unit, _other, made, result = exported
    root = result.path
    manifest = json.loads((root / "manifest.json").read_text())

    assert manifest["tenant"] == unit.slug and manifest["schema"] == unit.schema_name
    assert f"CREATE TABLE {unit.schema_name}.sectors" in (root / "schema.sql").read_text()
    with platform.shards.engine(unit.shard).connect() as conn:
        tables = export.list_tables(conn, unit.schema_name)
    assert "sectors" in tables
    assert sorted(p.stem for p in (root / "tables").glob("*.csv")) == tables
    assert sorted(manifest["tables"]) == tables
    assert manifest["tables"]["sectors"] == made["sectors"]
    with open(root / "tables" / "sectors.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["code"] for r in rows) == [f"{unit.slug}-{n}" for n in range(4)]
    for key, data in made["files"].items():
        assert (root / "attachments" / key.removeprefix(unit.slug + "/")).read_bytes() == data
    registry_rows = {
        name: json.loads((root / "registry" / f"{name}.json").read_text())
        for name in ("tenant", "hostnames", "memberships")
    }
    assert registry_rows["tenant"]["slug"] == unit.slug
    assert [m["account_id"] for m in registry_rows["memberships"]] == [made["account"].id]
    listed = set(manifest["files"])
    assert {
        "schema.sql",
        "tables/sectors.csv",
        "registry/tenant.json",
        "registry/memberships.json",
        "attachments/dossiers/HS-1/giay-to.pdf",
    } <= listed
    assert all(len(entry["sha256"]) == 64 for entry in manifest["files"].values())
    assert export.verify_archive(root) == []


def test_a_tampered_file_fails_verification(exported):
    root = exported[3].path
    path = root / "tables" / "sectors.csv"
    path.write_text(path.read_text() + "99,extra,row,0\n")

    problems = export.verify_archive(root)

    assert "tables/sectors.csv: checksum differs" in problems
    assert any("row count differs" in p for p in problems)


def test_a_missing_or_added_file_fails_verification(exported):
    root = exported[3].path
    (root / "attachments" / "receipts" / "bien-nhan.txt").unlink()
    (root / "attachments" / "smuggled.bin").write_bytes(b"x")

    assert export.verify_archive(root) == [
        "attachments/receipts/bien-nhan.txt: missing",
        "attachments/smuggled.bin: not in the manifest",
    ]


def test_a_packed_archive_verifies_and_its_tampering_is_found(exported):
    root = exported[3].path
    assert export.verify_archive(export.pack(root)) == []
    (root / "registry" / "tenant.json").write_text("{}")
    assert export.verify_archive(export.pack(root)) == ["registry/tenant.json: checksum differs"]


def test_exporting_a_contains_nothing_of_b(exported):
    unit, other, _made, result = exported
    everything = b"".join(p.read_bytes() for p in result.path.rglob("*") if p.is_file())
    assert unit.slug.encode() in everything
    assert other.slug.encode() not in everything
    assert other.schema_name.encode() not in everything


def test_export_pipeline_records_a_verified_archive(app, platform, make_tenant, tmp_path, monkeypatch):
    monkeypatch.setattr(platform.settings, "archive_dir", str(tmp_path))
    unit = make_tenant()
    seed(app, platform, unit, sectors=2)

    run = run_pipeline(app, "export", unit.slug)

    assert run.status == RunStatus.DONE, run.error
    path = Path(run.data["archive_path"])
    assert path.parent == tmp_path
    assert export.verify_archive(path) == []
    assert run.data["tables"]["sectors"] == 2


def test_export_of_an_unknown_unit_is_refused_before_a_run_exists(app):
    with pytest.raises(DomainError) as refused:
        run_pipeline(app, "export", "khong-co-don-vi")
    assert refused.value.status == 404
