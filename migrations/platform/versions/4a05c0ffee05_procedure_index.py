"""city-wide procedure search index

Revision ID: 4a05c0ffee05
Revises: 4a04c0ffee04
Create Date: 2026-11-27 04:30:00.000000
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = "4a05c0ffee05"
down_revision = "4a04c0ffee04"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Derived data (app.catalog.index); fill it with `flask catalog reindex` after upgrading.
    op.create_table(
        "procedure_index",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("procedure_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("code_search", sa.String(length=40, collation="C"), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_search", sa.Text(), nullable=False),
        sa.Column("name_trigrams", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("sector_id", sa.BigInteger(), nullable=False),
        sa.Column("sector_name", sa.String(length=255), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("level BETWEEN 1 AND 4", name=op.f("ck_procedure_index_level_range")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["platform.tenants.id"],
            name=op.f("fk_procedure_index_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "procedure_id", name=op.f("pk_procedure_index")),
        schema="platform",
    )
    op.create_index(
        "ix_procedure_index_active_level",
        "procedure_index",
        ["is_active", "level"],
        unique=False,
        schema="platform",
    )
    op.create_index(
        "ix_procedure_index_name_trigrams",
        "procedure_index",
        ["name_trigrams"],
        unique=False,
        schema="platform",
        postgresql_using="gin",
    )
    op.create_index(
        "ix_procedure_index_code_search", "procedure_index", ["code_search"], unique=False, schema="platform"
    )


def downgrade() -> None:
    op.drop_index("ix_procedure_index_code_search", table_name="procedure_index", schema="platform")
    op.drop_index("ix_procedure_index_name_trigrams", table_name="procedure_index", schema="platform")
    op.drop_index("ix_procedure_index_active_level", table_name="procedure_index", schema="platform")
    op.drop_table("procedure_index", schema="platform")
