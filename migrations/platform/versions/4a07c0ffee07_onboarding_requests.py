"""onboarding requests (issue #5)

Revision ID: 4a07c0ffee07
Revises: 4a06c0ffee06
Create Date: 2026-11-27 06:47:00.000000
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = "4a07c0ffee07"
down_revision = "4a06c0ffee06"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "onboarding_requests",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=True),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("parent_slug", sa.String(length=61), nullable=False),
        sa.Column("unit_code", sa.String(length=20), nullable=False),
        sa.Column("gso_code", sa.String(length=10), nullable=True),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact_position", sa.String(length=200), nullable=False),
        sa.Column("contact_email", sa.String(length=254), nullable=False),
        sa.Column("contact_phone", sa.String(length=20), nullable=False),
        sa.Column("slug", sa.String(length=40), nullable=False),
        sa.Column("theme", sa.String(length=40), nullable=False),
        sa.Column("catalog_kind", sa.String(length=20), nullable=True),
        sa.Column("catalog_version", sa.Integer(), nullable=True),
        sa.Column("terms_version", sa.String(length=20), nullable=False),
        sa.Column("terms_accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("confirm_token_hash", sa.String(length=64), nullable=True),
        sa.Column("confirm_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_token_hash", sa.String(length=64), nullable=True),
        sa.Column("edit_token_hash", sa.String(length=64), nullable=True),
        sa.Column("edit_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duplicate_of_id", sa.BigInteger(), nullable=True),
        sa.Column("reviewer_account_id", sa.BigInteger(), nullable=True),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "kind IN ('department','district','commune')", name=op.f("ck_onboarding_requests_kind_valid")
        ),
        sa.CheckConstraint(
            "status IN ('unconfirmed','submitted','changes_requested','approved','rejected','provisioning','live','failed')",
            name=op.f("ck_onboarding_requests_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"],
            ["platform.onboarding_requests.id"],
            name=op.f("fk_onboarding_requests_duplicate_of_id_onboarding_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onboarding_requests")),
        sa.UniqueConstraint("confirm_token_hash", name=op.f("uq_onboarding_requests_confirm_token_hash")),
        sa.UniqueConstraint("edit_token_hash", name=op.f("uq_onboarding_requests_edit_token_hash")),
        sa.UniqueConstraint("status_token_hash", name=op.f("uq_onboarding_requests_status_token_hash")),
        schema="platform",
    )
    op.create_index(
        op.f("ix_onboarding_requests_contact_email"),
        "onboarding_requests",
        ["contact_email"],
        unique=False,
        schema="platform",
    )
    op.create_index(
        op.f("ix_onboarding_requests_duplicate_of_id"),
        "onboarding_requests",
        ["duplicate_of_id"],
        unique=False,
        schema="platform",
    )
    op.create_index(
        op.f("ix_onboarding_requests_name_key"),
        "onboarding_requests",
        ["name_key"],
        unique=False,
        schema="platform",
    )
    op.create_index(
        op.f("ix_onboarding_requests_slug"), "onboarding_requests", ["slug"], unique=False, schema="platform"
    )
    op.create_index(
        op.f("ix_onboarding_requests_status"),
        "onboarding_requests",
        ["status"],
        unique=False,
        schema="platform",
    )
    op.create_index(
        op.f("ix_onboarding_requests_unit_code"),
        "onboarding_requests",
        ["unit_code"],
        unique=False,
        schema="platform",
    )
    op.create_table(
        "onboarding_settings",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("auto_approve", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("updated_by_account_id", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_onboarding_settings_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onboarding_settings")),
        schema="platform",
    )


def downgrade() -> None:
    op.drop_table("onboarding_settings", schema="platform")
    op.drop_index(
        op.f("ix_onboarding_requests_unit_code"), table_name="onboarding_requests", schema="platform"
    )
    op.drop_index(op.f("ix_onboarding_requests_status"), table_name="onboarding_requests", schema="platform")
    op.drop_index(op.f("ix_onboarding_requests_slug"), table_name="onboarding_requests", schema="platform")
    op.drop_index(
        op.f("ix_onboarding_requests_name_key"), table_name="onboarding_requests", schema="platform"
    )
    op.drop_index(
        op.f("ix_onboarding_requests_duplicate_of_id"), table_name="onboarding_requests", schema="platform"
    )
    op.drop_index(
        op.f("ix_onboarding_requests_contact_email"), table_name="onboarding_requests", schema="platform"
    )
    op.drop_table("onboarding_requests", schema="platform")
