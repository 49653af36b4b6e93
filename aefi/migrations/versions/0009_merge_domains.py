"""merge the domain branches (triage, signals, referral, investigation, observation/reporting)

The domains were built side by side, each migration branching from 0003; this joins them
into one head so `alembic upgrade head` and later migrations have a single line.

Revision ID: 0009
Revises: 0004, 0005, 0006, 0007, 0008
"""

revision = "0009"
down_revision = ("0004", "0005", "0006", "0007", "0008")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
