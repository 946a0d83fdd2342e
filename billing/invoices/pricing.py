"""Computing a period's statement: units, fees, setup fees, usage per unit and month, tiers,
discount, late adjustments (see billing/invoices/__init__.py and docs/invoices.md)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.core.errors import Conflict, DomainError
from app.core.usage import METRICS
from billing import money
from billing.models import Contract, DailyFact, Invoice, InvoiceLine, PlanMetric, PricePlan, ServicePeriod
from tenants.engines import PRIMARY_SHARD
from tenants.models import Tenant

log = logging.getLogger("motcua.billing")

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
AUDIT_ENTITY = "billing_invoice"
# The snapshot of a fact that was counted once and has since disappeared (its events were
# removed): it keeps the fact's id and day with zero quantities, so the line stays traceable.
VANISHED_FACT_HASH = "0" * 64
CANONICAL_KEY = "billing.invoice_lines"  # session.info: invoice id -> lines as last written
LATE_REASON = "Sự kiện đến sau khi hóa đơn kỳ trước đã chốt / events recorded after that period was finalized"


class InvoiceRefused(Conflict):
    """A change to an invoice the rules do not allow (409)."""


class InvoiceInputError(DomainError):
    status = 422


class FinalInvoiceChanged(RuntimeError):
    """Raised by the ORM guard: a final invoice, its lines or snapshots were about to change."""


# -- small helpers --------------------------------------------------------------------------------


def dong(amount: int) -> str:
    """``2129032`` -> ``2.129.032 đ`` (Vietnamese digit grouping)."""
    sign = "−" if amount < 0 else ""
    return f"{sign}{abs(amount):,}".replace(",", ".") + " đ"


def number(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def local_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(LOCAL_TZ).date()


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def months(period_start: date, period_end: date) -> list[tuple[date, date]]:
    """The calendar months of ``[period_start, period_end)``, cut to the period."""
    out, start = [], period_start
    while start < period_end:
        end = min(next_month(start), period_end)
        out.append((start, end))
        start = end
    return out


def days_in_month(day: date) -> int:
    return (next_month(day) - month_start(day)).days


def month_label(day: date) -> str:
    return f"{day:%m/%Y}"


def contract_periods(contract: Contract) -> list[tuple[date, date]]:
    """The contract's billing periods ``(start, end_exclusive)`` (billing/contracts.py decides)."""
    from billing.contracts import periods

    return periods(contract)


def period_of(contract: Contract, day: date) -> tuple[date, date] | None:
    from billing.contracts import period_of as contract_period_of

    return contract_period_of(contract, day)


# -- what a line is -------------------------------------------------------------------------------


class FactSnap(NamedTuple):
    """A daily fact as a line counted it (a tuple: ~70,000 of them a month for 250 units)."""

    fact_id: int
    day: date
    quantity_sum: int
    distinct_subjects: int
    fact_hash: str


@dataclass
class LineSpec:
    kind: str
    description_vi: str
    description_en: str
    amount: int
    tenant_id: int | None = None
    metric: str | None = None
    quantity: int = 0
    unit_price: int = 0
    computation: str = ""
    reason: str | None = None
    is_late_adjustment: bool = False
    facts: list[FactSnap] = field(default_factory=list)

    def row(self) -> dict:
        return {
            "kind": self.kind,
            "tenant_id": self.tenant_id,
            "metric": self.metric,
            "description_vi": self.description_vi,
            "description_en": self.description_en,
            "quantity": self.quantity,
            "unit_price": self.unit_price,
            "amount": self.amount,
            "computation": self.computation,
            "reason": self.reason,
            "is_late_adjustment": self.is_late_adjustment,
        }


@dataclass
class Statement:
    lines: list[LineSpec]
    subtotal: int
    discount: int
    total: int


class _Fact(NamedTuple):
    id: int
    tenant_id: int
    day: date
    metric: str
    dimension: str
    quantity_sum: int
    distinct_subjects: int
    content_hash: str

    def snap(self) -> FactSnap:
        return FactSnap(self.id, self.day, self.quantity_sum, self.distinct_subjects, self.content_hash)


# -- reading the inputs ---------------------------------------------------------------------------


def contract_unit_ids(session: Session, contract: Contract) -> list[int]:
    """The city's units under the contract: its city tenant and everything below it."""
    if contract.city_tenant_id is None:
        return list(session.scalars(select(Tenant.id).order_by(Tenant.id)))
    rows = session.execute(
        text(
            "WITH RECURSIVE tree AS (SELECT id FROM platform.tenants WHERE id = :root "
            "UNION ALL SELECT t.id FROM platform.tenants t JOIN tree ON t.parent_id = tree.id) "
            "SELECT id FROM tree ORDER BY id"
        ),
        {"root": contract.city_tenant_id},
    )
    return [row[0] for row in rows]


def _facts(session: Session, unit_ids: Sequence[int], first: date, end: date) -> list[_Fact]:
    if not unit_ids:
        return []
    rows = session.execute(
        select(
            DailyFact.id,
            DailyFact.tenant_id,
            DailyFact.day,
            DailyFact.metric,
            DailyFact.dimension,
            DailyFact.quantity_sum,
            DailyFact.distinct_subjects,
            DailyFact.content_hash,
        )
        .where(DailyFact.tenant_id.in_(unit_ids), DailyFact.day >= first, DailyFact.day < end)
        .order_by(DailyFact.id)
    )
    return [_Fact._make(row) for row in rows]


def _period_quantity(tenant_id: int, metric: str, first: date, end: date) -> int:
    """A distinct metric's quantity over ``[first, end)``, from raw events (H2's definition)."""
    from billing.aggregate import period_quantity

    return period_quantity(tenant_id, metric, first, end)


_DISTINCT = text(
    """
    SELECT e.tenant_id, e.metric, count(DISTINCT e.subject) FROM shard.usage_events e
    WHERE e.tenant_id = ANY(:tenants) AND e.metric = ANY(:metrics)
      AND e.occurred_at >= :start AND e.occurred_at < :end
    GROUP BY e.tenant_id, e.metric
    """
)


def distinct_quantities(
    session: Session, unit_ids: Sequence[int], first: date, end: date
) -> dict[tuple[int, str], int]:
    """Every unit's distinct-count metrics over ``[first, end)`` at once, one query per shard.

    The same definition as ``billing.aggregate.period_quantity`` (distinct subjects of the raw
    events whose Asia/Ho_Chi_Minh day is in the range), batched: 250 units' month in one
    statement instead of 500. tests/test_billing_invoices.py checks both agree.
    """
    from app.core.db import get_platform

    metrics = [name for name, spec in METRICS.items() if spec[3] == "distinct"]
    by_shard: dict[str, list[int]] = defaultdict(list)
    for tenant_id, shard in session.execute(select(Tenant.id, Tenant.shard).where(Tenant.id.in_(unit_ids))):
        by_shard[shard].append(tenant_id)
    start = datetime.combine(first, time(0), tzinfo=LOCAL_TZ)
    stop = datetime.combine(end, time(0), tzinfo=LOCAL_TZ)
    out: dict[tuple[int, str], int] = {}
    for shard, ids in sorted(by_shard.items()):
        params = {"tenants": ids, "metrics": metrics, "start": start, "end": stop}
        if shard == PRIMARY_SHARD:  # the primary database is the main shard: same transaction
            rows = session.execute(_DISTINCT, params).all()
        else:
            with get_platform().shards.engine(shard).connect() as conn:
                rows = conn.execute(_DISTINCT, params).all()
        for tenant_id, metric, count in rows:
            out[(tenant_id, metric)] = int(count)
    return out


def _is_distinct(metric: str) -> bool:
    return METRICS.get(metric, ("", "", "", "sum"))[3] == "distinct"


def _quantity(
    facts: Sequence[_Fact],
    metric: str,
    tenant_id: int,
    first: date,
    end: date,
    distinct: dict[tuple[int, str], int] | None = None,
) -> int:
    """Sum metrics: the sum of the facts' quantities (the very facts the line snapshots);
    distinct metrics: distinct subjects over the raw events of the month."""
    if _is_distinct(metric):
        if distinct is not None:
            return distinct.get((tenant_id, metric), 0)
        return _period_quantity(tenant_id, metric, first, end)
    return sum(f.quantity_sum for f in facts)


def _tiers(plan_metric: PlanMetric | None) -> list[money.Tier]:
    if plan_metric is None or not plan_metric.tiers:
        return []
    return [money.Tier(t.get("up_to"), int(t["unit_price"])) for t in plan_metric.tiers]


def price(quantity: int, plan_metric: PlanMetric | None) -> tuple[int, list[money.TierCharge]]:
    """The overage amount of one unit's month of ``quantity`` (0 when the plan does not price it)."""
    tiers = _tiers(plan_metric)
    if not tiers:
        return 0, []
    charges = money.overage(max(quantity, 0), plan_metric.included, tiers)
    return sum(c.amount for c in charges), charges


def _tier_text(charges: Sequence[money.TierCharge]) -> str:
    parts = [f"{number(c.quantity)} × {dong(c.unit_price)} = {dong(c.amount)}" for c in charges]
    return " + ".join(parts)


# -- computing a statement ------------------------------------------------------------------------


def compute_statement(
    session: Session,
    contract: Contract,
    period_start: date,
    period_end: date,
    *,
    invoice_id: int | None = None,
    manual: Sequence[LineSpec] = (),
) -> Statement:
    """The priced lines of the contract's period, in a stable order, with their totals."""
    plan = contract.plan
    if plan is None:
        raise InvoiceRefused(
            f"Hợp đồng {contract.number} chưa có bảng giá", f"contract {contract.number} has no price plan"
        )
    unit_ids = contract_unit_ids(session, contract)
    tenants = {t.id: t for t in session.scalars(select(Tenant).where(Tenant.id.in_(unit_ids)))}
    services = {
        sp.tenant_id: sp
        for sp in session.scalars(select(ServicePeriod).where(ServicePeriod.tenant_id.in_(unit_ids)))
    }
    facts = _facts(session, unit_ids, period_start, period_end)
    fees = {f.unit_kind: f.monthly_fee for f in plan.unit_fees}
    plan_metrics = {m.metric: m for m in plan.metrics}
    month_list = months(period_start, period_end)

    distinct = {first: distinct_quantities(session, unit_ids, first, end) for first, end in month_list}
    grouped: dict[tuple[int, str, date], list[_Fact]] = defaultdict(list)
    for fact in facts:
        grouped[(fact.tenant_id, fact.metric, month_start(fact.day))].append(fact)

    per_unit: list[tuple[str, list[LineSpec]]] = []
    for tenant_id in sorted(set(services) | {k[0] for k in grouped}, key=lambda i: tenants[i].slug):
        tenant = tenants[tenant_id]
        lines: list[LineSpec] = []
        service = services.get(tenant_id)
        if service is not None:
            lines += _fee_lines(tenant, service, fees, plan, month_list, period_start, period_end, invoice_id)
        for metric in sorted({k[1] for k in grouped if k[0] == tenant_id}):
            for first, end in month_list:
                month_facts = grouped.get((tenant_id, metric, month_start(first)), [])
                if month_facts:
                    quantity = _quantity(month_facts, metric, tenant_id, first, end, distinct[first])
                    line = _usage_line(tenant, metric, first, month_facts, quantity, plan_metrics.get(metric))
                    if line is not None:
                        lines.append(line)
        per_unit.append((tenant.slug, lines))

    lines = [line for _, unit_lines in per_unit for line in unit_lines]
    lines += late_adjustments(session, contract, period_start, unit_ids, tenants, plan_metrics)
    subtotal = sum(line.amount for line in lines)
    discount_amount = money.discount(subtotal, plan.discount_bp) if subtotal > 0 else 0
    if discount_amount:
        pct = f"{plan.discount_bp / 100:g}"
        lines.append(
            LineSpec(
                kind="discount",
                description_vi=f"Chiết khấu {pct} %",
                description_en=f"Discount {pct} %",
                amount=-discount_amount,
                quantity=1,
                unit_price=-discount_amount,
                computation=(
                    f"{dong(subtotal)} × {number(plan.discount_bp)}/10.000 = {dong(discount_amount)} "
                    f"(làm tròn đến đồng / rounded to the đồng)"
                ),
            )
        )
    lines += list(manual)
    total = subtotal - discount_amount + sum(line.amount for line in manual)
    return Statement(lines=lines, subtotal=subtotal, discount=discount_amount, total=total)


def _fee_lines(
    tenant: Tenant,
    service: ServicePeriod,
    fees: dict[str, int],
    plan: PricePlan,
    month_list: list[tuple[date, date]],
    period_start: date,
    period_end: date,
    invoice_id: int | None,
) -> list[LineSpec]:
    lines = []
    fee = fees.get(tenant.kind)
    if fee is not None:
        parts, amount, days_total = [], 0, 0
        for first, end in month_list:
            days = money.active_days(first, end, service.active_from, service.active_until)
            if days == 0:
                continue
            month_days = days_in_month(first)
            part = money.prorate(fee, days, month_days)
            amount += part
            days_total += days
            parts.append(f"T{month_label(first)}: {dong(fee)} × {days}/{month_days} ngày = {dong(part)}")
        if days_total:
            computation = "; ".join(parts)
            if len(parts) > 1:
                computation += f"; cộng / total {dong(amount)}"
            lines.append(
                LineSpec(
                    kind="unit_fee",
                    tenant_id=tenant.id,
                    description_vi=f"Phí thuê bao hằng tháng — {tenant.name}",
                    description_en=f"Monthly fee — {tenant.name_en or tenant.name}",
                    quantity=days_total,
                    unit_price=fee,
                    amount=amount,
                    computation=computation,
                )
            )
    activated_here = period_start <= service.active_from < period_end
    if plan.setup_fee and activated_here and service.setup_invoice_id in (None, invoice_id):
        lines.append(
            LineSpec(
                kind="setup_fee",
                tenant_id=tenant.id,
                description_vi=f"Phí khởi tạo đơn vị — {tenant.name}",
                description_en=f"Setup fee — {tenant.name_en or tenant.name}",
                quantity=1,
                unit_price=plan.setup_fee,
                amount=plan.setup_fee,
                computation=(
                    f"1 × {dong(plan.setup_fee)} "
                    f"(kích hoạt ngày / activated on {service.active_from:%d/%m/%Y})"
                ),
            )
        )
    return lines


def _usage_line(
    tenant: Tenant,
    metric: str,
    first: date,
    facts: list[_Fact],
    quantity: int,
    plan_metric: PlanMetric | None,
) -> LineSpec | None:
    vi, en, unit, measure = METRICS.get(metric, (metric, metric, "", "sum"))
    amount, charges = price(quantity, plan_metric)
    by_dimension: dict[str, int] = defaultdict(int)
    for fact in facts:
        by_dimension[fact.dimension] += fact.quantity_sum
    how = (
        f"{number(quantity)} {unit} "
        "(đếm không trùng trên sự kiện gốc của tháng / distinct over the month's events)"
        if measure == "distinct"
        else f"{number(quantity)} {unit} = tổng {len(facts)} số liệu ngày / sum of {len(facts)} daily facts"
    )
    if measure != "distinct" and len(by_dimension) > 1:
        how += " (" + ", ".join(f"{d or '—'}: {number(q)}" for d, q in sorted(by_dimension.items())) + ")"
    if plan_metric is None or not plan_metric.tiers:
        computation = f"T{month_label(first)}: {how}; không tính phí / not priced"
    elif charges:
        over = quantity - plan_metric.included
        computation = (
            f"T{month_label(first)}: {how}; hạn mức / included {number(plan_metric.included)} → vượt / over "
            f"{number(over)}: {_tier_text(charges)}; cộng / total {dong(amount)}"
        )
    else:
        computation = (
            f"T{month_label(first)}: {how} ≤ hạn mức / included {number(plan_metric.included)} → 0 đ"
        )
    return LineSpec(
        kind="overage" if amount else "usage",
        tenant_id=tenant.id,
        metric=metric,
        description_vi=f"{vi} T{month_label(first)} — {tenant.name}",
        description_en=f"{en} {month_label(first)} — {tenant.name_en or tenant.name}",
        quantity=quantity,
        unit_price=0,
        amount=amount,
        computation=computation,
        facts=[f.snap() for f in facts],
    )


# -- late adjustments -----------------------------------------------------------------------------

_CHANGED_FACTS = text(
    """
    WITH billed AS (
        SELECT DISTINCT ON (s.fact_id) s.fact_id, s.fact_hash, s.day, l.tenant_id, l.metric
        FROM platform.billing_invoice_line_facts s
        JOIN platform.billing_invoice_lines l ON l.id = s.line_id
        JOIN platform.billing_invoices i ON i.id = l.invoice_id
        WHERE i.contract_id = :contract AND i.status = 'final' AND i.kind = 'invoice'
        ORDER BY s.fact_id, i.sequence_no DESC
    ), finals AS (
        SELECT period_start, period_end FROM platform.billing_invoices
        WHERE contract_id = :contract AND status = 'final' AND kind = 'invoice' AND period_start < :before
    )
    SELECT f.tenant_id, f.metric, f.day FROM platform.billing_daily_facts f
    LEFT JOIN billed b ON b.fact_id = f.id
    WHERE f.tenant_id = ANY(:units) AND f.day < :before
      AND EXISTS (SELECT 1 FROM finals WHERE f.day >= finals.period_start AND f.day < finals.period_end)
      AND (b.fact_id IS NULL OR b.fact_hash <> f.content_hash)
    UNION
    SELECT b.tenant_id, b.metric, b.day FROM billed b
    LEFT JOIN platform.billing_daily_facts f ON f.id = b.fact_id
    WHERE f.id IS NULL AND b.fact_hash <> :vanished AND b.day < :before
    """
)

_BILLED = text(
    """
    SELECT l.tenant_id, l.metric, l.quantity, l.id,
           (SELECT min(s.day) FROM platform.billing_invoice_line_facts s WHERE s.line_id = l.id) AS day
    FROM platform.billing_invoice_lines l
    JOIN platform.billing_invoices i ON i.id = l.invoice_id
    WHERE i.contract_id = :contract AND i.status = 'final' AND i.kind = 'invoice'
      AND l.metric IS NOT NULL AND l.tenant_id = :tenant AND l.metric = :metric
    """
)

_BILLED_SNAPS = text(
    """
    SELECT DISTINCT ON (s.fact_id) s.fact_id, s.day FROM platform.billing_invoice_line_facts s
    JOIN platform.billing_invoice_lines l ON l.id = s.line_id
    JOIN platform.billing_invoices i ON i.id = l.invoice_id
    WHERE i.contract_id = :contract AND i.status = 'final' AND i.kind = 'invoice'
      AND l.tenant_id = :tenant AND l.metric = :metric AND s.day >= :first AND s.day < :end
    ORDER BY s.fact_id, i.sequence_no DESC
    """
)


def late_adjustments(
    session: Session,
    contract: Contract,
    before: date,
    unit_ids: Sequence[int],
    tenants: dict[int, Tenant],
    plan_metrics: dict[str, PlanMetric],
) -> list[LineSpec]:
    """Lines for usage of finalized months that changed after they were frozen:
    (quantity from today's facts) − (quantity billed so far), priced as
    price(now) − price(billed) with the month's quota."""
    changed = session.execute(
        _CHANGED_FACTS,
        {"contract": contract.id, "units": list(unit_ids), "before": before, "vanished": VANISHED_FACT_HASH},
    ).all()
    keys = sorted({(month_start(day), tenant_id, metric) for tenant_id, metric, day in changed})
    lines = []
    for first, tenant_id, metric in keys:
        tenant = tenants.get(tenant_id) or session.get(Tenant, tenant_id)
        end = next_month(first)
        params = {"contract": contract.id, "tenant": tenant_id, "metric": metric}
        billed = sum(
            quantity
            for _, _, quantity, _, day in session.execute(_BILLED, params)
            if day is not None and month_start(day) == first
        )
        current = [f for f in _facts(session, [tenant_id], first, end) if f.metric == metric]
        now_quantity = _quantity(current, metric, tenant_id, first, end) if current else 0
        delta = now_quantity - billed
        plan_metric = plan_metrics.get(metric)
        now_amount, _ = price(now_quantity, plan_metric)
        billed_amount, _ = price(billed, plan_metric)
        amount = now_amount - billed_amount
        if delta == 0 and amount == 0:
            continue
        current_ids = {f.id for f in current}
        vanished = [
            FactSnap(fact_id, day, 0, 0, VANISHED_FACT_HASH)
            for fact_id, day in session.execute(_BILLED_SNAPS, {**params, "first": first, "end": end})
            if fact_id not in current_ids
        ]
        vi, en, unit, _ = METRICS.get(metric, (metric, metric, "", "sum"))
        lines.append(
            LineSpec(
                kind="adjustment",
                tenant_id=tenant_id,
                metric=metric,
                description_vi=f"Điều chỉnh số liệu đến muộn: {vi} T{month_label(first)} — {tenant.name}",
                description_en=(
                    f"Late usage adjustment: {en} {month_label(first)} — {tenant.name_en or tenant.name}"
                ),
                quantity=delta,
                unit_price=0,
                amount=amount,
                computation=(
                    f"T{month_label(first)}: hiện nay / now {number(now_quantity)} {unit} − đã tính / billed "
                    f"{number(billed)} = {number(delta)}; "
                    f"giá / price({number(now_quantity)}) {dong(now_amount)} "
                    f"− giá / price({number(billed)}) {dong(billed_amount)} = {dong(amount)}"
                ),
                reason=LATE_REASON,
                is_late_adjustment=True,
                facts=sorted([f.snap() for f in current] + vanished, key=lambda s: s.fact_id),
            )
        )
    return lines


def ordered_units(session: Session, invoice: Invoice) -> list[tuple[Tenant | None, list[InvoiceLine]]]:
    """The invoice's lines grouped per unit (slug order), contract-level lines last."""
    tenants = {
        t.id: t
        for t in session.scalars(
            select(Tenant).where(Tenant.id.in_({line.tenant_id for line in invoice.lines if line.tenant_id}))
        )
    }
    groups: dict[int | None, list[InvoiceLine]] = defaultdict(list)
    for line in invoice.lines:
        groups[line.tenant_id].append(line)
    keyed = sorted(
        (k for k in groups if k is not None), key=lambda k: tenants[k].slug if k in tenants else ""
    )
    out = [(tenants.get(k), groups[k]) for k in keyed]
    if None in groups:
        out.append((None, groups[None]))
    return out


def unit_subtotals(
    groups: Iterable[tuple[Tenant | None, list[InvoiceLine]]],
) -> list[tuple[Tenant | None, int]]:
    return [(tenant, sum(line.amount for line in lines)) for tenant, lines in groups]
