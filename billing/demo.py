"""The Hai Phong demo's lease contract and price plan, so ``make run`` shows billing (issue #6).

app/demo may not import billing, so the demo seed calls the functions listed in
``app.extensions["motcua.demo_seeders"]`` after its own work; billing.web adds
``seed_billing_demo`` there. Idempotent: nothing is written when a contract exists;
service periods are backfilled for units made without the provisioning pipeline.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import actions, queries
from app.auth.demo import DEMO_PASSWORD, OPS_EMAIL
from app.auth.passwords import hash_password
from app.auth.roles import CITY_AUDITOR
from billing import contracts, service_periods
from billing.aggregate import aggregate_all
from billing.invoices import refresh_all
from billing.invoices.pricing import contract_unit_ids
from billing.models import Contract
from tenants.models import Tenant

DEMO_NUMBER = "HĐ-01/2026/HP-MOTCUA"
# The city's auditor (read-only audit console), beside the demo's provider ops account; same password.
AUDITOR_EMAIL = "kiemtoan@motcua.local"


def demo_contract_data(city_tenant_id: int | None, today: date) -> dict:
    """Three years from the first of this year: the demo's units fit with room to onboard more."""
    return {
        "number": DEMO_NUMBER,
        "provider_party": "Công ty Cổ phần Dịch vụ số Motcua",
        "city_party": "Ủy ban nhân dân thành phố Hải Phòng",
        "city_tenant_id": city_tenant_id,
        "starts_on": date(today.year, 1, 1),
        "ends_on": date(today.year + 3, 1, 1),
        "currency": "VND",
        "billing_period": "monthly",
        "sla_target_bp": 9950,
        "grace_days": 5,
        "seats": {"city": 1, "department": 30, "district": 20, "commune": 220},
        "plan": {
            "name": "Gói một cửa điện tử tiêu chuẩn 2026",
            "setup_fee": 5_000_000,
            "discount_bp": 1_000,
            "unit_fees": {"city": 0, "department": 4_000_000, "district": 3_000_000, "commune": 1_200_000},
            "metrics": [
                {
                    "metric": "dossiers_received",
                    "included": 500,
                    "tiers": [{"up_to": 1_000, "unit_price": 2_000}, {"up_to": None, "unit_price": 1_500}],
                },
                {
                    "metric": "attachment_bytes",
                    "included": 5 * 1024**3,
                    "tiers": [{"up_to": None, "unit_price": 0}],
                },
                {
                    "metric": "api_calls",
                    "included": 10_000,
                    "tiers": [{"up_to": 90_000, "unit_price": 5}, {"up_to": None, "unit_price": 2}],
                },
                {
                    "metric": "active_officials",
                    "included": 30,
                    "tiers": [{"up_to": None, "unit_price": 50_000}],
                },
            ],
        },
    }


def ensure_demo_auditor(session: Session) -> None:
    """The demo's city auditor: only ``city_auditor`` (not ops), so the demo shows the read-only console."""
    account = queries.find_account_by_email(session, AUDITOR_EMAIL)
    if account is None:
        account = actions.create_account(session, email=AUDITOR_EMAIL, full_name="Kiểm toán viên thành phố")
        account.password_hash = hash_password(DEMO_PASSWORD)
        session.flush()
    if CITY_AUDITOR not in (account.platform_roles or []):
        actions.set_platform_roles(session, account, [*(account.platform_roles or []), CITY_AUDITOR])


def seed_billing_demo(platform, report=None) -> bool:
    """The demo contract (once), the city auditor's account and every unit's service period;
    True when a contract was made."""
    with platform.shards.platform_session() as session, session.begin():
        service_periods.ensure_service_periods(session)
        if queries.find_account_by_email(session, OPS_EMAIL) is not None:  # the demo's accounts exist
            ensure_demo_auditor(session)
            accounts = getattr(report, "accounts", None)
            if isinstance(accounts, dict):  # the dev server's sign-in hints
                accounts["auditors"] = [AUDITOR_EMAIL]
        if session.scalar(select(Contract.id).limit(1)) is not None:
            return False
        city = session.scalar(select(Tenant).where(Tenant.kind == "city").order_by(Tenant.id).limit(1))
        contracts.create_contract(
            session,
            demo_contract_data(city.id if city else None, contracts.vn_today()),
            actor_label="demo seed",
        )
    # What the worker's periodic jobs would do within the hour, done now so the console and the
    # audit console show the demo's usage and this year's invoices from the first page.
    with platform.shards.platform_session() as session:
        contract = session.scalar(select(Contract).where(Contract.number == DEMO_NUMBER))
        unit_ids = contract_unit_ids(session, contract)
    aggregate_all(tenant_ids=unit_ids)
    refresh_all(contract_number=DEMO_NUMBER)
    return True
