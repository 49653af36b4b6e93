"""Indexes so that a filing and a board refresh do not follow a site's history:
observation_entry(site_id, released_at | left_early_at | handed_over_at) for the board's
rows that left today; report(county_id, onset_at) and report_dose(report_id, lot_id) for
triage's lot window (the county's reports by onset, each checked for the lots).

Revision ID: 0031_growth_indexes
Revises: 0029_merge_field_speed_after
"""

from alembic import op

revision = "0031_growth_indexes"
down_revision = "0029_merge_field_speed_after"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_observation_site_released": ("observation_entry", ["site_id", "released_at"]),
    "ix_observation_site_left_early": ("observation_entry", ["site_id", "left_early_at"]),
    "ix_observation_site_handed_over": ("observation_entry", ["site_id", "handed_over_at"]),
    "ix_report_county_onset": ("report", ["county_id", "onset_at"]),
    "ix_report_dose_report_lot": ("report_dose", ["report_id", "lot_id"]),
}


def upgrade() -> None:
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, (table, _columns) in INDEXES.items():
        op.drop_index(name, table_name=table)
