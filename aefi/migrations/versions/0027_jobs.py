"""queued_job: the durable job queue (aefi/jobs): the [retried] subscribers of an event,
recorded in the publisher's transaction and run by the workers.

Revision ID: 0027_jobs
Revises: 0022_merge_upstream_board
"""

import sqlalchemy as sa
from alembic import op

from aefi.db import UTCDateTime

revision = "0027_jobs"
down_revision = "0022_merge_upstream_board"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "queued_job",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=True),
        sa.Column("run_after", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("merged_into", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_queued_job_due", "queued_job", ["done_at", "run_after"])
    op.create_index("ix_queued_job_kind_key", "queued_job", ["kind", "key"])


def downgrade() -> None:
    op.drop_index("ix_queued_job_kind_key", table_name="queued_job")
    op.drop_index("ix_queued_job_due", table_name="queued_job")
    op.drop_table("queued_job")
