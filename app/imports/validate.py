"""Validation of every row before anything is imported: one error per bad cell, bilingual.

A row is valid when each cell parses and the row holds together: the procedure is in the
unit's catalogue, the status agrees with the times given (DOMAIN.md §2.3), the times are in
order, and the code was not seen earlier in the file. Codes already in the unit are not
errors: the writer counts them as unchanged (re-running a file changes nothing).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import Procedure
from app.imports import columns as c


@dataclass(frozen=True)
class RowError:
    row: int
    column: str  # a column key, or "" for the row as a whole
    value: str
    vi: str
    en: str


@dataclass
class ImportRow:
    """One valid row, parsed (times are timezone-aware)."""

    row: int
    code: str
    procedure_id: int
    service_level: int | None
    applicant_name: str
    applicant_id_number: str | None
    applicant_phone: str | None
    applicant_address: str | None
    channel: int
    status: int
    received_at: datetime
    due_at: datetime
    completed_at: datetime | None = None
    returned_at: datetime | None = None
    withdrawn_at: datetime | None = None
    stopped_at: datetime | None = None
    pauses: list[tuple[str, datetime, datetime | None]] = field(default_factory=list)
    steps: list[tuple[str, datetime, datetime | None]] = field(default_factory=list)


@dataclass
class Validation:
    rows: list[ImportRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    total: int = 0
    invalid_rows: int = 0


_PARSERS: dict[str, Callable] = {
    "code": c.parse_code,
    "channel": c.parse_channel,
    "status": c.parse_status,
    "supplement_pauses": c.parse_pauses,
    "financial_pauses": c.parse_pauses,
    "steps": c.parse_steps,
    **{key: c.parse_datetime for key in c.DATE_COLUMNS},
}
# Which closing time each final status needs, and which it must not have.
_CLOSING = {
    7: ("withdrawn_at",),
    8: ("stopped_at",),
    9: ("completed_at",),
    10: ("completed_at", "returned_at"),
}
_CLOSING_KEYS = ("completed_at", "returned_at", "withdrawn_at", "stopped_at")
_OPEN_PAUSE = {5: "supplement", 6: "financial"}


def procedure_index(session: Session) -> dict[str, tuple[int, int | None]]:
    """The unit's catalogue: procedure code -> (id, service level)."""
    return {
        code: (pid, level)
        for code, pid, level in session.execute(select(Procedure.code, Procedure.id, Procedure.service_level))
    }


def validate(
    session: Session, rows: Iterable[tuple[int, dict]], progress: Callable[[int], None] | None = None
) -> Validation:
    procedures = procedure_index(session)
    seen: dict[str, int] = {}
    result = Validation()
    for number, raw in rows:
        result.total += 1
        errors: list[RowError] = []
        parsed = _parse_cells(number, raw, errors)
        code = parsed.get("code")
        if code is not None:
            if code in seen:
                errors.append(
                    RowError(
                        number,
                        "code",
                        code,
                        f"Mã hồ sơ trùng với dòng {seen[code]}.",
                        f"The dossier code repeats row {seen[code]}.",
                    )
                )
            else:
                seen[code] = number
        procedure = procedures.get(parsed.get("procedure_code") or "")
        if parsed.get("procedure_code") is not None and procedure is None:
            errors.append(
                RowError(
                    number,
                    "procedure_code",
                    parsed["procedure_code"],
                    "Không có thủ tục mã này trong danh mục của đơn vị.",
                    "No procedure with this code in the unit's catalogue.",
                )
            )
        if not errors:
            errors.extend(_check_consistency(number, parsed, raw))
        if errors:
            result.errors.extend(errors)
            result.invalid_rows += 1
        else:
            result.rows.append(_row(number, parsed, procedure))
        if progress is not None:
            progress(1)
    return result


def _parse_cells(number: int, raw: dict, errors: list[RowError]) -> dict:
    parsed: dict = {}
    for column in c.COLUMNS:
        value = raw.get(column.key)
        shown = c.text(value)
        if shown is None:
            if column.required:
                errors.append(
                    RowError(
                        number,
                        column.key,
                        "",
                        f"Thiếu “{column.vi}”.",
                        f"“{column.en}” is missing.",
                    )
                )
            continue
        if column.max_len is not None and len(shown) > column.max_len:
            errors.append(
                RowError(
                    number,
                    column.key,
                    shown[:100],
                    f"Dài quá {column.max_len} ký tự.",
                    f"Longer than {column.max_len} characters.",
                )
            )
            continue
        parser = _PARSERS.get(column.key)
        try:
            parsed[column.key] = parser(value if column.key in c.DATE_COLUMNS else shown) if parser else shown
        except c.BadValue as exc:
            errors.append(RowError(number, column.key, shown[:200], exc.vi, exc.en))
    return parsed


def _shown(raw: dict, key: str) -> str:
    return (c.text(raw.get(key)) or "")[:200]


def _check_consistency(number: int, p: dict, raw: dict) -> list[RowError]:
    """The status agrees with the times; the times are in order."""
    errors: list[RowError] = []

    def add(key: str, vi: str, en: str) -> None:
        errors.append(RowError(number, key, _shown(raw, key), vi, en))

    status, received = p["status"], p["received_at"]
    needed = _CLOSING.get(status, ())
    for key in _CLOSING_KEYS:
        label = c.BY_KEY[key]
        if key in needed and p.get(key) is None:
            add(key, f"Trạng thái {status} cần “{label.vi}”.", f"Status {status} needs “{label.en}”.")
        elif key not in needed and p.get(key) is not None:
            add(
                key,
                f"Trạng thái {status} không được có “{label.vi}”.",
                f"Status {status} must not have “{label.en}”.",
            )
        elif p.get(key) is not None and p[key] < received:
            add(key, "Trước ngày tiếp nhận.", "Earlier than the time received.")
    if p["due_at"] < received:
        add("due_at", "Ngày hẹn trả trước ngày tiếp nhận.", "Due earlier than received.")
    if p.get("returned_at") and p.get("completed_at") and p["returned_at"] < p["completed_at"]:
        add("returned_at", "Trả kết quả trước khi có kết quả.", "Returned before the result was ready.")
    closed_at = p.get("completed_at") or p.get("withdrawn_at") or p.get("stopped_at")
    open_kinds = []
    for kind in ("supplement", "financial"):
        key = f"{kind}_pauses"
        for start, end in p.get(key) or []:
            if start < received or (end is not None and end < start):
                add(key, "Khoảng tạm dừng sai thứ tự thời gian.", "A pause is out of order in time.")
            elif closed_at is not None and (end or start) > closed_at:
                add(key, "Khoảng tạm dừng sau khi hồ sơ đã kết thúc.", "A pause runs past the dossier's end.")
            if end is None:
                open_kinds.append(kind)
    if not errors and _overlap(p):
        add(
            "supplement_pauses" if p.get("supplement_pauses") else "financial_pauses",
            "Các khoảng tạm dừng chồng lên nhau.",
            "Pauses overlap one another.",
        )
    wanted = _OPEN_PAUSE.get(status)
    if wanted is not None and open_kinds != [wanted]:
        key = f"{wanted}_pauses"
        add(
            key,
            f"Trạng thái {status} cần đúng một khoảng tạm dừng đang mở (bắt_đầu..).",
            f"Status {status} needs exactly one open pause (start..).",
        )
    elif wanted is None and open_kinds:
        add(
            f"{open_kinds[0]}_pauses",
            f"Trạng thái {status} không được có khoảng tạm dừng đang mở.",
            f"Status {status} must not have an open pause.",
        )
    for _name, done_at, _due in p.get("steps") or []:
        if done_at < received or (closed_at is not None and done_at > closed_at):
            add(
                "steps",
                "Bước xử lý ngoài khoảng tiếp nhận – kết thúc.",
                "A step lies outside received .. closed.",
            )
            break
    return errors


def _overlap(p: dict) -> bool:
    """Two pauses (of either kind) at once would cut the same days out of the deadline twice."""
    intervals = sorted((p.get("supplement_pauses") or []) + (p.get("financial_pauses") or []))
    return any(end is None or end > start for (_, end), (start, _) in itertools.pairwise(intervals))


def _row(number: int, p: dict, procedure: tuple[int, int | None]) -> ImportRow:
    pauses = [("supplement", s, e) for s, e in p.get("supplement_pauses") or []]
    pauses += [("financial", s, e) for s, e in p.get("financial_pauses") or []]
    return ImportRow(
        row=number,
        code=p["code"],
        procedure_id=procedure[0],
        service_level=procedure[1],
        applicant_name=p["applicant_name"],
        applicant_id_number=p.get("applicant_id_number"),
        applicant_phone=p.get("applicant_phone"),
        applicant_address=p.get("applicant_address"),
        channel=p["channel"],
        status=p["status"],
        received_at=p["received_at"],
        due_at=p["due_at"],
        completed_at=p.get("completed_at"),
        returned_at=p.get("returned_at"),
        withdrawn_at=p.get("withdrawn_at"),
        stopped_at=p.get("stopped_at"),
        pauses=sorted(pauses, key=lambda x: x[1]),
        steps=sorted(p.get("steps") or [], key=lambda x: x[1]),
    )
