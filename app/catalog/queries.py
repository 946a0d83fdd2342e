"""Reads of the procedure catalog (in the bound tenant's schema)."""

from __future__ import annotations

from sqlalchemy import func, select

from app.catalog.models import Procedure
from app.core.db import tenant_db
from app.core.errors import NotFound


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
