"""Dossiers and everything recorded while handling them."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenants.base import TenantBase


class Dossier(TenantBase):
    """Dossier — hồ sơ. Status codes follow DVCQG (0 draft, 1-10)."""

    __tablename__ = "dossiers"
    __table_args__ = (
        CheckConstraint("status BETWEEN 0 AND 10", name="status_range"),
        CheckConstraint("status = 0 OR code IS NOT NULL", name="code_after_draft"),
        CheckConstraint("channel IN (1, 2, 3)", name="channel_valid"),
        CheckConstraint("service_level BETWEEN 1 AND 4", name="service_level_range"),
        CheckConstraint(
            "applicant_type IN ('citizen', 'enterprise', 'organisation')",
            name="applicant_type_valid",
        ),
        CheckConstraint(
            "result_delivery IN ('counter', 'online', 'postal')",
            name="result_delivery_valid",
        ),
        CheckConstraint(
            "stop_reason IS NULL OR stop_reason IN ('refused', 'suspended', 'supplement_expired')",
            name="stop_reason_valid",
        ),
        CheckConstraint("number_of_sets >= 1", name="number_of_sets_positive"),
        Index(None, "status", "due_at"),
        Index(None, "due_at"),
        Index(None, "received_at"),
        Index(None, "applicant_id_number"),
        # The task queue: dossiers held by one official, and dossiers waiting for any holder of a role.
        Index(
            "ix_dossiers_queue_account",
            "current_account_id",
            "current_step_due_at",
            postgresql_where=text("status IN (2, 4, 5, 6, 9)"),
        ),
        Index(
            "ix_dossiers_queue_role",
            "current_role",
            "current_step_due_at",
            postgresql_where=text("current_account_id IS NULL AND status IN (2, 4, 5, 6, 9)"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Mã hồ sơ <UNIT_CODE>-<YYMMDD>-<XXXX>; NULL while a draft.
    code: Mapped[str | None] = mapped_column(String(48), unique=True)
    reference: Mapped[uuid.UUID] = mapped_column(Uuid, unique=True, server_default=func.gen_random_uuid())
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("procedure_cases.id"))
    process_version_id: Mapped[int | None] = mapped_column(ForeignKey("process_versions.id"))
    current_step_id: Mapped[int | None] = mapped_column(ForeignKey("process_steps.id"))
    current_division_id: Mapped[int | None] = mapped_column(ForeignKey("divisions.id"))
    current_account_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # Role of the current step, copied here so the task queue is one index scan.
    current_role: Mapped[str | None] = mapped_column(String(32))
    current_step_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    current_step_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    applicant_type: Mapped[str] = mapped_column(String(16), default="citizen")
    applicant_id_type: Mapped[str | None] = mapped_column(String(16))  # cccd, cmnd, passport, tax
    applicant_id_number: Mapped[str | None] = mapped_column(String(32))
    applicant_name: Mapped[str] = mapped_column(String(255))
    applicant_phone: Mapped[str | None] = mapped_column(String(32))
    applicant_email: Mapped[str | None] = mapped_column(String(255))
    applicant_address: Mapped[str | None] = mapped_column(Text)
    applicant_province_code: Mapped[str | None] = mapped_column(String(8))
    applicant_district_code: Mapped[str | None] = mapped_column(String(8))
    applicant_ward_code: Mapped[str | None] = mapped_column(String(8))
    delegate_name: Mapped[str | None] = mapped_column(String(255))  # người được ủy quyền
    delegate_phone: Mapped[str | None] = mapped_column(String(32))
    citizen_account_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # Lower-case, diacritics-free "code name phone id" for the back office search box.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")

    channel: Mapped[int] = mapped_column(SmallInteger)  # 1 counter, 2 online, 3 postal (BCCI)
    result_delivery: Mapped[str] = mapped_column(String(16), default="counter")
    service_level: Mapped[int | None] = mapped_column(SmallInteger)
    number_of_sets: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    status: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")
    sub_status: Mapped[str | None] = mapped_column(String(32))
    stop_reason: Mapped[str | None] = mapped_column(String(32))

    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_by_account_id: Mapped[int | None] = mapped_column(BigInteger)
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    due_at_original: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rescheduled_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Why due_at is what it is: start, budget, days skipped, pauses, extension (JSON, bilingual).
    due_explanation: Mapped[dict[str, Any] | None] = mapped_column(JSONB)

    is_paid_online: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    is_digitised: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    is_vneid_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    dvcqg_synced_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    dvcqg_sync_status: Mapped[str | None] = mapped_column(String(16))
    # Set on dossiers brought over from the unit's previous system (app.imports); NULL when born here.
    history_import_id: Mapped[int | None] = mapped_column(
        ForeignKey("history_imports.id", ondelete="SET NULL")
    )

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    # Optimistic lock: the API's ETag and the UI's hidden version field.
    row_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__: ClassVar[dict[str, Any]] = {"version_id_col": row_version}


class DossierComponent(TenantBase):
    """Document submitted with a dossier — thành phần hồ sơ."""

    __tablename__ = "dossier_components"
    __table_args__ = (
        CheckConstraint(
            "original_or_copy IN ('original', 'copy', 'certified_copy', 'original_or_copy')",
            name="original_or_copy_valid",
        ),
        CheckConstraint("quantity >= 0", name="quantity_non_negative"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    procedure_component_id: Mapped[int | None] = mapped_column(
        ForeignKey("procedure_components.id", ondelete="SET NULL")
    )
    code: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text)
    original_or_copy: Mapped[str] = mapped_column(String(16), default="original")
    quantity: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    is_received: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    is_digitised: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    is_reused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    note: Mapped[str | None] = mapped_column(Text)


class DossierFile(TenantBase):
    """A stored file: a component scan, an e-result, or a generated form."""

    __tablename__ = "dossier_files"
    __table_args__ = (
        CheckConstraint("kind IN ('component', 'result', 'form', 'other')", name="kind_valid"),
        CheckConstraint("size_bytes >= 0", name="size_non_negative"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    component_id: Mapped[int | None] = mapped_column(
        ForeignKey("dossier_components.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16), default="component")
    storage_key: Mapped[str] = mapped_column(String(512), unique=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_account_id: Mapped[int | None] = mapped_column(BigInteger)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DossierAction(TenantBase):
    """Append-only record of a transition or handover; feeds form 05 and KPIs."""

    __tablename__ = "dossier_actions"
    __table_args__ = (
        CheckConstraint(
            "on_time_class IS NULL OR on_time_class IN ('early', 'on_time', 'late')",
            name="on_time_class_valid",
        ),
        CheckConstraint("from_status BETWEEN 0 AND 10", name="from_status_range"),
        CheckConstraint("to_status BETWEEN 0 AND 10", name="to_status_range"),
        Index(None, "dossier_id", "at"),
        Index(None, "actor_account_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"))
    step_id: Mapped[int | None] = mapped_column(ForeignKey("process_steps.id"))
    action: Mapped[str] = mapped_column(String(32))  # submit, receive, transfer, finish_step...
    actor_account_id: Mapped[int | None] = mapped_column(BigInteger)
    role: Mapped[str | None] = mapped_column(String(32))
    division_id: Mapped[int | None] = mapped_column(ForeignKey("divisions.id"))
    # Receiving side of a handover (form 05 "Nhận").
    to_account_id: Mapped[int | None] = mapped_column(BigInteger)
    to_division_id: Mapped[int | None] = mapped_column(ForeignKey("divisions.id"))
    from_status: Mapped[int | None] = mapped_column(SmallInteger)
    to_status: Mapped[int | None] = mapped_column(SmallInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    step_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    on_time_class: Mapped[str | None] = mapped_column(String(8))
    note: Mapped[str | None] = mapped_column(Text)


class DossierPause(TenantBase):
    """A clock pause: supplement request (status 5) or financial obligation (status 6)."""

    __tablename__ = "dossier_pauses"
    __table_args__ = (
        CheckConstraint("kind IN ('supplement', 'financial')", name="kind_valid"),
        CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="period_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    paused_working_minutes: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    form_document_id: Mapped[int | None] = mapped_column(ForeignKey("form_documents.id", ondelete="SET NULL"))


class DossierCodeCounter(TenantBase):
    """Last sequence number of dossier codes issued by the unit on a day."""

    __tablename__ = "dossier_code_counters"
    __table_args__ = (CheckConstraint("last_seq >= 0", name="last_seq_non_negative"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class FormDocument(TenantBase):
    """A form issued for a dossier (Circular 01/2018 forms 01-06, or the 2025 set)."""

    __tablename__ = "form_documents"
    __table_args__ = (
        UniqueConstraint("form_set", "form_no", "number"),
        CheckConstraint("form_set IN ('2018', '2025')", name="form_set_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    form_set: Mapped[str] = mapped_column(String(4), default="2018", server_default="2018")
    form_no: Mapped[str] = mapped_column(String(4))  # "01".."07"
    number: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    storage_key: Mapped[str | None] = mapped_column(String(512))  # rendered PDF
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    issued_by_account_id: Mapped[int | None] = mapped_column(BigInteger)
    signed_by_account_id: Mapped[int | None] = mapped_column(BigInteger)
    signed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class InteropTask(TenantBase):
    """Liên thông sub-task: work sent to, or received from, another unit for one dossier."""

    __tablename__ = "interop_tasks"
    __table_args__ = (
        CheckConstraint("direction IN ('outgoing', 'incoming')", name="direction_valid"),
        CheckConstraint(
            "status IN ('pending', 'in_progress', 'done', 'returned', 'cancelled')",
            name="status_valid",
        ),
        CheckConstraint("direction = 'incoming' OR dossier_id IS NOT NULL", name="outgoing_dossier"),
        Index(None, "dossier_code"),
        Index(None, "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    direction: Mapped[str] = mapped_column(String(8))
    # Set on the owning unit's side; the other side knows the dossier by code and owner.
    dossier_id: Mapped[int | None] = mapped_column(ForeignKey("dossiers.id", ondelete="CASCADE"), index=True)
    dossier_code: Mapped[str] = mapped_column(String(48))
    owner_tenant_id: Mapped[int] = mapped_column(BigInteger)  # platform tenant ids, no FK
    partner_tenant_id: Mapped[int] = mapped_column(BigInteger)
    step_id: Mapped[int | None] = mapped_column(ForeignKey("process_steps.id"))
    subject: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    note: Mapped[str | None] = mapped_column(Text)
