"""terminology: reported terms and their mapping, the report-term link; VAERS import fixes
(report dose numbers may be unknown, the raw lot text is kept)

Revision ID: 0015_terminology
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

import aefi.db

revision = "0015_terminology"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reported_term",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("system", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("normalised", sa.String(length=200), nullable=False),
        sa.Column("parent_code", sa.String(length=32), nullable=False),
        sa.Column("soc", sa.String(length=16), nullable=False),
        sa.Column("symptom_code", sa.String(length=16), nullable=True),
        sa.Column("event_group", sa.String(length=32), nullable=True),
        sa.Column("body_system", sa.String(length=32), nullable=True),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("edited_by_id", sa.Integer(), nullable=True),
        sa.Column("edited_at", aefi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", aefi.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["edited_by_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("system", "normalised", name="uq_reported_term_system_normalised"),
    )
    with op.batch_alter_table("reported_term", schema=None) as batch_op:
        batch_op.create_index("ix_reported_term_system_code", ["system", "code"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_reported_term_symptom_code"), ["symptom_code"], unique=False
        )
    op.create_table(
        "report_term",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("term_id", sa.Integer(), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"]),
        sa.ForeignKeyConstraint(["term_id"], ["reported_term.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("report_id", "term_id", name="uq_report_term"),
    )
    with op.batch_alter_table("report_term", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_term_report_id"), ["report_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_report_term_term_id"), ["term_id"], unique=False)
    with op.batch_alter_table("report_dose", schema=None) as batch_op:
        batch_op.alter_column("dose_number", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(
            sa.Column("lot_as_reported", sa.String(length=64), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("report_dose", schema=None) as batch_op:
        batch_op.drop_column("lot_as_reported")
        batch_op.alter_column("dose_number", existing_type=sa.Integer(), nullable=False)
    op.drop_table("report_term")
    op.drop_table("reported_term")
