"""Internal processes (ISO 9001:2015) as versioned DAGs of steps."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core.errors import Conflict
from tenants.base import TenantBase


class ProcessTemplate(TenantBase):
    """Internal process — quy trình nội bộ, for one procedure (and optionally one case)."""

    __tablename__ = "process_templates"
    __table_args__ = (
        # One template per procedure and case; NULL case = the procedure's case-less template.
        Index(
            "uq_process_templates_procedure_case",
            "procedure_id",
            "case_id",
            unique=True,
            postgresql_where=text("case_id IS NOT NULL"),
        ),
        Index(
            "uq_process_templates_procedure_no_case",
            "procedure_id",
            unique=True,
            postgresql_where=text("case_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("procedure_cases.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str | None] = mapped_column(String(64))  # ISO document code, e.g. "QT-TP-01"
    name: Mapped[str] = mapped_column(Text)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProcessVersion(TenantBase):
    """A version of an internal process; only published versions are used for dossiers."""

    __tablename__ = "process_versions"
    __table_args__ = (
        UniqueConstraint("template_id", "version"),
        CheckConstraint("status IN ('draft', 'published', 'retired')", name="status_valid"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(
            "status = 'draft' OR published_at IS NOT NULL",
            name="published_at_when_published",
        ),
        CheckConstraint(
            "time_unit IN ('working_days', 'calendar_days', 'same_day', 'hours')",
            name="time_unit_valid",
        ),
        # At most one published version per template: dossiers must find exactly one.
        Index(
            "uq_process_versions_one_published",
            "template_id",
            unique=True,
            postgresql_where=text("status = 'published'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    template_id: Mapped[int] = mapped_column(
        ForeignKey("process_templates.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft", server_default="draft")
    time_unit: Mapped[str] = mapped_column(String(16), default="working_days")
    # Budget in working hours along the longest path (counter and online submissions).
    total_budget_hours: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    total_budget_hours_online: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    effective_from: Mapped[date | None] = mapped_column(Date)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_by_account_id: Mapped[int | None] = mapped_column(BigInteger)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by_account_id: Mapped[int | None] = mapped_column(BigInteger)


class ProcessStep(TenantBase):
    """Step of an internal process — bước xử lý, assigned to a role in a division."""

    __tablename__ = "process_steps"
    __table_args__ = (
        UniqueConstraint("version_id", "key"),
        CheckConstraint("duration_hours >= 0", name="duration_non_negative"),
        CheckConstraint(
            "kind IN ('start', 'task', 'approval', 'signing', 'interop', 'return', 'end')",
            name="kind_valid",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(40))  # stable node id inside the version
    name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16), default="task", server_default="task")
    role: Mapped[str] = mapped_column(String(32))  # one of app.auth.roles.TENANT_ROLES
    division_id: Mapped[int | None] = mapped_column(
        ForeignKey("divisions.id", ondelete="SET NULL"), index=True
    )
    # Named officials allowed to act at this step (platform account ids); empty = any holder.
    account_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list, server_default="{}")
    duration_hours: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    # Liên thông: an 'interop' step hands the dossier to this unit (platform tenant id, no FK).
    partner_tenant_id: Mapped[int | None] = mapped_column(BigInteger)
    sort_order: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    ui_position: Mapped[dict | None] = mapped_column(JSONB)  # editor layout only


class ProcessStepLink(TenantBase):
    """Edge of the step DAG: branches for supplement or refusal, parallel coordination."""

    __tablename__ = "process_step_links"
    __table_args__ = (
        UniqueConstraint("from_step_id", "to_step_id"),
        CheckConstraint("from_step_id <> to_step_id", name="no_self_loop"),
        CheckConstraint(
            "condition IN ('default', 'supplement', 'refuse', 'parallel', 'return')",
            name="condition_valid",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id", ondelete="CASCADE"), index=True)
    from_step_id: Mapped[int] = mapped_column(ForeignKey("process_steps.id", ondelete="CASCADE"))
    to_step_id: Mapped[int] = mapped_column(ForeignKey("process_steps.id", ondelete="CASCADE"), index=True)
    condition: Mapped[str] = mapped_column(String(16), default="default", server_default="default")
    label: Mapped[str | None] = mapped_column(String(255))


# --- immutability -----------------------------------------------------------
# A published or retired version is what dossiers were (and are) handled by, so
# it never changes, even for code that skips the services. The only change it
# accepts is published -> retired, when a newer version is published.


class ImmutableVersion(Conflict):
    def __init__(self, version_id: int | None):
        super().__init__(
            f"Phiên bản quy trình #{version_id} đã ban hành nên không thể sửa. "
            "Hãy tạo bản nháp mới từ phiên bản này để thay đổi.",
            f"Process version #{version_id} has been published and cannot be changed. "
            "Create a new draft from it to make changes.",
        )


def _stored(session: Session, column, row_id: int | None):
    """The value as stored before this flush (the database is the truth, not the object)."""
    if row_id is None:
        return None
    with session.no_autoflush:
        return session.scalar(select(column).where(column.table.c.id == row_id))


def _changed_columns(obj) -> set[str]:
    state = inspect(obj)
    return {attr.key for attr in state.mapper.column_attrs if state.attrs[attr.key].history.has_changes()}


def _check_version_row(session: Session, version: ProcessVersion, deleting: bool) -> None:
    old_status = _stored(session, ProcessVersion.status, version.id)
    if old_status in (None, "draft"):
        return
    changed = _changed_columns(version)
    if not deleting and not changed:
        return
    retiring = old_status == "published" and version.status == "retired" and changed == {"status"}
    if deleting or not retiring:
        raise ImmutableVersion(version.id)


def _check_parts(session: Session, new: list, changed: list) -> None:
    """Steps and links may be written only while their version (before and after) is a draft."""
    version_ids = {part.version_id for part in (*new, *changed)}
    with session.no_autoflush:
        for model in (ProcessStep, ProcessStepLink):
            ids = [part.id for part in changed if isinstance(part, model)]
            if ids:
                version_ids.update(session.scalars(select(model.version_id).where(model.id.in_(ids))))
        version_ids.discard(None)
        frozen = session.scalar(
            select(ProcessVersion.id)
            .where(ProcessVersion.id.in_(version_ids), ProcessVersion.status != "draft")
            .limit(1)
        )
    if frozen is not None:
        raise ImmutableVersion(frozen)


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_published(session: Session, flush_context, instances) -> None:
    parts = (ProcessStep, ProcessStepLink)
    for obj in (*session.dirty, *session.deleted):
        if isinstance(obj, ProcessVersion):
            _check_version_row(session, obj, deleting=obj in session.deleted)
    changed = [
        obj
        for obj in (*session.dirty, *session.deleted)
        if isinstance(obj, parts) and (obj in session.deleted or session.is_modified(obj))
    ]
    new = [obj for obj in session.new if isinstance(obj, parts)]
    if changed or new:
        _check_parts(session, new, changed)


_GUARDED_TABLES = frozenset({"process_versions", "process_steps", "process_step_links"})


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_writes(state) -> None:
    # A bulk UPDATE/DELETE skips before_flush, so it could rewrite a published
    # version unseen; writes to these tables go row by row through the ORM.
    if not (state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in _GUARDED_TABLES:
        raise Conflict(
            "Không được sửa hàng loạt quy trình; hãy sửa từng bản nháp qua chức năng quy trình.",
            "Bulk changes to processes are not allowed; edit drafts through the process services.",
        )
