"""What the city audit console reads (issue #6): usage against quotas, the invoice -> line ->
daily fact -> usage event drill-down, aggregation lag and the audit of the console itself.

Read-only by construction: every shard connection opened here starts its transaction with
``SET TRANSACTION READ ONLY`` (PostgreSQL refuses any write in it), and the platform session
the views pass in is made read-only the same way after the view's own audit row is committed
(billing/audit_views.py). Each function returns plain dicts and lists, so the HTML pages and
the JSON endpoints show the same numbers.

Rules (docs/billing.md, docs/audit-console.md): a day is the Asia/Ho_Chi_Minh calendar day of
``occurred_at``; a month's "sum" metric is the sum of its daily facts' ``quantity_sum``; a
"distinct" metric is the number of distinct subjects over the raw events of the month (never
a sum of days); the quota is ``PlanMetric.included`` per unit per month of the contract in
force on the month's first day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from app.audit.platform_models import PlatformAuditEvent
from app.auth.models import Account
from app.core.db import get_platform
from app.core.errors import DomainError, NotFound
from app.core.usage import METRICS, usage_hash
from billing.models import (
    AggregationRun,
    Contract,
    DailyFact,
    Invoice,
    InvoiceLine,
    InvoiceLineFact,
    PlanMetric,
    PricePlan,
    ServicePeriod,
)
from tenants.models import Tenant

try:  # the ledger's hash definitions (billing/ledger.py), used to re-check stored hashes
    from billing import ledger
except ImportError:  # pragma: no cover - only while the ledger is not in the tree
    ledger = None

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
AUDIT_ENTITY = "billing_audit_view"
EVENTS_PER_PAGE = 100
AUDIT_ROWS_PER_PAGE = 100
MAX_CHART_MONTHS = 24
MAX_RECOUNT_DAYS = 92


class BadAuditQuery(DomainError):
    status = 400


# --- periods -----------------------------------------------------------------


def today_local() -> date:
    return datetime.now(VN_TZ).date()


def parse_month(value: str | None) -> date:
    """``YYYY-MM`` -> the month's first day; empty -> the current Asia/Ho_Chi_Minh month."""
    if not value:
        return today_local().replace(day=1)
    try:
        first = datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise BadAuditQuery(
            f"Tháng không hợp lệ: {value!r} (định dạng YYYY-MM, ví dụ 2026-11)",
            f"invalid month {value!r} (format YYYY-MM, e.g. 2026-11)",
        ) from None
    if not 2000 <= first.year <= 2100:
        raise BadAuditQuery(f"Tháng ngoài phạm vi: {value!r}", f"month out of range: {value!r}")
    return first


def parse_day(value: str | None, name: str) -> date:
    try:
        day = datetime.strptime(value or "", "%Y-%m-%d").date()
    except ValueError:
        raise BadAuditQuery(
            f"Ngày {name} không hợp lệ: {value!r} (định dạng YYYY-MM-DD)",
            f"invalid {name} day {value!r} (format YYYY-MM-DD)",
        ) from None
    if not 2000 <= day.year <= 2100:
        raise BadAuditQuery(f"Ngày ngoài phạm vi: {value!r}", f"day out of range: {value!r}")
    return day


def next_month(first: date) -> date:
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def months_ending(last: date, count: int) -> list[date]:
    """``count`` month starts, oldest first, the last being ``last``."""
    if not 1 <= count <= MAX_CHART_MONTHS:
        raise BadAuditQuery(
            f"Số tháng phải từ 1 đến {MAX_CHART_MONTHS}", f"months must be 1 to {MAX_CHART_MONTHS}"
        )
    months = [last]
    for _ in range(count - 1):
        prev = months[0] - timedelta(days=1)
        months.insert(0, prev.replace(day=1))
    return months


def local_start(day: date) -> datetime:
    """The first instant of an Asia/Ho_Chi_Minh calendar day."""
    return datetime.combine(day, time(), VN_TZ)


# --- connections -------------------------------------------------------------


@contextmanager
def shard_reader(shard: str) -> Iterator[Connection]:
    """A connection to a shard database whose transaction can only read."""
    with get_platform().shards.engine(shard).connect() as conn:
        conn.execute(text("SET TRANSACTION READ ONLY"))
        try:
            yield conn
        finally:
            conn.rollback()


def make_read_only(session: Session) -> None:
    """From here on the session's transaction refuses writes (start of a fresh transaction)."""
    session.execute(text("SET TRANSACTION READ ONLY"))


# --- units, contracts, quotas ------------------------------------------------


def all_tenants(session: Session) -> list[Tenant]:
    return list(session.scalars(select(Tenant).order_by(Tenant.kind, Tenant.slug)))


def tenant_by_slug(session: Session, slug: str) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise NotFound(f"Không có đơn vị {slug!r}", f"no unit {slug!r}")
    return tenant


def check_metric(metric: str | None) -> str | None:
    if metric and metric not in METRICS:
        names = ", ".join(METRICS)
        raise BadAuditQuery(
            f"Chỉ số không hợp lệ: {metric!r} (chỉ nhận: {names})",
            f"unknown metric {metric!r} (one of: {names})",
        )
    return metric or None


def contract_on(session: Session, day: date) -> Contract | None:
    """The contract whose term contains ``day`` (at most one: overlapping terms are refused)."""
    return session.scalar(
        select(Contract)
        .where(Contract.starts_on <= day, Contract.ends_on > day)
        .order_by(Contract.starts_on.desc())
        .limit(1)
    )


def quotas(session: Session, contract: Contract | None) -> dict[str, int]:
    """metric -> included quantity per unit per month under ``contract``."""
    if contract is None:
        return {}
    rows = session.execute(
        select(PlanMetric.metric, PlanMetric.included)
        .join(PricePlan, PricePlan.id == PlanMetric.plan_id)
        .where(PricePlan.contract_id == contract.id)
    )
    return {metric: included for metric, included in rows}


def units_in_service(session: Session, first: date, end: date) -> int | None:
    """Units with a service period overlapping [first, end); None when no service period exists."""
    if session.scalar(select(func.count()).select_from(ServicePeriod)) == 0:
        return None
    return session.scalar(
        select(func.count())
        .select_from(ServicePeriod)
        .where(
            ServicePeriod.active_from < end,
            (ServicePeriod.active_until.is_(None)) | (ServicePeriod.active_until > first),
        )
    )


# --- usage ---------------------------------------------------------------------


def _sum_metrics() -> list[str]:
    return [m for m, spec in METRICS.items() if spec[3] == "sum"]


def _distinct_metrics() -> list[str]:
    return [m for m, spec in METRICS.items() if spec[3] == "distinct"]


def monthly_usage(
    session: Session, tenants: list[Tenant], first_month: date, end: date
) -> dict[tuple[int, str, date], int]:
    """(tenant id, metric, month start) -> the month's quantity, for months in [first_month, end).

    Sum metrics: the daily facts' ``quantity_sum``. Distinct metrics: distinct subjects of the
    raw events of the month on the unit's shard (the billing rule; never summed from days).
    """
    ids = [t.id for t in tenants]
    result: dict[tuple[int, str, date], int] = {}
    if not ids:
        return result
    month = func.date_trunc("month", DailyFact.day)
    rows = session.execute(
        select(DailyFact.tenant_id, DailyFact.metric, month, func.sum(DailyFact.quantity_sum))
        .where(
            DailyFact.tenant_id.in_(ids),
            DailyFact.day >= first_month,
            DailyFact.day < end,
            DailyFact.metric.in_(_sum_metrics()),
        )
        .group_by(DailyFact.tenant_id, DailyFact.metric, month)
    )
    for tenant_id, metric, month_start, quantity in rows:
        result[(tenant_id, metric, month_start.date())] = int(quantity)
    by_shard: dict[str, list[int]] = defaultdict(list)
    for tenant in tenants:
        by_shard[tenant.shard].append(tenant.id)
    for shard, shard_ids in by_shard.items():
        with shard_reader(shard) as conn:
            rows = conn.execute(
                text(
                    "SELECT tenant_id, metric,"
                    " date_trunc('month', occurred_at AT TIME ZONE 'Asia/Ho_Chi_Minh')::date AS month,"
                    " count(DISTINCT subject) FROM shard.usage_events"
                    " WHERE tenant_id = ANY(:ids) AND metric = ANY(:metrics)"
                    " AND occurred_at >= :start AND occurred_at < :end"
                    " GROUP BY 1, 2, 3"
                ),
                {
                    "ids": shard_ids,
                    "metrics": _distinct_metrics(),
                    "start": local_start(first_month),
                    "end": local_start(end),
                },
            )
            for tenant_id, metric, month_start, quantity in rows:
                result[(tenant_id, metric, month_start)] = int(quantity)
    return result


@dataclass
class UsageRow:
    tenant: Tenant
    metric: str
    quantity: int
    included: int | None  # None: the plan has no quota for this metric (or no contract)

    @property
    def over(self) -> int:
        return max(self.quantity - (self.included or 0), 0) if self.included is not None else 0

    @property
    def percent(self) -> int | None:
        if not self.included:
            return None
        return self.quantity * 100 // self.included

    def as_dict(self) -> dict:
        return {
            "tenant": self.tenant.slug,
            "tenant_id": self.tenant.id,
            "tenant_name": self.tenant.name,
            "shard": self.tenant.shard,
            "metric": self.metric,
            "quantity": self.quantity,
            "included": self.included,
            "over_quota": self.over,
            "percent_of_quota": self.percent,
        }


def usage_report(
    session: Session,
    month: date,
    *,
    months: int = 6,
    tenant: Tenant | None = None,
    metric: str | None = None,
) -> dict:
    """The usage page: a table of every unit x metric of ``month`` against the quotas, and per
    metric a series over the ``months`` months ending with ``month`` (for the charts)."""
    series_months = months_ending(month, months)
    tenants = [tenant] if tenant is not None else all_tenants(session)
    metrics = [metric] if metric else list(METRICS)
    usage = monthly_usage(session, tenants, series_months[0], next_month(month))
    contract = contract_on(session, month)
    included = quotas(session, contract)
    rows: list[UsageRow] = []
    for t in tenants:
        for m in metrics:
            quantity = usage.get((t.id, m, month), 0)
            if quantity or m in included:
                rows.append(UsageRow(t, m, quantity, included.get(m)))
    series = []
    for m in metrics:
        points = []
        for first in series_months:
            quantity = sum(usage.get((t.id, m, first), 0) for t in tenants)
            month_quota = quotas(session, contract_on(session, first)).get(m)
            if month_quota is not None and tenant is None:
                units = units_in_service(session, first, next_month(first))
                month_quota = month_quota * units if units is not None else None
            points.append({"month": first.strftime("%Y-%m"), "quantity": quantity, "quota": month_quota})
        if any(p["quantity"] or p["quota"] for p in points):
            series.append({"metric": m, "points": points})
    return {
        "month": month.strftime("%Y-%m"),
        "months": [f.strftime("%Y-%m") for f in series_months],
        "contract": contract.number if contract else None,
        "tenant": tenant.slug if tenant else None,
        "rows": rows,
        "series": series,
    }


def usage_json(report: dict) -> dict:
    return {**report, "rows": [row.as_dict() for row in report["rows"]]}


# --- facts and events ----------------------------------------------------------


def fact_dict(fact: DailyFact) -> dict:
    return {
        "id": fact.id,
        "tenant_id": fact.tenant_id,
        "day": fact.day.isoformat(),
        "metric": fact.metric,
        "dimension": fact.dimension,
        "event_count": fact.event_count,
        "quantity_sum": fact.quantity_sum,
        "quantity_max": fact.quantity_max,
        "distinct_subjects": fact.distinct_subjects,
        "events_digest": fact.events_digest,
        "content_hash": fact.content_hash,
        "computed_at": fact.computed_at.isoformat() if fact.computed_at else None,
    }


def content_matches(fact: DailyFact) -> bool | None:
    """The fact's stored ``content_hash`` is the hash of its own numbers (None: cannot tell)."""
    if ledger is None:
        return None
    return ledger.fact_row_hash(fact) == fact.content_hash


def facts_of(session: Session, tenant: Tenant, metric: str, first: date, end: date) -> list[DailyFact]:
    return list(
        session.scalars(
            select(DailyFact)
            .where(
                DailyFact.tenant_id == tenant.id,
                DailyFact.metric == metric,
                DailyFact.day >= first,
                DailyFact.day < end,
            )
            .order_by(DailyFact.day, DailyFact.dimension)
        )
    )


def _tenant(session: Session, tenant_id: int | None) -> Tenant | None:
    return session.get(Tenant, tenant_id) if tenant_id is not None else None


_EVENTS_WHERE = (
    " WHERE tenant_id = :tenant_id AND metric = :metric AND dimension = :dimension"
    " AND occurred_at >= :start AND occurred_at < :end"
)


def fact_events(session: Session, fact_id: int, page: int = 1) -> dict:
    """A daily fact, the raw events of its key (one page, by id) and the fact recomputed from them.

    A fact counts the events of its key recorded before its ``computed_at`` (the aggregation's
    cut-off, docs/metering.md); events recorded later are listed as waiting, not as a difference.
    Each event's ``row_hash`` is re-derived from its content; the fact's ``events_digest`` from the
    counted events and its ``content_hash`` from its numbers (billing/ledger.py's definitions).
    """
    fact = session.get(DailyFact, fact_id)
    if fact is None:
        raise NotFound(f"Không có dữ liệu ngày #{fact_id}", f"no daily fact {fact_id}")
    if page < 1:
        raise BadAuditQuery("Số trang phải từ 1", "page must be 1 or more")
    tenant = _tenant(session, fact.tenant_id)
    if tenant is None:
        raise NotFound(f"Không có đơn vị #{fact.tenant_id}", f"no unit {fact.tenant_id}")
    params = {
        "tenant_id": fact.tenant_id,
        "metric": fact.metric,
        "dimension": fact.dimension,
        "start": local_start(fact.day),
        "end": local_start(fact.day + timedelta(days=1)),
        "cutoff": fact.computed_at,
    }
    with shard_reader(tenant.shard) as conn:
        totals = conn.execute(
            text(
                "SELECT count(*) FILTER (WHERE recorded_at < :cutoff),"
                " coalesce(sum(quantity) FILTER (WHERE recorded_at < :cutoff), 0),"
                " coalesce(max(quantity) FILTER (WHERE recorded_at < :cutoff), 0),"
                " count(DISTINCT subject) FILTER (WHERE recorded_at < :cutoff),"
                " encode(sha256(convert_to(coalesce(string_agg(row_hash, '' ORDER BY id)"
                " FILTER (WHERE recorded_at < :cutoff), ''), 'UTF8')), 'hex'),"
                " count(*) FILTER (WHERE recorded_at >= :cutoff),"
                " count(*)"
                " FROM shard.usage_events" + _EVENTS_WHERE
            ),
            params,
        ).one()
        rows = conn.execute(
            text(
                "SELECT id, tenant_id, source, event_id, metric, dimension, quantity, subject,"
                " occurred_at, recorded_at, row_hash FROM shard.usage_events"
                + _EVENTS_WHERE
                + " ORDER BY id LIMIT :limit OFFSET :offset"
            ),
            {**params, "limit": EVENTS_PER_PAGE, "offset": (page - 1) * EVENTS_PER_PAGE},
        ).all()
    recount = {
        "event_count": int(totals[0]),
        "quantity_sum": int(totals[1]),
        "quantity_max": int(totals[2]),
        "distinct_subjects": int(totals[3]),
        "events_digest": totals[4],
    }
    differences = {
        name: {"fact": getattr(fact, name), "events": value}
        for name, value in recount.items()
        if getattr(fact, name) != value
    }
    if content_matches(fact) is False:
        differences["content_hash"] = {"fact": fact.content_hash, "events": None}
    events = []
    for r in rows:
        derived = usage_hash(
            r.tenant_id, r.source, r.event_id, r.metric, r.dimension, r.quantity, r.subject, r.occurred_at
        )
        events.append(
            {
                "id": r.id,
                "source": r.source,
                "event_id": r.event_id,
                "quantity": r.quantity,
                "subject": r.subject,
                "occurred_at": r.occurred_at.isoformat(),
                "occurred_local": r.occurred_at.astimezone(VN_TZ).strftime("%Y-%m-%d %H:%M:%S"),
                "recorded_at": r.recorded_at.isoformat(),
                "row_hash": r.row_hash,
                "row_hash_ok": derived == r.row_hash,
                "counted": r.recorded_at < fact.computed_at,
            }
        )
    total = int(totals[6])
    pages = max((total + EVENTS_PER_PAGE - 1) // EVENTS_PER_PAGE, 1)
    return {
        "fact": fact_dict(fact),
        "tenant": {"slug": tenant.slug, "name": tenant.name, "shard": tenant.shard},
        "recount": recount,
        "differences": differences,
        "waiting": int(totals[5]),
        "events": events,
        "altered_events": [e["id"] for e in events if not e["row_hash_ok"]],
        "page": page,
        "pages": pages,
        "per_page": EVENTS_PER_PAGE,
    }


# --- invoices ------------------------------------------------------------------


def invoice_dict(invoice: Invoice) -> dict:
    return {
        "id": invoice.id,
        "contract_id": invoice.contract_id,
        "kind": invoice.kind,
        "status": invoice.status,
        "number": invoice.number,
        "sequence_no": invoice.sequence_no,
        "period_start": invoice.period_start.isoformat(),
        "period_end": invoice.period_end.isoformat(),
        "currency": str(invoice.currency.code) if invoice.currency else "VND",
        "subtotal": invoice.subtotal,
        "discount": invoice.discount,
        "total": invoice.total,
        "credits_invoice_id": invoice.credits_invoice_id,
        "reason": invoice.reason,
        "finalized_at": invoice.finalized_at.isoformat() if invoice.finalized_at else None,
        "previous_hash": invoice.previous_hash,
        "content_hash": invoice.content_hash,
    }


def line_dict(line: InvoiceLine, slugs: dict[int, str]) -> dict:
    return {
        "id": line.id,
        "invoice_id": line.invoice_id,
        "position": line.position,
        "kind": line.kind,
        "tenant_id": line.tenant_id,
        "tenant": slugs.get(line.tenant_id) if line.tenant_id is not None else None,
        "metric": line.metric,
        "description_vi": line.description_vi,
        "description_en": line.description_en,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "amount": line.amount,
        "computation": line.computation,
        "reason": line.reason,
        "is_late_adjustment": line.is_late_adjustment,
    }


def slugs_by_id(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Tenant.id, Tenant.slug)).all())


def list_invoices(session: Session) -> list[dict]:
    contracts = dict(session.execute(select(Contract.id, Contract.number)).all())
    invoices = session.scalars(
        select(Invoice).order_by(Invoice.period_start.desc(), Invoice.sequence_no.desc().nulls_first())
    )
    return [{**invoice_dict(i), "contract": contracts.get(i.contract_id)} for i in invoices]


def invoice_detail(session: Session, invoice_id: int) -> dict:
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise NotFound(f"Không có hóa đơn #{invoice_id}", f"no invoice {invoice_id}")
    contract = session.get(Contract, invoice.contract_id)
    slugs = slugs_by_id(session)
    return {
        "invoice": invoice_dict(invoice),
        "contract": contract.number if contract else None,
        "lines": [line_dict(line, slugs) for line in invoice.lines],
    }


def line_facts(session: Session, line_id: int) -> dict:
    """A line and the daily facts behind it: the frozen snapshots (final invoices) next to the
    facts as they are now, each difference named; a draft's usage line shows the current facts."""
    line = session.get(InvoiceLine, line_id)
    if line is None:
        raise NotFound(f"Không có dòng hóa đơn #{line_id}", f"no invoice line {line_id}")
    invoice = session.get(Invoice, line.invoice_id)
    slugs = slugs_by_id(session)
    snapshots = list(
        session.scalars(
            select(InvoiceLineFact).where(InvoiceLineFact.line_id == line.id).order_by(InvoiceLineFact.day)
        )
    )
    current = {
        f.id: f
        for f in session.scalars(select(DailyFact).where(DailyFact.id.in_([s.fact_id for s in snapshots])))
    }
    facts = []
    for snap in snapshots:
        fact = current.get(snap.fact_id)
        changes = []
        if fact is None:
            changes.append("missing")
        else:
            if fact.quantity_sum != snap.quantity_sum:
                changes.append("quantity_sum")
            if fact.distinct_subjects != snap.distinct_subjects:
                changes.append("distinct_subjects")
            if fact.content_hash != snap.fact_hash:
                changes.append("hash")
            if content_matches(fact) is False:
                changes.append("content")
        facts.append(
            {
                "fact_id": snap.fact_id,
                "day": snap.day.isoformat(),
                "dimension": fact.dimension if fact else None,
                "frozen": {
                    "quantity_sum": snap.quantity_sum,
                    "distinct_subjects": snap.distinct_subjects,
                    "fact_hash": snap.fact_hash,
                },
                "current": (
                    {
                        "quantity_sum": fact.quantity_sum,
                        "distinct_subjects": fact.distinct_subjects,
                        "content_hash": fact.content_hash,
                    }
                    if fact
                    else None
                ),
                "changes": changes,
            }
        )
    live = []
    if not snapshots and line.tenant_id is not None and line.metric:
        tenant = _tenant(session, line.tenant_id)
        if tenant is not None:
            live = [
                fact_dict(f)
                for f in facts_of(session, tenant, line.metric, invoice.period_start, invoice.period_end)
            ]
    return {
        "invoice": invoice_dict(invoice),
        "line": line_dict(line, slugs),
        "facts": facts,
        "changed": sum(1 for f in facts if f["changes"]),
        "current_facts": live,
    }


# --- contracts ----------------------------------------------------------------------------


def contracts_overview(session: Session) -> list[dict]:
    """Every contract with its seats and price plan, newest term first (what the city signed)."""
    slugs = slugs_by_id(session)
    result = []
    for c in session.scalars(select(Contract).order_by(Contract.starts_on.desc())):
        plan = c.plan
        result.append(
            {
                "id": c.id,
                "number": c.number,
                "provider_party": c.provider_party,
                "city_party": c.city_party,
                "city_tenant": slugs.get(c.city_tenant_id) if c.city_tenant_id else None,
                "starts_on": c.starts_on.isoformat(),
                "ends_on": c.ends_on.isoformat(),
                "currency": str(c.currency.code) if c.currency else "VND",
                "billing_period": c.billing_period,
                "sla_target_bp": c.sla_target_bp,
                "grace_days": c.grace_days,
                "seats": {s.unit_kind: s.seats for s in c.seats},
                "plan": (
                    {
                        "name": plan.name,
                        "setup_fee": plan.setup_fee,
                        "discount_bp": plan.discount_bp,
                        "unit_fees": {f.unit_kind: f.monthly_fee for f in plan.unit_fees},
                        "metrics": [
                            {"metric": m.metric, "included": m.included, "tiers": m.tiers}
                            for m in plan.metrics
                        ],
                    }
                    if plan
                    else None
                ),
            }
        )
    return result


# --- aggregation lag, audit of the console ------------------------------------------


def aggregation_lag(session: Session) -> list[dict]:
    """Per shard: the latest aggregation run, the latest finished one and the events recorded
    since that finished run started (waiting for the next run)."""
    shards = get_platform().shards.names
    result = []
    for shard in shards:
        latest = session.scalar(
            select(AggregationRun)
            .where(AggregationRun.shard == shard)
            .order_by(AggregationRun.id.desc())
            .limit(1)
        )
        finished = session.scalar(
            select(AggregationRun)
            .where(AggregationRun.shard == shard, AggregationRun.finished_at.is_not(None))
            .order_by(AggregationRun.finished_at.desc())
            .limit(1)
        )
        with shard_reader(shard) as conn:
            if finished is not None:
                waiting = conn.execute(
                    text("SELECT count(*) FROM shard.usage_events WHERE recorded_at >= :since"),
                    {"since": finished.started_at},
                ).scalar_one()
            else:
                waiting = conn.execute(text("SELECT count(*) FROM shard.usage_events")).scalar_one()
            newest = conn.execute(text("SELECT max(recorded_at) FROM shard.usage_events")).scalar_one()

        def run(r: AggregationRun | None) -> dict | None:
            if r is None:
                return None
            return {
                "id": r.id,
                "tenant_id": r.tenant_id,
                "first_day": r.first_day.isoformat(),
                "last_day": r.last_day.isoformat(),
                "events": r.events,
                "facts": r.facts,
                "started_at": r.started_at.isoformat() if r.started_at else None,
                "finished_at": r.finished_at.isoformat() if r.finished_at else None,
            }

        lag_seconds = None
        if finished is not None and finished.finished_at is not None:
            lag_seconds = int((datetime.now(VN_TZ) - finished.finished_at).total_seconds())
        result.append(
            {
                "shard": shard,
                "latest_run": run(latest),
                "latest_finished_run": run(finished),
                "seconds_since_finished": lag_seconds,
                "events_waiting": int(waiting),
                "newest_event_recorded_at": newest.isoformat() if newest else None,
            }
        )
    return result


def last_verify(session: Session) -> dict | None:
    """The last ``flask billing verify`` result, when verify records one in the platform audit
    (entity ``billing_verify``); None when none was recorded."""
    row = session.scalar(
        select(PlatformAuditEvent)
        .where(PlatformAuditEvent.entity == "billing_verify")
        .order_by(PlatformAuditEvent.id.desc())
        .limit(1)
    )
    if row is None:
        return None
    return {"at": row.at.isoformat(), "action": row.action, "actor": row.actor_label, "data": row.data}


def audit_log(session: Session, page: int = 1) -> dict:
    if page < 1:
        raise BadAuditQuery("Số trang phải từ 1", "page must be 1 or more")
    where = PlatformAuditEvent.entity == AUDIT_ENTITY
    total = session.scalar(select(func.count()).select_from(PlatformAuditEvent).where(where))
    rows = session.execute(
        select(PlatformAuditEvent, Account.email)
        .outerjoin(Account, Account.id == PlatformAuditEvent.actor_account_id)
        .where(where)
        .order_by(PlatformAuditEvent.id.desc())
        .limit(AUDIT_ROWS_PER_PAGE)
        .offset((page - 1) * AUDIT_ROWS_PER_PAGE)
    ).all()
    return {
        "total": total,
        "page": page,
        "pages": max((total + AUDIT_ROWS_PER_PAGE - 1) // AUDIT_ROWS_PER_PAGE, 1),
        "rows": [
            {
                "id": event.id,
                "at": event.at.astimezone(VN_TZ).strftime("%Y-%m-%d %H:%M:%S"),
                "actor_account_id": event.actor_account_id,
                "actor": email or event.actor_label,
                "view": event.entity_id,
                "path": (event.data or {}).get("path"),
                "params": (event.data or {}).get("params") or {},
                "ip_address": str(event.ip_address) if event.ip_address else None,
            }
            for event, email in rows
        ],
    }


# --- recount ---------------------------------------------------------------------


def recount_period(first: date, end: date, tenant_ids: Iterable[int] | None = None) -> dict:
    """Run the independent recount (billing/recount.py) and split its rows into differences and
    agreements."""
    if end <= first:
        raise BadAuditQuery("Ngày kết thúc phải sau ngày bắt đầu", "the end day must be after the first day")
    if (end - first).days > MAX_RECOUNT_DAYS:
        raise BadAuditQuery(
            f"Mỗi lần đếm lại tối đa {MAX_RECOUNT_DAYS} ngày",
            f"a recount covers at most {MAX_RECOUNT_DAYS} days",
        )
    try:
        from billing.recount import recount
    except ImportError:
        raise DomainError(
            "Chức năng đếm lại độc lập chưa sẵn sàng.",
            "The independent recount is not available yet.",
            status=503,
        ) from None
    rows = recount(first, end, tenant_ids=list(tenant_ids) if tenant_ids is not None else None)
    as_dicts = [
        {
            "tenant_id": r.tenant_id,
            "tenant": r.slug,
            "metric": r.metric,
            "dimension": r.dimension,
            "facts": r.facts,
            "source": r.source,
            "difference": r.difference,
        }
        for r in rows
    ]
    as_dicts.sort(key=lambda r: (r["tenant"] or "", r["metric"], r["dimension"] or ""))
    return {
        "first_day": first.isoformat(),
        "end_day": end.isoformat(),
        "differences": [r for r in as_dicts if r["difference"]],
        "agreements": [r for r in as_dicts if r["difference"] == 0],
        "not_recountable": [r for r in as_dicts if r["difference"] is None],
    }
