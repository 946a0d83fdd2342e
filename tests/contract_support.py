"""Lease contracts for tests (issue #6): valid input to change one field of, and cleaning up.

Terms never overlap and the contract in force today sets onboarding's seats, so a test
that makes contracts removes them afterwards (``delete_contracts``, or the
``clean_contracts`` fixture of tests/test_billing_contracts.py).
"""

from __future__ import annotations

import copy
import uuid
from datetime import date
from typing import Any

from sqlalchemy import delete, select, update

from billing import contracts
from billing.models import Contract, Invoice, InvoiceSequence


def contract_data(starts_on: date = date(2025, 1, 1), ends_on: date = date(2026, 1, 1), **overrides) -> dict:
    """A valid contract (a fresh number each call); ``overrides`` replace top-level keys."""
    data: dict[str, Any] = {
        "number": f"HĐ-T{uuid.uuid4().hex[:8]}",
        "provider_party": "Công ty Motcua",
        "city_party": "UBND thành phố Hải Phòng",
        "starts_on": starts_on,
        "ends_on": ends_on,
        "currency": "VND",
        "billing_period": "monthly",
        "sla_target_bp": 9950,
        "grace_days": 5,
        "seats": {"department": 30, "district": 15, "commune": 200},
        "plan": {
            "name": "Gói thử",
            "setup_fee": 5_000_000,
            "discount_bp": 1_000,
            "unit_fees": {"department": 4_000_000, "district": 3_000_000, "commune": 1_000_000},
            "metrics": [
                {
                    "metric": "dossiers_received",
                    "included": 500,
                    "tiers": [{"up_to": 1_000, "unit_price": 500}, {"up_to": None, "unit_price": 300}],
                }
            ],
        },
    }
    data.update(copy.deepcopy(overrides))
    return data


def make_contract(platform, data: dict | None = None, **overrides) -> int:
    with platform.shards.platform_session() as session, session.begin():
        return contracts.create_contract(session, data or contract_data(**overrides), actor_label="test").id


def delete_contracts(platform, ids: list[int] | None = None) -> None:
    """Remove contracts (all of them by default) with their invoices and sequences."""
    with platform.shards.platform_session() as session, session.begin():
        if ids is None:
            ids = list(session.scalars(select(Contract.id)))
        if not ids:
            return
        session.execute(update(Invoice).where(Invoice.contract_id.in_(ids)).values(credits_invoice_id=None))
        session.execute(delete(Invoice).where(Invoice.contract_id.in_(ids)))
        session.execute(delete(InvoiceSequence).where(InvoiceSequence.contract_id.in_(ids)))
        session.execute(delete(Contract).where(Contract.id.in_(ids)))
