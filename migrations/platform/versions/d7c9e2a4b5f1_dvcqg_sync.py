"""national portal sync: settings, messages, reconciliations (issue 7)

Revision ID: d7c9e2a4b5f1
Revises: c44a63d91f57
Create Date: 2026-11-27 13:03:19.626704
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "d7c9e2a4b5f1"
down_revision = "c44a63d91f57"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dvcqg_messages",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("dossier_id", sa.BigInteger(), nullable=False),
        sa.Column("dossier_code", sa.String(length=48), nullable=False),
        sa.Column("action_id", sa.BigInteger(), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("dedupe_key", sa.String(length=120), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "service IN ('DongBoHoSoMC', 'CapNhatTienDoHoSoMC')", name=op.f("ck_dvcqg_messages_service_valid")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'cancelled')", name=op.f("ck_dvcqg_messages_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["platform.tenants.id"],
            name=op.f("fk_dvcqg_messages_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dvcqg_messages")),
        sa.UniqueConstraint("tenant_id", "dedupe_key", name=op.f("uq_dvcqg_messages_tenant_id_dedupe_key")),
        schema="platform",
    )
    op.create_index(
        "ix_dvcqg_messages_due",
        "dvcqg_messages",
        ["next_attempt_at"],
        unique=False,
        schema="platform",
        postgresql_where="status = 'pending'",
    )
    op.create_index(
        op.f("ix_dvcqg_messages_tenant_id"), "dvcqg_messages", ["tenant_id"], unique=False, schema="platform"
    )
    op.create_index(
        op.f("ix_dvcqg_messages_tenant_id_dossier_id_seq"),
        "dvcqg_messages",
        ["tenant_id", "dossier_id", "seq"],
        unique=False,
        schema="platform",
    )
    op.create_table(
        "dvcqg_reconciliations",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("missing", sa.Integer(), nullable=False),
        sa.Column("mismatched", sa.Integer(), nullable=False),
        sa.Column("requeued", sa.Integer(), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["platform.tenants.id"],
            name=op.f("fk_dvcqg_reconciliations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dvcqg_reconciliations")),
        schema="platform",
    )
    op.create_index(
        op.f("ix_dvcqg_reconciliations_tenant_id"),
        "dvcqg_reconciliations",
        ["tenant_id"],
        unique=False,
        schema="platform",
    )
    op.create_table(
        "dvcqg_settings",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("madonvi", sa.String(length=40), nullable=False),
        sa.Column("endpoint_url", sa.String(length=500), nullable=False),
        sa.Column("dstcode", sa.String(length=80), nullable=True),
        sa.Column("session_token_encrypted", sa.Text(), nullable=True),
        sa.Column("timeout_seconds", sa.SmallInteger(), server_default="10", nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_by_account_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["platform.tenants.id"],
            name=op.f("fk_dvcqg_settings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_dvcqg_settings")),
        schema="platform",
    )


def downgrade() -> None:
    op.drop_table("dvcqg_settings", schema="platform")
    op.drop_index(
        op.f("ix_dvcqg_reconciliations_tenant_id"), table_name="dvcqg_reconciliations", schema="platform"
    )
    op.drop_table("dvcqg_reconciliations", schema="platform")
    op.drop_index(
        op.f("ix_dvcqg_messages_tenant_id_dossier_id_seq"), table_name="dvcqg_messages", schema="platform"
    )
    op.drop_index(op.f("ix_dvcqg_messages_tenant_id"), table_name="dvcqg_messages", schema="platform")
    op.drop_index(
        "ix_dvcqg_messages_due",
        table_name="dvcqg_messages",
        schema="platform",
        postgresql_where="status = 'pending'",
    )
    op.drop_table("dvcqg_messages", schema="platform")
