"""Lease contracts between the provider and the city: term, seats, billing periods, plan (issue #6).

One city contract is in force at a time: a contract whose term overlaps another's is
refused (409, naming the other). Terms are Asia/Ho_Chi_Minh days, ``ends_on`` exclusive.
Billing periods are calendar months or quarters of that calendar, the first and last
clipped to the term. The seats of the contract in force today are what onboarding
checks (provisioning/seats.py); a kind the contract does not list has no seats.

Once a period of the contract is invoiced for good (a final invoice or credit note),
nothing that priced it may change: the plan's prices, the start, the billing period, the
number (it prefixes invoice numbers), nor an end before the last finalized period. A new
price is a new contract from the next period. Every change is a platform audit event
(entity ``billing_contract``) holding the contract before and after.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session, selectinload
from sqlalchemy_utils import Currency

from app.audit.platform import record
from app.calendar.workcal import VN_TZ
from app.core.errors import Conflict, DomainError, NotFound
from billing.models import (
    DRAFT,
    FINAL,
    INVOICE,
    MONTHLY,
    QUARTERLY,
    Contract,
    ContractSeat,
    Invoice,
    InvoiceLine,
    PricePlan,
)
from billing.plans import Problems, check_kind, check_plan, is_int, plan_snapshot, prices_of, write_plan
from tenants.models import Tenant

AUDIT_ENTITY = "billing_contract"
BILLING_PERIODS = {
    MONTHLY: ("Hằng tháng", "Monthly"),
    QUARTERLY: ("Hằng quý", "Quarterly"),
}
# Contract writes take this transaction-level advisory lock: terms are compared one writer at a time.
CONTRACT_LOCK = 0x4D0B
MAX_GRACE_DAYS = 60
MAX_SEATS = 100_000  # far above any city's units; ContractSeat.seats is an INTEGER
# Terms lie within these days (the end exclusive): a year 1 or 9999 term is a typing mistake, and
# its periods or its inclusive last day would run off the calendar (a 500 rather than a refusal).
EARLIEST_DAY = date(2000, 1, 1)
LATEST_END = date(2101, 1, 1)


class ContractError(DomainError):
    """The contract as given cannot be stored; ``errors`` says which field and why."""

    status = 422


class ContractOverlap(Conflict):
    """Another contract's term covers some of the same days."""


class PeriodFinalized(Conflict):
    """The change would alter a period already invoiced for good."""


class DraftHasAdjustments(Conflict):
    """The change would remove a draft holding manual adjustment lines."""


def vn_date(at: datetime) -> date:
    """The Asia/Ho_Chi_Minh calendar day of an aware datetime."""
    return at.astimezone(VN_TZ).date()


def vn_today() -> date:
    return datetime.now(VN_TZ).date()


# -- reading ---------------------------------------------------------------------------------------


def _with_everything():
    return (
        selectinload(Contract.seats),
        selectinload(Contract.plan).selectinload(PricePlan.unit_fees),
        selectinload(Contract.plan).selectinload(PricePlan.metrics),
    )


def list_contracts(session: Session) -> list[Contract]:
    return list(
        session.scalars(select(Contract).options(*_with_everything()).order_by(Contract.starts_on.desc()))
    )


def get_contract(session: Session, contract_id: int) -> Contract:
    contract = session.scalar(select(Contract).where(Contract.id == contract_id).options(*_with_everything()))
    if contract is None:
        raise NotFound(f"Không có hợp đồng #{contract_id}", f"no contract #{contract_id}")
    return contract


def contract_in_force(session: Session, day: date) -> Contract | None:
    """The contract whose term holds ``day`` (at most one: terms never overlap)."""
    return session.scalar(
        select(Contract)
        .where(Contract.starts_on <= day, Contract.ends_on > day)
        .options(*_with_everything())
        .order_by(Contract.starts_on.desc())
        .limit(1)
    )


def seat_limits(contract: Contract) -> dict[str, int]:
    return {seat.unit_kind: seat.seats for seat in contract.seats}


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def periods(contract: Contract) -> list[tuple[date, date]]:
    """The billing periods ``[(start, end_exclusive), ...]``: calendar months or quarters
    (Jan, Apr, Jul, Oct) in Asia/Ho_Chi_Minh, the first and last clipped to the term."""
    return term_periods(contract.starts_on, contract.ends_on, contract.billing_period)


def term_periods(starts_on: date, ends_on: date, billing_period: str) -> list[tuple[date, date]]:
    """``periods`` of a term not stored yet."""
    step = 3 if billing_period == QUARTERLY else 1
    first_month = starts_on.month - (starts_on.month - 1) % step
    boundary = date(starts_on.year, first_month, 1)
    result = []
    while boundary < ends_on:
        following = _add_months(boundary, step)
        result.append((max(boundary, starts_on), min(following, ends_on)))
        boundary = following
    return result


def period_of(contract: Contract, day: date) -> tuple[date, date] | None:
    """The billing period of ``contract`` that holds ``day``, if the term does."""
    for start, end in periods(contract):
        if start <= day < end:
            return start, end
    return None


def finalized_until(session: Session, contract_id: int) -> date | None:
    """The end (exclusive) of the last period invoiced for good, None when nothing is final yet."""
    return session.scalar(
        select(func.max(Invoice.period_end)).where(
            Invoice.contract_id == contract_id, Invoice.status == FINAL
        )
    )


def snapshot(contract: Contract) -> dict[str, Any]:
    """The contract as plain JSON-able data (the audit trail and the API show this)."""
    return {
        "id": contract.id,
        "number": contract.number,
        "provider_party": contract.provider_party,
        "city_party": contract.city_party,
        "city_tenant_id": contract.city_tenant_id,
        "starts_on": contract.starts_on.isoformat(),
        "ends_on": contract.ends_on.isoformat(),
        "currency": str(contract.currency.code if contract.currency else "VND"),
        "billing_period": contract.billing_period,
        "sla_target_bp": contract.sla_target_bp,
        "grace_days": contract.grace_days,
        "seats": {s.unit_kind: s.seats for s in sorted(contract.seats, key=lambda s: s.unit_kind)},
        "plan": plan_snapshot(contract.plan),
    }


# -- checking --------------------------------------------------------------------------------------


def _text(problems: Problems, data: dict, key: str, what: tuple[str, str], limit: int) -> str:
    value = str(data.get(key) or "").strip()
    if not value:
        problems[key] = (f"Cần nhập {what[0].lower()}", f"{what[1]} is required")
    elif len(value) > limit or not value.isprintable():
        problems[key] = (
            f"{what[0]} là một dòng, tối đa {limit} ký tự",
            f"{what[1]} is one line of at most {limit} characters",
        )
    return value


def _day(problems: Problems, data: dict, key: str, what: tuple[str, str]) -> date | None:
    value = data.get(key)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, date):
        problems[key] = (
            f"{what[0]}: cần một ngày (YYYY-MM-DD)",
            f"{what[1]}: a date (YYYY-MM-DD) is required",
        )
        return None
    if not EARLIEST_DAY <= value <= LATEST_END:
        problems[key] = (
            f"{what[0]} phải trong khoảng {EARLIEST_DAY:%d/%m/%Y} – {LATEST_END:%d/%m/%Y} "
            f"(nhận {value:%d/%m/%Y})",
            f"{what[1]} must lie between {EARLIEST_DAY} and {LATEST_END} (got {value})",
        )
        return None
    return value


def check_contract(session: Session, data: dict[str, Any]) -> dict[str, Any]:
    """The contract in canonical form, or ``ContractError`` listing every problem by field."""
    problems: Problems = {}
    clean: dict[str, Any] = {
        "number": _text(problems, data, "number", ("Số hợp đồng", "The contract number"), 60),
        "provider_party": _text(
            problems, data, "provider_party", ("Bên cung cấp", "The provider party"), 255
        ),
        "city_party": _text(problems, data, "city_party", ("Bên thuê (thành phố)", "The city party"), 255),
        "starts_on": _day(problems, data, "starts_on", ("Ngày bắt đầu", "The start")),
        "ends_on": _day(problems, data, "ends_on", ("Ngày kết thúc", "The end")),
    }
    if clean["starts_on"] and clean["ends_on"] and clean["ends_on"] <= clean["starts_on"]:
        last = clean["ends_on"] - timedelta(days=1)
        problems["ends_on"] = (
            f"Ngày kết thúc ({last:%d/%m/%Y}) phải sau ngày bắt đầu ({clean['starts_on']:%d/%m/%Y})",
            f"the contract must end after it starts (last day {last}, first day {clean['starts_on']})",
        )
    currency = str(data.get("currency") or "VND").strip().upper()
    if currency != "VND":
        problems["currency"] = (
            f"Hợp đồng chỉ lập bằng đồng Việt Nam (VND), không nhận {currency!r}: hóa đơn tính bằng đồng",
            f"contracts are in Vietnamese đồng (VND) only, not {currency!r}: invoices are billed in đồng",
        )
    clean["currency"] = "VND"
    period = data.get("billing_period") or MONTHLY
    if period not in BILLING_PERIODS:
        problems["billing_period"] = (
            f"Kỳ thanh toán phải là hằng tháng (monthly) hoặc hằng quý (quarterly), không phải {period!r}",
            f"the billing period is monthly or quarterly, not {period!r}",
        )
    clean["billing_period"] = period
    sla = data.get("sla_target_bp", 9950)
    if not is_int(sla) or not 0 <= sla <= 10_000:
        problems["sla_target_bp"] = (
            "Cam kết SLA phải từ 0 đến 100 %",
            "the SLA target must be between 0 and 100 %",
        )
    clean["sla_target_bp"] = sla
    grace = data.get("grace_days", 5)
    if not is_int(grace) or not 0 <= grace <= MAX_GRACE_DAYS:
        problems["grace_days"] = (
            f"Số ngày chờ chốt hóa đơn phải từ 0 đến {MAX_GRACE_DAYS}",
            f"the grace days must be between 0 and {MAX_GRACE_DAYS}",
        )
    clean["grace_days"] = grace
    city_tenant_id = data.get("city_tenant_id")
    if city_tenant_id is not None:
        fits = is_int(city_tenant_id) and 0 < city_tenant_id < 2**63  # a BIGINT id, not a database error
        tenant = session.get(Tenant, city_tenant_id) if fits else None
        if tenant is None or tenant.kind != "city":
            problems["city_tenant_id"] = (
                "Bên thuê phải là đơn vị cấp thành phố",
                "the city party must be the city's tenant",
            )
    clean["city_tenant_id"] = city_tenant_id
    seats: dict[str, int] = {}
    raw_seats = data.get("seats") or {}
    if not isinstance(raw_seats, dict):
        problems["seats"] = ("Số suất phải theo loại đơn vị", "seats must map unit kind to a number")
        raw_seats = {}
    for kind, number in raw_seats.items():
        key = f"seats.{kind}"
        if not check_kind(problems, key, kind):
            continue
        if not is_int(number):
            problems[key] = (f"Số suất {kind}: phải là số nguyên", f"seats of {kind}: a whole number")
        elif number < 0:
            problems[key] = (
                f"Số suất {kind} không được âm ({number})",
                f"the seats of {kind} cannot be negative ({number})",
            )
        elif number > MAX_SEATS:
            problems[key] = (
                f"Số suất {kind} tối đa {MAX_SEATS:,}".replace(",", "."),
                f"the seats of {kind} are at most {MAX_SEATS:,}",
            )
        else:
            seats[kind] = number
    clean["seats"] = dict(sorted(seats.items()))
    clean["plan"] = check_plan(data.get("plan"), problems)
    if problems:
        first_vi, first_en = next(iter(problems.values()))
        raise ContractError(first_vi, first_en, errors={k: list(v) for k, v in problems.items()})
    return clean


def _lock(session: Session) -> None:
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CONTRACT_LOCK})


def _check_overlap(session: Session, clean: dict[str, Any], contract_id: int | None) -> None:
    query = select(Contract).where(
        Contract.starts_on < clean["ends_on"], Contract.ends_on > clean["starts_on"]
    )
    if contract_id is not None:
        query = query.where(Contract.id != contract_id)
    other = session.scalar(query.order_by(Contract.starts_on).limit(1))
    if other is not None:
        last = other.ends_on - timedelta(days=1)
        raise ContractOverlap(
            f"Thời hạn trùng với hợp đồng {other.number} ({other.starts_on:%d/%m/%Y} – {last:%d/%m/%Y}); "
            "mỗi lúc chỉ có một hợp đồng thuê của thành phố",
            f"the term overlaps contract {other.number} ({other.starts_on} to {last}, inclusive); "
            "only one city contract may be in force at a time",
            errors={"starts_on": [f"Trùng với hợp đồng {other.number}", f"overlaps contract {other.number}"]},
        )
    number_taken = session.scalar(
        select(Contract.id).where(Contract.number == clean["number"], Contract.id != (contract_id or 0))
    )
    if number_taken is not None:
        raise ContractOverlap(
            f"Đã có hợp đồng số {clean['number']}",
            f"a contract numbered {clean['number']} exists already",
            errors={"number": ["Số hợp đồng đã dùng", "the number is taken"]},
        )


def _write(contract: Contract, clean: dict[str, Any]) -> None:
    for key in (
        "number",
        "provider_party",
        "city_party",
        "city_tenant_id",
        "starts_on",
        "ends_on",
        "billing_period",
        "sla_target_bp",
        "grace_days",
    ):
        setattr(contract, key, clean[key])
    contract.currency = Currency(clean["currency"])
    seats = {s.unit_kind: s for s in contract.seats}
    for kind, number in clean["seats"].items():
        if kind in seats:
            seats.pop(kind).seats = number
        else:
            contract.seats.append(ContractSeat(unit_kind=kind, seats=number))
    for gone in seats.values():
        contract.seats.remove(gone)
    if contract.plan is None:
        contract.plan = PricePlan(name=clean["plan"]["name"])
    write_plan(contract.plan, clean["plan"])


# -- writing ---------------------------------------------------------------------------------------


def create_contract(
    session: Session,
    data: dict[str, Any],
    *,
    actor_account_id: int | None = None,
    actor_label: str | None = None,
) -> Contract:
    """A new contract with its seats and price plan, in the caller's transaction (audited)."""
    clean = check_contract(session, data)
    _lock(session)
    _check_overlap(session, clean, None)
    contract = Contract(seats=[], created_by_label=actor_label)
    _write(contract, clean)
    session.add(contract)
    session.flush()
    record(
        session,
        entity=AUDIT_ENTITY,
        entity_id=contract.id,
        action="created",
        actor_account_id=actor_account_id,
        actor_label=actor_label,
        data={"after": snapshot(contract)},
    )
    return contract


def _refuse_retroactive(before: dict[str, Any], clean: dict[str, Any], until: date) -> None:
    last = until - timedelta(days=1)
    shown_vi = f"đã có hóa đơn chốt đến hết ngày {last:%d/%m/%Y}"
    shown_en = f"invoices are final up to {last} inclusive"
    changed = []
    if prices_of(before["plan"]) != prices_of(clean["plan"]):
        changed.append(("bảng giá", "the price plan", "plan"))
    if before["starts_on"] != clean["starts_on"].isoformat():
        changed.append(("ngày bắt đầu", "the start", "starts_on"))
    if before["billing_period"] != clean["billing_period"]:
        changed.append(("kỳ thanh toán", "the billing period", "billing_period"))
    if before["number"] != clean["number"]:
        changed.append(
            ("số hợp đồng (tiền tố số hóa đơn)", "the number (it prefixes invoice numbers)", "number")
        )
    if before["city_tenant_id"] != clean["city_tenant_id"]:
        changed.append(
            (
                "đơn vị bên thuê (quyết định các đơn vị được tính tiền)",
                "the city's unit (it decides which units are billed)",
                "city_tenant_id",
            )
        )
    if changed:
        vi = ", ".join(c[0] for c in changed)
        en = ", ".join(c[1] for c in changed)
        raise PeriodFinalized(
            f"Hợp đồng {shown_vi}: không thể thay đổi hồi tố {vi}. Hãy kết thúc hợp đồng sau kỳ đã chốt "
            "và lập hợp đồng mới với bảng giá mới từ kỳ sau.",
            f"The contract's {shown_en}: {en} cannot change retroactively. End this contract after "
            "the finalized periods and make a new contract with the new prices from the next period.",
            errors={
                c[2]: ["Không đổi được: kỳ đã chốt", "cannot change: periods are final"] for c in changed
            },
        )
    if clean["ends_on"] < until:
        raise PeriodFinalized(
            f"Hợp đồng {shown_vi}: không thể kết thúc trước ngày đó",
            f"The contract's {shown_en}: it cannot end before that",
            errors={"ends_on": ["Trước kỳ đã chốt", "before a finalized period"]},
        )
    # A final period the old end clipped (a term ending mid-month) must stay that period: extended,
    # it would become a longer period whose invoice is already final (its new days never billed).
    old_final = [
        p
        for p in term_periods(
            clean["starts_on"], date.fromisoformat(before["ends_on"]), clean["billing_period"]
        )
        if p[0] < until
    ]
    new_final = [
        p for p in term_periods(clean["starts_on"], clean["ends_on"], clean["billing_period"]) if p[0] < until
    ]
    if old_final != new_final:
        start, end = (old_final or new_final)[-1]
        raise PeriodFinalized(
            f"Hợp đồng {shown_vi}: kỳ {start:%d/%m/%Y} – {end - timedelta(days=1):%d/%m/%Y} đã chốt theo "
            "ngày kết thúc cũ, kéo dài hợp đồng sẽ làm kỳ đó dài ra. Hãy lập hợp đồng mới từ ngày "
            f"{end:%d/%m/%Y}.",
            f"The contract's {shown_en}: the period {start} to {end - timedelta(days=1)} was finalized "
            f"as the old end cut it; extending the term would lengthen it. Make a new contract from {end}.",
            errors={"ends_on": ["Kỳ cuối đã chốt theo ngày kết thúc cũ", "the last final period ends there"]},
        )


def update_contract(
    session: Session,
    contract_id: int,
    data: dict[str, Any],
    *,
    actor_account_id: int | None = None,
    actor_label: str | None = None,
) -> Contract:
    """Change a contract (the whole of it is given again); refused when it would alter a finalized period."""
    clean = check_contract(session, data)
    _lock(session)
    contract = get_contract(session, contract_id)
    session.refresh(contract, with_for_update=True)
    before = snapshot(contract)
    until = finalized_until(session, contract.id)
    if until is not None:
        _refuse_retroactive(before, clean, until)
    _check_overlap(session, clean, contract.id)
    _write(contract, clean)
    session.flush()
    drafts = realign_drafts(session, contract)
    after = snapshot(contract)
    if after != before:
        changes: dict[str, Any] = {"before": before, "after": after}
        if drafts:
            changes["drafts"] = drafts
        record(
            session,
            entity=AUDIT_ENTITY,
            entity_id=contract.id,
            action="updated",
            actor_account_id=actor_account_id,
            actor_label=actor_label,
            data=changes,
        )
    return contract


def realign_drafts(session: Session, contract: Contract) -> list[dict[str, Any]]:
    """Make the contract's draft invoices follow its (changed) billing periods.

    Drafts are recomputed over their own stored period, found by its start: a changed term or
    billing period left a draft over a period that no longer exists (monthly -> quarterly kept
    January's draft as January only while February and March were never billed; a shortened
    term kept billing a whole month). Now a draft whose start is still a period's start takes
    that period's end; any other draft is folded into the draft of the period holding its start
    (its manual adjustment lines moved there, or the draft itself re-dated when there is none)
    or, outside the term, removed: refused when it holds manual adjustments (they would be
    lost). The refresh job recomputes the drafts. Returns what was done, for the audit.
    """
    terms = periods(contract)
    ends = dict(terms)
    drafts = session.scalars(
        select(Invoice)
        .where(Invoice.contract_id == contract.id, Invoice.kind == INVOICE, Invoice.status == DRAFT)
        .order_by(Invoice.period_start)
        .with_for_update()
    ).all()
    finals = set(
        session.scalars(
            select(Invoice.period_start).where(
                Invoice.contract_id == contract.id, Invoice.kind == INVOICE, Invoice.status == FINAL
            )
        )
    )
    by_start = {d.period_start: d for d in drafts if d.period_start in ends}
    done: list[dict[str, Any]] = []
    for draft in by_start.values():
        if ends[draft.period_start] != draft.period_end:
            done.append(
                {
                    "invoice_id": draft.id,
                    "period": [draft.period_start.isoformat(), draft.period_end.isoformat()],
                    "now": [draft.period_start.isoformat(), ends[draft.period_start].isoformat()],
                }
            )
            draft.period_end = ends[draft.period_start]
    for draft in (d for d in drafts if d.period_start not in ends):
        shown = {
            "invoice_id": draft.id,
            "period": [draft.period_start.isoformat(), draft.period_end.isoformat()],
        }
        home = next(((s, e) for s, e in terms if s <= draft.period_start < e), None)
        manual = list(
            session.scalars(
                select(InvoiceLine.id)
                .where(
                    InvoiceLine.invoice_id == draft.id,
                    InvoiceLine.kind == "adjustment",
                    InvoiceLine.is_late_adjustment.is_(False),
                )
                .order_by(InvoiceLine.position)
            )
        )
        if home is None or home[0] in finals:
            if manual:
                raise DraftHasAdjustments(
                    f"Hóa đơn nháp kỳ từ {draft.period_start:%d/%m/%Y} có dòng điều chỉnh thủ công nhưng "
                    "sau thay đổi này không còn thuộc kỳ thanh toán nào của hợp đồng: giữ thời hạn để "
                    "chốt kỳ đó trước.",
                    f"The draft of the period from {draft.period_start} holds manual adjustments but would "
                    "no longer fall in a billing period of the contract: keep the term until it is final.",
                    errors={
                        "ends_on": ["Còn hóa đơn nháp có điều chỉnh", "a draft holds manual adjustments"]
                    },
                )
            done.append({**shown, "now": None})
            session.delete(draft)
            continue
        target = by_start.get(home[0])
        if target is None:  # no draft for its new period yet: this one becomes it
            done.append({**shown, "now": [home[0].isoformat(), home[1].isoformat()]})
            draft.period_start, draft.period_end = home
            by_start[home[0]] = draft
            session.flush()
            continue
        last = session.scalar(
            select(func.coalesce(func.max(InvoiceLine.position), 0)).where(
                InvoiceLine.invoice_id == target.id
            )
        )
        for n, line_id in enumerate(manual, 1):
            session.execute(
                update(InvoiceLine)
                .where(InvoiceLine.id == line_id)
                .values(invoice_id=target.id, position=last + n)
            )
        done.append({**shown, "now": [home[0].isoformat(), home[1].isoformat()], "moved_lines": manual})
        session.expunge(draft)
        session.execute(delete(Invoice).where(Invoice.id == draft.id))
    session.flush()
    session.expire_all()
    return done
