"""Aggregation of usage events into daily facts (tổng hợp số liệu đo đếm theo ngày, issue #6).

Events live on the shard databases (``shard.usage_events``), facts on the primary
(``platform.billing_daily_facts``). Per shard and per tenant, one SQL ``GROUP BY`` on
the shard computes each (day, metric, dimension)'s count, sum, max, distinct subjects,
events digest and content hash (billing/ledger.py), and one ``INSERT ... ON CONFLICT DO
UPDATE`` on the primary writes them, in one transaction per tenant: a fact's id never
changes, a re-run changes nothing, a killed worker leaves the previous facts, and facts
whose events are gone are deleted.

Which days a run recomputes: the late window (``BILLING_LATE_WINDOW_DAYS``, default 10,
up to today), plus every day that received an event since the shard's previous complete
run (however late), and on a shard's first run every day it has. A run counts the events
recorded before its cut-off (``as_of``, stored as the facts' ``computed_at`` and the run's
``started_at``); the periodic job sets the cut-off a minute back, so a transaction still
in flight is counted by the next run, never half.

Nothing in a citizen's or official's action waits for this: when aggregation is behind,
events wait in PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.types import BigInteger, Date, String

from app.core.db import get_platform
from app.core.scheduler import register_periodic
from app.core.usage import METRICS
from billing import ledger
from billing.models import AggregationRun
from tenants.models import Tenant

log = logging.getLogger("motcua.billing.aggregate")

VN_TZ = ZoneInfo(ledger.LOCAL_TZ)
BILLING_LATE_WINDOW_DAYS = 10  # the default of settings.billing_late_window_days
SETTLE_SECONDS = 60  # the periodic job counts events recorded at least this long ago
LATE_MARGIN = timedelta(minutes=10)  # overlap with the previous run when looking for late events
INTERVAL_SECONDS = 300  # the periodic job runs every five minutes
LOCK_CLASS = 60601  # pg_advisory_xact_lock(LOCK_CLASS, tenant_id): one aggregation of a tenant at a time


@dataclass
class TenantResult:
    tenant_id: int
    facts: int
    events: int


def local_day(moment: datetime) -> date:
    return moment.astimezone(VN_TZ).date()


def day_start(day: date) -> datetime:
    """Midnight of an Asia/Ho_Chi_Minh day, as an aware datetime."""
    return datetime.combine(day, time(0), tzinfo=VN_TZ)


def day_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """Contiguous runs of days as (first, last) inclusive, in order."""
    ranges: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if ranges and ranges[-1][1] + timedelta(days=1) == day:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _span_sql(ranges: list[tuple[date, date]], params: dict) -> str:
    """``(occurred_at in range 1 OR ...)`` over the days' local midnights (the index's column)."""
    parts = []
    for n, (first, last) in enumerate(ranges):
        params[f"lo{n}"] = day_start(first)
        params[f"hi{n}"] = day_start(last + timedelta(days=1))
        parts.append(f"(e.occurred_at >= :lo{n} AND e.occurred_at < :hi{n})")
    return "(" + " OR ".join(parts) + ")"


GROUPS_SQL = """
SELECT g.day, g.metric, g.dimension, g.event_count, g.quantity_sum, g.quantity_max,
       g.distinct_subjects, g.events_digest, {content_hash} AS content_hash
FROM (
    SELECT {day} AS day, e.metric, e.dimension, count(*) AS event_count,
           sum(e.quantity) AS quantity_sum, max(e.quantity) AS quantity_max,
           count(DISTINCT e.subject) AS distinct_subjects, {digest} AS events_digest
    FROM shard.usage_events e
    WHERE e.tenant_id = :tenant_id AND e.recorded_at < :as_of AND {span}
    GROUP BY 1, 2, 3
) g
"""

UPSERT_SQL = text(
    """
INSERT INTO platform.billing_daily_facts AS f
    (tenant_id, day, metric, dimension, event_count, quantity_sum, quantity_max,
     distinct_subjects, events_digest, content_hash, computed_at)
SELECT :tenant_id, k.* , :as_of
FROM unnest(:days, :metrics, :dimensions, :counts, :sums, :maxes, :distincts, :digests, :hashes)
    AS k(day, metric, dimension, event_count, quantity_sum, quantity_max, distinct_subjects,
         events_digest, content_hash)
ON CONFLICT (tenant_id, day, metric, dimension) DO UPDATE SET
    event_count = excluded.event_count, quantity_sum = excluded.quantity_sum,
    quantity_max = excluded.quantity_max, distinct_subjects = excluded.distinct_subjects,
    events_digest = excluded.events_digest, content_hash = excluded.content_hash,
    computed_at = excluded.computed_at
WHERE f.content_hash <> excluded.content_hash AND f.computed_at < excluded.computed_at
"""
).bindparams(
    bindparam("days", type_=ARRAY(Date)),
    bindparam("metrics", type_=ARRAY(String)),
    bindparam("dimensions", type_=ARRAY(String)),
    bindparam("counts", type_=ARRAY(BigInteger)),
    bindparam("sums", type_=ARRAY(BigInteger)),
    bindparam("maxes", type_=ARRAY(BigInteger)),
    bindparam("distincts", type_=ARRAY(BigInteger)),
    bindparam("digests", type_=ARRAY(String)),
    bindparam("hashes", type_=ARRAY(String)),
)

# Facts of the recomputed days whose key no longer has any event (and not newer than this run).
DELETE_SQL = text(
    """
DELETE FROM platform.billing_daily_facts f
WHERE f.tenant_id = :tenant_id AND f.day >= :first AND f.day <= :last
  AND f.day = ANY(:all_days) AND f.computed_at < :as_of
  AND NOT EXISTS (
    SELECT 1 FROM unnest(:days, :metrics, :dimensions) AS k(day, metric, dimension)
    WHERE k.day = f.day AND k.metric = f.metric AND k.dimension = f.dimension)
"""
).bindparams(
    bindparam("all_days", type_=ARRAY(Date)),
    bindparam("days", type_=ARRAY(Date)),
    bindparam("metrics", type_=ARRAY(String)),
    bindparam("dimensions", type_=ARRAY(String)),
)


def _connection(session: Session | Connection) -> Connection:
    return session.connection() if isinstance(session, Session) else session


def shard_now(shard: Session | Connection) -> datetime:
    """The shard's clock (recorded_at is written by it): the cut-off of a run."""
    return _connection(shard).execute(text("SELECT clock_timestamp()")).scalar_one()


def aggregate_tenant(
    platform_session: Session,
    shard_session: Session | Connection,
    tenant_id: int,
    first_day: date,
    last_day: date,
    *,
    extra_days: Iterable[date] = (),
    as_of: datetime | None = None,
    shard: str | None = None,
) -> int:
    """Recompute ``tenant_id``'s facts of ``first_day``..``last_day`` (inclusive) and ``extra_days``
    from the events recorded before ``as_of`` (default: now, on the shard's clock).

    Writes in ``platform_session``'s transaction (the caller commits: one transaction per
    tenant); returns how many facts those days now have. With ``shard`` (the name of the shard
    ``shard_session`` reads), nothing is done when the tenant is no longer on it (moved away).
    """
    return _aggregate(
        platform_session, shard_session, tenant_id, first_day, last_day, extra_days, as_of, shard
    ).facts


def _aggregate(
    platform_session: Session,
    shard_session: Session | Connection,
    tenant_id: int,
    first_day: date,
    last_day: date,
    extra_days: Iterable[date],
    as_of: datetime | None,
    shard: str | None = None,
) -> TenantResult:
    days = {first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)}
    days.update(extra_days)
    if not days:
        return TenantResult(tenant_id, 0, 0)
    as_of = as_of or shard_now(shard_session)
    platform = _connection(platform_session)
    # One aggregation of a tenant at a time (the periodic job and an operator's command).
    platform.execute(text("SELECT pg_advisory_xact_lock(:c, :t)"), {"c": LOCK_CLASS, "t": tenant_id})
    # A unit moved to another shard since the run listed it has no events left here: reading
    # them here would delete its facts. Its new shard's runs count it (a move deletes the old
    # shard's events under this lock: provisioning/usage_move.py).
    if shard is not None:
        current = platform.execute(select(Tenant.shard).where(Tenant.id == tenant_id)).scalar_one_or_none()
        if current != shard:
            log.info(
                "tenant %s is no longer on shard %s (now %s): not aggregated there", tenant_id, shard, current
            )
            return TenantResult(tenant_id, 0, 0)
    params: dict = {"tenant_id": tenant_id, "as_of": as_of}
    sql = GROUPS_SQL.format(
        day=ledger.DAY_SQL,
        digest=ledger.EVENTS_DIGEST_SQL,
        span=_span_sql(day_ranges(days), params),
        content_hash=ledger.fact_hash_sql(
            ":tenant_id",
            "g.day",
            "g.metric",
            "g.dimension",
            "g.event_count",
            "g.quantity_sum",
            "g.quantity_max",
            "g.distinct_subjects",
            "g.events_digest",
        ),
    )
    rows = _connection(shard_session).execute(text(sql), params).all()
    columns = {
        "days": [r.day for r in rows],
        "metrics": [r.metric for r in rows],
        "dimensions": [r.dimension for r in rows],
    }
    if rows:
        platform.execute(
            UPSERT_SQL,
            {
                "tenant_id": tenant_id,
                "as_of": as_of,
                **columns,
                "counts": [r.event_count for r in rows],
                "sums": [int(r.quantity_sum) for r in rows],
                "maxes": [r.quantity_max for r in rows],
                "distincts": [r.distinct_subjects for r in rows],
                "digests": [r.events_digest for r in rows],
                "hashes": [r.content_hash for r in rows],
            },
        )
    platform.execute(
        DELETE_SQL,
        {
            "tenant_id": tenant_id,
            "first": min(days),
            "last": max(days),
            "all_days": sorted(days),
            "as_of": as_of,
            **columns,
        },
    )
    return TenantResult(tenant_id, len(rows), sum(r.event_count for r in rows))


def _late_days(shard: Connection, since: datetime | None, as_of: datetime) -> dict[int, set[date]]:
    """tenant id -> the days of the events recorded in [since, as_of) (all events when ``since`` is None)."""
    where = "e.recorded_at < :as_of" + (" AND e.recorded_at >= :since" if since is not None else "")
    rows = shard.execute(
        text(f"SELECT DISTINCT e.tenant_id, {ledger.DAY_SQL} AS day FROM shard.usage_events e WHERE {where}"),
        {"as_of": as_of, "since": since},
    )
    days: dict[int, set[date]] = {}
    for tenant_id, day in rows:
        days.setdefault(tenant_id, set()).add(day)
    return days


def _previous_cutoff(session: Session, shard: str) -> datetime | None:
    """The cut-off of the shard's last complete all-tenant run (None: the shard was never aggregated)."""
    return session.scalar(
        select(AggregationRun.started_at)
        .where(
            AggregationRun.shard == shard,
            AggregationRun.tenant_id.is_(None),
            AggregationRun.finished_at.is_not(None),
        )
        .order_by(AggregationRun.started_at.desc())
        .limit(1)
    )


def window_days(settings=None) -> int:
    settings = settings or get_platform().settings
    return getattr(settings, "billing_late_window_days", BILLING_LATE_WINDOW_DAYS)


def aggregate_shard(
    shard: str,
    *,
    first_day: date | None = None,
    last_day: date | None = None,
    tenant_ids: Iterable[int] | None = None,
    window: int | None = None,
    settle_seconds: int = 0,
    progress: Callable[[TenantResult], None] | None = None,
) -> list[AggregationRun]:
    """Aggregate one shard's tenants, one transaction per tenant; run rows record the cut-off.

    Without ``first_day``/``last_day`` the days are the late window up to today. A run of
    every tenant (``tenant_ids`` None) also recomputes every day that received events since
    the previous complete run, and is recorded as one shard run (``tenant_id`` NULL): the
    next run starts its search for late events from its cut-off. A run of chosen tenants is
    recorded as one run per tenant and never serves as that starting point.
    """
    platform = get_platform()
    with platform.shards.platform_session() as session, platform.shards.engine(shard).connect() as conn:
        as_of = shard_now(conn) - timedelta(seconds=settle_seconds)
        today = local_day(as_of)
        if first_day is None or last_day is None:
            last_day = today
            first_day = today - timedelta(days=window if window is not None else window_days())
        everyone = tenant_ids is None
        query = select(Tenant.id).where(Tenant.shard == shard).order_by(Tenant.id)
        if not everyone:
            query = query.where(Tenant.id.in_(list(tenant_ids)))
        tenants = list(session.scalars(query))
        late: dict[int, set[date]] = {}
        if everyone:
            previous = _previous_cutoff(session, shard)
            late = _late_days(conn, previous - LATE_MARGIN if previous else None, as_of)
            conn.rollback()

        def new_run(tenant_id: int | None, days: set[date]) -> AggregationRun:
            run = AggregationRun(
                shard=shard,
                tenant_id=tenant_id,
                first_day=min([first_day, *days]),
                last_day=max([last_day, *days]),
                started_at=as_of,
                events=0,
                facts=0,
            )
            session.add(run)
            session.commit()
            return run

        shard_run = new_run(None, set().union(*late.values()) if late else set()) if everyone else None
        runs = [shard_run] if shard_run else []
        for tenant_id in tenants:
            run = shard_run or new_run(tenant_id, set())
            result = _aggregate(
                session, conn, tenant_id, first_day, last_day, late.get(tenant_id, ()), as_of, shard
            )
            conn.rollback()  # end the shard read's transaction; the facts commit on the primary
            session.commit()
            run.events += result.events
            run.facts += result.facts
            if run is not shard_run:
                run.finished_at = datetime.now(UTC)
                runs.append(run)
            if progress is not None:
                progress(result)
        if shard_run is not None:
            shard_run.finished_at = datetime.now(UTC)
        session.commit()
        return runs


def aggregate_all(
    window_days: int | None = None,
    *,
    first_day: date | None = None,
    last_day: date | None = None,
    tenant_ids: Iterable[int] | None = None,
    settle_seconds: int = 0,
    progress: Callable[[TenantResult], None] | None = None,
) -> list[AggregationRun]:
    """Aggregate every shard (platform scope: the periodic job and ``flask billing aggregate``)."""
    ids = list(tenant_ids) if tenant_ids is not None else None
    runs: list[AggregationRun] = []
    for shard in get_platform().shards.names:
        runs += aggregate_shard(
            shard,
            first_day=first_day,
            last_day=last_day,
            tenant_ids=ids,
            window=window_days,
            settle_seconds=settle_seconds,
            progress=progress,
        )
    return runs


def aggregate_job(settle_seconds: int = SETTLE_SECONDS) -> int:
    """The periodic job (every five minutes): the late window of every shard; the facts written."""
    runs = aggregate_all(settle_seconds=settle_seconds)
    return sum(run.facts for run in runs)


register_periodic(aggregate_job, "low", interval=INTERVAL_SECONDS, name="billing-aggregate")


def period_quantity(tenant_id: int, metric: str, first_day: date, end_day_exclusive: date) -> int:
    """A tenant's usage of ``metric`` over [first_day, end_day_exclusive).

    "sum" metrics add the daily facts' quantities; "distinct" metrics (active officials,
    citizens) count the distinct subjects of the raw events of the whole period, never a
    sum of days (one official active on 20 days is one).
    """
    measure = METRICS[metric][3]
    platform = get_platform()
    if measure == "sum":
        with platform.shards.platform_session() as session:
            value = session.execute(
                text(
                    "SELECT coalesce(sum(quantity_sum), 0) FROM platform.billing_daily_facts"
                    " WHERE tenant_id = :t AND metric = :m AND day >= :a AND day < :b"
                ),
                {"t": tenant_id, "m": metric, "a": first_day, "b": end_day_exclusive},
            ).scalar_one()
            return int(value)
    with platform.shards.platform_session() as session:
        shard = session.scalar(select(Tenant.shard).where(Tenant.id == tenant_id))
    if shard is None:
        return 0
    with platform.shards.engine(shard).connect() as conn:
        value = conn.execute(
            text(
                "SELECT count(DISTINCT e.subject) FROM shard.usage_events e WHERE e.tenant_id = :t"
                " AND e.metric = :m AND e.occurred_at >= :a AND e.occurred_at < :b"
            ),
            {"t": tenant_id, "m": metric, "a": day_start(first_day), "b": day_start(end_day_exclusive)},
        ).scalar_one()
    return int(value)
