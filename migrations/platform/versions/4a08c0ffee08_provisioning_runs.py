"""provisioning runs (issue #5)

Revision ID: 4a08c0ffee08
Revises: 4a07c0ffee07
Create Date: 2026-11-27 06:48:00.000000
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = "4a08c0ffee08"
down_revision = "4a07c0ffee07"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "provisioning_runs",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("tenant_slug", sa.String(length=61), nullable=True),
        sa.Column("spec", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "params",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("current_step", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("onboarding_request_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by_account_id", sa.BigInteger(), nullable=True),
        sa.Column("created_by_label", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending','running','retrying','failed','done','rolling_back','rolled_back')",
            name=op.f("ck_provisioning_runs_status_valid"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioning_runs")),
        schema="platform",
    )
    op.create_index(
        op.f("ix_provisioning_runs_onboarding_request_id"),
        "provisioning_runs",
        ["onboarding_request_id"],
        unique=False,
        schema="platform",
    )
    op.create_index(
        op.f("ix_provisioning_runs_status"), "provisioning_runs", ["status"], unique=False, schema="platform"
    )
    op.create_index(
        op.f("ix_provisioning_runs_tenant_slug_status"),
        "provisioning_runs",
        ["tenant_slug", "status"],
        unique=False,
        schema="platform",
    )
    op.create_table(
        "provisioning_steps",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending','running','done','failed','undone')",
            name=op.f("ck_provisioning_steps_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["platform.provisioning_runs.id"],
            name=op.f("fk_provisioning_steps_run_id_provisioning_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provisioning_steps")),
        sa.UniqueConstraint("run_id", "position", name=op.f("uq_provisioning_steps_run_id_position")),
        schema="platform",
    )
    op.create_index(
        op.f("ix_provisioning_steps_run_id"),
        "provisioning_steps",
        ["run_id"],
        unique=False,
        schema="platform",
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_provisioning_steps_run_id"), table_name="provisioning_steps", schema="platform")
    op.drop_table("provisioning_steps", schema="platform")
    op.drop_index(
        op.f("ix_provisioning_runs_tenant_slug_status"), table_name="provisioning_runs", schema="platform"
    )
    op.drop_index(op.f("ix_provisioning_runs_status"), table_name="provisioning_runs", schema="platform")
    op.drop_index(
        op.f("ix_provisioning_runs_onboarding_request_id"), table_name="provisioning_runs", schema="platform"
    )
    op.drop_table("provisioning_runs", schema="platform")
