"""signals: fixed surveillance plans (T and critical value stored when a plan starts), the
doses planned per vaccine product, and the scans' disproportionality at every level

Revision ID: 0017_surveillance_plans
Revises: 0016_merge_trust
"""

import sqlalchemy as sa
from alembic import op

import aefi.db

revision = "0017_surveillance_plans"
down_revision = "0016_merge_trust"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "surveillance_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("vaccine_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("event_group", sa.String(length=32), nullable=False),
        sa.Column("rate_per_dose", sa.Float(), nullable=False),
        sa.Column("planned_doses", sa.Float(), nullable=False),
        sa.Column("doses_source", sa.String(length=24), nullable=False),
        sa.Column("upper_limit", sa.Float(), nullable=False),
        sa.Column("alpha_family", sa.Float(), nullable=False),
        sa.Column("alpha", sa.Float(), nullable=False),
        sa.Column("family_size", sa.Integer(), nullable=False),
        sa.Column("signal_min_events", sa.Integer(), nullable=False),
        sa.Column("halt_min_events", sa.Integer(), nullable=False),
        sa.Column("cv_signal", sa.Float(), nullable=False),
        sa.Column("halt_rule", sa.String(length=32), nullable=False),
        sa.Column("started_at", aefi.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("superseded_by_id", sa.Integer(), nullable=True),
        sa.Column("ended_at", aefi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["lot.id"]),
        sa.ForeignKeyConstraint(["vaccine_id"], ["vaccine.id"]),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"]),
        sa.ForeignKeyConstraint(["superseded_by_id"], ["surveillance_plan.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("surveillance_plan", schema=None) as batch_op:
        batch_op.create_index("ix_plan_cell", ["scope", "target_id", "event_group", "active"])
        batch_op.create_index(batch_op.f("ix_surveillance_plan_lot_id"), ["lot_id"])
    with op.batch_alter_table("vaccine", schema=None) as batch_op:
        batch_op.add_column(sa.Column("planned_doses", sa.Integer(), nullable=True))
    with op.batch_alter_table("scan_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("disproportionality", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scan_run", schema=None) as batch_op:
        batch_op.drop_column("disproportionality")
    with op.batch_alter_table("vaccine", schema=None) as batch_op:
        batch_op.drop_column("planned_doses")
    with op.batch_alter_table("surveillance_plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_surveillance_plan_lot_id"))
        batch_op.drop_index("ix_plan_cell")
    op.drop_table("surveillance_plan")
