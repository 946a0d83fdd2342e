"""Integer-exact money in đồng: proration by day, tiered overage, discounts (issue #6).

Every amount is an ``int`` of đồng (VND has no minor unit in use). A division is done on
integers and rounded half away from zero once, at the end of the line it produces, never
on intermediate values: anyone can recompute a line by hand from its inputs and get the
same đồng. A credit (negative amount) rounds like its positive twin, so a credit note
exactly cancels the line it reverses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from app.core.errors import DomainError

BASIS_POINTS = 10_000  # 100 % = 10,000 basis points: 12.5 % is 1,250


class InvalidPrice(DomainError):
    status = 422


def divide_rounded(numerator: int, denominator: int) -> int:
    """``numerator / denominator`` rounded half away from zero, on integers only."""
    if denominator <= 0:
        raise ValueError("the denominator must be positive")
    sign = -1 if numerator < 0 else 1
    quotient, remainder = divmod(abs(numerator), denominator)
    return sign * (quotient + (1 if 2 * remainder >= denominator else 0))


def active_days(period_start: date, period_end: date, active_from: date, active_until: date | None) -> int:
    """Days of ``[period_start, period_end)`` on which a unit was live (activation counts, the
    decommission day does not: ``active_until`` is exclusive). Dates are Asia/Ho_Chi_Minh days."""
    start = max(period_start, active_from)
    end = min(period_end, active_until) if active_until is not None else period_end
    return max(0, (end - start).days)


def prorate(amount: int, days_active: int, days_in_period: int) -> int:
    """``amount`` for ``days_active`` of ``days_in_period`` days."""
    if not 0 <= days_active <= days_in_period:
        raise ValueError(f"{days_active} active days in a period of {days_in_period}")
    return divide_rounded(amount * days_active, days_in_period)


@dataclass(frozen=True)
class Tier:
    """Units of usage above the included quota, up to ``up_to`` of them (None: no limit),
    each at ``unit_price`` đồng."""

    up_to: int | None
    unit_price: int


@dataclass(frozen=True)
class TierCharge:
    quantity: int
    unit_price: int
    amount: int


def check_tiers(tiers: Sequence[Tier]) -> None:
    """Refuse a tier list that cannot price every quantity, or prices anything below zero."""
    if not tiers:
        raise InvalidPrice("Bảng giá vượt hạn mức chưa có bậc nào", "the overage price has no tiers")
    previous = 0
    for n, tier in enumerate(tiers, start=1):
        if tier.unit_price < 0:
            raise InvalidPrice(
                f"Bậc {n}: đơn giá không được âm ({tier.unit_price} đồng)",
                f"tier {n}: the unit price cannot be negative ({tier.unit_price} VND)",
            )
        last = n == len(tiers)
        if tier.up_to is None and not last:
            raise InvalidPrice(
                f"Chỉ bậc cuối được không giới hạn (bậc {n})",
                f"only the last tier may be unbounded (tier {n})",
            )
        if tier.up_to is not None and tier.up_to <= previous:
            raise InvalidPrice(
                f"Bậc {n}: mức trên phải lớn hơn bậc trước ({tier.up_to} ≤ {previous})",
                f"tier {n}: its upper bound must exceed the previous one ({tier.up_to} ≤ {previous})",
            )
        previous = tier.up_to or previous
    if tiers[-1].up_to is not None:
        raise InvalidPrice("Bậc cuối phải không giới hạn", "the last tier must have no upper bound")


def overage(usage: int, included: int, tiers: Sequence[Tier]) -> list[TierCharge]:
    """The charge of ``usage`` above ``included`` units, tier by tier (graduated pricing:
    each unit is priced by the tier it falls in). Empty when usage stays within the quota."""
    check_tiers(tiers)
    if usage < 0 or included < 0:
        raise ValueError("usage and quota cannot be negative")
    extra, lower, charges = max(0, usage - included), 0, []
    for tier in tiers:
        if extra <= lower:
            break
        upper = extra if tier.up_to is None else min(extra, tier.up_to)
        quantity = upper - lower
        charges.append(TierCharge(quantity, tier.unit_price, quantity * tier.unit_price))
        lower = upper
    return charges


def discount(amount: int, basis_points: int) -> int:
    """The discount on ``amount`` at ``basis_points`` (1,250 = 12.5 %), as a positive đồng amount."""
    if not 0 <= basis_points <= BASIS_POINTS:
        raise InvalidPrice(
            f"Chiết khấu phải từ 0 đến 100 % (nhận {basis_points / 100:g} %)",
            f"a discount must be between 0 and 100 % (got {basis_points / 100:g} %)",
        )
    return divide_rounded(amount * basis_points, BASIS_POINTS)
