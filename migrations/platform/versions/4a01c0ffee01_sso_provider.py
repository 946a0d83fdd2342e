"""sso provider: signing keys, sso sessions, codes, refresh tokens

Revision ID: 4a01c0ffee01
Revises: 0278622b2cd4
Create Date: 2026-11-27 04:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "4a01c0ffee01"
down_revision = "0278622b2cd4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "accounts", sa.Column("personal_id", sa.String(length=20), nullable=True), schema="platform"
    )
    op.create_unique_constraint(
        op.f("uq_accounts_personal_id"), "accounts", ["personal_id"], schema="platform"
    )
    op.add_column(
        "accounts",
        sa.Column("email_verified_at", sa.DateTime(timezone=True), nullable=True),
        schema="platform",
    )
    # Accounts so far were made by admins and ops, who vouch for the address.
    op.execute("UPDATE platform.accounts SET email_verified_at = created_at")
    op.add_column(
        "accounts", sa.Column("totp_secret", sa.String(length=255), nullable=True), schema="platform"
    )
    op.add_column(
        "accounts", sa.Column("totp_enabled_at", sa.DateTime(timezone=True), nullable=True), schema="platform"
    )
    op.create_table(
        "oidc_signing_keys",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_jwk", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_oidc_signing_keys")),
        schema="platform",
    )
    op.create_table(
        "sso_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("methods", sa.ARRAY(sa.String(length=16)), server_default="{}", nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_agent", sa.String(length=300), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["platform.accounts.id"],
            name=op.f("fk_sso_sessions_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sso_sessions")),
        schema="platform",
    )
    op.create_index(
        op.f("ix_sso_sessions_account_id"), "sso_sessions", ["account_id"], unique=False, schema="platform"
    )
    op.create_table(
        "oidc_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=120), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("redirect_uri", sa.Text(), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("nonce", sa.String(length=255), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("code_challenge_method", sa.String(length=10), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["platform.accounts.id"],
            name=op.f("fk_oidc_codes_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sid"],
            ["platform.sso_sessions.id"],
            name=op.f("fk_oidc_codes_sid_sso_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_oidc_codes")),
        schema="platform",
    )
    op.create_table(
        "oidc_refresh_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("family", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=120), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("sid", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["platform.accounts.id"],
            name=op.f("fk_oidc_refresh_tokens_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sid"],
            ["platform.sso_sessions.id"],
            name=op.f("fk_oidc_refresh_tokens_sid_sso_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_oidc_refresh_tokens")),
        schema="platform",
    )
    op.create_index(
        op.f("ix_oidc_refresh_tokens_account_id"),
        "oidc_refresh_tokens",
        ["account_id"],
        unique=False,
        schema="platform",
    )
    op.create_index(
        op.f("ix_oidc_refresh_tokens_family"),
        "oidc_refresh_tokens",
        ["family"],
        unique=False,
        schema="platform",
    )
    op.create_index(
        op.f("ix_oidc_refresh_tokens_sid"), "oidc_refresh_tokens", ["sid"], unique=False, schema="platform"
    )


def downgrade() -> None:
    op.drop_table("oidc_refresh_tokens", schema="platform")
    op.drop_table("oidc_codes", schema="platform")
    op.drop_table("sso_sessions", schema="platform")
    op.drop_table("oidc_signing_keys", schema="platform")
    op.drop_column("accounts", "totp_enabled_at", schema="platform")
    op.drop_column("accounts", "totp_secret", schema="platform")
    op.drop_column("accounts", "email_verified_at", schema="platform")
    op.drop_constraint(op.f("uq_accounts_personal_id"), "accounts", schema="platform")
    op.drop_column("accounts", "personal_id", schema="platform")
