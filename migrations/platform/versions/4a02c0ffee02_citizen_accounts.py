"""citizen accounts: email verification, password reset

Revision ID: 4a02c0ffee02
Revises: 4a01c0ffee01
Create Date: 2026-11-27 04:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "4a02c0ffee02"
down_revision = "4a01c0ffee01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Set when a citizen registered on the portal; such accounts sign in only once the email is verified.
    op.add_column(
        "accounts",
        sa.Column("self_registered_at", sa.DateTime(timezone=True), nullable=True),
        schema="platform",
    )
    op.create_table(
        "account_tokens",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("purpose IN ('verify', 'reset')", name=op.f("ck_account_tokens_purpose_known")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["platform.accounts.id"],
            name=op.f("fk_account_tokens_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_account_tokens_token_hash")),
        schema="platform",
    )
    op.create_index(
        op.f("ix_account_tokens_account_id"),
        "account_tokens",
        ["account_id"],
        unique=False,
        schema="platform",
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_account_tokens_account_id"), table_name="account_tokens", schema="platform")
    op.drop_table("account_tokens", schema="platform")
    op.drop_column("accounts", "self_registered_at", schema="platform")
