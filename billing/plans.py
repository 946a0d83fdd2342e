"""A contract's price plan: checking its input and writing it (issue #6).

A plan is given as a plain dict (the console form and the JSON API both build one)::

    {"name": "Gói tiêu chuẩn", "setup_fee": 5_000_000, "discount_bp": 1_000,
     "unit_fees": {"district": 3_000_000, "commune": 800_000},
     "metrics": [{"metric": "dossiers_received", "included": 500,
                  "tiers": [{"up_to": 1_000, "unit_price": 500}, {"up_to": None, "unit_price": 300}]}]}

Amounts are integer đồng; ``discount_bp`` is in basis points (10 % = 1,000). ``included``
is the quota of one unit per month; ``tiers`` price each unit's usage above it (graduated,
``billing.money.overage``). ``check_plan`` collects every problem, keyed by the field's
path (``plan.unit_fees.district``, ``plan.metrics.0.tiers``), so a form can show each
next to its input.
"""

from __future__ import annotations

from typing import Any

from app.core.usage import METRICS
from billing.models import PlanMetric, PlanUnitFee, PricePlan
from billing.money import BASIS_POINTS, InvalidPrice, Tier, check_tiers
from tenants.models import UnitKind

UNIT_KINDS = tuple(kind.value for kind in UnitKind)
MAX_AMOUNT = 10**15  # đồng: far above any lease, far below BIGINT
# đồng per unit of usage: a tier's price times a month's usage must still fit an invoice line (BIGINT).
MAX_UNIT_PRICE = 10**9

Problems = dict[str, tuple[str, str]]


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_amount(problems: Problems, key: str, value: Any, what: tuple[str, str]) -> None:
    """An integer number of đồng, zero or more."""
    vi, en = what
    if not is_int(value):
        problems[key] = (f"{vi}: phải là số nguyên đồng", f"{en}: must be a whole number of VND")
    elif value < 0:
        problems[key] = (
            f"{vi} không được âm ({value:,} đồng)".replace(",", "."),
            f"{en} cannot be negative ({value:,} VND)",
        )
    elif value > MAX_AMOUNT:
        problems[key] = (f"{vi} quá lớn", f"{en} is too large")


def check_kind(problems: Problems, key: str, kind: Any) -> bool:
    if kind not in UNIT_KINDS:
        problems[key] = (
            f"Loại đơn vị không xác định: {kind!r} (chỉ nhận: {', '.join(UNIT_KINDS)})",
            f"unknown unit kind {kind!r} (one of: {', '.join(UNIT_KINDS)})",
        )
        return False
    return True


def _tiers(problems: Problems, key: str, raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        problems[key] = (
            "Bậc giá phải là danh sách {up_to, unit_price}",
            "tiers must be a list of {up_to, unit_price}",
        )
        return []
    tiers = []
    for n, tier in enumerate(raw, start=1):
        up_to, price = tier.get("up_to"), tier.get("unit_price")
        if (up_to is not None and not is_int(up_to)) or not is_int(price):
            problems[key] = (
                f"Bậc {n}: mức trên và đơn giá phải là số nguyên",
                f"tier {n}: the upper bound and the unit price must be whole numbers",
            )
            return []
        if (up_to is not None and up_to > MAX_AMOUNT) or price > MAX_UNIT_PRICE:
            problems[key] = (
                f"Bậc {n}: mức trên tối đa {MAX_AMOUNT:.0e}, đơn giá tối đa {MAX_UNIT_PRICE:,} đồng".replace(
                    ",", "."
                ),
                f"tier {n}: the upper bound is at most {MAX_AMOUNT:.0e}, the unit price at most "
                f"{MAX_UNIT_PRICE:,} VND",
            )
            return []
        tiers.append({"up_to": up_to, "unit_price": price})
    try:
        check_tiers([Tier(t["up_to"], t["unit_price"]) for t in tiers])
    except InvalidPrice as exc:
        problems[key] = (exc.vi, exc.en)
    return tiers


def check_plan(raw: Any, problems: Problems, prefix: str = "plan") -> dict[str, Any]:
    """The plan in canonical form (problems added to ``problems``, keyed by field path)."""
    if not isinstance(raw, dict):
        problems[prefix] = ("Hợp đồng cần có bảng giá", "the contract needs a price plan")
        return {}
    name = str(raw.get("name") or "").strip()
    if not name:
        problems[f"{prefix}.name"] = ("Bảng giá cần có tên", "the price plan needs a name")
    elif len(name) > 200 or not name.isprintable():
        problems[f"{prefix}.name"] = (
            "Tên bảng giá tối đa 200 ký tự",
            "the plan's name is at most 200 characters",
        )
    setup_fee = raw.get("setup_fee", 0)
    check_amount(problems, f"{prefix}.setup_fee", setup_fee, ("Phí khởi tạo", "The setup fee"))
    discount_bp = raw.get("discount_bp", 0)
    if not is_int(discount_bp) or not 0 <= discount_bp <= BASIS_POINTS:
        shown = f"{discount_bp / 100:g} %" if is_int(discount_bp) else repr(discount_bp)
        problems[f"{prefix}.discount_bp"] = (
            f"Chiết khấu phải từ 0 đến 100 % (nhận {shown})",
            f"a discount must be between 0 and 100 % (got {shown})",
        )
    fees: dict[str, int] = {}
    unit_fees = raw.get("unit_fees") or {}
    if not isinstance(unit_fees, dict):
        problems[f"{prefix}.unit_fees"] = (
            "Phí theo loại đơn vị không hợp lệ",
            "unit fees must map kind to đồng",
        )
        unit_fees = {}
    for kind, fee in unit_fees.items():
        key = f"{prefix}.unit_fees.{kind}"
        if check_kind(problems, key, kind):
            check_amount(problems, key, fee, (f"Phí tháng của {kind}", f"The monthly fee of {kind}"))
            fees[kind] = fee
    metrics: list[dict[str, Any]] = []
    seen: set[str] = set()
    raw_metrics = raw.get("metrics") or []
    if not isinstance(raw_metrics, list):
        problems[f"{prefix}.metrics"] = ("Danh sách chỉ số không hợp lệ", "metrics must be a list")
        raw_metrics = []
    for i, entry in enumerate(raw_metrics):
        key = f"{prefix}.metrics.{i}"
        if not isinstance(entry, dict):
            problems[key] = ("Chỉ số không hợp lệ", "invalid metric entry")
            continue
        metric = entry.get("metric")
        if metric not in METRICS:
            problems[f"{key}.metric"] = (
                f"Chỉ số đo đếm không xác định: {metric!r}",
                f"unknown metric {metric!r} (one of: {', '.join(METRICS)})",
            )
            continue
        if metric in seen:
            problems[f"{key}.metric"] = (
                f"Chỉ số {metric} được khai báo hai lần",
                f"the metric {metric} is listed twice",
            )
            continue
        seen.add(metric)
        included = entry.get("included", 0)
        check_amount(problems, f"{key}.included", included, ("Hạn mức", "The included quota"))
        tiers = _tiers(problems, f"{key}.tiers", entry.get("tiers"))
        metrics.append({"metric": metric, "included": included, "tiers": tiers})
    return {
        "name": name,
        "setup_fee": setup_fee,
        "discount_bp": discount_bp,
        "unit_fees": dict(sorted(fees.items())),
        "metrics": sorted(metrics, key=lambda m: m["metric"]),
    }


def plan_snapshot(plan: PricePlan | None) -> dict[str, Any] | None:
    """The stored plan in the same canonical form as ``check_plan``'s result."""
    if plan is None:
        return None
    return {
        "name": plan.name,
        "setup_fee": plan.setup_fee,
        "discount_bp": plan.discount_bp,
        "unit_fees": {f.unit_kind: f.monthly_fee for f in sorted(plan.unit_fees, key=lambda f: f.unit_kind)},
        "metrics": [
            {"metric": m.metric, "included": m.included, "tiers": list(m.tiers or [])}
            for m in sorted(plan.metrics, key=lambda m: m.metric)
        ],
    }


def prices_of(snapshot: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a plan charges (its name aside): what a finalized period must never see change."""
    if snapshot is None:
        return None
    return {k: v for k, v in snapshot.items() if k != "name"}


def write_plan(plan: PricePlan, data: dict[str, Any]) -> None:
    """Make ``plan`` (attached to its contract) say what the checked ``data`` says."""
    plan.name = data["name"]
    plan.setup_fee = data["setup_fee"]
    plan.discount_bp = data["discount_bp"]
    fees = {f.unit_kind: f for f in plan.unit_fees}
    for kind, fee in data["unit_fees"].items():
        if kind in fees:
            fees.pop(kind).monthly_fee = fee
        else:
            plan.unit_fees.append(PlanUnitFee(unit_kind=kind, monthly_fee=fee))
    for gone in fees.values():
        plan.unit_fees.remove(gone)
    metrics = {m.metric: m for m in plan.metrics}
    for entry in data["metrics"]:
        row = metrics.pop(entry["metric"], None)
        if row is None:
            plan.metrics.append(
                PlanMetric(metric=entry["metric"], included=entry["included"], tiers=entry["tiers"])
            )
        else:
            row.included, row.tiers = entry["included"], entry["tiers"]
    for gone in metrics.values():
        plan.metrics.remove(gone)
