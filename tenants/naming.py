"""Slugs, schema names, unit codes and hostnames: the rules, in one place."""

from __future__ import annotations

import re
import unicodedata

# ASCII only and anchored with \Z: ``\d`` would take Arabic-Indic digits and ``$`` a trailing
# newline. The anchors keep ``.match`` right for callers; this module uses ``fullmatch``.
SLUG_RE = re.compile(r"\A[a-z][a-z0-9]*(?:-[a-z0-9]+)*\Z", re.ASCII)
SLUG_MAX = 40
# QCVN 102:2016 agency identifier V1V2V3.Z1Z2.Y1Y2.M1M2M3, e.g. 000.00.04.H99.
UNIT_CODE_RE = re.compile(r"\A[0-9]{3}\.[0-9]{2}\.[0-9]{2}\.[A-Z][0-9]{2}\Z", re.ASCII)
GSO_CODE_RE = re.compile(r"\A[0-9]{2,5}\Z", re.ASCII)
HOSTNAME_RE = re.compile(
    r"\A(?=.{1,253}\Z)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+\Z",
    re.ASCII,
)

RESERVED_SLUGS = frozenset(
    {
        "admin",
        "www",
        "api",
        "public",
        "platform",
        "shard",
        "tenant",
        "static",
        "mail",
        "smtp",
        "auth",
        "sso",
        "login",
        "console",
        "status",
        "information-schema",
        "information_schema",
    }
)
# Leading words naming the kind of unit, dropped from slugs ("Quận Ngô Quyền" -> ngo-quyen).
_UNIT_PREFIXES = ("thành phố", "quận", "huyện", "thị xã", "thị trấn", "phường", "xã")


class InvalidName(ValueError):
    """A name, slug, code or hostname breaks a rule; the message says which."""


def strip_diacritics(text: str) -> str:
    """ "Đăng ký khai sinh" -> "Dang ky khai sinh" (đ/Đ are letters, not accents)."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def slugify(name: str) -> str:
    """A unit's slug from its Vietnamese name: no diacritics, lower case, hyphenated."""
    lowered = unicodedata.normalize("NFC", name).strip().lower()
    for prefix in _UNIT_PREFIXES:
        if lowered.startswith(prefix + " "):
            lowered = lowered[len(prefix) + 1 :]
            break
    ascii_ = strip_diacritics(lowered)
    return re.sub(r"[^a-z0-9]+", "-", ascii_).strip("-")


def check_slug(slug: str) -> str:
    if slug.startswith("pg_") or slug == "information_schema":
        raise InvalidName(f"Slug {slug!r} được dành riêng / is reserved")
    if not SLUG_RE.fullmatch(slug):
        raise InvalidName(
            f"Slug không hợp lệ / invalid slug {slug!r}: chỉ chữ thường không dấu, số và dấu gạch ngang "
            "(lower-case letters, digits and single hyphens, starting with a letter)"
        )
    if len(slug) > SLUG_MAX:
        raise InvalidName(f"Slug quá dài / slug too long: {slug!r} (at most {SLUG_MAX} characters)")
    if slug in RESERVED_SLUGS or slug == "pg" or slug.startswith("pg-"):
        raise InvalidName(f"Slug {slug!r} được dành riêng / is reserved")
    return slug


def schema_for_slug(slug: str) -> str:
    """``ngo-quyen`` -> ``t_ngo_quyen``. Only the registry calls this."""
    return "t_" + check_slug(slug).replace("-", "_")


def check_unit_code(code: str) -> str:
    if not UNIT_CODE_RE.fullmatch(code):
        raise InvalidName(
            f"Mã đơn vị không hợp lệ / invalid unit code {code!r}: "
            "expected the QCVN 102 form, e.g. 000.00.04.H99"
        )
    return code


def check_gso_code(code: str) -> str:
    if not GSO_CODE_RE.fullmatch(code):
        raise InvalidName(f"Mã GSO không hợp lệ / invalid GSO code {code!r}: 2 to 5 digits")
    return code


def check_hostname(hostname: str) -> str:
    host = hostname.strip().lower().rstrip(".")
    if not HOSTNAME_RE.fullmatch(host):
        raise InvalidName(f"Tên miền không hợp lệ / invalid hostname {hostname!r}")
    return host
