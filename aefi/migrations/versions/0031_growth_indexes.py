"""observation_entry(site_id, released_at | left_early_at | handed_over_at): the board's
rows that left today and the day's counts read one site's rows by when they left, so a
board's cost does not follow the site's history.

Revision ID: 0031_growth_indexes
Revises: 0029_merge_field_speed_after
"""

from alembic import op

revision = "0031_growth_indexes"
down_revision = "0029_merge_field_speed_after"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_observation_site_released": ["site_id", "released_at"],
    "ix_observation_site_left_early": ["site_id", "left_early_at"],
    "ix_observation_site_handed_over": ["site_id", "handed_over_at"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "observation_entry", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="observation_entry")
