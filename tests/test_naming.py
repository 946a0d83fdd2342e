"""Slugs, schema names and codes (pure rules)."""

from __future__ import annotations

import pytest

from tenants.naming import (
    InvalidName,
    check_gso_code,
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


@pytest.mark.parametrize(
    "code",
    [
        "٠٠٠.٠٠.٠٤.H٩٩",  # Arabic-Indic digits are digits to ``\d``, not to QCVN 102
        "000.00.04.H٩٩",
        "۰۰۰.00.04.H99",  # extended Arabic-Indic
        "000.00.04.H99\n",  # ``$`` accepted a trailing newline
        "000.00.04.Ｈ99",  # full-width letter
    ],
)
def test_unit_codes_are_ascii_only(code):
    with pytest.raises(InvalidName):
        check_unit_code(code)


@pytest.mark.parametrize("code", ["٠٤", "12٣", "123\n", "１２３"])
def test_gso_codes_are_ascii_only(code):
    with pytest.raises(InvalidName):
        check_gso_code(code)
    assert check_gso_code("31") == "31"


@pytest.mark.parametrize("slug", ["abc\n", "ngo-quyen\n", "a٣", "ngo\u0131"])
def test_slugs_end_where_they_end_and_are_ascii(slug):
    with pytest.raises(InvalidName):
        check_slug(slug)
    with pytest.raises(InvalidName):
        schema_for_slug(slug)


def test_hostnames_are_ascii_and_have_no_newline_inside():
    for bad in ("portal.vn\nx", "cổng.vn", "a٣.vn"):
        with pytest.raises(InvalidName):
            check_hostname(bad)
