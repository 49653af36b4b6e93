"""merge the surveillance plans and the interchange links

Built side by side from 0016; this joins them into one head.

Revision ID: 0019_merge_plans_interchange
Revises: 0017_surveillance_plans, 0018_interchange
"""

revision = "0019_merge_plans_interchange"
down_revision = ("0017_surveillance_plans", "0018_interchange")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
