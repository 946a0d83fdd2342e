"""The steps editor's form: a table of rows, read into StepSpecs and LinkSpecs (no JavaScript).

Each row posts ``steps-<i>-<field>``; a row with neither key nor name is an unused
empty row. "Next steps" is a comma-separated list of keys, each optionally
``key:condition`` (``refuse``, ``supplement``, ``parallel``, ``return``) for a branch.
When no row names its next steps, the steps are chained by their order.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from app.core.errors import DomainError
from app.processes.checks import Problem
from app.processes.models import ProcessStep
from app.processes.services import LinkSpec, ProcessRefused, StepSpec

FIELDS = ("key", "name", "kind", "role", "division", "hours", "partner", "order", "next", "accounts")
MAX_ROWS = 200
EMPTY_ROWS = 3


def rows_from_steps(steps: list[ProcessStep], links: list[LinkSpec]) -> list[dict[str, str]]:
    """The editor's rows for saved steps (strings, as a form would post them)."""
    nexts: dict[str, list[str]] = {}
    for link in links:
        token = link.to_key if link.condition == "default" else f"{link.to_key}:{link.condition}"
        nexts.setdefault(link.from_key, []).append(token)
    return [
        {
            "key": s.key,
            "name": s.name,
            "kind": s.kind,
            "role": s.role,
            "division": "" if s.division_id is None else str(s.division_id),
            "hours": f"{Decimal(s.duration_hours).normalize():f}",
            "partner": "" if s.partner_tenant_id is None else str(s.partner_tenant_id),
            "order": str(s.sort_order),
            "next": ", ".join(nexts.get(s.key, [])),
            "accounts": ",".join(str(a) for a in s.account_ids or []),
        }
        for s in steps
    ]


def posted_rows(form: Mapping[str, str]) -> list[dict[str, str]]:
    """The rows as posted, blanks dropped (kept as strings for re-display after an error)."""
    try:
        count = min(int(form.get("row_count", "0")), MAX_ROWS)
    except ValueError:
        count = 0
    rows = []
    for i in range(count):
        row = {field: (form.get(f"steps-{i}-{field}") or "").strip() for field in FIELDS}
        if row["key"] or row["name"]:
            rows.append(row)
    return rows


def empty_row() -> dict[str, str]:
    return dict.fromkeys(FIELDS, "")


def _problem(row: dict[str, str], vi: str, en: str) -> Problem:
    label = row["name"] or row["key"]
    return Problem("bad_input", f"Bước «{label}»: {vi}", f"Step «{label}»: {en}")


def _number(text: str) -> Decimal | None:
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _whole(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _step(i: int, row: dict[str, str], problems: list[Problem]) -> StepSpec:
    hours = _number(row["hours"] or "0")
    if hours is None:
        problems.append(
            _problem(
                row, f"số giờ {row['hours']!r} không phải là số.", f"hours {row['hours']!r} is not a number."
            )
        )
    order = _whole(row["order"]) if row["order"] else (i + 1) * 10
    if order is None:
        problems.append(
            _problem(
                row,
                f"thứ tự {row['order']!r} phải là số nguyên không âm.",
                f"order {row['order']!r} must be a whole number.",
            )
        )
    ids = {}
    for field, vi, en in (
        ("division", "phòng ban", "division"),
        ("partner", "mã đơn vị phối hợp", "partner unit id"),
    ):
        ids[field] = _whole(row[field]) if row[field] else None
        if row[field] and ids[field] is None:
            problems.append(
                _problem(row, f"{vi} {row[field]!r} không hợp lệ.", f"{en} {row[field]!r} is not valid.")
            )
    accounts = [_whole(a.strip()) for a in row["accounts"].split(",") if a.strip()]
    return StepSpec(
        key=row["key"],
        name=row["name"],
        kind=row["kind"],
        role=row["role"],
        duration_hours=hours if hours is not None else Decimal(0),
        division_id=ids["division"],
        account_ids=tuple(a for a in accounts if a is not None),
        partner_tenant_id=ids["partner"],
        sort_order=order if order is not None else 0,
    )


def _links(rows: list[dict[str, str]]) -> list[LinkSpec]:
    links = []
    for row in rows:
        for token in row["next"].split(","):
            target, _, condition = token.strip().partition(":")
            if target.strip():
                links.append(LinkSpec(row["key"], target.strip(), condition.strip() or "default"))
    return links


def read_steps(form: Mapping[str, str]) -> tuple[list[StepSpec], list[LinkSpec]]:
    """Steps and links from the posted editor; refuses numbers that are not numbers (422)."""
    rows = posted_rows(form)
    if not rows:
        raise DomainError(
            "Quy trình cần ít nhất một bước.", "The process needs at least one step.", status=422
        )
    problems: list[Problem] = []
    steps = [_step(i, row, problems) for i, row in enumerate(rows)]
    if problems:
        raise ProcessRefused(problems)
    return steps, _links(rows)
