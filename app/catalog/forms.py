"""The procedure form (shared by the unit admin and the standard catalogue editor) <-> raw spec.

Repeated rows (cases, components, fees, legal documents) are numbered inputs,
``components-0-name`` ...; the page shows the existing rows plus a few blank
ones, so everything is editable without JavaScript. Blank rows are ignored.
"""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from app.catalog.specs import AUDIENCE

EXTRA_ROWS = 2
MAX_ROWS = 60

ROWS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # group: (every field, the fields that make a row non-blank)
    "cases": (
        ("code", "name", "time_value", "time_unit", "online_time_value", "is_default"),
        ("code", "name"),
    ),
    "components": (
        ("code", "name", "original_or_copy", "quantity", "is_mandatory", "template_file", "case"),
        ("code", "name", "template_file"),
    ),
    "fees": (
        ("kind", "description", "amount", "online_amount", "case"),
        ("description", "amount", "online_amount"),
    ),
    "legal_documents": (("number", "kind", "title", "issuer", "issued_on"), ("number", "title")),
}
CHECKBOXES = {"is_default", "is_mandatory"}


def _rows(form: MultiDict, group: str) -> list[dict[str, Any]]:
    fields, keys = ROWS[group]
    rows = []
    for i in range(MAX_ROWS):
        row = {f: (form.get(f"{group}-{i}-{f}") or "").strip() for f in fields if f not in CHECKBOXES}
        for f in CHECKBOXES & set(fields):
            row[f] = f"{group}-{i}-{f}" in form
        if any(row.get(k) for k in keys):
            rows.append(row)
    return rows


def parse_procedure_form(form: MultiDict) -> dict[str, Any]:
    """The raw spec a posted procedure form describes (``check_spec`` validates it)."""
    return {
        "code": form.get("code", "").strip(),
        "name": form.get("name", "").strip(),
        "sector": {"code": form.get("sector_code", "").strip(), "name": form.get("sector_name", "").strip()},
        "service_level": form.get("service_level", "").strip(),
        "time_value": form.get("time_value", "").strip(),
        "time_unit": form.get("time_unit", "").strip(),
        "online_time_value": form.get("online_time_value", "").strip(),
        "applicant_types": form.getlist("applicant_types"),
        "channels": form.getlist("channels"),
        "result_delivery": form.getlist("result_delivery"),
        "result_document_type": form.get("result_document_type", "").strip(),
        "legal_basis": form.get("legal_basis", "").strip(),
        AUDIENCE: [s.strip() for s in form.get(AUDIENCE, "").replace(";", ",").split(",") if s.strip()],
        **{group: _rows(form, group) for group in ROWS},
    }


def form_rows(values: dict[str, Any], group: str) -> list[dict[str, Any]]:
    """The rows to show: the values' rows, then blank ones to add more."""
    rows = list(values.get(group) or [])
    blank = {f: ("" if f not in CHECKBOXES else f == "is_mandatory") for f in ROWS[group][0]}
    return [*rows, *(dict(blank) for _ in range(EXTRA_ROWS))]


def blank_values() -> dict[str, Any]:
    return {
        "time_unit": "working_days",
        "service_level": 2,
        "channels": [1],
        "result_delivery": ["counter"],
        "applicant_types": ["citizen"],
    }


def form_context() -> dict[str, Any]:
    """Option tables and helpers the shared form partial needs."""
    from app.catalog import specs

    return {
        "levels": {n: (f"Mức độ {n}", f"Level {n}") for n in specs.LEVELS},
        "time_units": specs.TIME_UNITS,
        "originals": specs.ORIGINAL_OR_COPY,
        "fee_kinds": specs.FEE_KINDS,
        "channels": specs.CHANNELS,
        "deliveries": specs.RESULT_DELIVERY,
        "applicant_types": specs.APPLICANT_TYPES,
        "rows": form_rows,
    }
