"""county scope: per-county provisional holds of a lot (lot_hold)

A lot is shared reference data; its hold (by a signal) and its halt (by a decision) are
per county. Halts are read from the halt decisions in force; holds need this table.
Lots on hold today are held in every county whose sites used them.

Revision ID: 0013_county_scope
Revises: 0010
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import aefi.db

revision = "0013_county_scope"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lot_hold",
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("county_id", sa.Integer(), nullable=False),
        sa.Column("signal_id", sa.Integer(), nullable=True),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("held_at", aefi.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["lot_id"], ["lot.id"]),
        sa.ForeignKeyConstraint(["county_id"], ["region.id"]),
        sa.PrimaryKeyConstraint("lot_id", "county_id"),
    )
    op.execute(
        "INSERT INTO lot_hold (lot_id, county_id, signal_id, note, held_at) "
        "SELECT DISTINCT l.id, s.county_id, CAST(NULL AS INTEGER), l.status_note, l.created_at "
        "FROM lot l JOIN dose d ON d.lot_id = l.id JOIN site s ON s.id = d.site_id "
        "WHERE l.status = 'held'"
    )


def downgrade() -> None:
    op.drop_table("lot_hold")
