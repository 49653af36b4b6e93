"""merge the scan's dose-count summary and the growth indexes

Revision ID: 0032_merge_scan_growth
Revises: 0030_scan_summary, 0031_growth_indexes
"""

revision = "0032_merge_scan_growth"
down_revision = ("0030_scan_summary", "0031_growth_indexes")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
