"""Slugs, schema names and codes (pure rules)."""

from __future__ import annotations

import pytest

from tenants.naming import (
    InvalidName,
    check_hostname,
    check_slug,
    check_unit_code,
    schema_for_slug,
    slugify,
    strip_diacritics,
)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Quận Ngô Quyền", "ngo-quyen"),
        ("Quận Hồng Bàng", "hong-bang"),
        ("Huyện Bạch Long Vĩ", "bach-long-vi"),
        ("Sở Tư pháp", "so-tu-phap"),
        ("Thành phố Hải Phòng", "hai-phong"),
        ("Phường Đằng Giang", "dang-giang"),
        ("Thị trấn Núi Đèo", "nui-deo"),
        ("Sở Lao động – Thương binh và Xã hội", "so-lao-dong-thuong-binh-va-xa-hoi"),
    ],
)
def test_slugify(name, slug):
    assert slugify(name) == slug
    assert check_slug(slug) == slug


def test_strip_diacritics_keeps_d():
    assert strip_diacritics("Đăng ký khai sinh") == "Dang ky khai sinh"


def test_schema_name():
    assert schema_for_slug("ngo-quyen") == "t_ngo_quyen"


@pytest.mark.parametrize(
    "slug", ["", "Ngo", "ngo_quyen", "-ngo", "ngo-", "ngo--quyen", "1ngo", "admin", "pg", "pg-x", "x" * 41]
)
def test_bad_slugs(slug):
    with pytest.raises(InvalidName):
        check_slug(slug)


def test_unit_codes_and_hosts():
    assert check_unit_code("000.00.04.H99") == "000.00.04.H99"
    for bad in ("000.00.04", "000.00.04.h99", "0000.00.04.H99", "000.00.04.H99x"):
        with pytest.raises(InvalidName):
            check_unit_code(bad)
    assert check_hostname("DichVuCong.HaiPhong.gov.vn.") == "dichvucong.haiphong.gov.vn"
    with pytest.raises(InvalidName):
        check_hostname("not a host")
