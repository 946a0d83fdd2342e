"""city-wide procedure search index

Revision ID: 4a05c0ffee05
Revises: 4a04c0ffee04
Create Date: 2026-11-27 04:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "4a05c0ffee05"
down_revision = "4a04c0ffee04"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled by: helper B (city search)


def downgrade() -> None:
    pass
