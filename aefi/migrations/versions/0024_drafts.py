"""one draft per user, vaccinee and dose: the draft's subject key, unique per user; drafts
of reports already filed are removed (filing now removes them)

Revision ID: 0024_drafts
Revises: 0022_merge_upstream_board
"""

import sqlalchemy as sa
from alembic import op

revision = "0024_drafts"
down_revision = "0022_merge_upstream_board"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM draft WHERE report_id IS NOT NULL")
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_key", sa.String(length=160), nullable=True))
        batch_op.create_unique_constraint("uq_draft_user_subject", ["user_id", "subject_key"])


def downgrade() -> None:
    with op.batch_alter_table("draft", schema=None) as batch_op:
        batch_op.drop_constraint("uq_draft_user_subject", type_="unique")
        batch_op.drop_column("subject_key")
