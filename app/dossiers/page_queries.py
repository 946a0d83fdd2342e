"""Reads the back office pages need around a dossier: procedures to pick, names to show, forms issued.

Small look-ups only; the dossier rules live in queries/actions/intake. Every read
goes through the session the caller passes (the bound tenant's), so a row of
another unit is simply not found.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.auth.models import Account
from app.catalog.models import Procedure, ProcedureCase, ProcedureComponent
from app.core.errors import NotFound
from app.dossiers.models import Dossier, DossierComponent, FormDocument
from app.officials.models import Division
from app.processes.checks import CONDITIONS
from app.processes.models import ProcessStep
from app.processes.services import next_steps
from tenants.naming import strip_diacritics


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def find_procedures(session: Session, text: str, *, limit: int = 20) -> list[Procedure]:
    """Active procedures whose code or name (diacritics ignored) contains every word of ``text``."""
    words = strip_diacritics(text or "").lower().split()
    if not words:
        return []
    query = select(Procedure).where(Procedure.is_active)
    for word in words:
        pattern = f"%{_escape_like(word)}%"
        query = query.where(
            or_(
                Procedure.name_search.like(pattern, escape="\\"),
                func.lower(Procedure.code).like(pattern, escape="\\"),
            )
        )
    return list(session.scalars(query.order_by(Procedure.code).limit(limit)))


def active_procedures(session: Session) -> list[Procedure]:
    return list(session.scalars(select(Procedure).where(Procedure.is_active).order_by(Procedure.code)))


def get_active_procedure(session: Session, procedure_id: int) -> Procedure:
    procedure = session.get(Procedure, procedure_id)
    if procedure is None or not procedure.is_active:
        raise NotFound(
            "Không tìm thấy thủ tục này ở đơn vị (hoặc thủ tục đã ngừng áp dụng).",
            "This unit has no such procedure (or it is no longer offered).",
        )
    return procedure


def cases_of(session: Session, procedure_id: int) -> list[ProcedureCase]:
    return list(
        session.scalars(
            select(ProcedureCase)
            .where(ProcedureCase.procedure_id == procedure_id, ProcedureCase.is_active)
            .order_by(ProcedureCase.sort_order, ProcedureCase.id)
        )
    )


def components_for(session: Session, procedure_id: int, case_id: int | None) -> list[ProcedureComponent]:
    """The documents to tick at the counter: the procedure's own plus the chosen case's."""
    return list(
        session.scalars(
            select(ProcedureComponent)
            .where(
                ProcedureComponent.procedure_id == procedure_id,
                or_(
                    ProcedureComponent.case_id.is_(None),
                    ProcedureComponent.case_id == (case_id if case_id is not None else -1),
                ),
            )
            .order_by(ProcedureComponent.sort_order, ProcedureComponent.id)
        )
    )


def get_dossier(session: Session, dossier_id: int) -> Dossier:
    dossier = session.get(Dossier, dossier_id)
    if dossier is None:
        raise NotFound("Không tìm thấy hồ sơ ở đơn vị này.", "This unit has no such dossier.")
    return dossier


def components_of(session: Session, dossier_id: int) -> list[DossierComponent]:
    return list(
        session.scalars(
            select(DossierComponent)
            .where(DossierComponent.dossier_id == dossier_id)
            .order_by(DossierComponent.id)
        )
    )


def forms_of(session: Session, dossier_id: int) -> list[FormDocument]:
    return list(
        session.scalars(
            select(FormDocument)
            .where(FormDocument.dossier_id == dossier_id)
            .order_by(FormDocument.issued_at, FormDocument.id)
        )
    )


def get_form(session: Session, dossier_id: int, form_id: int) -> FormDocument:
    """The form, only if it belongs to this dossier (404 otherwise, the same as a missing one)."""
    form = session.get(FormDocument, form_id)
    if form is None or form.dossier_id != dossier_id:
        raise NotFound("Không tìm thấy biểu mẫu này của hồ sơ.", "This dossier has no such form.")
    return form


def procedure_names(session: Session, ids: Iterable[int | None]) -> dict[int, Procedure]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {p.id: p for p in session.scalars(select(Procedure).where(Procedure.id.in_(wanted)))}


def steps_by_id(session: Session, ids: Iterable[int | None]) -> dict[int, ProcessStep]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {s.id: s for s in session.scalars(select(ProcessStep).where(ProcessStep.id.in_(wanted)))}


def division_names(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.execute(select(Division.id, Division.name).where(Division.id.in_(wanted)))
    return {key: value for key, value in rows}


def account_names(platform_session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """Full names of accounts (platform rows; tenant rows refer to them by id)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = platform_session.execute(select(Account.id, Account.full_name).where(Account.id.in_(wanted)))
    return {key: value for key, value in rows}


def following_step(session: Session, step_id: int | None) -> ProcessStep | None:
    """The step a transfer or forward would hand the dossier to (the default branch)."""
    if step_id is None:
        return None
    following = next_steps(session, step_id)
    return following[0] if following else None


def branches(session: Session, step_id: int | None) -> list[tuple[str, ProcessStep]]:
    """The other ways on from a step (supplement, refusal, return… links), for the forward form."""
    if step_id is None:
        return []
    found = []
    for condition in CONDITIONS:
        if condition != "default":
            found += [(condition, step) for step in next_steps(session, step_id, condition)]
    return found
