"""tenant status 'provisioning' and the platform audit trail

Revision ID: 4a06c0ffee06
Revises: 4a05c0ffee05
Create Date: 2026-11-27 06:40:00.000000
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = "4a06c0ffee06"
down_revision = "4a05c0ffee05"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint(op.f("ck_tenants_status_valid"), "tenants", schema="platform", type_="check")
    op.create_check_constraint(
        op.f("ck_tenants_status_valid"),
        "tenants",
        "status IN ('provisioning','active','suspended','archived')",
        schema="platform",
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("actor_account_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_label", sa.String(length=255), nullable=True),
        sa.Column("entity", sa.String(length=48), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column(
            "data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("ip_address", postgresql.INET(), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        schema="platform",
    )
    op.create_index(op.f("ix_audit_events_at"), "audit_events", ["at"], unique=False, schema="platform")
    op.create_index(
        op.f("ix_audit_events_entity_entity_id"),
        "audit_events",
        ["entity", "entity_id"],
        unique=False,
        schema="platform",
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_audit_events_entity_entity_id"), table_name="audit_events", schema="platform")
    op.drop_index(op.f("ix_audit_events_at"), table_name="audit_events", schema="platform")
    op.drop_table("audit_events", schema="platform")
    op.execute("UPDATE platform.tenants SET status = 'suspended' WHERE status = 'provisioning'")
    op.drop_constraint(op.f("ck_tenants_status_valid"), "tenants", schema="platform", type_="check")
    op.create_check_constraint(
        op.f("ck_tenants_status_valid"),
        "tenants",
        "status IN ('active','suspended','archived')",
        schema="platform",
    )
