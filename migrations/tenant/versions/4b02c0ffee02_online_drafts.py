"""online submission drafts

Revision ID: 4b02c0ffee02
Revises: 4b01c0ffee01
Create Date: 2026-11-27 04:30:00.000000
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = "4b02c0ffee02"
down_revision = "4b01c0ffee01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The dossier's owner account is dossiers.citizen_account_id (indexed since the first revision).
    op.create_table(
        "online_drafts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("reference", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("owner_account_id", sa.BigInteger(), nullable=False),
        sa.Column("procedure_id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("applicant", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("result_delivery", sa.String(length=16), nullable=True),
        sa.Column("postal_recipient", sa.String(length=255), nullable=True),
        sa.Column("postal_phone", sa.String(length=32), nullable=True),
        sa.Column("postal_address", sa.Text(), nullable=True),
        sa.Column("number_of_sets", sa.SmallInteger(), server_default="1", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("dossier_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('open', 'submitted')", name=op.f("ck_online_drafts_status_valid")),
        sa.CheckConstraint(
            "status = 'open' OR dossier_id IS NOT NULL", name=op.f("ck_online_drafts_submitted_has_dossier")
        ),
        sa.CheckConstraint(
            "result_delivery IS NULL OR result_delivery IN ('counter', 'online', 'postal')",
            name=op.f("ck_online_drafts_result_delivery_valid"),
        ),
        sa.CheckConstraint(
            "number_of_sets BETWEEN 1 AND 20", name=op.f("ck_online_drafts_number_of_sets_range")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["procedure_cases.id"],
            name=op.f("fk_online_drafts_case_id_procedure_cases"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["dossier_id"],
            ["dossiers.id"],
            name=op.f("fk_online_drafts_dossier_id_dossiers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["procedure_id"],
            ["procedures.id"],
            name=op.f("fk_online_drafts_procedure_id_procedures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_online_drafts")),
        sa.UniqueConstraint("dossier_id", name=op.f("uq_online_drafts_dossier_id")),
        sa.UniqueConstraint("reference", name=op.f("uq_online_drafts_reference")),
    )
    op.create_index(
        op.f("ix_online_drafts_owner_account_id_updated_at"),
        "online_drafts",
        ["owner_account_id", "updated_at"],
        unique=False,
    )
    op.create_index(op.f("ix_online_drafts_procedure_id"), "online_drafts", ["procedure_id"], unique=False)
    op.create_table(
        "online_draft_files",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("draft_id", sa.BigInteger(), nullable=False),
        sa.Column("procedure_component_id", sa.BigInteger(), nullable=True),
        sa.Column("storage_key", sa.String(length=512), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("size_bytes >= 0", name=op.f("ck_online_draft_files_size_non_negative")),
        sa.ForeignKeyConstraint(
            ["draft_id"],
            ["online_drafts.id"],
            name=op.f("fk_online_draft_files_draft_id_online_drafts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["procedure_component_id"],
            ["procedure_components.id"],
            name=op.f("fk_online_draft_files_procedure_component_id_procedure_components"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_online_draft_files")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_online_draft_files_storage_key")),
    )
    op.create_index(op.f("ix_online_draft_files_draft_id"), "online_draft_files", ["draft_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_online_draft_files_draft_id"), table_name="online_draft_files")
    op.drop_table("online_draft_files")
    op.drop_index(op.f("ix_online_drafts_procedure_id"), table_name="online_drafts")
    op.drop_index(op.f("ix_online_drafts_owner_account_id_updated_at"), table_name="online_drafts")
    op.drop_table("online_drafts")
