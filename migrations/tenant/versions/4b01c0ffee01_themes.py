"""theme versions

Revision ID: 4b01c0ffee01
Revises: c3af63915c87
Create Date: 2026-11-27 04:30:00.000000
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = "4b01c0ffee01"
down_revision = "c3af63915c87"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "theme_versions",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("theme", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="draft", nullable=False),
        sa.Column(
            "tokens",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_by_account_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_by_account_id", sa.BigInteger(), nullable=True),
        sa.Column("restored_from_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'archived')", name=op.f("ck_theme_versions_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["restored_from_id"],
            ["theme_versions.id"],
            name=op.f("fk_theme_versions_restored_from_id_theme_versions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_theme_versions")),
    )
    op.create_index(
        "uq_theme_versions_one_draft",
        "theme_versions",
        ["status"],
        unique=True,
        postgresql_where=sa.text("status = 'draft'"),
    )
    op.create_index(
        "uq_theme_versions_one_published",
        "theme_versions",
        ["status"],
        unique=True,
        postgresql_where=sa.text("status = 'published'"),
    )


def downgrade() -> None:
    op.drop_index("uq_theme_versions_one_published", table_name="theme_versions")
    op.drop_index("uq_theme_versions_one_draft", table_name="theme_versions")
    op.drop_table("theme_versions")
