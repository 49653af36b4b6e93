"""a case closes complete or with a reason: the reason, its words and the sections of the
investigation form still missing when it closed

Revision ID: 0025_case_close
Revises: 0022_merge_upstream_board
"""

import sqlalchemy as sa
from alembic import op

revision = "0025_case_close"
down_revision = "0022_merge_upstream_board"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("close_reason", sa.String(length=32), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column(
                "close_reason_text", sa.String(length=1000), nullable=False, server_default=""
            )
        )
        batch_op.add_column(
            sa.Column("close_missing", sa.JSON(), nullable=False, server_default="[]")
        )


def downgrade() -> None:
    with op.batch_alter_table("case_file", schema=None) as batch_op:
        batch_op.drop_column("close_missing")
        batch_op.drop_column("close_reason_text")
        batch_op.drop_column("close_reason")
