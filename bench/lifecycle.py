"""Lifecycle benchmark (issue #5): export and re-import of a unit with 10,000 dossiers, and a whole move.

    .venv/bin/python bench/lifecycle.py                       # 10,000 dossiers, 3 repeats, medians
    .venv/bin/python bench/lifecycle.py --dossiers 1000 --repeat 1   # quick check

Setup (once, in fresh databases ``motcua_bench_lifecycle`` and ``…_s2``): the platform, a
city and one commune loaded like the one-stop benchmark (bench/onestop_data.py: dossiers,
~5 actions each, components, form 01) plus ``--attachments`` stored files. Then, ``--repeat``
times: (1) ``export_tenant`` (pg_dump + CSV per table + attachments + registry + manifest),
(2) ``verify_archive``, (3) re-import of the export's ``schema.sql`` on shard s2 with psql
(``shard_move.import_schema``) and a row-count comparison, the copy dropped again; then one
``move`` pipeline main -> s2 (settle wait 0) with its time per step.
Prints ONE JSON object on stdout (progress on stderr), keeps a copy in ``bench/results/``.
Uses DATABASE_URL's server when set, else the embedded PostgreSQL in ``.data/bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from onestop_data import build_loaded_unit, bulk_load, dossier_rows  # noqa: E402
from sqlalchemy import NullPool, create_engine, make_url  # noqa: E402
from tenancy import app_config, git_info, log, machine_info  # noqa: E402

from app import create_app  # noqa: E402
from app.calendar.workcal import VN_TZ  # noqa: E402
from app.core import embedded  # noqa: E402
from app.core.config import sqlalchemy_url  # noqa: E402
from app.core.storage import get_storage  # noqa: E402
from provisioning import export, lifecycle, pipeline, shard_move  # noqa: E402, F401  (lifecycle: the pipelines)
from tenants import registry  # noqa: E402
from tenants.migrations import upgrade_platform  # noqa: E402

DB_NAME = "motcua_bench_lifecycle"
_KEEP_ALIVE: list = []


def _admin(url: str, statement: str) -> None:
    engine = create_engine(
        make_url(sqlalchemy_url(url)).set(database="postgres"),
        isolation_level="AUTOCOMMIT",
        poolclass=NullPool,
    )
    with engine.connect() as conn:
        conn.exec_driver_sql(statement)
    engine.dispose()


def fresh_databases() -> tuple[str, str, str]:
    """(primary url, s2 url, which server)."""
    admin_url = os.environ.get("DATABASE_URL")
    where = "DATABASE_URL"
    if not admin_url:
        server = embedded.start_postgres(ROOT / ".data" / "bench")
        _KEEP_ALIVE.append(server)
        admin_url = embedded.database_url(server, "postgres")
        os.environ.setdefault("PG_BIN", str(embedded.postgres_bin_dir()))
        where = "embedded (.data/bench)"
    urls = []
    for name in (DB_NAME, f"{DB_NAME}_s2"):
        _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _admin(admin_url, f'CREATE DATABASE "{name}"')
        urls.append(
            make_url(sqlalchemy_url(admin_url)).set(database=name).render_as_string(hide_password=False)
        )
    return urls[0], urls[1], where


def drop_databases(url: str) -> None:
    for name in (DB_NAME, f"{DB_NAME}_s2"):
        _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup(app, platform, args) -> tuple:
    upgrade_platform(platform.shards, platform.trees)
    head = platform.trees.tenant_head
    registry.create_tenant(
        platform.shards,
        head,
        name="Thành phố Bench",
        kind="city",
        slug="bench-city",
        unit_code="000.00.00.H99",
    )
    district = registry.create_tenant(
        platform.shards,
        head,
        name="Quận Bench",
        kind="district",
        parent="bench-city",
        slug="bench-quan",
        unit_code="000.00.01.H99",
    )
    tenant = registry.create_tenant(
        platform.shards,
        head,
        name="Phường Bench",
        kind="commune",
        parent=district.slug,
        slug="bench-phuong",
        unit_code="000.00.02.H99",
    )
    loaded = build_loaded_unit(platform, tenant)
    bulk_load(loaded, dossier_rows(loaded, args.dossiers, datetime.now(VN_TZ).date()))
    with app.app_context():
        storage = get_storage()
        for n in range(args.attachments):
            storage.put(f"{tenant.slug}/dossiers/HS-{n:05d}/giay-to.pdf", os.urandom(args.attachment_bytes))
    with platform.shards.engine("main").connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM (ANALYZE)")
    log(f"  loaded {loaded.dossiers} dossiers, {loaded.actions} actions into {tenant.schema_name}")
    return tenant, loaded


def one_round(app, platform, tenant, archive_root: Path) -> dict:
    pg_bin = platform.settings.pg_bin
    with app.app_context():
        t0 = time.perf_counter()
        result = export.export_tenant(
            platform.shards, tenant.slug, archive_dir=archive_root, storage=get_storage(), pg_bin=pg_bin
        )
        export_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    problems = export.verify_archive(result.path)
    verify_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    shard_move.import_schema(platform.shards, tenant.slug, "s2", result.path / "schema.sql", pg_bin=pg_bin)
    import_s = time.perf_counter() - t0
    differ = shard_move.compare_counts(platform.shards, tenant.schema_name, "main", "s2")
    shard_move.drop_target_copy(platform.shards, tenant.slug, "s2")
    size = sum(p.stat().st_size for p in result.path.rglob("*") if p.is_file())
    shutil.rmtree(result.path)
    return {
        "export_s": round(export_s, 3),
        "verify_s": round(verify_s, 3),
        "reimport_s": round(import_s, 3),
        "counts_equal": not differ,
        "archive_ok": not problems,
        "archive_mb": round(size / 1e6, 1),
        "tables": len(result.tables),
        "rows": sum(result.tables.values()),
    }


def whole_move(app, platform, tenant) -> dict:
    with app.app_context():
        with platform.shards.platform_session() as session, session.begin():
            run = pipeline.create_run(
                session, "move", tenant_slug=tenant.slug, params={"to": "s2", "settle_seconds": 0}
            )
        t0 = time.perf_counter()
        finished = pipeline.execute_run(run.id)
        total = time.perf_counter() - t0
        with platform.shards.platform_session() as session:
            summary = pipeline.run_summary(session, run.id)
    steps = {
        s["name"]: round((s["finished_at"] - s["started_at"]).total_seconds(), 3)
        for s in summary["steps"]
        if s["started_at"] and s["finished_at"]
    }
    return {"status": finished.status, "total_s": round(total, 3), "steps_s": steps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=10_000)
    parser.add_argument("--attachments", type=int, default=200)
    parser.add_argument("--attachment-bytes", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the bench databases")
    parser.add_argument("--out", help="also write the JSON here (default bench/results/lifecycle-<UTC>.json)")
    args = parser.parse_args(argv)

    primary, s2, where = fresh_databases()
    work = Path(tempfile.mkdtemp(prefix="motcua-bench-lifecycle-"))
    overrides = {
        "shard_urls": {"s2": s2},
        "storage_dir": str(work / "storage"),
        "archive_dir": str(work / "archives"),
        "pg_bin": os.environ.get("PG_BIN", ""),
        "provisioning_retry_delays": (),
    }
    app = create_app(app_config(primary, **overrides))
    platform = app.extensions["motcua"]
    try:
        tenant, loaded = setup(app, platform, args)
        runs = []
        for n in range(args.repeat):
            log(f"round {n + 1}/{args.repeat}")
            runs.append(one_round(app, platform, tenant, work / "archives"))
        log("whole move main -> s2")
        move = whole_move(app, platform, tenant)
    finally:
        platform.shards.dispose()
        if not args.keep:
            drop_databases(primary)
        shutil.rmtree(work, ignore_errors=True)

    def median(key: str) -> float:
        return round(statistics.median(r[key] for r in runs), 3)

    report = {
        "benchmark": "lifecycle",
        "server": where,
        "dossiers": loaded.dossiers,
        "actions": loaded.actions,
        "attachments": args.attachments,
        "export_s": median("export_s"),
        "verify_s": median("verify_s"),
        "reimport_s": median("reimport_s"),
        "export_plus_reimport_s": round(median("export_s") + median("reimport_s"), 3),
        "move": move,
        "runs": runs,
        "machine": machine_info(),
        "git": git_info(),
    }
    text = json.dumps(report, ensure_ascii=False, indent=2, default=str)
    print(text)
    target = (
        Path(args.out)
        if args.out
        else ROOT / "bench" / "results" / f"lifecycle-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text + "\n")
    log(f"results written to {target}")
    return 0 if all(r["counts_equal"] and r["archive_ok"] for r in runs) and move["status"] == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
