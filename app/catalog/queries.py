"""Reads of the procedure catalog (in the bound tenant's schema)."""

from __future__ import annotations

from sqlalchemy import func, or_, select

from app.catalog.models import FeeLine, Procedure, ProcedureCase, ProcedureComponent, Sector
from app.core.db import tenant_db
from app.core.errors import NotFound
from tenants.naming import strip_diacritics


def list_procedures(*, limit: int = 50, offset: int = 0) -> list[Procedure]:
    query = select(Procedure).where(Procedure.is_active).order_by(Procedure.code).limit(limit).offset(offset)
    return list(tenant_db().scalars(query))


def count_procedures() -> int:
    return tenant_db().scalar(select(func.count()).select_from(Procedure).where(Procedure.is_active)) or 0


def get_procedure(procedure_id: int) -> Procedure:
    procedure = tenant_db().get(Procedure, procedure_id)
    if procedure is None or not procedure.is_active:
        raise NotFound("Không tìm thấy thủ tục", "Procedure not found")
    return procedure


# --- the unit admin's reads (inactive procedures included) ---------------------------------


def list_sectors() -> list[Sector]:
    return list(tenant_db().scalars(select(Sector).order_by(Sector.sort_order, Sector.code)))


def search_procedures(
    *, text: str = "", sector_id: int | None = None, level: int | None = None, active: bool | None = None
) -> list[Procedure]:
    """The unit admin's list: code or name without diacritics, sector, level, active flag."""
    query = select(Procedure).order_by(Procedure.code)
    words = strip_diacritics(text).lower().split()
    for word in words:
        pattern = f"%{_escape_like(word)}%"
        query = query.where(
            or_(
                Procedure.name_search.like(pattern, escape="\\"),
                func.lower(Procedure.code).like(pattern, escape="\\"),
            )
        )
    if sector_id is not None:
        query = query.where(Procedure.sector_id == sector_id)
    if level is not None:
        query = query.where(Procedure.service_level == level)
    if active is not None:
        query = query.where(Procedure.is_active.is_(active))
    return list(tenant_db().scalars(query))


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def get_admin_procedure(procedure_id: int) -> Procedure:
    """Any procedure of this unit, active or not (404 for another unit's or a missing id)."""
    procedure = tenant_db().get(Procedure, procedure_id)
    if procedure is None:
        raise NotFound("Không tìm thấy thủ tục", "Procedure not found")
    return procedure


def list_conflicts() -> list[Procedure]:
    query = select(Procedure).where(Procedure.pending_standard_version.is_not(None)).order_by(Procedure.code)
    return list(tenant_db().scalars(query))


# --- the API's full view of one procedure ---------------------------------------------------


def procedure_detail(procedure: Procedure) -> dict:
    """The procedure with its sector, active cases, components (with the ids intake ticks) and fees."""
    session = tenant_db()
    sector = session.get(Sector, procedure.sector_id)
    cases = session.scalars(
        select(ProcedureCase)
        .where(ProcedureCase.procedure_id == procedure.id, ProcedureCase.is_active)
        .order_by(ProcedureCase.sort_order, ProcedureCase.id)
    )
    components = session.scalars(
        select(ProcedureComponent)
        .where(ProcedureComponent.procedure_id == procedure.id)
        .order_by(ProcedureComponent.sort_order, ProcedureComponent.id)
    )
    fees = session.scalars(
        select(FeeLine).where(FeeLine.procedure_id == procedure.id).order_by(FeeLine.sort_order, FeeLine.id)
    )
    return {
        **{name: getattr(procedure, name) for name in _PROCEDURE_FIELDS},
        "sector": {"code": sector.code, "name": sector.name},
        "cases": list(cases),
        "components": list(components),
        "fees": list(fees),
    }


_PROCEDURE_FIELDS = (
    "id",
    "code",
    "name",
    "service_level",
    "time_value",
    "time_unit",
    "online_time_value",
    "applicant_types",
    "channels",
    "result_delivery",
    "result_document_type",
    "legal_basis",
    "is_active",
    "is_overridden",
    "standard_version",
)
