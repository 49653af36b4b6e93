"""job_lease: when each background job last ran, so that several app processes run it
once per interval between them (aefi/background.py).

Revision ID: 0011_job_lease
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

from aefi.db import UTCDateTime

revision = "0011_job_lease"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "job_lease",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("last_run_at", UTCDateTime(), nullable=False),
        sa.Column("run_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("job_lease")
