"""interchange: the outbox of ICSRs reported upward (upstream_message)

Revision ID: 0020_upstream
Revises: 0019_merge_plans_interchange
"""

import sqlalchemy as sa
from alembic import op

import aefi.db

revision = "0020_upstream"
down_revision = "0019_merge_plans_interchange"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upstream_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("county_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("reason_queued", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", aefi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", aefi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", aefi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acked_at", aefi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("batch_ack", sa.String(length=2), nullable=False),
        sa.Column("case_ack", sa.String(length=2), nullable=False),
        sa.Column("remote_number", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=1000), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"]),
        sa.ForeignKeyConstraint(["county_id"], ["region.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    with op.batch_alter_table("upstream_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_upstream_message_report_id"), ["report_id"])
        batch_op.create_index(batch_op.f("ix_upstream_message_county_id"), ["county_id"])
        batch_op.create_index("ix_upstream_due", ["status", "next_attempt_at"])


def downgrade() -> None:
    with op.batch_alter_table("upstream_message", schema=None) as batch_op:
        batch_op.drop_index("ix_upstream_due")
        batch_op.drop_index(batch_op.f("ix_upstream_message_county_id"))
        batch_op.drop_index(batch_op.f("ix_upstream_message_report_id"))
    op.drop_table("upstream_message")
