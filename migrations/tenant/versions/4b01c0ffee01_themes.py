"""theme versions

Revision ID: 4b01c0ffee01
Revises: c3af63915c87
Create Date: 2026-11-27 04:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "4b01c0ffee01"
down_revision = "c3af63915c87"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled by: helper T (themes)


def downgrade() -> None:
    pass
