"""Aggregation benchmark (issue #6): 1,000,000 usage events over 250 units into daily facts.

    .venv/bin/python bench/aggregation_speed.py                      # 1,000,000 events, 250 units
    .venv/bin/python bench/aggregation_speed.py --events 100000      # a quick run
    .venv/bin/python bench/aggregation_speed.py --verify             # also time flask billing verify

A scratch database (``motcua_bench_aggregation``) is created on DATABASE_URL's server (else
the embedded PostgreSQL in ``.data/bench``), migrated, and dropped at the end. Units are
registry rows only (aggregation never opens a unit's schema). The events are generated in
SQL over 30 days (received dossiers by channel, generated forms, active officials,
attachment bytes) with their real row hash (billing.ledger.EVENT_HASH_SQL, the SQL form of
app.core.usage.usage_hash). Timed: the first aggregation (every day: a shard's first run),
then a re-run over the late window (nothing changes). Prints ONE JSON object on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scratch_db import drop_database, fresh_database  # noqa: E402
from sqlalchemy import text  # noqa: E402

from app import create_app  # noqa: E402
from billing import ledger  # noqa: E402
from tenants.migrations import upgrade_platform  # noqa: E402

DB_NAME = "motcua_bench_aggregation"
DUMMY_REDIS = "redis://127.0.0.1:6379/15"  # create_app wants a URL; nothing here talks to Redis
DAYS = 30


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


SHARD_SQL = "INSERT INTO platform.shards (name) VALUES ('main') ON CONFLICT DO NOTHING"
TENANTS_SQL = """
INSERT INTO platform.tenants (id, slug, schema_name, name, kind, unit_code, status, shard)
SELECT 100000 + n, 'bench-' || n, 't_bench_' || n, 'Đơn vị ' || n, 'commune',
       lpad((n / 100)::text, 3, '0') || '.' || lpad((n % 100)::text, 2, '0') || '.99.H99', 'active', 'main'
FROM generate_series(1, CAST(:tenants AS int)) AS n
"""

# Each event: a unit, a moment in the last DAYS days, one of four kinds of usage.
EVENTS_SQL = f"""
INSERT INTO shard.usage_events
    (tenant_id, source, event_id, metric, dimension, quantity, subject, occurred_at, row_hash)
SELECT e.tenant_id, e.source, e.event_id, e.metric, e.dimension, e.quantity, e.subject, e.occurred_at,
       {ledger.EVENT_HASH_SQL}
FROM (
    SELECT 100000 + 1 + (n % CAST(:tenants AS bigint)) AS tenant_id,
           (ARRAY['dossier.received', 'document.generated', 'official.active',
                  'attachment.stored'])[1 + n % 4] AS source,
           'E' || n AS event_id,
           (ARRAY['dossiers_received', 'documents_generated', 'active_officials',
                  'attachment_bytes'])[1 + n % 4] AS metric,
           CASE n % 4 WHEN 0 THEN (ARRAY['counter', 'online', 'postal'])[1 + (n / 4) % 3]
                      WHEN 1 THEN '01' WHEN 3 THEN 'component' ELSE '' END AS dimension,
           CASE WHEN n % 4 = 3 THEN 1000 + (n * 7919) % 5000000 ELSE 1 END AS quantity,
           CASE WHEN n % 4 = 2 THEN ((n / 4) % 40)::text END AS subject,
           CAST(:start AS timestamptz) + ((n * 104729) % ({DAYS} * 86400)) * interval '1 second'
               AS occurred_at
    FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS n
) e
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--tenants", type=int, default=250)
    parser.add_argument("--verify", action="store_true", help="also time billing.verify.verify()")
    args = parser.parse_args()

    db_url, _where = fresh_database(DB_NAME)
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
    result: dict = {"events": args.events, "tenants": args.tenants, "days": DAYS}
    try:
        log("migrating the scratch database")
        upgrade_platform(platform.shards, platform.trees)
        start = date.today() - timedelta(days=DAYS - 1)
        t = time.monotonic()
        with platform.shards.primary.begin() as conn:
            conn.execute(text(SHARD_SQL))
            conn.execute(text(TENANTS_SQL), {"tenants": args.tenants})
            step = 200_000
            for first in range(0, args.events, step):
                conn.execute(
                    text(EVENTS_SQL),
                    {
                        "tenants": args.tenants,
                        "first": first,
                        "last": min(first + step, args.events) - 1,
                        "start": f"{start.isoformat()} 00:00+07",
                    },
                )
                log(f"{min(first + step, args.events):,} events")
        with platform.shards.primary.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE shard.usage_events")
        result["insert_seconds"] = round(time.monotonic() - t, 2)

        from billing.aggregate import aggregate_all

        with app.app_context():
            log("aggregating (first run: every day)")
            t = time.monotonic()
            if os.environ.get("BENCH_PROFILE"):
                import cProfile
                import pstats

                profile = cProfile.Profile()
                runs = profile.runcall(aggregate_all)
                pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
            else:
                runs = aggregate_all()
            result["aggregate_seconds"] = round(time.monotonic() - t, 2)
            result["facts"] = sum(run.facts for run in runs)
            result["aggregated_events"] = sum(run.events for run in runs)
            result["events_per_second"] = round(args.events / result["aggregate_seconds"])
            log("re-running (the late window and the days of events recorded in the last 10 minutes: all)")
            t = time.monotonic()
            aggregate_all()
            result["rerun_seconds"] = round(time.monotonic() - t, 2)
            if args.verify:
                from billing.verify import verify

                log("verifying")
                t = time.monotonic()
                if os.environ.get("BENCH_PROFILE"):
                    import cProfile
                    import pstats

                    profile = cProfile.Profile()
                    outcome = profile.runcall(verify)
                    pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(25)
                else:
                    outcome = verify()
                result["verify_seconds"] = round(time.monotonic() - t, 2)
                result["verify_ok"] = outcome.ok
        result["target_seconds"] = 60
        result["within_target"] = result["aggregate_seconds"] <= 60
    finally:
        platform.shards.dispose()
        drop_database(db_url, DB_NAME)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
