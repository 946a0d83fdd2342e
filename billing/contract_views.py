"""Lease contracts in the provider console: the list, one contract (seats used and left, plan,
periods, history) and the form that creates or changes a contract with its price plan.

Provider ops only (``current_ops``), server-rendered, Vietnamese first. Posts are
CSRF-checked; a refused form comes back with what was typed and each problem next to
its field. The rules live in billing/contracts.py and billing/plans.py.
"""

from __future__ import annotations

import contextlib
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit.platform_models import PlatformAuditEvent
from app.auth.access import check_csrf, csrf_token, current_ops, login_required
from app.calendar.workcal import VN_TZ
from app.core.db import platform_db
from app.core.errors import DomainError
from app.core.sites import CONSOLE
from app.core.usage import METRICS
from billing import contracts
from billing.models import Contract
from billing.plans import UNIT_KINDS
from tenants.models import Tenant, TenantStatus

blp = Blueprint("contracts", __name__, subdomain=CONSOLE, url_prefix="/billing/contracts")
ops_required = login_required(CONSOLE, "console.login_form", current_ops)

KIND_LABELS = {
    "city": ("Thành phố", "City"),
    "department": ("Sở, ban, ngành", "Department"),
    "district": ("Quận, huyện", "District"),
    "commune": ("Xã, phường, thị trấn", "Commune"),
}
# Checked-input keys whose form field has another name (the form shows percents and an inclusive last day).
_FIELD_OF = {"plan.discount_bp": "plan.discount", "sla_target_bp": "sla_target"}
_SEPARATORS = re.compile(r"[\s.,_]")
_INTEGER = re.compile(r"-?\d+")
# Thousands written 3.000.000, 3,000,000 or 3 000 000: groups of three after the first. Anything
# else with a separator is refused, never read by dropping it ("2,5" is 2.5 in Vietnamese, not 25).
_GROUPED = re.compile(r"-?\d{1,3}(?:([\s.,_])\d{3})(?:\1\d{3})*")


def dong(amount: int | None) -> str:
    """``3000000`` -> ``3.000.000 ₫`` (Vietnamese grouping)."""
    if amount is None:
        return "—"
    return f"{amount:,}".replace(",", ".") + " ₫"


def percent(basis_points: int) -> str:
    """``1000`` -> ``10 %``, ``9950`` -> ``99,5 %``, ``1234`` -> ``12,34 %``."""
    whole, hundredths = divmod(basis_points, 100)
    decimals = f",{hundredths:02d}".rstrip("0") if hundredths else ""
    return f"{whole}{decimals} %"


def tiers_text(tiers: list[dict[str, Any]]) -> str:
    return "; ".join(f"{'*' if t['up_to'] is None else t['up_to']}:{t['unit_price']}" for t in tiers)


def _seats_taken(session: Session, kind: str) -> int:
    """Units of ``kind`` holding a seat: provisioning's count when it is installed (it adds approved
    requests not registered yet), else the units that are not archived."""
    counter = current_app.extensions.get("motcua.seats_taken")
    if counter is not None:
        return counter(session, kind)
    return session.scalar(
        select(func.count()).where(Tenant.kind == kind, Tenant.status != TenantStatus.ARCHIVED)
    )


def seat_rows(session: Session, contract: Contract) -> list[dict[str, Any]]:
    limits = contracts.seat_limits(contract)
    rows = []
    for kind in UNIT_KINDS:
        taken = _seats_taken(session, kind)
        seats = limits.get(kind)
        if seats is None and (not taken or kind == "city"):  # the city is the lessee, not a seat
            continue
        rows.append(
            {
                "kind": kind,
                "seats": seats or 0,
                "listed": seats is not None,
                "taken": taken,
                "left": max((seats or 0) - taken, 0),
                "over": max(taken - (seats or 0), 0),
            }
        )
    return rows


# -- the form ----------------------------------------------------------------------------------------


def _integer(
    problems: dict, key: str, raw: str, what: tuple[str, str], *, grouped: bool = True
) -> int | None:
    value = raw.strip()
    if grouped and _GROUPED.fullmatch(value):
        value = _SEPARATORS.sub("", value)
    if not value:
        return None
    if not _INTEGER.fullmatch(value):
        problems[key] = (f"{what[0]}: cần một số nguyên", f"{what[1]}: a whole number is needed")
        return None
    return int(value)


def _percent_bp(problems: dict, key: str, raw: str, what: tuple[str, str]) -> int | None:
    value = raw.strip().replace(",", ".").removesuffix("%").strip()
    if not value:
        return None
    try:
        bp = Decimal(value) * 100
    except ArithmeticError:  # InvalidOperation, and Overflow for 1e999999
        bp = None
    if bp is None or not bp.is_finite() or bp != bp.to_integral_value():
        problems[key] = (
            f"{what[0]}: một số phần trăm, tối đa hai chữ số thập phân",
            f"{what[1]}: a percentage with at most two decimals",
        )
        return None
    return int(bp)


def _tiers(problems: dict, key: str, raw: str) -> list[dict[str, Any]]:
    tiers = []
    for n, part in enumerate([p for p in re.split(r"[;\n]", raw) if p.strip()], start=1):
        bound, sep, price = part.partition(":")
        bound = bound.strip()
        up_to = None if bound in ("*", "") else _integer(problems, key, bound, (f"Bậc {n}", f"tier {n}"))
        unit_price = (
            _integer(problems, key, price, (f"Bậc {n}: đơn giá", f"tier {n}: unit price")) if sep else None
        )
        if key in problems:
            return []
        if unit_price is None:
            problems[key] = (
                f"Bậc {n}: viết <mức trên>:<đơn giá>, ví dụ 1000:500; *:300",
                f"tier {n}: write <upper bound>:<unit price>, e.g. 1000:500; *:300",
            )
            return []
        tiers.append({"up_to": up_to, "unit_price": unit_price})
    return tiers


def parse_form(form) -> tuple[dict[str, Any], dict[str, tuple[str, str]]]:
    """The posted form as the input of ``contracts.create_contract``, and the problems of reading it."""
    problems: dict[str, tuple[str, str]] = {}
    get = lambda name: (form.get(name) or "").strip()  # noqa: E731
    last_day = get("ends_on")
    ends_on: Any = last_day
    with contextlib.suppress(ValueError, OverflowError):  # 9999-12-31 has no next day: checked as typed
        ends_on = date.fromisoformat(last_day) + timedelta(days=1)
    data: dict[str, Any] = {
        "number": get("number"),
        "provider_party": get("provider_party"),
        "city_party": get("city_party"),
        "starts_on": get("starts_on"),
        "ends_on": ends_on,
        "currency": get("currency") or "VND",
        "billing_period": get("billing_period"),
        "seats": {},
    }
    sla = _percent_bp(problems, "sla_target", get("sla_target"), ("Cam kết SLA", "SLA target"))
    data["sla_target_bp"] = 9950 if sla is None else sla
    grace = _integer(problems, "grace_days", get("grace_days"), ("Số ngày chờ", "Grace days"))
    data["grace_days"] = 5 if grace is None else grace
    city = get("city_tenant_id")
    # ASCII digits only ("²".isdigit() is true); anything else is refused by the check as it is.
    data["city_tenant_id"] = (int(city) if city.isascii() and city.isdigit() else city) or None
    plan: dict[str, Any] = {"name": get("plan.name"), "unit_fees": {}, "metrics": []}
    setup_fee = _integer(problems, "plan.setup_fee", get("plan.setup_fee"), ("Phí khởi tạo", "Setup fee"))
    plan["setup_fee"] = setup_fee or 0
    discount = _percent_bp(problems, "plan.discount", get("plan.discount"), ("Chiết khấu", "Discount"))
    plan["discount_bp"] = discount or 0
    for kind in UNIT_KINDS:
        seats = _integer(
            problems, f"seats.{kind}", get(f"seats.{kind}"), (f"Số suất {kind}", f"Seats of {kind}")
        )
        if seats is not None:
            data["seats"][kind] = seats
        fee = _integer(
            problems, f"plan.unit_fees.{kind}", get(f"plan.unit_fees.{kind}"), ("Phí tháng", "Monthly fee")
        )
        if fee is not None:
            plan["unit_fees"][kind] = fee
    for metric in METRICS:
        included_raw, tiers_raw = get(f"metric.{metric}.included"), get(f"metric.{metric}.tiers")
        if not included_raw and not tiers_raw:
            continue
        included = _integer(problems, f"metric.{metric}.included", included_raw, ("Hạn mức", "Quota"))
        tiers = _tiers(problems, f"metric.{metric}.tiers", tiers_raw)
        plan["metrics"].append({"metric": metric, "included": included or 0, "tiers": tiers})
    data["plan"] = plan
    return data, problems


def form_errors(exc: DomainError, data: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """The refusal's per-field problems, keyed by the form's field names."""
    metrics = [m["metric"] for m in data.get("plan", {}).get("metrics", [])]
    errors = {}
    for key, text in (exc.errors or {}).items():
        match = re.fullmatch(r"plan\.metrics\.(\d+)(?:\.(\w+))?", key)
        if match and int(match.group(1)) < len(metrics):
            key = f"metric.{metrics[int(match.group(1))]}.{match.group(2) or 'tiers'}"
        errors[_FIELD_OF.get(key, key)] = tuple(text)
    return errors


def form_values(contract: Contract) -> dict[str, str]:
    """A stored contract as the form's strings."""
    values = {
        "number": contract.number,
        "provider_party": contract.provider_party,
        "city_party": contract.city_party,
        "city_tenant_id": str(contract.city_tenant_id or ""),
        "starts_on": contract.starts_on.isoformat(),
        "ends_on": (contract.ends_on - timedelta(days=1)).isoformat(),
        "currency": "VND",
        "billing_period": contract.billing_period,
        "sla_target": percent(contract.sla_target_bp).removesuffix(" %"),
        "grace_days": str(contract.grace_days),
    }
    for seat in contract.seats:
        values[f"seats.{seat.unit_kind}"] = str(seat.seats)
    plan = contract.plan
    if plan is not None:
        values["plan.name"] = plan.name
        values["plan.setup_fee"] = str(plan.setup_fee)
        values["plan.discount"] = percent(plan.discount_bp).removesuffix(" %")
        for fee in plan.unit_fees:
            values[f"plan.unit_fees.{fee.unit_kind}"] = str(fee.monthly_fee)
        for metric in plan.metrics:
            values[f"metric.{metric.metric}.included"] = str(metric.included)
            values[f"metric.{metric.metric}.tiers"] = tiers_text(metric.tiers or [])
    return values


def _form(ops, *, contract: Contract | None, values: dict, errors: dict, message=None, status: int = 200):
    session = platform_db()
    city = session.scalar(select(Tenant).where(Tenant.kind == "city").order_by(Tenant.id).limit(1))
    until = contracts.finalized_until(session, contract.id) if contract is not None else None
    html = render_template(
        "billing/contracts_form.html",
        ops=ops,
        contract=contract,
        values=values,
        errors=errors,
        message=message,
        city=city,
        finalized_until=until,
        kinds=KIND_LABELS,
        unit_kinds=UNIT_KINDS,
        metrics=METRICS,
        periods=contracts.BILLING_PERIODS,
        csrf_token=csrf_token(),
    )
    return html, status


def _save(ops, contract: Contract | None):
    check_csrf()
    session = platform_db()
    data, problems = parse_form(request.form)
    values = request.form.to_dict()
    if problems:
        first = next(iter(problems.values()))
        message = DomainError(*first)
        return _form(ops, contract=contract, values=values, errors=problems, message=message, status=422)
    try:
        if contract is None:
            saved = contracts.create_contract(session, data, actor_account_id=ops.id, actor_label=ops.email)
        else:
            saved = contracts.update_contract(
                session, contract.id, data, actor_account_id=ops.id, actor_label=ops.email
            )
        saved_id = saved.id
    except DomainError as exc:
        session.rollback()
        if exc.status == 404:
            raise
        if contract is not None:
            contract = contracts.get_contract(session, contract.id)
        errors = form_errors(exc, data)
        return _form(ops, contract=contract, values=values, errors=errors, message=exc, status=exc.status)
    session.commit()
    return redirect(url_for("contracts.contract_detail", contract_id=saved_id), code=303)


# -- routes ------------------------------------------------------------------------------------------


@blp.get("/")
@ops_required
def contract_list(ops):
    session = platform_db()
    today = contracts.vn_today()
    in_force = contracts.contract_in_force(session, today)
    return render_template(
        "billing/contracts_list.html",
        ops=ops,
        contracts=contracts.list_contracts(session),
        in_force_id=in_force.id if in_force else None,
        periods=contracts.BILLING_PERIODS,
        timedelta=timedelta,
        csrf_token=csrf_token(),
    )


@blp.get("/new")
@ops_required
def contract_new(ops):
    today = contracts.vn_today()
    values = {
        "currency": "VND",
        "billing_period": "monthly",
        "sla_target": "99,5",
        "grace_days": "5",
        "starts_on": today.replace(day=1).isoformat(),
    }
    return _form(ops, contract=None, values=values, errors={})


@blp.post("/new")
@ops_required
def contract_create(ops):
    return _save(ops, None)


@blp.get("/<int:contract_id>")
@ops_required
def contract_detail(ops, contract_id: int):
    session = platform_db()
    contract = contracts.get_contract(session, contract_id)
    history = session.scalars(
        select(PlatformAuditEvent)
        .where(
            PlatformAuditEvent.entity == contracts.AUDIT_ENTITY,
            PlatformAuditEvent.entity_id == str(contract.id),
        )
        .order_by(PlatformAuditEvent.id.desc())
        .limit(50)
    ).all()
    today = contracts.vn_today()
    return render_template(
        "billing/contracts_detail.html",
        ops=ops,
        contract=contract,
        in_force=contract.starts_on <= today < contract.ends_on,
        seats=seat_rows(session, contract),
        billing_periods=contracts.periods(contract),
        finalized_until=contracts.finalized_until(session, contract.id),
        history=history,
        kinds=KIND_LABELS,
        metrics=METRICS,
        periods=contracts.BILLING_PERIODS,
        dong=dong,
        percent=percent,
        timedelta=timedelta,
        tz=VN_TZ,
        csrf_token=csrf_token(),
    )


@blp.get("/<int:contract_id>/edit")
@ops_required
def contract_edit(ops, contract_id: int):
    contract = contracts.get_contract(platform_db(), contract_id)
    return _form(ops, contract=contract, values=form_values(contract), errors={})


@blp.post("/<int:contract_id>/edit")
@ops_required
def contract_update(ops, contract_id: int):
    contract = contracts.get_contract(platform_db(), contract_id)
    return _save(ops, contract)


BLUEPRINTS: tuple = (blp,)
