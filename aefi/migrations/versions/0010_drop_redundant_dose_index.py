"""drop ix_dose_site_time: ix_dose_site_time_lot (0008) starts with the same columns

Every dose insert maintained both; the longer one answers every query the shorter did.

Revision ID: 0010
Revises: 0009
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_dose_site_time", table_name="dose")


def downgrade() -> None:
    op.create_index("ix_dose_site_time", "dose", ["site_id", "administered_at"], unique=False)
