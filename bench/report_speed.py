"""Reporting benchmark (issue #7): the TTHC 06 report over 250 units and 1,000,000 dossiers.

    .venv/bin/python bench/report_speed.py                     # 250 units, 1,000,000 dossiers
    .venv/bin/python bench/report_speed.py --dossiers 100000   # a quick run

A scratch database (``motcua_bench_reports``) is created on DATABASE_URL's server (else the
embedded PostgreSQL in ``.data/bench``), migrated, and dropped at the end. The units are
registry rows (the city, 20 departments, 15 districts and their communes); the reporting
store never opens a unit's schema, so none is built. One year of dossiers (2025) is generated
with a fixed seed: 70 % counter, 25 % online, 5 % postal; due 3-15 days after reception;
most completed 1-20 days after reception (early, on time or late by date), some withdrawn,
some stopped, one in ten with a supplement pause, the rest open. Their facts go into
``report_dossiers`` and their daily contributions (``app.reports.facts.contributions``, the
function the live feed uses) into ``report_daily``.

Timed, each the median of ``--runs`` runs after one warm-up, on a fresh platform session:
the city-wide 06 report for the Decree 09 reporting quarter Q2 2025 (15 Mar - 14 Jun), one
row per unit, and one unit's report for the same quarter. Targets: 300 ms and 50 ms.
For information (no target), the same way: the city-wide breakdown of that quarter by sector
and by unit (``breakdown_06``, which reads the dossier facts rather than the daily rollup).

Then a real unit (its own schema, one procedure) imports ``--import-dossiers`` (100,000)
historical dossiers from a CSV through ``flask dossiers import`` (validation, batches,
actions, pauses, outbox events; target 120 s), and its store is rebuilt from those source
rows with ``app.reports.store.rebuild`` (median of 3; target 60 s).
Prints ONE JSON object on stdout.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scratch_db import drop_database, fresh_database  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from app import create_app  # noqa: E402
from app.reports import periods  # noqa: E402
from app.reports.facts import contributions  # noqa: E402
from app.reports.models import ReportDaily  # noqa: E402
from app.reports.tthc06 import breakdown_06, report_06, total_of  # noqa: E402
from tenants.migrations import upgrade_platform  # noqa: E402

DB_NAME = "motcua_bench_reports"
DUMMY_REDIS = "redis://127.0.0.1:6379/15"  # create_app wants a URL; nothing here talks to Redis
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
YEAR_START = date(2025, 1, 1)
FACT_COLUMNS = (
    "tenant_id",
    "dossier_id",
    "code",
    "procedure_code",
    "sector_code",
    "service_level",
    "channel",
    "status",
    "received_at",
    "due_at",
    "completed_at",
    "closed_at",
    "closed_kind",
    "on_time_class",
    "paused_kind",
    "pauses",
    "supplements",
    "received_day",
    "due_day",
    "closed_day",
    "overdue_from_day",
)
DAILY_COLUMNS = tuple(c.name for c in ReportDaily.__table__.columns)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def units(count: int) -> list[tuple[int, str, int | None]]:
    """(id, kind, parent id): the city, 20 departments, 15 districts, the rest communes under them.

    Ids start at 100,001 so the registry's own sequence (the imported unit below) never meets them.
    """
    base = 100_000
    rows = [(base + 1, "city", None)]
    for n in range(20):
        rows.append((base + 2 + n, "department", base + 1))
    districts = [base + n for n in range(22, 37)]
    rows.extend((d, "district", base + 1) for d in districts)
    for n in range(37, count + 1):
        rows.append((base + n, "commune", districts[n % len(districts)]))
    return rows[:count]


def insert_units(conn, rows) -> None:
    conn.execute(text("INSERT INTO platform.shards (name) VALUES ('main') ON CONFLICT DO NOTHING"))
    conn.execute(
        text(
            "INSERT INTO platform.tenants (id, slug, schema_name, name, kind, parent_id, unit_code,"
            " status, shard) VALUES (:id, :slug, :schema, :name, :kind, :parent, :code, 'active', 'main')"
        ),
        [
            {
                "id": uid,
                "slug": f"bench-{uid}",
                "schema": f"t_bench_{uid}",
                "name": f"Đơn vị {uid}",
                "kind": kind,
                "parent": parent,
                "code": f"{uid - 100_000:03d}.00.99.H99",
            }
            for uid, kind, parent in rows
        ],
    )


def local_moment(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL)


def fact(rng: random.Random, tenant_id: int, dossier_id: int) -> dict:
    received_day = YEAR_START + timedelta(days=rng.randrange(365))
    received_at = local_moment(received_day, rng.randrange(7, 17), rng.randrange(60))
    due_day = received_day + timedelta(days=rng.randrange(3, 16))
    due_at = local_moment(due_day, 17, 0)
    channel = rng.choices((1, 2, 3), weights=(70, 25, 5))[0]
    row = {
        "tenant_id": tenant_id,
        "dossier_id": dossier_id,
        "code": f"B{tenant_id:03d}-{dossier_id}",
        "procedure_code": f"1.{rng.randrange(40):06d}",
        "sector_code": f"S{rng.randrange(8)}",
        "service_level": rng.choice((2, 3, 4)),
        "channel": channel,
        "received_at": received_at,
        "due_at": due_at,
        "completed_at": None,
        "closed_at": None,
        "closed_kind": None,
        "on_time_class": None,
        "paused_kind": None,
        "pauses": [],
        "supplements": 0,
        "received_day": received_day,
        "due_day": due_day,
        "closed_day": None,
        "overdue_from_day": due_day,
    }
    if rng.random() < 0.1:
        start = received_day + timedelta(days=1)
        end = start + timedelta(days=rng.randrange(1, 6))
        row["pauses"] = [
            {
                "kind": "supplement",
                "start": local_moment(start, 9, 0).isoformat(),
                "end": local_moment(end, 9, 0).isoformat(),
            }
        ]
        row["supplements"] = 1
    fate = rng.random()
    close_day = received_day + timedelta(days=rng.randrange(1, 21))
    if fate < 0.9 and close_day <= date(2025, 12, 31):
        row.update(status=10, completed_at=local_moment(close_day, 10, 0), closed_kind="completed")
        row["on_time_class"] = (
            "early" if close_day < due_day else "on_time" if close_day == due_day else "late"
        )
    elif fate < 0.93:
        row.update(status=7, closed_kind="withdrawn")
    elif fate < 0.95:
        row.update(status=8, closed_kind="stopped")
    else:
        row["status"] = 4
        return row
    row["closed_at"] = row["completed_at"] or local_moment(close_day, 10, 0)
    row["closed_day"] = close_day
    return row


def copy_rows(cursor, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    with cursor.copy(f"COPY platform.{table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def load(platform, unit_rows, dossiers: int) -> float:
    rng = random.Random(7)
    tenant_ids = [uid for uid, _, _ in unit_rows]
    daily: dict[tuple[int, date], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    t = time.monotonic()
    raw = platform.shards.primary.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()
        batch: list[tuple] = []
        for n in range(dossiers):
            row = fact(rng, tenant_ids[n % len(tenant_ids)], n + 1)
            for day, deltas in contributions(row).items():
                cell = daily[(row["tenant_id"], day)]
                for column, value in deltas.items():
                    cell[column] += value
            row["pauses"] = json.dumps(row["pauses"])
            batch.append(tuple(row[c] for c in FACT_COLUMNS))
            if len(batch) == 100_000:
                copy_rows(cursor, "report_dossiers", FACT_COLUMNS, batch)
                batch.clear()
                log(f"{n + 1:,} dossiers")
        copy_rows(cursor, "report_dossiers", FACT_COLUMNS, batch)
        values = [
            tuple(
                tenant if c == "tenant_id" else day if c == "day" else cells.get(c, 0) for c in DAILY_COLUMNS
            )
            for (tenant, day), cells in daily.items()
        ]
        copy_rows(cursor, "report_daily", DAILY_COLUMNS, values)
        raw.driver_connection.commit()
    finally:
        raw.close()
    with platform.shards.primary.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE platform.report_dossiers")
        conn.exec_driver_sql("VACUUM ANALYZE platform.report_daily")
    log(f"loaded {dossiers:,} dossiers and {len(values):,} daily rows")
    return time.monotonic() - t


IMPORT_HEADER = (
    "code,procedure_code,applicant_name,channel,status,received_at,due_at,completed_at,returned_at,"
    "withdrawn_at,supplement_pauses,steps"
)


def import_file(path: Path, unit_code: str, count: int) -> None:
    """``count`` dossiers of 2024 as the previous system would export them (fixed seed)."""
    rng = random.Random(11)
    fmt = "%d/%m/%Y %H:%M"
    with path.open("w", encoding="utf-8") as out:
        out.write(IMPORT_HEADER + "\n")
        for n in range(count):
            received = datetime(2024, 1, 2, 8, 0) + timedelta(
                days=rng.randrange(360), minutes=rng.randrange(480)
            )
            due = received + timedelta(days=rng.randrange(3, 16))
            code = f"{unit_code}-{received:%y%m%d}-{n:06d}"
            fate = rng.random()
            completed = returned = withdrawn = ""
            pause = steps = ""
            if rng.random() < 0.1:
                pause = f"{received + timedelta(hours=2):{fmt}}..{received + timedelta(days=2):{fmt}}"
            if fate < 0.85:
                done = received + timedelta(days=rng.randrange(3, 20))
                completed, returned = f"{done:{fmt}}", f"{done + timedelta(days=1):{fmt}}"
                steps = f"Thụ lý|{done - timedelta(hours=4):{fmt}}|{due - timedelta(days=1):{fmt}}"
                status = 10
            elif fate < 0.9:
                withdrawn, status = f"{received + timedelta(days=3):{fmt}}", 7
            else:
                status, pause = 4, ""
            channel = rng.choices((1, 2, 3), weights=(70, 25, 5))[0]
            out.write(
                f"{code},1.000001,Người nộp {n},{channel},{status},{received:{fmt}},{due:{fmt}},"
                f"{completed},{returned},{withdrawn},{pause},{steps}\n"
            )


def import_and_rebuild(app, platform, count: int, workdir: Path) -> dict:
    """A real unit (its own schema): time the import of ``count`` dossiers, then its store rebuild."""
    from app.reports import store
    from tenants import registry

    unit = registry.create_tenant(
        platform.shards,
        platform.trees.tenant_head,
        name="Phường Nhập",
        kind="commune",
        slug="bench-nhap",
        parent="bench-100022",  # a district of the generated city
        unit_code="000.00.42.H99",
    )
    with platform.shards.tenant_session(unit.shard, unit.schema_name) as session:
        session.execute(text(f"INSERT INTO {unit.schema_name}.sectors (code, name) VALUES ('HT', 'Hộ tịch')"))
        session.execute(
            text(
                f"INSERT INTO {unit.schema_name}.procedures"
                " (code, name, sector_id, service_level, time_value, time_unit, channels, result_delivery)"
                " VALUES ('1.000001', 'Đăng ký khai sinh', 1, 3, 3, 'working_days', '{1,2,3}', '{counter}')"
            )
        )
        session.commit()
    path = workdir / "ho-so-cu.csv"
    import_file(path, unit.unit_code, count)
    log(f"importing {count:,} dossiers ({path.stat().st_size / 1e6:.1f} MB CSV)")
    t = time.monotonic()
    outcome = app.test_cli_runner().invoke(args=["dossiers", "import", str(path), "--tenant", unit.slug])
    import_seconds = time.monotonic() - t
    if outcome.exit_code != 0:
        raise RuntimeError(f"import failed: {outcome.output[-2000:]}")
    with platform.shards.primary.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    log("rebuilding the unit's store")
    samples = []
    with app.app_context():
        for _ in range(3):
            t = time.monotonic()
            facts = store.rebuild(unit.id)
            samples.append(time.monotonic() - t)
    return {
        "import_dossiers": count,
        "import_seconds": round(import_seconds, 1),
        "import_target_seconds": 120,
        "rebuild_facts": facts,
        "rebuild_seconds_runs": [round(x, 1) for x in samples],
        "rebuild_seconds": round(statistics.median(samples), 1),
        "rebuild_target_seconds": 60,
    }


def timed(platform, tenant_ids: list[int], period, runs: int, read=report_06):
    """Median milliseconds of ``runs`` calls of ``read`` (after one warm-up) and the last result."""
    samples = []
    result = {}
    for n in range(runs + 1):
        with Session(platform.shards.primary) as session:
            t = time.perf_counter()
            result = read(session, tenant_ids, period)
            elapsed = (time.perf_counter() - t) * 1000
        if n:
            samples.append(elapsed)
    return statistics.median(samples), result


def _breakdown(session, tenant_ids, period, by: str):
    return breakdown_06(session, tenant_ids, period, by)


def timed_breakdowns(platform, tenant_ids: list[int], period, city_total, runs: int = 3) -> dict:
    """Informational: the breakdown by sector and by unit (median of 3) and whether each adds up."""
    figures = {}
    for by in ("sector", "unit"):
        read = functools.partial(_breakdown, by=by)
        ms, rows = timed(platform, tenant_ids, period, runs, read)
        figures[f"city_by_{by}_quarter_ms"] = round(ms, 1)
        figures[f"city_by_{by}_rows"] = len(rows)
        figures[f"city_by_{by}_matches_report"] = total_of(row for _, _, row in rows) == city_total
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--units", type=int, default=250)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--import-dossiers", type=int, default=100_000)
    args = parser.parse_args()

    db_url, where = fresh_database(DB_NAME)
    app = create_app(
        {
            "database_url": db_url,
            "shard_urls": {},
            "redis_url": os.environ.get("REDIS_URL") or DUMMY_REDIS,
            "platform_domain": "localhost",
            "log_format": "plain",
            "log_level": "WARNING",
        }
    )
    platform = app.extensions["motcua"]
    result: dict = {"units": args.units, "dossiers": args.dossiers, "database": where, "runs": args.runs}
    try:
        log("migrating the scratch database")
        upgrade_platform(platform.shards, platform.trees)
        unit_rows = units(args.units)
        with platform.shards.primary.begin() as conn:
            insert_units(conn, unit_rows)
        result["load_seconds"] = round(load(platform, unit_rows, args.dossiers), 1)
        quarter = periods.report_quarter(2025, 2)
        everyone = [uid for uid, _, _ in unit_rows]
        city_ms, city = timed(platform, everyone, quarter, args.runs)
        one = unit_rows[-1][0]
        unit_ms, _ = timed(platform, [one], quarter, args.runs)
        total = total_of(city.values())
        result.update(
            period={"from": quarter.start.isoformat(), "to": quarter.end.isoformat()},
            city_rows=len(city),
            city_total={"total": total.total, "resolved": total.resolved, "pending": total.pending},
            city_quarter_ms=round(city_ms, 1),
            city_target_ms=300,
            one_unit_quarter_ms=round(unit_ms, 1),
            one_unit_target_ms=50,
        )
        result.update(timed_breakdowns(platform, everyone, quarter, total))
        with tempfile.TemporaryDirectory() as workdir:
            result.update(import_and_rebuild(app, platform, args.import_dossiers, Path(workdir)))
        result["within_targets"] = (
            city_ms <= 300
            and unit_ms <= 50
            and result["import_seconds"] <= 120
            and result["rebuild_seconds"] <= 60
        )
        result["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    finally:
        platform.shards.dispose()
        drop_database(db_url, DB_NAME)
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
