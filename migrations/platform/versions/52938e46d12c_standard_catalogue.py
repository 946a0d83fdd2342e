"""standard catalogue: versions per unit kind, their procedures, rollouts per tenant

Revision ID: 52938e46d12c
Revises: ec7c922740d7
Create Date: 2026-11-27 01:39:50.955370
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "52938e46d12c"
down_revision = "ec7c922740d7"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "standard_catalogs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('city','department','district','commune')", name=op.f("ck_standard_catalogs_kind_valid")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standard_catalogs")),
        sa.UniqueConstraint("kind", name=op.f("uq_standard_catalogs_kind")),
        schema="platform",
    )
    op.create_table(
        "standard_versions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("catalog_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="draft", nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("published_by", sa.BigInteger(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('draft','published')", name=op.f("ck_standard_versions_status_valid")),
        sa.CheckConstraint("number >= 1", name=op.f("ck_standard_versions_number_positive")),
        sa.ForeignKeyConstraint(
            ["catalog_id"],
            ["platform.standard_catalogs.id"],
            name=op.f("fk_standard_versions_catalog_id_standard_catalogs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["platform.accounts.id"],
            name=op.f("fk_standard_versions_created_by_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["published_by"],
            ["platform.accounts.id"],
            name=op.f("fk_standard_versions_published_by_accounts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standard_versions")),
        sa.UniqueConstraint("catalog_id", "number", name=op.f("uq_standard_versions_catalog_id_number")),
        schema="platform",
    )
    op.create_table(
        "standard_procedures",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("version_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("spec", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["platform.standard_versions.id"],
            name=op.f("fk_standard_procedures_version_id_standard_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standard_procedures")),
        sa.UniqueConstraint("version_id", "code", name=op.f("uq_standard_procedures_version_id_code")),
        schema="platform",
    )
    op.create_table(
        "standard_rollouts",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("version_id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("applied", sa.Integer(), server_default="0", nullable=False),
        sa.Column("kept", sa.Integer(), server_default="0", nullable=False),
        sa.Column("conflicted", sa.Integer(), server_default="0", nullable=False),
        sa.Column("unchanged", sa.Integer(), server_default="0", nullable=False),
        sa.Column("results", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending','running','done','failed')", name=op.f("ck_standard_rollouts_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["platform.tenants.id"],
            name=op.f("fk_standard_rollouts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["platform.standard_versions.id"],
            name=op.f("fk_standard_rollouts_version_id_standard_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standard_rollouts")),
        sa.UniqueConstraint(
            "version_id", "tenant_id", name=op.f("uq_standard_rollouts_version_id_tenant_id")
        ),
        schema="platform",
    )
    op.create_index(
        op.f("ix_standard_rollouts_tenant_id"),
        "standard_rollouts",
        ["tenant_id"],
        unique=False,
        schema="platform",
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_standard_rollouts_tenant_id"), table_name="standard_rollouts", schema="platform")
    op.drop_table("standard_rollouts", schema="platform")
    op.drop_table("standard_procedures", schema="platform")
    op.drop_table("standard_versions", schema="platform")
    op.drop_table("standard_catalogs", schema="platform")
