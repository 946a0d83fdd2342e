"""online submission drafts

Revision ID: 4b02c0ffee02
Revises: 4b01c0ffee01
Create Date: 2026-11-27 04:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "4b02c0ffee02"
down_revision = "4b01c0ffee01"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled by: helper S (submission)


def downgrade() -> None:
    pass
