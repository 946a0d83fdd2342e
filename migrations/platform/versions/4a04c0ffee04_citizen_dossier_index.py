"""citizen dossier index behind My dossiers

Revision ID: 4a04c0ffee04
Revises: 4a03c0ffee03
Create Date: 2026-11-27 04:30:00.000000
"""

from alembic import op
import sqlalchemy as sa


revision = "4a04c0ffee04"
down_revision = "4a03c0ffee03"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # filled by: helper S (submission)


def downgrade() -> None:
    pass
