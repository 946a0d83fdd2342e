"""federation: external identity providers and linked identities

Revision ID: 4a03c0ffee03
Revises: 4a02c0ffee02
Create Date: 2026-11-27 04:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "4a03c0ffee03"
down_revision = "4a02c0ffee02"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled by: helper F (federation)


def downgrade() -> None:
    pass
