"""Money arithmetic in whole đồng, each case computed by hand in its comment."""

from __future__ import annotations

from datetime import date

import pytest

from billing.money import (
    InvalidPrice,
    Tier,
    TierCharge,
    active_days,
    check_tiers,
    discount,
    divide_rounded,
    overage,
    prorate,
)

# A plan's overage for dossiers received: the first 1,000 extra at 500 đ, the next 4,000 at
# 400 đ, everything above at 300 đ.
TIERS = [Tier(1_000, 500), Tier(5_000, 400), Tier(None, 300)]


def test_rounding_is_half_away_from_zero_on_integers():
    assert divide_rounded(7, 2) == 4  # 3.5 -> 4
    assert divide_rounded(5, 3) == 2  # 1.67 -> 2
    assert divide_rounded(4, 3) == 1  # 1.33 -> 1
    assert divide_rounded(-7, 2) == -4  # a credit rounds like its positive twin
    assert divide_rounded(0, 31) == 0


def test_a_unit_active_from_the_10th_of_a_31_day_month():
    # November has 30 days; December 2026 has 31. Live from 10 Dec: days 10..31 = 22 days.
    days = active_days(date(2026, 12, 1), date(2027, 1, 1), date(2026, 12, 10), None)
    assert days == 22
    # 3,000,000 đ × 22 / 31 = 2,129,032.258… -> 2,129,032 đ
    assert prorate(3_000_000, days, 31) == 2_129_032


def test_a_unit_decommissioned_mid_quarter_counts_up_to_the_day_before():
    # Q4 2026 = 1 Oct .. 31 Dec = 92 days. Live all along, decommissioned on 15 Nov (exclusive):
    # October 31 + November 1..14 = 14 -> 45 days.
    days = active_days(date(2026, 10, 1), date(2027, 1, 1), date(2025, 3, 1), date(2026, 11, 15))
    assert days == 45
    # 9,000,000 đ × 45 / 92 = 4,402,173.91… -> 4,402,174 đ
    assert prorate(9_000_000, days, 92) == 4_402_174
    assert active_days(date(2026, 10, 1), date(2027, 1, 1), date(2027, 2, 1), None) == 0  # not yet live


def test_prorated_days_of_a_month_add_up_to_the_whole_fee_within_rounding():
    # Split a 31-day month into 10 + 21 days: 3,000,000 × 10/31 = 967,741.9 -> 967,742;
    # × 21/31 = 2,032,258.06 -> 2,032,258; together 3,000,000 đ.
    assert prorate(3_000_000, 10, 31) + prorate(3_000_000, 21, 31) == 3_000_000


def test_graduated_overage_prices_each_unit_by_its_tier():
    # 7,500 received, 1,200 included -> 6,300 extra:
    #   1,000 × 500 = 500,000; 4,000 × 400 = 1,600,000; 1,300 × 300 = 390,000 -> 2,490,000 đ
    charges = overage(7_500, 1_200, TIERS)
    assert charges == [
        TierCharge(1_000, 500, 500_000),
        TierCharge(4_000, 400, 1_600_000),
        TierCharge(1_300, 300, 390_000),
    ]
    assert sum(c.amount for c in charges) == 2_490_000


def test_usage_inside_the_quota_or_at_a_tier_edge():
    assert overage(1_200, 1_200, TIERS) == []
    assert overage(900, 1_200, TIERS) == []
    # exactly 1,000 extra: only the first tier, 1,000 × 500 = 500,000 đ
    assert overage(2_200, 1_200, TIERS) == [TierCharge(1_000, 500, 500_000)]
    # 1,001 extra: the 1,001st unit is priced by the second tier
    assert overage(2_201, 1_200, TIERS)[-1] == TierCharge(1, 400, 400)


def test_a_discount_in_basis_points():
    # 12.5 % of 2,490,000 đ = 311,250 đ exactly
    assert discount(2_490_000, 1_250) == 311_250
    # 7 % of 1,234,567 đ = 86,419.69 -> 86,420 đ
    assert discount(1_234_567, 700) == 86_420
    assert discount(1_234_567, 0) == 0 and discount(1_234_567, 10_000) == 1_234_567


@pytest.mark.parametrize(
    ("tiers", "words"),
    [
        ([Tier(100, 500), Tier(None, -1)], "cannot be negative"),
        ([Tier(None, 500), Tier(100, 400)], "only the last tier"),
        ([Tier(100, 500), Tier(100, 400), Tier(None, 1)], "must exceed"),
        ([Tier(100, 500)], "no upper bound"),
        ([], "no tiers"),
    ],
)
def test_a_price_list_that_cannot_price_everything_is_refused(tiers, words):
    with pytest.raises(InvalidPrice) as refused:
        check_tiers(tiers)
    assert words in refused.value.en and refused.value.vi and refused.value.status == 422


def test_a_discount_outside_0_to_100_percent_is_refused():
    for bad in (-1, 10_001):
        with pytest.raises(InvalidPrice):
            discount(1_000, bad)
