"""Reads for the process admin pages: which procedure (case) has which process and versions."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.catalog.models import Procedure, ProcedureCase
from app.officials.models import Division
from app.processes.legal import LegalTime, legal_time_of
from app.processes.models import ProcessTemplate, ProcessVersion


@dataclass(frozen=True)
class ProcessRow:
    """One line of the index: a procedure, or one of its cases, and its process if any."""

    procedure: Procedure
    case: ProcedureCase | None
    legal: LegalTime
    template: ProcessTemplate | None
    published: ProcessVersion | None
    draft: ProcessVersion | None


def list_process_rows(session: Session) -> list[ProcessRow]:
    procedures = list(
        session.scalars(select(Procedure).where(Procedure.is_active).order_by(Procedure.code, Procedure.id))
    )
    ids = [p.id for p in procedures]
    cases: dict[int, list[ProcedureCase]] = {}
    for case in session.scalars(
        select(ProcedureCase)
        .where(ProcedureCase.procedure_id.in_(ids), ProcedureCase.is_active)
        .order_by(ProcedureCase.sort_order, ProcedureCase.id)
    ):
        cases.setdefault(case.procedure_id, []).append(case)
    templates = {
        (t.procedure_id, t.case_id): t
        for t in session.scalars(select(ProcessTemplate).where(ProcessTemplate.procedure_id.in_(ids)))
    }
    by_status: dict[tuple[int, str], ProcessVersion] = {}
    template_ids = [t.id for t in templates.values()]
    for version in session.scalars(
        select(ProcessVersion)
        .where(
            ProcessVersion.template_id.in_(template_ids), ProcessVersion.status.in_(("published", "draft"))
        )
        .order_by(ProcessVersion.version)
    ):
        by_status[(version.template_id, version.status)] = version

    def row(procedure: Procedure, case: ProcedureCase | None) -> ProcessRow:
        template = templates.get((procedure.id, case.id if case else None))
        tid = template.id if template else 0
        return ProcessRow(
            procedure,
            case,
            legal_time_of(procedure, case),
            template,
            by_status.get((tid, "published")),
            by_status.get((tid, "draft")),
        )

    rows: list[ProcessRow] = []
    for procedure in procedures:
        rows.append(row(procedure, None))
        rows.extend(row(procedure, case) for case in cases.get(procedure.id, []))
    return rows


def list_divisions(session: Session) -> list[Division]:
    query = select(Division).where(Division.is_active).order_by(Division.sort_order, Division.name)
    return list(session.scalars(query))


def default_divisions(session: Session) -> tuple[int | None, int | None]:
    """The first one-stop and the first specialised division: where the standard chain starts."""
    divisions = list_divisions(session)
    one_stop = next((d.id for d in divisions if d.kind == "one_stop"), None)
    specialised = next((d.id for d in divisions if d.kind == "specialised"), None)
    return one_stop, specialised


def default_process_name(session: Session, procedure_id: int, case_id: int | None) -> str:
    """ "<procedure>" or "<procedure> — <case>"; the service checks that both exist."""
    procedure = session.get(Procedure, procedure_id)
    case = session.get(ProcedureCase, case_id) if case_id is not None else None
    name = procedure.name if procedure else ""
    return f"{name} — {case.name}" if case is not None else name
