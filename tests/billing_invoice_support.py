"""Helpers of the invoice tests: a city of its own per test, a contract with its plan, facts, events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.core.usage import record_usage
from billing import ledger
from billing.aggregate import aggregate_tenant
from billing.models import (
    Contract,
    DailyFact,
    PlanMetric,
    PlanUnitFee,
    PricePlan,
    ServicePeriod,
)
from tenants.models import Tenant
from tests.factories import next_unit_code

VN = ZoneInfo("Asia/Ho_Chi_Minh")
TIERS = [
    {"up_to": 50, "unit_price": 500},
    {"up_to": 200, "unit_price": 400},
    {"up_to": None, "unit_price": 300},
]
# Well after every period the tests bill (2025): finalizing is allowed.
LATER = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


# Worlds made by the current test, removed by ``remove_worlds`` when it ends: other test
# files share the database (contracts must not overlap, every tenant must have a schema).
CREATED: list[World] = []


@dataclass
class World:
    contract_id: int
    contract_number: str
    city_id: int
    district_id: int
    commune_id: int
    district_slug: str
    commune_slug: str


def _tenant(session: Session, kind: str, parent_id: int | None, name: str) -> Tenant:
    label = uuid.uuid4().hex[:8]
    tenant = Tenant(
        slug=f"b{label}",
        schema_name=f"t_b{label}",
        name=name,
        kind=kind,
        parent_id=parent_id,
        unit_code=next_unit_code(),
        shard="main",
        status="active",
    )
    session.add(tenant)
    session.flush()
    return tenant


def make_world(
    platform,
    *,
    period: str = "monthly",
    discount_bp: int = 1250,
    setup_fee: int = 5_000_000,
    commune_from: date = date(2025, 1, 10),
    starts_on: date = date(2025, 1, 1),
    ends_on: date = date(2026, 1, 1),
) -> World:
    """A city with a district (live since 2024) and a commune (live from ``commune_from``),
    a contract over ``starts_on``..``ends_on`` and its plan."""
    with platform.shards.platform_session() as session, session.begin():
        # The registry allows one city (the session's ``city`` fixture): each world hangs
        # under it from a root of its own, which the contract names as its city unit.
        city_id = session.scalar(select(Tenant.id).where(Tenant.kind == "city"))
        assert city_id is not None, "use the city fixture"
        city = _tenant(session, "department", city_id, "Thành phố Thử (gốc hợp đồng)")
        district = _tenant(session, "district", city.id, "Quận Lê Chân")
        commune = _tenant(session, "commune", district.id, "Phường An Biên")
        session.add(ServicePeriod(tenant_id=district.id, active_from=date(2024, 6, 1)))
        session.add(ServicePeriod(tenant_id=commune.id, active_from=commune_from))
        number = f"HĐ-{uuid.uuid4().hex[:6]}"
        contract = Contract(
            number=number,
            provider_party="Công ty Motcua",
            city_party="UBND Thành phố Thử",
            city_tenant_id=city.id,
            starts_on=starts_on,
            ends_on=ends_on,
            billing_period=period,
            grace_days=5,
        )
        contract.plan = PricePlan(
            name="Gói chuẩn",
            setup_fee=setup_fee,
            discount_bp=discount_bp,
            unit_fees=[
                PlanUnitFee(unit_kind="district", monthly_fee=3_000_000),
                PlanUnitFee(unit_kind="commune", monthly_fee=1_000_000),
            ],
            metrics=[
                PlanMetric(metric="dossiers_received", included=100, tiers=TIERS),
                PlanMetric(
                    metric="active_officials", included=2, tiers=[{"up_to": None, "unit_price": 10_000}]
                ),
            ],
        )
        session.add(contract)
        session.flush()
        world = World(contract.id, number, city.id, district.id, commune.id, district.slug, commune.slug)
    CREATED.append(world)
    return world


def remove_worlds(platform) -> None:
    """Delete what the test's worlds made: documents, contract, facts, events, units."""
    while CREATED:
        world = CREATED.pop()
        units = [world.city_id, world.district_id, world.commune_id]
        with platform.shards.platform_session() as session, session.begin():
            params = {"c": world.contract_id, "u": units}
            for sql in (
                "DELETE FROM platform.billing_invoices WHERE contract_id = :c "
                "AND credits_invoice_id IS NOT NULL",
                "DELETE FROM platform.billing_invoices WHERE contract_id = :c",
                "DELETE FROM platform.billing_invoice_sequences WHERE contract_id = :c",
                "DELETE FROM platform.billing_contracts WHERE id = :c",
                "DELETE FROM platform.billing_service_periods WHERE tenant_id = ANY(:u)",
                "DELETE FROM platform.billing_daily_facts WHERE tenant_id = ANY(:u)",
                "DELETE FROM shard.usage_events WHERE tenant_id = ANY(:u)",
                "DELETE FROM platform.tenants WHERE id = ANY(:u) AND parent_id IS NOT NULL AND id <> :root",
                "DELETE FROM platform.tenants WHERE id = ANY(:u)",
            ):
                session.execute(text(sql), {**params, "root": world.city_id})


def put_fact(
    session: Session, tenant_id: int, day: date, metric: str, quantity: int, *, dimension: str = ""
) -> DailyFact:
    """A daily fact as aggregation would write it (its digest over made-up event hashes)."""
    digest = ledger.events_digest([f"{tenant_id}-{day}-{metric}-{dimension}-{quantity}"])
    fact = DailyFact(
        tenant_id=tenant_id,
        day=day,
        metric=metric,
        dimension=dimension,
        event_count=quantity,
        quantity_sum=quantity,
        quantity_max=1,
        distinct_subjects=0,
        events_digest=digest,
        content_hash=ledger.fact_hash(tenant_id, day, metric, dimension, quantity, quantity, 1, 0, digest),
    )
    session.add(fact)
    session.flush()
    return fact


def set_fact(session: Session, fact_id: int, quantity: int) -> None:
    """Change a fact as a re-aggregation would (late events): quantities and hashes."""
    fact = session.get(DailyFact, fact_id)
    fact.event_count = fact.quantity_sum = quantity
    fact.events_digest = ledger.events_digest([f"{fact.id}-{quantity}"])
    fact.content_hash = ledger.fact_row_hash(fact)


def record_events(platform, tenant_id: int, events: list[dict]) -> None:
    """Usage events on the main shard, committed (each: day, metric, and optional fields)."""
    with Session(platform.shards.engine("main")) as shard, shard.begin():
        for n, e in enumerate(events):
            at = datetime.combine(e["day"], time(9, 0), tzinfo=VN) + timedelta(seconds=n)
            record_usage(
                shard,
                tenant_id=tenant_id,
                source=e.get("source", "test." + e["metric"]),
                event_id=e.get("event_id", uuid.uuid4().hex),
                metric=e["metric"],
                occurred_at=e.get("at", at),
                quantity=e.get("quantity", 1),
                dimension=e.get("dimension", ""),
                subject=e.get("subject"),
            )


def aggregate(platform, tenant_id: int, first: date, last: date) -> None:
    with (
        platform.shards.platform_session() as session,
        session.begin(),
        Session(platform.shards.engine("main")) as shard,
    ):
        aggregate_tenant(session, shard, tenant_id, first, last)
