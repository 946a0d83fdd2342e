"""Billing tables on the platform schema: contracts, price plans, service periods, daily
facts, invoices and their lines (issue #6). Amounts are integer đồng (``BigInteger``).

The chain of trust, each level sealed by a SHA-256 the level above includes:
usage event (``row_hash``, shard) -> daily fact (``events_digest``, ``content_hash``)
-> invoice line fact snapshot -> invoice (``content_hash`` over its lines and the
previous invoice's hash). billing/ledger.py computes and verifies every hash.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy_utils import Currency, CurrencyType

from tenants.base import PlatformBase

MONTHLY = "monthly"
QUARTERLY = "quarterly"
DRAFT = "draft"
FINAL = "final"
INVOICE = "invoice"
CREDIT_NOTE = "credit_note"


class Contract(PlatformBase):
    """The lease between the provider and the city: term, currency, billing period, seats, SLA."""

    __tablename__ = "billing_contracts"
    __table_args__ = (
        CheckConstraint("ends_on > starts_on", name="term_valid"),
        CheckConstraint("billing_period IN ('monthly','quarterly')", name="period_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[str] = mapped_column(String(60), unique=True)  # e.g. "HĐ-01/2026/HP-MOTCUA"
    provider_party: Mapped[str] = mapped_column(String(255))
    city_party: Mapped[str] = mapped_column(String(255))
    city_tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    starts_on: Mapped[date] = mapped_column(Date)  # first day (Asia/Ho_Chi_Minh)
    ends_on: Mapped[date] = mapped_column(Date)  # day after the last one (exclusive)
    currency: Mapped[Currency] = mapped_column(CurrencyType, default=lambda: Currency("VND"))
    billing_period: Mapped[str] = mapped_column(String(10), default=MONTHLY)
    sla_target_bp: Mapped[int] = mapped_column(Integer, default=9950)  # 99.50 % = 9,950 basis points
    grace_days: Mapped[int] = mapped_column(Integer, default=5)  # drafts refresh this long after a period
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by_label: Mapped[str | None] = mapped_column(String(255))

    seats: Mapped[list[ContractSeat]] = relationship(
        back_populates="contract", cascade="all, delete-orphan", order_by="ContractSeat.unit_kind"
    )
    plan: Mapped[PricePlan | None] = relationship(back_populates="contract", cascade="all, delete-orphan")


class ContractSeat(PlatformBase):
    """How many units of a kind the city may run under the contract (onboarding checks it)."""

    __tablename__ = "billing_contract_seats"
    __table_args__ = (
        UniqueConstraint("contract_id", "unit_kind"),
        CheckConstraint("seats >= 0", name="seats_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("billing_contracts.id", ondelete="CASCADE"))
    unit_kind: Mapped[str] = mapped_column(String(20))
    seats: Mapped[int] = mapped_column(Integer)

    contract: Mapped[Contract] = relationship(back_populates="seats")


class PricePlan(PlatformBase):
    """What the contract costs: fees per active unit, quotas and overage tiers, setup fee, discount."""

    __tablename__ = "billing_price_plans"
    __table_args__ = (
        CheckConstraint("setup_fee >= 0", name="setup_fee_not_negative"),
        CheckConstraint("discount_bp BETWEEN 0 AND 10000", name="discount_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contract_id: Mapped[int] = mapped_column(
        ForeignKey("billing_contracts.id", ondelete="CASCADE"), unique=True
    )
    name: Mapped[str] = mapped_column(String(200))
    setup_fee: Mapped[int] = mapped_column(BigInteger, default=0)  # per onboarded unit, đồng
    discount_bp: Mapped[int] = mapped_column(Integer, default=0)  # on the period's subtotal

    contract: Mapped[Contract] = relationship(back_populates="plan")
    unit_fees: Mapped[list[PlanUnitFee]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="PlanUnitFee.unit_kind"
    )
    metrics: Mapped[list[PlanMetric]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="PlanMetric.metric"
    )


class PlanUnitFee(PlatformBase):
    """The monthly fee of one active unit of a kind (prorated by active day)."""

    __tablename__ = "billing_plan_unit_fees"
    __table_args__ = (
        UniqueConstraint("plan_id", "unit_kind"),
        CheckConstraint("monthly_fee >= 0", name="fee_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("billing_price_plans.id", ondelete="CASCADE"))
    unit_kind: Mapped[str] = mapped_column(String(20))
    monthly_fee: Mapped[int] = mapped_column(BigInteger)

    plan: Mapped[PricePlan] = relationship(back_populates="unit_fees")


class PlanMetric(PlatformBase):
    """A metered quantity's quota per unit and month, and its overage tiers
    (``[{"up_to": 1000, "unit_price": 500}, ..., {"up_to": null, "unit_price": 300}]``)."""

    __tablename__ = "billing_plan_metrics"
    __table_args__ = (
        UniqueConstraint("plan_id", "metric"),
        CheckConstraint("included >= 0", name="included_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("billing_price_plans.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(40))
    included: Mapped[int] = mapped_column(BigInteger, default=0)
    tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)

    plan: Mapped[PricePlan] = relationship(back_populates="metrics")


class ServicePeriod(PlatformBase):
    """When a unit was live, for proration: activation day included, decommission day excluded."""

    __tablename__ = "billing_service_periods"
    __table_args__ = (CheckConstraint("active_until IS NULL OR active_until >= active_from", name="order"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), unique=True)
    active_from: Mapped[date] = mapped_column(Date)
    active_until: Mapped[date | None] = mapped_column(Date)
    setup_invoice_id: Mapped[int | None] = mapped_column(BigInteger)  # the invoice that billed its setup fee


class DailyFact(PlatformBase):
    """One unit's usage of one metric (and dimension) on one Asia/Ho_Chi_Minh day.

    Updated in place by aggregation (the row's id is stable, so invoice lines keep
    pointing at it); ``events_digest`` is over the contributing events' row hashes.
    """

    __tablename__ = "billing_daily_facts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "day", "metric", "dimension"),
        Index(None, "day"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(BigInteger)
    day: Mapped[date] = mapped_column(Date)
    metric: Mapped[str] = mapped_column(String(40))
    dimension: Mapped[str] = mapped_column(String(40), default="", server_default="")
    event_count: Mapped[int] = mapped_column(BigInteger)
    quantity_sum: Mapped[int] = mapped_column(BigInteger)
    quantity_max: Mapped[int] = mapped_column(BigInteger)
    distinct_subjects: Mapped[int] = mapped_column(BigInteger)
    events_digest: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class AggregationRun(PlatformBase):
    """One aggregation of a shard's events into facts (what the console shows as lag)."""

    __tablename__ = "billing_aggregation_runs"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    shard: Mapped[str] = mapped_column(String(40))
    tenant_id: Mapped[int | None] = mapped_column(BigInteger)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    events: Mapped[int] = mapped_column(BigInteger, default=0)
    facts: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InvoiceSequence(PlatformBase):
    """The next number of a contract's invoices and credit notes: taken under a row lock in the
    finalizing transaction, so a rollback gives the number back and the series has no gap."""

    __tablename__ = "billing_invoice_sequences"

    contract_id: Mapped[int] = mapped_column(ForeignKey("billing_contracts.id"), primary_key=True)
    next_number: Mapped[int] = mapped_column(BigInteger, default=1)


class Invoice(PlatformBase):
    """A period's statement (draft, then final) or a credit note against a final invoice."""

    __tablename__ = "billing_invoices"
    __table_args__ = (
        CheckConstraint("status IN ('draft','final')", name="status_valid"),
        CheckConstraint("kind IN ('invoice','credit_note')", name="kind_valid"),
        CheckConstraint(
            "status = 'draft' OR (number IS NOT NULL AND content_hash IS NOT NULL)", name="final"
        ),
        UniqueConstraint("contract_id", "sequence_no"),
        Index(
            "uq_billing_invoices_one_per_period",
            "contract_id",
            "period_start",
            unique=True,
            postgresql_where=text("kind = 'invoice'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("billing_contracts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default=INVOICE)
    status: Mapped[str] = mapped_column(String(10), default=DRAFT)
    sequence_no: Mapped[int | None] = mapped_column(BigInteger)  # gap-free, set on finalizing
    number: Mapped[str | None] = mapped_column(String(60), unique=True)  # printed, e.g. "HP-2026-000007"
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)  # exclusive
    currency: Mapped[Currency] = mapped_column(CurrencyType, default=lambda: Currency("VND"))
    subtotal: Mapped[int] = mapped_column(BigInteger, default=0)
    discount: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("billing_invoices.id"))
    reason: Mapped[str | None] = mapped_column(Text)  # a credit note's reason
    refreshed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finalized_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finalized_by_label: Mapped[str | None] = mapped_column(String(255))
    previous_hash: Mapped[str | None] = mapped_column(String(64))
    content_hash: Mapped[str | None] = mapped_column(String(64))

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="InvoiceLine.position"
    )


class InvoiceLine(PlatformBase):
    """One priced line: a unit's fee, setup fee, usage overage, the discount, an adjustment
    or a credit. ``computation`` spells out the arithmetic in đồng for a reader."""

    __tablename__ = "billing_invoice_lines"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('unit_fee','setup_fee','usage','overage','discount','adjustment','credit')",
            name="kind_valid",
        ),
        UniqueConstraint("invoice_id", "position"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("billing_invoices.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    tenant_id: Mapped[int | None] = mapped_column(BigInteger, index=True)  # None: a contract-level line
    metric: Mapped[str | None] = mapped_column(String(40))
    description_vi: Mapped[str] = mapped_column(Text)
    description_en: Mapped[str] = mapped_column(Text)
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    unit_price: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[int] = mapped_column(BigInteger)
    computation: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str | None] = mapped_column(Text)  # adjustments and credits must say why
    is_late_adjustment: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")

    invoice: Mapped[Invoice] = relationship(back_populates="lines")
    facts: Mapped[list[InvoiceLineFact]] = relationship(
        back_populates="line", cascade="all, delete-orphan", order_by="InvoiceLineFact.fact_id"
    )


class InvoiceLineFact(PlatformBase):
    """A daily fact as the line counted it, frozen when the invoice is finalized."""

    __tablename__ = "billing_invoice_line_facts"
    __table_args__ = (UniqueConstraint("line_id", "fact_id"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("billing_invoice_lines.id", ondelete="CASCADE"))
    fact_id: Mapped[int] = mapped_column(BigInteger, index=True)
    day: Mapped[date] = mapped_column(Date)
    quantity_sum: Mapped[int] = mapped_column(BigInteger)
    distinct_subjects: Mapped[int] = mapped_column(BigInteger)
    fact_hash: Mapped[str] = mapped_column(String(64))

    line: Mapped[InvoiceLine] = relationship(back_populates="facts")
