"""Invoice benchmark (issue #6): a month's invoice for 250 units, drafted then finalized.

    .venv/bin/python bench/finalize_speed.py                 # 250 units, 3 months in a row
    .venv/bin/python bench/finalize_speed.py --units 50 --months 1   # quick check

Setup, in a scratch database ``motcua_bench_invoices`` made here and dropped at the end:
the platform schema, 250 units under a city (districts, departments, communes; a few
activated or decommissioned mid-month, so proration and setup fees are exercised), a
monthly contract with a plan pricing all 9 metrics (quota per unit and month, graduated
tiers), daily facts for every unit, metric and day (9 × ~30 a unit a month, inserted in
bulk), and raw events for the two distinct-count metrics (officials and citizens active).

Then, for each month in order: (1) compute the draft (``refresh_draft``: prices, late
adjustments against the months finalized before, ~2,250 lines and ~67,500 fact
snapshots written), commit; (2) ``finalize_invoice`` (recomputes the draft one last time,
locks the sequence, numbers, hashes, audits), commit. Target: (1) + (2) ≤ 10 s.
Finally ``verify_invoices`` over the whole chain. Prints ONE JSON object on stdout
(progress on stderr). Uses DATABASE_URL's server when set, else the embedded PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from scratch_db import drop_database, fresh_database  # noqa: E402
from sqlalchemy import text  # noqa: E402
from tenancy import app_config, git_info, log, machine_info  # noqa: E402

from app import create_app  # noqa: E402
from app.core.usage import METRICS  # noqa: E402
from billing import invoice_chain, invoices  # noqa: E402
from billing.models import Contract, PlanMetric, PlanUnitFee, PricePlan  # noqa: E402
from tenants.migrations import upgrade_platform  # noqa: E402

DB_NAME = "motcua_bench_invoices"
TIERS = [
    {"up_to": 500, "unit_price": 500},
    {"up_to": 2000, "unit_price": 400},
    {"up_to": None, "unit_price": 300},
]


def _seed(platform, units: int, months: list[date]) -> int:
    """Units, service periods, the contract and its plan, facts and distinct-metric events."""
    engine = platform.shards.engine("main")
    first, end = months[0], invoices.next_month(months[-1])
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO platform.shards (name) VALUES ('main') ON CONFLICT DO NOTHING"))
        city = conn.execute(
            text(
                "INSERT INTO platform.tenants (slug, schema_name, name, kind, unit_code, shard, status) "
                "VALUES ('bench-city', 't_bench_city', 'Thành phố', 'city', '000.00.00.H99', 'main', "
                "'active') RETURNING id"
            )
        ).scalar_one()
        conn.execute(
            text(
                """
                INSERT INTO platform.tenants
                    (slug, schema_name, name, kind, parent_id, unit_code, shard, status)
                SELECT 'u' || n, 't_u' || n, 'Đơn vị ' || n,
                       CASE WHEN n % 10 = 0 THEN 'district' WHEN n % 10 = 1 THEN 'department'
                            ELSE 'commune' END,
                       :city, lpad((n / 10000)::text, 3, '0') || '.' || lpad((n / 100 % 100)::text, 2, '0')
                       || '.' || lpad((n % 100)::text, 2, '0') || '.H99', 'main', 'active'
                FROM generate_series(1, :units) n
                """
            ),
            {"city": city, "units": units},
        )
        # Most units live since 2024; every 25th activated on the 10th of the first month
        # (setup fee, proration); every 40th decommissioned on the 20th of the last month.
        conn.execute(
            text(
                """
                INSERT INTO platform.billing_service_periods (tenant_id, active_from, active_until)
                SELECT t.id,
                       CASE WHEN n % 25 = 0 THEN :first + 9 ELSE DATE '2024-01-01' END,
                       CASE WHEN n % 40 = 0 THEN :last_month + 19 ELSE NULL END
                FROM platform.tenants t JOIN generate_series(1, :units) n ON t.slug = 'u' || n
                """
            ),
            {"first": first, "last_month": months[-1], "units": units},
        )
        # Facts: every unit, metric and day; quantities vary by unit and day.
        conn.execute(
            text(
                """
                INSERT INTO platform.billing_daily_facts
                    (tenant_id, day, metric, dimension, event_count, quantity_sum, quantity_max,
                     distinct_subjects, events_digest, content_hash)
                SELECT t.id, d::date, m, '', q, q, 1, CASE WHEN m LIKE 'active_%' THEN 4 ELSE 0 END,
                       encode(sha256(convert_to(t.id || m || d, 'UTF8')), 'hex'),
                       encode(sha256(convert_to(t.id || m || d || q, 'UTF8')), 'hex')
                FROM platform.tenants t
                CROSS JOIN generate_series(
                    CAST(:first AS date), CAST(:end AS date) - 1, interval '1 day') d
                CROSS JOIN unnest(CAST(:metrics AS text[])) m
                CROSS JOIN LATERAL (SELECT (t.id * 7 + extract(day FROM d)::int * 13) % 90 + 5 AS q) qq
                WHERE t.kind <> 'city'
                """
            ),
            {"first": first, "end": end, "metrics": list(METRICS)},
        )
        # Raw events of the distinct metrics: 4 officials and 3 citizens a unit, every day.
        conn.execute(
            text(
                """
                INSERT INTO shard.usage_events
                    (tenant_id, source, event_id, metric, dimension, quantity, subject, occurred_at,
                     row_hash)
                SELECT t.id, s.source, s.subject || ':' || d::date, s.metric, '', 1, s.subject,
                       d + interval '3 hours',
                       encode(sha256(convert_to(t.id || s.subject || d, 'UTF8')), 'hex')
                FROM platform.tenants t
                CROSS JOIN generate_series(
                    CAST(:first AS date), CAST(:end AS date) - 1, interval '1 day') d
                CROSS JOIN (VALUES ('official.active', 'active_officials', 'o1'),
                                   ('official.active', 'active_officials', 'o2'),
                                   ('official.active', 'active_officials', 'o3'),
                                   ('official.active', 'active_officials', 'o4'),
                                   ('citizen.active', 'active_citizens', 'c1'),
                                   ('citizen.active', 'active_citizens', 'c2'),
                                   ('citizen.active', 'active_citizens', 'c3')) s(source, metric, subject)
                WHERE t.kind <> 'city'
                """
            ),
            {"first": first, "end": end},
        )
    with platform.shards.platform_session() as session, session.begin():
        contract = Contract(
            number="HĐ-BENCH",
            provider_party="Công ty Motcua",
            city_party="UBND Thành phố",
            city_tenant_id=city,
            starts_on=date(first.year, 1, 1),
            ends_on=date(first.year + 1, 1, 1),
            billing_period="monthly",
        )
        contract.plan = PricePlan(
            name="Gói chuẩn",
            setup_fee=5_000_000,
            discount_bp=1250,
            unit_fees=[
                PlanUnitFee(unit_kind="district", monthly_fee=3_000_000),
                PlanUnitFee(unit_kind="department", monthly_fee=2_000_000),
                PlanUnitFee(unit_kind="commune", monthly_fee=1_000_000),
            ],
            metrics=[PlanMetric(metric=m, included=1000, tiers=TIERS) for m in METRICS],
        )
        session.add(contract)
        session.flush()
        return contract.id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--units", type=int, default=250)
    parser.add_argument("--months", type=int, default=3, help="consecutive months drafted and finalized")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()

    db_url, _where = fresh_database(DB_NAME)
    months = [date(2026, m, 1) for m in range(10 - args.months + 1, 11)]  # ... October 2026
    result: dict = {
        "benchmark": "finalize_speed",
        "units": args.units,
        "machine": machine_info(),
        **git_info(),
    }
    app = create_app(app_config(db_url))
    platform = app.extensions["motcua"]
    try:
        upgrade_platform(platform.shards, platform.trees)
        started = time.perf_counter()
        contract_id = _seed(platform, args.units, months)
        result["seed_seconds"] = round(time.perf_counter() - started, 2)
        now = datetime.now(UTC)
        rounds = []
        with app.app_context():
            for month in months:
                log(f"month {month:%Y-%m}")
                with platform.shards.platform_session() as session, session.begin():
                    contract = session.get(Contract, contract_id)
                    t0 = time.perf_counter()
                    invoice = invoices.refresh_draft(
                        session, contract, month, invoices.next_month(month), now=now
                    )
                    invoice_id = invoice.id
                t1 = time.perf_counter()
                with platform.shards.platform_session() as session, session.begin():
                    final = invoices.finalize_invoice(session, invoice_id, actor_label="bench", now=now)
                    number, total = final.number, final.total
                t2 = time.perf_counter()
                with platform.shards.platform_session() as session:
                    lines, snapshots = session.execute(
                        text(
                            "SELECT count(DISTINCT l.id), count(s.id) FROM platform.billing_invoice_lines l "
                            "LEFT JOIN platform.billing_invoice_line_facts s ON s.line_id = l.id "
                            "WHERE l.invoice_id = :i"
                        ),
                        {"i": invoice_id},
                    ).one()
                rounds.append(
                    {
                        "month": f"{month:%Y-%m}",
                        "number": number,
                        "total_dong": total,
                        "lines": lines,
                        "fact_snapshots": snapshots,
                        "draft_seconds": round(t1 - t0, 3),
                        "finalize_seconds": round(t2 - t1, 3),
                        "draft_plus_finalize_seconds": round(t2 - t0, 3),
                    }
                )
                log(json.dumps(rounds[-1]))
            t3 = time.perf_counter()
            with platform.shards.platform_session() as session:
                problem = invoice_chain.verify_invoices(session)
            result["verify_seconds"] = round(time.perf_counter() - t3, 3)
            result["verify_problem"] = problem
        result["months"] = rounds
        totals = [r["draft_plus_finalize_seconds"] for r in rounds]
        result["draft_plus_finalize_median_seconds"] = round(statistics.median(totals), 3)
        result["draft_plus_finalize_max_seconds"] = max(totals)
        result["target_seconds"] = 10
        result["meets_target"] = max(totals) <= 10
    finally:
        platform.shards.dispose()
        if not args.keep:
            drop_database(db_url, DB_NAME)
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
