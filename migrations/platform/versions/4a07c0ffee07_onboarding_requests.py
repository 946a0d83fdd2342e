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
    pass


def downgrade() -> None:
    pass
