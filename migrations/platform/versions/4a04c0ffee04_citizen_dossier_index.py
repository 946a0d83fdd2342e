"""citizen dossier index behind My dossiers

Revision ID: 4a04c0ffee04
Revises: 4a03c0ffee03
Create Date: 2026-11-27 04:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "4a04c0ffee04"
down_revision = "4a03c0ffee03"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "citizen_dossiers",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("draft_reference", sa.Uuid(), nullable=False),
        sa.Column("dossier_id", sa.BigInteger(), nullable=True),
        sa.Column("dossier_code", sa.String(length=48), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["platform.accounts.id"],
            name=op.f("fk_citizen_dossiers_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["platform.tenants.id"],
            name=op.f("fk_citizen_dossiers_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citizen_dossiers")),
        sa.UniqueConstraint("tenant_id", "dossier_id", name=op.f("uq_citizen_dossiers_tenant_id_dossier_id")),
        sa.UniqueConstraint(
            "tenant_id", "draft_reference", name=op.f("uq_citizen_dossiers_tenant_id_draft_reference")
        ),
        schema="platform",
    )
    op.create_index(
        op.f("ix_citizen_dossiers_account_id_tenant_id"),
        "citizen_dossiers",
        ["account_id", "tenant_id"],
        unique=False,
        schema="platform",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_citizen_dossiers_account_id_tenant_id"), table_name="citizen_dossiers", schema="platform"
    )
    op.drop_table("citizen_dossiers", schema="platform")
