"""the emergency path: a report's emergency block (adrenaline, vital signs, weight,
treatment times) and the hospital desk's arrival alert, a setting per user

Revision ID: 0023_emergency
Revises: 0022_merge_upstream_board
"""

import sqlalchemy as sa
from alembic import op

import aefi.db

revision = "0023_emergency"
down_revision = "0022_merge_upstream_board"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("emergency", sa.JSON(), nullable=True))
    op.create_table(
        "desk_alert",
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("app_user.id"), primary_key=True),
        sa.Column("sound", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("updated_at", aefi.db.UTCDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("desk_alert")
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_column("emergency")
