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
    pass


def downgrade() -> None:
    pass
