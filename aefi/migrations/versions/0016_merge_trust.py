"""merge the trust branches (job lease, server sessions, county scope, audit chain) and the
terminology

They were built side by side from 0010; this joins them into one head.

Revision ID: 0016_merge_trust
Revises: 0011_job_lease, 0012_server_sessions, 0013_county_scope, 0014_import_audit_chain,
    0015_terminology
"""

revision = "0016_merge_trust"
down_revision = (
    "0011_job_lease",
    "0012_server_sessions",
    "0013_county_scope",
    "0014_import_audit_chain",
    "0015_terminology",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
