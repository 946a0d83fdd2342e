"""A procedure as plain data (a *spec*): the shape the standard catalogue stores and compares.

``check_spec`` turns raw input (a form, seed data, a stored spec) into the one
canonical dict, or raises ``SpecInvalid`` naming every problem. Canonical specs
compare with ``==``: that is how a rollout tells whether a version changed a
procedure, and how the conflict view lines up the unit's copy with the standard.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from app.core.errors import DomainError

TIME_UNITS = {
    "working_days": ("ngày làm việc", "working days"),
    "calendar_days": ("ngày", "calendar days"),
    "same_day": ("trong ngày", "same day"),
    "hours": ("giờ", "hours"),
}
ORIGINAL_OR_COPY = {
    "original": ("Bản chính", "Original"),
    "copy": ("Bản sao", "Copy"),
    "certified_copy": ("Bản sao chứng thực", "Certified copy"),
    "original_or_copy": ("Bản chính hoặc bản sao", "Original or copy"),
}
CHANNELS = {
    1: ("Trực tiếp tại Bộ phận Một cửa", "At the counter"),
    2: ("Trực tuyến", "Online"),
    3: ("Qua bưu chính công ích", "By post (BCCI)"),
}
RESULT_DELIVERY = {
    "counter": ("Tại Bộ phận Một cửa", "At the counter"),
    "online": ("Trực tuyến (bản điện tử)", "Online (e-result)"),
    "postal": ("Qua bưu chính công ích", "By post (BCCI)"),
}
APPLICANT_TYPES = {
    "citizen": ("Công dân", "Citizen"),
    "enterprise": ("Doanh nghiệp", "Enterprise"),
    "organisation": ("Tổ chức", "Organisation"),
}
FEE_KINDS = {"fee": ("Phí", "Fee"), "charge": ("Lệ phí", "Charge")}
LEVELS = (1, 2, 3, 4)

CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.\-]{0,39}$")
SUBCODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.\-_]{0,31}$")
SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{0,60}$")
MAX_TIME = Decimal("9999.99")
MAX_AMOUNT = 10**12

# Fields a unit's copy is compared on (everything but the audience of a standard spec).
AUDIENCE = "only_tenants"


class SpecInvalid(DomainError):
    """A procedure definition breaks a rule; ``problems`` maps each field to (vi, en)."""

    status = 422

    def __init__(self, problems: dict[str, tuple[str, str]]):
        vi, en = next(iter(problems.values()))
        more_vi = f" (và {len(problems) - 1} lỗi khác)" if len(problems) > 1 else ""
        more_en = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(
            f"Thủ tục chưa hợp lệ: {vi}{more_vi}",
            f"The procedure is not valid: {en}{more_en}",
            errors={key: f"{v} / {e}" for key, (v, e) in problems.items()},
        )
        self.problems = problems


# Dots (and spaces) only as Vietnamese thousands separators: "5.000" is 5000, "1.5" is no whole number.
_GROUPED_RE = re.compile(r"^-?\d{1,3}(?:[. ]\d{3})+$")


def _whole_number(raw: Any) -> int | None:
    """``raw`` as an int, or None when it is not a whole number (a fraction, a bool, text)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        return int(raw) if raw.is_integer() else None
    text = str(raw).strip()
    if _GROUPED_RE.match(text):
        text = text.replace(".", "").replace(" ", "")
    if not re.fullmatch(r"-?\d+", text, flags=re.ASCII):
        return None
    return int(text)


class _Checker:
    def __init__(self) -> None:
        self.problems: dict[str, tuple[str, str]] = {}

    def fail(self, key: str, vi: str, en: str) -> None:
        self.problems.setdefault(key, (vi, en))

    def text(self, raw: Any, key: str, label: tuple[str, str], *, required: bool, limit: int) -> str | None:
        value = str(raw).strip() if raw is not None else ""
        if not value:
            if required:
                self.fail(key, f"{label[0]} không được để trống", f"{label[1]} must not be empty")
            return None
        if len(value) > limit:
            self.fail(
                key, f"{label[0]} dài quá {limit} ký tự", f"{label[1]} is longer than {limit} characters"
            )
        return value

    def number(self, raw: Any, key: str, label: tuple[str, str], *, required: bool) -> int | float | None:
        if raw is None or str(raw).strip() == "":
            if required:
                self.fail(key, f"{label[0]} không được để trống", f"{label[1]} must not be empty")
            return None
        try:
            value = Decimal(str(raw).strip().replace(",", "."))
        except InvalidOperation:
            self.fail(key, f"{label[0]} phải là một số", f"{label[1]} must be a number")
            return None
        if not value.is_finite() or value < 0 or value > MAX_TIME or value != round(value, 2):
            self.fail(
                key,
                f"{label[0]} phải từ 0 đến 9999,99 (tối đa 2 chữ số thập phân)",
                f"{label[1]} must be between 0 and 9999.99 (at most 2 decimals)",
            )
            return None
        return int(value) if value == int(value) else float(value)

    def integer(
        self, raw: Any, key: str, label: tuple[str, str], *, required: bool, low: int, high: int
    ) -> int | None:
        if raw is None or str(raw).strip() == "":
            if required:
                self.fail(key, f"{label[0]} không được để trống", f"{label[1]} must not be empty")
            return None
        value = _whole_number(raw)
        if value is None:
            self.fail(
                key,
                f"{label[0]} phải là số nguyên, không có phần thập phân (ví dụ 5000 hoặc 5.000)",
                f"{label[1]} must be a whole number, without decimals (e.g. 5000 or 5.000)",
            )
            return None
        if not low <= value <= high:
            self.fail(
                key,
                f"{label[0]} phải từ {low:,} đến {high:,}".replace(",", "."),
                f"{label[1]} must be between {low:,} and {high:,}",
            )
            return None
        return value

    def choice(self, raw: Any, key: str, label: tuple[str, str], allowed, *, default=None):
        value = raw if raw not in (None, "") else default
        if value not in allowed:
            names = ", ".join(str(a) for a in allowed)
            self.fail(
                key,
                f"{label[0]} không hợp lệ: {raw!r} (chỉ nhận: {names})",
                f"unknown {label[1]} {raw!r} (one of: {names})",
            )
            return None
        return value

    def flag(self, raw: Any) -> bool:
        if isinstance(raw, str):
            return raw.strip().lower() in ("1", "true", "on", "yes", "y")
        return bool(raw)


def _as_list(raw: Any) -> list:
    if raw is None or raw == "":
        return []
    if isinstance(raw, (list, tuple, set)):
        return list(raw)
    return [raw]


def check_spec(raw: dict[str, Any], *, with_audience: bool = False) -> dict[str, Any]:
    """The canonical spec of ``raw``, or ``SpecInvalid`` listing every problem."""
    c = _Checker()
    code = c.text(raw.get("code"), "code", ("Mã thủ tục", "Code"), required=True, limit=40)
    if code and not CODE_RE.match(code):
        c.fail(
            "code",
            f"Mã thủ tục {code!r} chỉ gồm chữ, số, dấu chấm và gạch ngang (ví dụ 1.001193)",
            f"code {code!r} may hold letters, digits, dots and hyphens only (e.g. 1.001193)",
        )
    name = c.text(raw.get("name"), "name", ("Tên thủ tục", "Name"), required=True, limit=1000)
    sector_raw = raw.get("sector") or {}
    sector_code = c.text(
        sector_raw.get("code"), "sector.code", ("Mã lĩnh vực", "Sector code"), required=True, limit=32
    )
    if sector_code and not SUBCODE_RE.match(sector_code):
        c.fail(
            "sector.code",
            "Mã lĩnh vực chỉ gồm chữ, số và gạch ngang",
            "the sector code may hold letters, digits and hyphens only",
        )
    sector_name = c.text(
        sector_raw.get("name"), "sector.name", ("Tên lĩnh vực", "Sector name"), required=True, limit=255
    )
    level = c.integer(
        raw.get("service_level"), "service_level", ("Mức độ", "Service level"), required=True, low=1, high=4
    )
    time_unit = c.choice(raw.get("time_unit"), "time_unit", ("Đơn vị thời gian", "time unit"), TIME_UNITS)
    time_value = c.number(
        raw.get("time_value"),
        "time_value",
        ("Thời hạn giải quyết", "Legal time"),
        required=time_unit != "same_day",
    )
    if time_unit == "same_day":
        time_value = 1 if time_value in (None, 0) else time_value
    online_time = c.number(
        raw.get("online_time_value"),
        "online_time_value",
        ("Thời hạn khi nộp trực tuyến", "Online time"),
        required=False,
    )
    if online_time is not None and time_value is not None and online_time == time_value:
        online_time = None  # only kept where it differs
    channels = sorted(
        {
            c.choice(_int_or(v), "channels", ("Kênh nộp", "channel"), CHANNELS)
            for v in _as_list(raw.get("channels"))
        }
        - {None}
    )
    if not channels:
        c.fail("channels", "Chọn ít nhất một kênh nộp hồ sơ", "choose at least one submission channel")
    delivery_set = {
        c.choice(v, "result_delivery", ("Hình thức trả kết quả", "result delivery"), RESULT_DELIVERY)
        for v in _as_list(raw.get("result_delivery"))
    }
    delivery = [d for d in RESULT_DELIVERY if d in delivery_set]
    if not delivery:
        c.fail(
            "result_delivery",
            "Chọn ít nhất một hình thức trả kết quả",
            "choose at least one way to return the result",
        )
    _check_level(c, level, channels, delivery)
    applicants_set = {
        c.choice(v, "applicant_types", ("Đối tượng", "applicant type"), APPLICANT_TYPES)
        for v in _as_list(raw.get("applicant_types"))
    }
    applicants = [a for a in APPLICANT_TYPES if a in applicants_set] or ["citizen"]

    cases = _check_cases(c, raw.get("cases") or [])
    case_codes = {case["code"] for case in cases}
    spec: dict[str, Any] = {
        "code": code,
        "name": name,
        "sector": {"code": sector_code, "name": sector_name},
        "service_level": level,
        "time_value": time_value,
        "time_unit": time_unit,
        "online_time_value": online_time,
        "applicant_types": applicants,
        "channels": channels,
        "result_delivery": delivery,
        "result_document_type": c.text(
            raw.get("result_document_type"),
            "result_document_type",
            ("Loại kết quả", "Result document"),
            required=False,
            limit=255,
        ),
        "legal_basis": c.text(
            raw.get("legal_basis"),
            "legal_basis",
            ("Căn cứ pháp lý", "Legal basis"),
            required=False,
            limit=4000,
        ),
        "legal_documents": _check_legal_documents(c, raw.get("legal_documents") or []),
        "cases": cases,
        "components": _check_components(c, raw.get("components") or [], case_codes),
        "fees": _check_fees(c, raw.get("fees") or [], case_codes),
    }
    if with_audience:
        audience = sorted({str(s).strip() for s in _as_list(raw.get(AUDIENCE)) if str(s).strip()})
        for slug in audience:
            if not SLUG_RE.match(slug):
                c.fail(AUDIENCE, f"Mã đơn vị không hợp lệ: {slug!r}", f"not a unit slug: {slug!r}")
        spec[AUDIENCE] = audience
    if c.problems:
        raise SpecInvalid(c.problems)
    return spec


def _int_or(value: Any) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def _check_level(c: _Checker, level: int | None, channels: list[int], delivery: list[str]) -> None:
    """Decree 43/2011: levels 3 and 4 take dossiers online; levels 1 and 2 do not."""
    if level is None or not channels:
        return
    if level >= 3 and 2 not in channels:
        c.fail(
            "channels",
            "Mức độ 3 và 4 phải nhận hồ sơ trực tuyến (kênh 2)",
            "levels 3 and 4 must accept online submission (channel 2)",
        )
    if level <= 2 and 2 in channels:
        c.fail(
            "channels",
            "Mức độ 1 và 2 không nhận hồ sơ trực tuyến; hãy nâng lên mức 3",
            "levels 1 and 2 do not accept online submission; raise the level to 3",
        )
    if level <= 3 and "online" in delivery:
        c.fail(
            "result_delivery",
            "Chỉ mức độ 4 mới trả kết quả trực tuyến",
            "only level 4 returns the result online",
        )


def _check_cases(c: _Checker, rows: list[dict]) -> list[dict]:
    cases, seen, defaults = [], set(), 0
    for i, row in enumerate(rows):
        key = f"cases[{i}]"
        code = c.text(row.get("code"), f"{key}.code", ("Mã trường hợp", "Case code"), required=True, limit=32)
        if code and not SUBCODE_RE.match(code):
            c.fail(
                f"{key}.code",
                "Mã trường hợp chỉ gồm chữ, số và gạch ngang",
                "a case code may hold letters, digits and hyphens only",
            )
        if code in seen:
            c.fail(f"{key}.code", f"Mã trường hợp {code!r} bị trùng", f"case code {code!r} is used twice")
        seen.add(code)
        unit = row.get("time_unit") or None
        if unit is not None:
            unit = c.choice(unit, f"{key}.time_unit", ("Đơn vị thời gian", "time unit"), TIME_UNITS)
        is_default = c.flag(row.get("is_default"))
        defaults += is_default
        cases.append(
            {
                "code": code,
                "name": c.text(
                    row.get("name"), f"{key}.name", ("Tên trường hợp", "Case name"), required=True, limit=1000
                ),
                "time_value": c.number(
                    row.get("time_value"), f"{key}.time_value", ("Thời hạn", "Time"), required=False
                ),
                "time_unit": unit,
                "online_time_value": c.number(
                    row.get("online_time_value"),
                    f"{key}.online_time_value",
                    ("Thời hạn trực tuyến", "Online time"),
                    required=False,
                ),
                "is_default": is_default,
            }
        )
    if defaults > 1:
        c.fail("cases", "Chỉ một trường hợp được là mặc định", "only one case may be the default")
    return cases


def _check_components(c: _Checker, rows: list[dict], case_codes: set[str]) -> list[dict]:
    components, seen = [], set()
    for i, row in enumerate(rows):
        key = f"components[{i}]"
        code = (
            c.text(
                row.get("code"), f"{key}.code", ("Mã thành phần", "Component code"), required=False, limit=32
            )
            or f"TP{i + 1:02d}"
        )
        if code in seen:
            c.fail(
                f"{key}.code", f"Mã thành phần {code!r} bị trùng", f"component code {code!r} is used twice"
            )
        seen.add(code)
        components.append(
            {
                "code": code,
                "name": c.text(
                    row.get("name"),
                    f"{key}.name",
                    ("Tên giấy tờ", "Document name"),
                    required=True,
                    limit=2000,
                ),
                "original_or_copy": c.choice(
                    row.get("original_or_copy"),
                    f"{key}.original_or_copy",
                    ("Loại bản", "original or copy"),
                    ORIGINAL_OR_COPY,
                    default="original",
                ),
                "quantity": c.integer(
                    row.get("quantity"),
                    f"{key}.quantity",
                    ("Số lượng", "Quantity"),
                    required=False,
                    low=1,
                    high=100,
                )
                or 1,
                "is_mandatory": c.flag(row.get("is_mandatory", True)),
                "template_file": c.text(
                    row.get("template_file"),
                    f"{key}.template_file",
                    ("Mẫu đơn, tờ khai", "Template file"),
                    required=False,
                    limit=512,
                ),
                "case": _case_ref(c, row.get("case"), f"{key}.case", case_codes),
            }
        )
    return components


def _check_fees(c: _Checker, rows: list[dict], case_codes: set[str]) -> list[dict]:
    fees = []
    for i, row in enumerate(rows):
        key = f"fees[{i}]"
        fees.append(
            {
                "kind": c.choice(
                    row.get("kind"), f"{key}.kind", ("Loại phí", "fee kind"), FEE_KINDS, default="charge"
                ),
                "description": c.text(
                    row.get("description"),
                    f"{key}.description",
                    ("Nội dung phí", "Fee description"),
                    required=True,
                    limit=2000,
                ),
                "amount": c.integer(
                    row.get("amount"),
                    f"{key}.amount",
                    ("Số tiền (đồng)", "Amount (VND)"),
                    required=True,
                    low=0,
                    high=MAX_AMOUNT,
                ),
                "online_amount": c.integer(
                    row.get("online_amount"),
                    f"{key}.online_amount",
                    ("Số tiền khi nộp trực tuyến", "Online amount"),
                    required=False,
                    low=0,
                    high=MAX_AMOUNT,
                ),
                "case": _case_ref(c, row.get("case"), f"{key}.case", case_codes),
            }
        )
    return fees


def _case_ref(c: _Checker, raw: Any, key: str, case_codes: set[str]) -> str | None:
    value = str(raw).strip() if raw not in (None, "") else None
    if value is not None and value not in case_codes:
        c.fail(key, f"Không có trường hợp mã {value!r}", f"there is no case {value!r}")
    return value


def _check_legal_documents(c: _Checker, rows: list[dict]) -> list[dict]:
    docs, seen = [], set()
    for i, row in enumerate(rows):
        key = f"legal_documents[{i}]"
        number = c.text(
            row.get("number"),
            f"{key}.number",
            ("Số hiệu văn bản", "Document number"),
            required=True,
            limit=64,
        )
        if number in seen:
            c.fail(f"{key}.number", f"Văn bản {number!r} bị trùng", f"document {number!r} is listed twice")
        seen.add(number)
        issued = row.get("issued_on") or None
        if issued is not None and not isinstance(issued, date):
            try:
                issued = date.fromisoformat(str(issued).strip())
            except ValueError:
                c.fail(
                    f"{key}.issued_on",
                    "Ngày ban hành phải có dạng YYYY-MM-DD",
                    "the issue date must be YYYY-MM-DD",
                )
                issued = None
        docs.append(
            {
                "number": number,
                "kind": c.text(
                    row.get("kind"),
                    f"{key}.kind",
                    ("Loại văn bản", "Document kind"),
                    required=False,
                    limit=32,
                )
                or "law",
                "title": c.text(
                    row.get("title"), f"{key}.title", ("Trích yếu", "Title"), required=True, limit=2000
                ),
                "issuer": c.text(
                    row.get("issuer"),
                    f"{key}.issuer",
                    ("Cơ quan ban hành", "Issuer"),
                    required=False,
                    limit=255,
                ),
                "issued_on": issued.isoformat() if issued else None,
            }
        )
    # Sorted by number, so the order they were typed in never counts as a change.
    return sorted(docs, key=lambda d: d["number"] or "")


def tenant_view(spec: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a unit receives from a standard spec: everything but its audience."""
    if spec is None:
        return None
    return {k: v for k, v in spec.items() if k != AUDIENCE}


def applies_to(spec: dict[str, Any], slug: str) -> bool:
    audience = spec.get(AUDIENCE) or []
    return not audience or slug in audience


FIELD_LABELS = {
    "code": ("Mã thủ tục", "Code"),
    "name": ("Tên thủ tục", "Name"),
    "sector": ("Lĩnh vực", "Sector"),
    "service_level": ("Mức độ", "Service level"),
    "time_value": ("Thời hạn giải quyết", "Legal time"),
    "time_unit": ("Đơn vị thời gian", "Time unit"),
    "online_time_value": ("Thời hạn khi nộp trực tuyến", "Online time"),
    "applicant_types": ("Đối tượng", "Applicants"),
    "channels": ("Kênh nộp hồ sơ", "Channels"),
    "result_delivery": ("Hình thức trả kết quả", "Result delivery"),
    "result_document_type": ("Kết quả thực hiện", "Result document"),
    "legal_basis": ("Căn cứ pháp lý", "Legal basis"),
    "legal_documents": ("Văn bản pháp luật", "Legal documents"),
    "cases": ("Trường hợp", "Cases"),
    "components": ("Thành phần hồ sơ", "Dossier components"),
    "fees": ("Phí, lệ phí", "Fees"),
}


def differing_fields(mine: dict[str, Any] | None, theirs: dict[str, Any] | None) -> list[str]:
    """Spec fields whose values differ (in ``FIELD_LABELS`` order)."""
    mine, theirs = mine or {}, theirs or {}
    return [key for key in FIELD_LABELS if mine.get(key) != theirs.get(key)]
