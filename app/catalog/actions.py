"""Writes to a unit's procedure catalogue: from a spec, by the unit admin, and conflict decisions.

Every function takes the tenant session it writes to (``tenant_db()`` in a request
or job, an explicit session when seeding), flushes and never commits.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.catalog.models import (
    FeeLine,
    LegalDocument,
    Procedure,
    ProcedureCase,
    ProcedureComponent,
    ProcedureLegalDocument,
    Sector,
)
from app.catalog.specs import SpecInvalid, check_spec
from app.core.errors import Conflict


def _dec(value: int | float | None) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _num(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == int(value) else float(value)


def _sector(session: Session, code: str, name: str) -> Sector:
    sector = session.scalar(select(Sector).where(Sector.code == code))
    if sector is None:
        order = len(session.scalars(select(Sector.id)).all())
        sector = Sector(code=code, name=name, sort_order=order)
        session.add(sector)
        session.flush()
    elif sector.name != name:
        sector.name = name
    return sector


def apply_spec(session: Session, procedure: Procedure | None, spec: dict[str, Any]) -> Procedure:
    """Make ``procedure`` (or a new one) match a canonical spec, cases to fees; returns it.

    Cases are matched by code and deactivated, never deleted (dossiers point at them);
    components by code; fee lines and legal-document links are replaced.
    """
    sector = _sector(session, spec["sector"]["code"], spec["sector"]["name"])
    if procedure is None:
        procedure = Procedure(code=spec["code"])
        session.add(procedure)
    procedure.code = spec["code"]
    procedure.name = spec["name"]
    procedure.sector_id = sector.id
    procedure.service_level = spec["service_level"]
    procedure.applicant_types = list(spec["applicant_types"])
    procedure.time_value = _dec(spec["time_value"])
    procedure.time_unit = spec["time_unit"]
    procedure.online_time_value = _dec(spec["online_time_value"])
    procedure.legal_basis = spec["legal_basis"]
    procedure.result_document_type = spec["result_document_type"]
    procedure.channels = list(spec["channels"])
    procedure.result_delivery = list(spec["result_delivery"])
    procedure.is_same_day_return = spec["time_unit"] == "same_day"
    session.flush()
    cases = _apply_cases(session, procedure, spec["cases"])
    _apply_components(session, procedure, spec["components"], cases)
    _apply_fees(session, procedure, spec["fees"], cases)
    _apply_legal_documents(session, procedure, spec["legal_documents"])
    session.flush()
    return procedure


def _apply_cases(session: Session, procedure: Procedure, rows: list[dict]) -> dict[str, ProcedureCase]:
    existing = {
        c.code: c
        for c in session.scalars(select(ProcedureCase).where(ProcedureCase.procedure_id == procedure.id))
    }
    wanted = {row["code"] for row in rows}
    for case in existing.values():
        if case.code not in wanted:
            case.is_active = False
    for order, row in enumerate(rows):
        case = existing.get(row["code"])
        if case is None:
            case = existing[row["code"]] = ProcedureCase(procedure_id=procedure.id, code=row["code"])
            session.add(case)
        case.name = row["name"]
        case.time_value = _dec(row["time_value"])
        case.time_unit = row["time_unit"]
        case.online_time_value = _dec(row["online_time_value"])
        case.is_default = row["is_default"]
        case.sort_order = order
        case.is_active = True
    session.flush()
    return {code: case for code, case in existing.items() if code in wanted}


def _apply_components(session: Session, procedure: Procedure, rows: list[dict], cases: dict) -> None:
    existing = {
        c.code: c
        for c in session.scalars(
            select(ProcedureComponent).where(ProcedureComponent.procedure_id == procedure.id)
        )
    }
    wanted = {row["code"] for row in rows}
    for component in existing.values():
        if component.code not in wanted:
            session.delete(component)
    for order, row in enumerate(rows):
        component = existing.get(row["code"])
        if component is None:
            component = ProcedureComponent(procedure_id=procedure.id, code=row["code"])
            session.add(component)
        component.name = row["name"]
        component.original_or_copy = row["original_or_copy"]
        component.quantity = row["quantity"]
        component.is_mandatory = row["is_mandatory"]
        component.template_file = row["template_file"]
        component.case_id = cases[row["case"]].id if row["case"] else None
        component.sort_order = order


def _apply_fees(session: Session, procedure: Procedure, rows: list[dict], cases: dict) -> None:
    session.execute(delete(FeeLine).where(FeeLine.procedure_id == procedure.id))
    for order, row in enumerate(rows):
        session.add(
            FeeLine(
                procedure_id=procedure.id,
                case_id=cases[row["case"]].id if row["case"] else None,
                kind=row["kind"],
                description=row["description"],
                amount=row["amount"],
                online_amount=row["online_amount"],
                sort_order=order,
            )
        )


def _apply_legal_documents(session: Session, procedure: Procedure, rows: list[dict]) -> None:
    session.execute(delete(ProcedureLegalDocument).where(ProcedureLegalDocument.procedure_id == procedure.id))
    for row in rows:
        doc = session.scalar(select(LegalDocument).where(LegalDocument.number == row["number"]))
        if doc is None:
            doc = LegalDocument(number=row["number"])
            session.add(doc)
        doc.kind = row["kind"]
        doc.title = row["title"]
        doc.issuer = row["issuer"]
        doc.issued_on = date.fromisoformat(row["issued_on"]) if row["issued_on"] else None
        session.flush()
        session.add(ProcedureLegalDocument(procedure_id=procedure.id, legal_document_id=doc.id))


def procedure_spec(session: Session, procedure: Procedure) -> dict[str, Any]:
    """The unit's procedure as a canonical spec (comparable with a standard spec)."""
    sector = session.get(Sector, procedure.sector_id)
    cases = list(
        session.scalars(
            select(ProcedureCase)
            .where(ProcedureCase.procedure_id == procedure.id, ProcedureCase.is_active)
            .order_by(ProcedureCase.sort_order, ProcedureCase.id)
        )
    )
    case_codes = {c.id: c.code for c in cases}
    components = session.scalars(
        select(ProcedureComponent)
        .where(ProcedureComponent.procedure_id == procedure.id)
        .order_by(ProcedureComponent.sort_order, ProcedureComponent.id)
    )
    fees = session.scalars(
        select(FeeLine).where(FeeLine.procedure_id == procedure.id).order_by(FeeLine.sort_order, FeeLine.id)
    )
    docs = session.scalars(
        select(LegalDocument)
        .join(ProcedureLegalDocument, ProcedureLegalDocument.legal_document_id == LegalDocument.id)
        .where(ProcedureLegalDocument.procedure_id == procedure.id)
        .order_by(LegalDocument.number)
    )
    raw = {
        "code": procedure.code,
        "name": procedure.name,
        "sector": {"code": sector.code, "name": sector.name},
        "service_level": procedure.service_level,
        "time_value": _num(procedure.time_value),
        "time_unit": procedure.time_unit,
        "online_time_value": _num(procedure.online_time_value),
        "applicant_types": list(procedure.applicant_types or []),
        "channels": list(procedure.channels or []),
        "result_delivery": list(procedure.result_delivery or []),
        "result_document_type": procedure.result_document_type,
        "legal_basis": procedure.legal_basis,
        "legal_documents": [
            {
                "number": d.number,
                "kind": d.kind,
                "title": d.title,
                "issuer": d.issuer,
                "issued_on": d.issued_on.isoformat() if d.issued_on else None,
            }
            for d in docs
        ],
        "cases": [
            {
                "code": c.code,
                "name": c.name,
                "time_value": _num(c.time_value),
                "time_unit": c.time_unit,
                "online_time_value": _num(c.online_time_value),
                "is_default": c.is_default,
            }
            for c in cases
        ],
        "components": [
            {
                "code": c.code,
                "name": c.name,
                "original_or_copy": c.original_or_copy,
                "quantity": c.quantity,
                "is_mandatory": c.is_mandatory,
                "template_file": c.template_file,
                "case": case_codes.get(c.case_id) if c.case_id else None,
            }
            for c in components
        ],
        "fees": [
            {
                "kind": f.kind,
                "description": f.description,
                "amount": f.amount,
                "online_amount": f.online_amount,
                "case": case_codes.get(f.case_id) if f.case_id else None,
            }
            for f in fees
        ],
    }
    try:
        return check_spec(raw)
    except SpecInvalid:  # written before today's rules: shown as it is
        return raw


# --- the unit admin's verbs ----------------------------------------------------------------


def _duplicate(code: str) -> Conflict:
    return Conflict(
        f"Đơn vị đã có thủ tục mã {code}. Hãy dùng mã khác hoặc sửa thủ tục đã có.",
        f"This unit already has a procedure with code {code}. Use another code or edit that one.",
    )


def create_local_procedure(session: Session, raw: dict[str, Any], *, is_active: bool = True) -> Procedure:
    """A procedure of the unit's own (not from the standard catalogue)."""
    spec = check_spec(raw)
    if session.scalar(select(Procedure.id).where(Procedure.code == spec["code"])) is not None:
        raise _duplicate(spec["code"])
    procedure = apply_spec(session, None, spec)
    procedure.is_active = is_active
    return procedure


def edit_procedure(
    session: Session, procedure: Procedure, raw: dict[str, Any], *, is_active: bool
) -> Procedure:
    """The admin's edit; a standard-derived procedure that ends up different becomes overridden."""
    spec = check_spec(raw)
    clash = session.scalar(
        select(Procedure.id).where(Procedure.code == spec["code"], Procedure.id != procedure.id)
    )
    if clash is not None:
        raise _duplicate(spec["code"])
    if procedure.standard_version is not None and spec["code"] != procedure.code:
        raise Conflict(
            "Không đổi được mã của thủ tục lấy từ danh mục chuẩn.",
            "The code of a procedure from the standard catalogue cannot change.",
        )
    before = (procedure_spec(session, procedure), procedure.is_active)
    apply_spec(session, procedure, spec)
    changed = before != (spec, is_active)
    procedure.is_active = is_active
    if procedure.standard_version is not None and changed:
        procedure.is_overridden = True
    return procedure


def restore_standard(
    session: Session, procedure: Procedure, spec: dict[str, Any] | None, version: int
) -> None:
    """Make the procedure match standard ``version`` again (``spec`` None: the version dropped it)."""
    if spec is None:
        procedure.is_active = False
    else:
        apply_spec(session, procedure, spec)
        procedure.is_active = True
    procedure.is_overridden = False
    procedure.standard_version = version
    procedure.pending_standard_version = None


def keep_own_copy(procedure: Procedure) -> None:
    """The admin reviewed the standard's change and keeps the unit's copy.

    The copy is overridden from now on, also when it was the unit's own procedure
    that the standard started to offer: the next version that changes the code is
    a conflict again, never applied over the unit's copy.
    """
    if procedure.pending_standard_version is None:
        raise Conflict(
            "Thủ tục này không có xung đột cần xem xét.", "This procedure has no conflict to review."
        )
    procedure.standard_version = procedure.pending_standard_version
    procedure.pending_standard_version = None
    procedure.is_overridden = True
