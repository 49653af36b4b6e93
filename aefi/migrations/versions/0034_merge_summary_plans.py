"""merge the dose summary (0033_lotpage_dose_summary) and the plan version token
(0033_scan_plan_version): two helpers' migrations from the same head, independent tables

Revision ID: 0034_merge_summary_plans
"""

from __future__ import annotations

revision = "0034_merge_summary_plans"
down_revision = ("0033_lotpage_dose_summary", "0033_scan_plan_version")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
