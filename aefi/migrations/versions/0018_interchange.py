"""interchange: the ICSRs a county received (icsr_link)

Revision ID: 0018_interchange
Revises: 0016_merge_trust
"""

import sqlalchemy as sa
from alembic import op

import aefi.db

revision = "0018_interchange"
down_revision = "0016_merge_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "icsr_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("county_id", sa.Integer(), nullable=False),
        sa.Column("worldwide_case_id", sa.String(length=100), nullable=False),
        sa.Column("safety_report_id", sa.String(length=100), nullable=False),
        sa.Column("sender_identifier", sa.String(length=60), nullable=False),
        sa.Column("last_message_id", sa.String(length=100), nullable=False),
        sa.Column("received_at", aefi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unlinked_vaccines", sa.JSON(), nullable=False),
        sa.Column("reactions", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"]),
        sa.ForeignKeyConstraint(["county_id"], ["region.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("report_id"),
        sa.UniqueConstraint("county_id", "worldwide_case_id"),
    )
    with op.batch_alter_table("icsr_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_icsr_link_county_id"), ["county_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("icsr_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_icsr_link_county_id"))
    op.drop_table("icsr_link")
