"""merge the upstream outbox and the observation board's states

Built side by side from 0019; this joins them into one head.

Revision ID: 0022_merge_upstream_board
Revises: 0020_upstream, 0021_board
"""

revision = "0022_merge_upstream_board"
down_revision = ("0020_upstream", "0021_board")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
