"""Procedure catalogue of one unit: sectors, procedures, cases, components, fees."""

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
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column, validates

from tenants.base import TenantBase
from tenants.naming import strip_diacritics

TIME_UNITS = "('working_days', 'calendar_days', 'same_day', 'hours')"
ORIGINAL_OR_COPY = "('original', 'copy', 'certified_copy', 'original_or_copy')"


class Sector(TenantBase):
    """Sector — lĩnh vực (e.g. civil status, land, construction)."""

    __tablename__ = "sectors"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    sort_order: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))


class Procedure(TenantBase):
    """Procedure — thủ tục hành chính, the unit's copy of a national catalogue entry."""

    __tablename__ = "procedures"
    __table_args__ = (
        CheckConstraint("service_level BETWEEN 1 AND 4", name="service_level_range"),
        CheckConstraint(f"time_unit IN {TIME_UNITS}", name="time_unit_valid"),
        CheckConstraint("time_value >= 0", name="time_value_non_negative"),
        CheckConstraint(
            "online_time_value IS NULL OR online_time_value >= 0",
            name="online_time_value_non_negative",
        ),
        CheckConstraint("channels <@ ARRAY[1, 2, 3]::smallint[]", name="channels_valid"),
        CheckConstraint(
            "result_delivery <@ ARRAY['counter', 'online', 'postal']::varchar[]",
            name="result_delivery_valid",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # National TTHC code (mã TTHC), e.g. "1.001193", or a localised "1.000494.000.00.00.H29".
    code: Mapped[str] = mapped_column(String(40), unique=True)
    dvcqg_code: Mapped[str | None] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(Text)
    name_search: Mapped[str] = mapped_column(Text, default="", server_default="")
    sector_id: Mapped[int] = mapped_column(ForeignKey("sectors.id"), index=True)
    service_level: Mapped[int] = mapped_column(SmallInteger)
    applicant_types: Mapped[list[str]] = mapped_column(ARRAY(String(16)), default=list, server_default="{}")
    time_value: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    time_unit: Mapped[str] = mapped_column(String(16))
    online_time_value: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    legal_basis: Mapped[str | None] = mapped_column(Text)
    result_document_type: Mapped[str | None] = mapped_column(String(255))
    # Submission channels (KenhThucHien): 1 counter, 2 online, 3 postal (BCCI).
    channels: Mapped[list[int]] = mapped_column(
        ARRAY(SmallInteger), default=lambda: [1], server_default="{1}"
    )
    result_delivery: Mapped[list[str]] = mapped_column(
        ARRAY(String(16)), default=lambda: ["counter"], server_default="{counter}"
    )
    is_same_day_return: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    # Set when the unit admin edits a procedure that came from the city's standard catalogue.
    is_overridden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # The standard version (of the unit kind's catalogue) this procedure matches; NULL: a local one.
    standard_version: Mapped[int | None] = mapped_column(Integer)
    # A later standard version changed this overridden procedure: the admin must accept or keep.
    pending_standard_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    @validates("name")
    def _fill_name_search(self, _key: str, name: str) -> str:
        # Search without extensions: a diacritics-free lower-case copy, kept with every write.
        self.name_search = strip_diacritics(name or "").lower()
        return name


class ProcedureCase(TenantBase):
    """Procedure case — trường hợp, a variant with its own time and process."""

    __tablename__ = "procedure_cases"
    __table_args__ = (
        UniqueConstraint("procedure_id", "code"),
        CheckConstraint(f"time_unit IS NULL OR time_unit IN {TIME_UNITS}", name="time_unit_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text)
    # NULL means "same as the procedure".
    time_value: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    time_unit: Mapped[str | None] = mapped_column(String(16))
    online_time_value: Mapped[Decimal | None] = mapped_column(Numeric(6, 2))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    sort_order: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))


class ProcedureComponent(TenantBase):
    """Required document of a procedure — thành phần hồ sơ."""

    __tablename__ = "procedure_components"
    __table_args__ = (
        CheckConstraint(f"original_or_copy IN {ORIGINAL_OR_COPY}", name="original_or_copy_valid"),
        CheckConstraint("quantity >= 1", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id", ondelete="CASCADE"), index=True)
    # NULL: applies to every case of the procedure.
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("procedure_cases.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str | None] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(Text)
    original_or_copy: Mapped[str] = mapped_column(String(16), default="original")
    quantity: Mapped[int] = mapped_column(SmallInteger, default=1, server_default="1")
    is_mandatory: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    template_file: Mapped[str | None] = mapped_column(String(512))
    sort_order: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class FeeLine(TenantBase):
    """Fee or charge of a procedure — phí, lệ phí; amounts in whole đồng."""

    __tablename__ = "fee_lines"
    __table_args__ = (
        CheckConstraint("kind IN ('fee', 'charge')", name="kind_valid"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
        CheckConstraint(
            "online_amount IS NULL OR online_amount >= 0",
            name="online_amount_non_negative",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id", ondelete="CASCADE"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("procedure_cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8), default="fee")
    description: Mapped[str] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(BigInteger)
    # Reduced amount for online submission, where a resolution grants one.
    online_amount: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="VND", server_default="VND")
    sort_order: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class LegalDocument(TenantBase):
    """Legal document — văn bản pháp luật (decree, circular, resolution)."""

    __tablename__ = "legal_documents"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[str] = mapped_column(String(64), unique=True)  # e.g. "61/2018/NĐ-CP"
    kind: Mapped[str] = mapped_column(String(32))  # decree, circular, decision, resolution...
    title: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str | None] = mapped_column(String(255))
    issued_on: Mapped[date | None] = mapped_column(Date)
    effective_from: Mapped[date | None] = mapped_column(Date)
    url: Mapped[str | None] = mapped_column(String(1024))


class ProcedureLegalDocument(TenantBase):
    """Link between a procedure and a legal document it is based on."""

    __tablename__ = "procedure_legal_documents"
    __table_args__ = (Index(None, "legal_document_id"),)

    procedure_id: Mapped[int] = mapped_column(
        ForeignKey("procedures.id", ondelete="CASCADE"), primary_key=True
    )
    legal_document_id: Mapped[int] = mapped_column(
        ForeignKey("legal_documents.id", ondelete="CASCADE"), primary_key=True
    )


class AppliedStandardVersion(TenantBase):
    """Ledger of standard versions applied to this unit, written with the changes themselves.

    A rerun of a rollout finds its row here and reports the recorded results
    instead of applying anything twice.
    """

    __tablename__ = "applied_standard_versions"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    results: Mapped[list[dict]] = mapped_column(JSONB, default=list)
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
