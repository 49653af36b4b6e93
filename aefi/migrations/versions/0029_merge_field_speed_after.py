"""merge the emergency block, drafts, case closing, the job queue and aftercare

Revision ID: 0029_merge_field_speed_after
Revises: 0023_emergency, 0024_drafts, 0025_case_close, 0027_jobs, 0028_aftercare
"""

revision = "0029_merge_field_speed_after"
down_revision = ("0023_emergency", "0024_drafts", "0025_case_close", "0027_jobs", "0028_aftercare")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
