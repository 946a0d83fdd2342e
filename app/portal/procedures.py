"""The unit portal's reads of the catalogue: lists by sector and level, level-1 facts, ranked search.

Everything reads the bound tenant's schema (``tenant_db()``) and only active procedures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from app.catalog.models import (
    FeeLine,
    LegalDocument,
    Procedure,
    ProcedureCase,
    ProcedureComponent,
    ProcedureLegalDocument,
    Sector,
)
from app.catalog.search import fold, match_and_rank
from app.core.db import tenant_db
from app.core.errors import NotFound
from app.processes.services import published_version, steps_of

PAGE_SIZE = 20
SEARCH_LIMIT = 50
# Where a stored template file for a component lives: <slug>/procedure-templates/<procedure>/<name>.
TEMPLATE_FOLDER = "procedure-templates"


@dataclass
class ProcedureRow:
    id: int
    code: str
    name: str
    service_level: int
    time_value: object
    time_unit: str
    sector_id: int
    sector_name: str


@dataclass
class ProcedureList:
    groups: list[tuple[str, list[ProcedureRow]]]
    total: int
    page: int
    pages: int


@dataclass
class ProcedureFacts:
    """What a level-1 procedure page shows (DOMAIN.md §1.1)."""

    procedure: Procedure
    sector: Sector
    steps: list[str] = field(default_factory=list)
    components: list[tuple[ProcedureComponent, str | None]] = field(default_factory=list)  # (row, case)
    fees: list[tuple[FeeLine, str | None]] = field(default_factory=list)
    legal_documents: list[LegalDocument] = field(default_factory=list)


def _row_query():
    return (
        select(
            Procedure.id,
            Procedure.code,
            Procedure.name,
            Procedure.service_level,
            Procedure.time_value,
            Procedure.time_unit,
            Procedure.sector_id,
            Sector.name.label("sector_name"),
        )
        .join(Sector, Sector.id == Procedure.sector_id)
        .where(Procedure.is_active)
    )


def list_sectors() -> list[Sector]:
    """Sectors holding at least one active procedure, for the filter."""
    has_active = select(Procedure.id).where(Procedure.sector_id == Sector.id, Procedure.is_active).exists()
    query = select(Sector).where(Sector.is_active, has_active).order_by(Sector.sort_order, Sector.code)
    return list(tenant_db().scalars(query))


def list_by_sector(
    *, sector_id: int | None = None, level: int | None = None, page: int = 1, per_page: int = PAGE_SIZE
) -> ProcedureList:
    """Active procedures grouped by sector (in sector order), one page at a time."""
    filters = []
    if sector_id is not None:
        filters.append(Procedure.sector_id == sector_id)
    if level is not None:
        filters.append(Procedure.service_level == level)
    session = tenant_db()
    total = session.scalar(select(func.count()).select_from(Procedure).where(Procedure.is_active, *filters))
    pages = max(1, -(-(total or 0) // per_page))
    page = min(max(1, page), pages)
    query = (
        _row_query()
        .where(*filters)
        .order_by(Sector.sort_order, Sector.code, Procedure.code)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    groups: list[tuple[str, list[ProcedureRow]]] = []
    for row in session.execute(query):
        item = ProcedureRow(**row._mapping)
        if not groups or groups[-1][1][0].sector_id != item.sector_id:
            groups.append((item.sector_name, []))
        groups[-1][1].append(item)
    return ProcedureList(groups=groups, total=total or 0, page=page, pages=pages)


def procedure_facts(procedure_id: int) -> ProcedureFacts:
    """One active procedure with its steps, components, fees and legal basis; 404 otherwise."""
    session = tenant_db()
    procedure = session.get(Procedure, procedure_id)
    if procedure is None or not procedure.is_active:
        raise NotFound(
            "Không tìm thấy thủ tục. Hãy chọn thủ tục trong danh sách.",
            "Procedure not found. Pick one from the list.",
        )
    facts = ProcedureFacts(procedure=procedure, sector=session.get(Sector, procedure.sector_id))
    version = published_version(session, procedure.id)
    if version is not None:
        # Plain step names only: the public never sees who handles a step.
        facts.steps = [step.name for step in steps_of(session, version.id)]
    case_name = ProcedureCase.name.label("case_name")
    facts.components = [
        (row, name)
        for row, name in session.execute(
            select(ProcedureComponent, case_name)
            .outerjoin(ProcedureCase, ProcedureCase.id == ProcedureComponent.case_id)
            .where(ProcedureComponent.procedure_id == procedure.id)
            .order_by(
                ProcedureCase.sort_order.nulls_first(), ProcedureComponent.sort_order, ProcedureComponent.id
            )
        )
    ]
    facts.fees = [
        (row, name)
        for row, name in session.execute(
            select(FeeLine, case_name)
            .outerjoin(ProcedureCase, ProcedureCase.id == FeeLine.case_id)
            .where(FeeLine.procedure_id == procedure.id)
            .order_by(ProcedureCase.sort_order.nulls_first(), FeeLine.sort_order, FeeLine.id)
        )
    ]
    facts.legal_documents = list(
        session.scalars(
            select(LegalDocument)
            .join(ProcedureLegalDocument, ProcedureLegalDocument.legal_document_id == LegalDocument.id)
            .where(ProcedureLegalDocument.procedure_id == procedure.id)
            .order_by(LegalDocument.issued_on.nulls_last(), LegalDocument.number)
        )
    )
    return facts


def component_of(procedure_id: int, component_id: int) -> ProcedureComponent:
    """A component of an active procedure (for its template download); 404 otherwise."""
    session = tenant_db()
    component = session.scalar(
        select(ProcedureComponent)
        .join(Procedure, Procedure.id == ProcedureComponent.procedure_id)
        .where(
            ProcedureComponent.id == component_id,
            ProcedureComponent.procedure_id == procedure_id,
            Procedure.is_active,
        )
    )
    if component is None or not component.template_file:
        raise NotFound("Không tìm thấy mẫu đơn, tờ khai.", "Form template not found.")
    return component


# --- search -------------------------------------------------------------------------------


def normalise_query(text: str) -> str:
    return fold(text)


def search(text: str, *, limit: int = SEARCH_LIMIT) -> list[ProcedureRow]:
    """Ranked search over name (diacritics and case ignored) and code, in one query.

    Rank: exact code, then code or name starting with the query, then every word present
    as a whole word, then substring matches (the whole query, or every word); ties go to
    the shorter name.
    """
    query_text = normalise_query(text)
    if not query_text:
        return []
    matches, rank = match_and_rank(func.lower(Procedure.code), Procedure.name_search, query_text)
    ranked = (
        _row_query()
        .add_columns(rank)
        .where(matches)
        .order_by(rank, func.length(Procedure.name), Procedure.name, Procedure.code)
        .limit(limit)
    )
    return [
        ProcedureRow(**{k: v for k, v in row._mapping.items() if k != "rank"})
        for row in tenant_db().execute(ranked)
    ]
