"""the observation board tells the truth: a row handed over by its referral, or closed by
the physician's decision with a reason

Revision ID: 0021_board
Revises: 0019_merge_plans_interchange
"""

import sqlalchemy as sa
from alembic import op

import aefi.db

revision = "0021_board"
down_revision = "0019_merge_plans_interchange"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("observation_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handed_over_at", aefi.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("referral_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("decision_reason", sa.String(length=500), nullable=False, server_default="")
        )
        batch_op.create_foreign_key(
            "fk_observation_entry_referral_id", "referral", ["referral_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("observation_entry", schema=None) as batch_op:
        batch_op.drop_constraint("fk_observation_entry_referral_id", type_="foreignkey")
        batch_op.drop_column("decision_reason")
        batch_op.drop_column("referral_id")
        batch_op.drop_column("handed_over_at")
