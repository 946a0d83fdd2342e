"""reports store: dossier facts, steps, daily rollup, exports (issue 7)

Revision ID: c44a63d91f57
Revises: f6250219d14c
Create Date: 2026-11-27 13:03:19.626704
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "c44a63d91f57"
down_revision = "f6250219d14c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "report_daily",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("received_counter", sa.Integer(), server_default="0", nullable=False),
        sa.Column("received_online", sa.Integer(), server_default="0", nullable=False),
        sa.Column("received_postal", sa.Integer(), server_default="0", nullable=False),
        sa.Column("completed_early", sa.Integer(), server_default="0", nullable=False),
        sa.Column("completed_on_time", sa.Integer(), server_default="0", nullable=False),
        sa.Column("completed_late", sa.Integer(), server_default="0", nullable=False),
        sa.Column("withdrawn", sa.Integer(), server_default="0", nullable=False),
        sa.Column("stopped", sa.Integer(), server_default="0", nullable=False),
        sa.Column("open_delta", sa.Integer(), server_default="0", nullable=False),
        sa.Column("overdue_delta", sa.Integer(), server_default="0", nullable=False),
        sa.Column("supplement_delta", sa.Integer(), server_default="0", nullable=False),
        sa.Column("financial_delta", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["platform.tenants.id"],
            name=op.f("fk_report_daily_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "day", name=op.f("pk_report_daily")),
        schema="platform",
    )
    op.create_table(
        "report_dossiers",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("dossier_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=48), nullable=True),
        sa.Column("procedure_id", sa.Integer(), nullable=True),
        sa.Column("procedure_code", sa.String(length=40), nullable=True),
        sa.Column("procedure_name", sa.Text(), nullable=True),
        sa.Column("sector_code", sa.String(length=32), nullable=True),
        sa.Column("sector_name", sa.String(length=255), nullable=True),
        sa.Column("service_level", sa.SmallInteger(), nullable=True),
        sa.Column("channel", sa.SmallInteger(), nullable=False),
        sa.Column("applicant_type", sa.String(length=16), nullable=True),
        sa.Column("status", sa.SmallInteger(), nullable=False),
        sa.Column("stop_reason", sa.String(length=32), nullable=True),
        sa.Column("is_imported", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rescheduled_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("returned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_kind", sa.String(length=16), nullable=True),
        sa.Column("on_time_class", sa.String(length=8), nullable=True),
        sa.Column("paused_kind", sa.String(length=16), nullable=True),
        sa.Column("pauses", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("supplements", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("apologies", sa.SmallInteger(), server_default="0", nullable=False),
        sa.Column("rating_level", sa.SmallInteger(), nullable=True),
        sa.Column("received_day", sa.Date(), nullable=True),
        sa.Column("due_day", sa.Date(), nullable=True),
        sa.Column("closed_day", sa.Date(), nullable=True),
        sa.Column("overdue_from_day", sa.Date(), nullable=True),
        sa.Column("current_account_id", sa.BigInteger(), nullable=True),
        sa.Column("current_role", sa.String(length=32), nullable=True),
        sa.Column("current_step_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("current_step_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("source_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "refreshed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.CheckConstraint(
            "closed_kind IS NULL OR closed_kind IN ('completed', 'withdrawn', 'stopped')",
            name=op.f("ck_report_dossiers_closed_kind_valid"),
        ),
        sa.CheckConstraint(
            "on_time_class IS NULL OR on_time_class IN ('early', 'on_time', 'late')",
            name=op.f("ck_report_dossiers_on_time_class_valid"),
        ),
        sa.CheckConstraint(
            "paused_kind IS NULL OR paused_kind IN ('supplement', 'financial')",
            name=op.f("ck_report_dossiers_paused_kind_valid"),
        ),
        sa.CheckConstraint("channel IN (1, 2, 3)", name=op.f("ck_report_dossiers_channel_valid")),
        sa.CheckConstraint("status BETWEEN 0 AND 10", name=op.f("ck_report_dossiers_status_range")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["platform.tenants.id"],
            name=op.f("fk_report_dossiers_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "dossier_id", name=op.f("pk_report_dossiers")),
        schema="platform",
    )
    op.create_index(
        "ix_report_dossiers_open",
        "report_dossiers",
        ["tenant_id", "due_at"],
        unique=False,
        schema="platform",
        postgresql_where="closed_kind IS NULL",
    )
    op.create_index(
        op.f("ix_report_dossiers_tenant_id_closed_day"),
        "report_dossiers",
        ["tenant_id", "closed_day"],
        unique=False,
        schema="platform",
    )
    op.create_index(
        op.f("ix_report_dossiers_tenant_id_code"),
        "report_dossiers",
        ["tenant_id", "code"],
        unique=False,
        schema="platform",
    )
    op.create_index(
        op.f("ix_report_dossiers_tenant_id_received_day"),
        "report_dossiers",
        ["tenant_id", "received_day"],
        unique=False,
        schema="platform",
    )
    op.create_table(
        "report_exports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=True),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("done", sa.Integer(), server_default="0", nullable=False),
        sa.Column("total", sa.Integer(), server_default="0", nullable=False),
        sa.Column("storage_key", sa.String(length=512), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("format IN ('xlsx', 'pdf', 'csv')", name=op.f("ck_report_exports_format_valid")),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')", name=op.f("ck_report_exports_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["platform.tenants.id"],
            name=op.f("fk_report_exports_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_exports")),
        schema="platform",
    )
    op.create_index(
        op.f("ix_report_exports_account_id_created_at"),
        "report_exports",
        ["account_id", "created_at"],
        unique=False,
        schema="platform",
    )
    op.create_index(
        op.f("ix_report_exports_tenant_id"), "report_exports", ["tenant_id"], unique=False, schema="platform"
    )
    op.create_table(
        "report_steps",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("action_id", sa.BigInteger(), nullable=False),
        sa.Column("dossier_id", sa.BigInteger(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("division_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handed_over_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("on_time_class", sa.String(length=8), nullable=True),
        sa.CheckConstraint(
            "on_time_class IS NULL OR on_time_class IN ('early', 'on_time', 'late')",
            name=op.f("ck_report_steps_on_time_class_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["platform.tenants.id"],
            name=op.f("fk_report_steps_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "action_id", name=op.f("pk_report_steps")),
        schema="platform",
    )
    op.create_index(
        op.f("ix_report_steps_account_id_handed_over_at"),
        "report_steps",
        ["account_id", "handed_over_at"],
        unique=False,
        schema="platform",
    )
    op.create_index(
        op.f("ix_report_steps_tenant_id_dossier_id"),
        "report_steps",
        ["tenant_id", "dossier_id"],
        unique=False,
        schema="platform",
    )
    op.create_index(
        op.f("ix_report_steps_tenant_id_handed_over_at"),
        "report_steps",
        ["tenant_id", "handed_over_at"],
        unique=False,
        schema="platform",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_report_steps_tenant_id_handed_over_at"), table_name="report_steps", schema="platform"
    )
    op.drop_index(op.f("ix_report_steps_tenant_id_dossier_id"), table_name="report_steps", schema="platform")
    op.drop_index(
        op.f("ix_report_steps_account_id_handed_over_at"), table_name="report_steps", schema="platform"
    )
    op.drop_table("report_steps", schema="platform")
    op.drop_index(op.f("ix_report_exports_tenant_id"), table_name="report_exports", schema="platform")
    op.drop_index(
        op.f("ix_report_exports_account_id_created_at"), table_name="report_exports", schema="platform"
    )
    op.drop_table("report_exports", schema="platform")
    op.drop_index(
        op.f("ix_report_dossiers_tenant_id_received_day"), table_name="report_dossiers", schema="platform"
    )
    op.drop_index(op.f("ix_report_dossiers_tenant_id_code"), table_name="report_dossiers", schema="platform")
    op.drop_index(
        op.f("ix_report_dossiers_tenant_id_closed_day"), table_name="report_dossiers", schema="platform"
    )
    op.drop_index(
        "ix_report_dossiers_open",
        table_name="report_dossiers",
        schema="platform",
        postgresql_where="closed_kind IS NULL",
    )
    op.drop_table("report_dossiers", schema="platform")
    op.drop_table("report_daily", schema="platform")
