"""federation: external identity providers and linked identities

Revision ID: 4a03c0ffee03
Revises: 4a02c0ffee02
Create Date: 2026-11-27 04:30:00.000000
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = "4a03c0ffee03"
down_revision = "4a02c0ffee02"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_providers",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=True),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("name_vi", sa.String(length=120), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret", sa.Text(), nullable=True),
        sa.Column("discovery_url", sa.Text(), nullable=False),
        sa.Column("scopes", sa.String(length=500), nullable=False),
        sa.Column("claim_map", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("provider_metadata", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("metadata_fetched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("kind IN ('citizen', 'officials')", name=op.f("ck_identity_providers_kind")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["platform.tenants.id"],
            name=op.f("fk_identity_providers_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_providers")),
        sa.UniqueConstraint("slug", name=op.f("uq_identity_providers_slug")),
        schema="platform",
    )
    op.create_index(
        op.f("ix_identity_providers_tenant_id"),
        "identity_providers",
        ["tenant_id"],
        unique=False,
        schema="platform",
    )
    op.create_table(
        "external_identities",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("idp_id", sa.BigInteger(), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("tech_id", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["platform.accounts.id"],
            name=op.f("fk_external_identities_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["idp_id"],
            ["platform.identity_providers.id"],
            name=op.f("fk_external_identities_idp_id_identity_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_external_identities")),
        sa.UniqueConstraint("idp_id", "subject", name=op.f("uq_external_identities_idp_id_subject")),
        schema="platform",
    )
    op.create_index(
        op.f("ix_external_identities_account_id"),
        "external_identities",
        ["account_id"],
        unique=False,
        schema="platform",
    )


def downgrade() -> None:
    op.drop_table("external_identities", schema="platform")
    op.drop_table("identity_providers", schema="platform")
