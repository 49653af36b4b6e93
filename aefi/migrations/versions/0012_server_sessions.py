"""server-side web sessions, failed-login records, throttle window

login_session: one row per web login (the cookie holds a random id, its SHA-256 here).
login_failure: failed logins for the administrator, unknown user names included.
login_throttle.last_failure_at: counts expire after the window; keys get a kind prefix.

Revision ID: 0012_server_sessions
Revises: 0010
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

import aefi.db

revision = "0012_server_sessions"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", aefi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", aefi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", aefi.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", aefi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("user_agent", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("ip", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["app_user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_login_session_user_id", "login_session", ["user_id"])
    op.create_table(
        "login_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", aefi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("county_id", sa.Integer(), nullable=True),
        sa.Column("ip", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_agent", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failure_at", "login_failure", ["at"])
    op.create_index("ix_login_failure_user_id", "login_failure", ["user_id"])
    op.create_index("ix_login_failure_county_id", "login_failure", ["county_id"])
    # Old keys were bare user names; the new ones carry a kind prefix.
    op.execute("DELETE FROM login_throttle")
    with op.batch_alter_table("login_throttle") as batch_op:
        batch_op.add_column(
            sa.Column("last_failure_at", aefi.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("login_throttle") as batch_op:
        batch_op.drop_column("last_failure_at")
    op.drop_index("ix_login_failure_county_id", table_name="login_failure")
    op.drop_index("ix_login_failure_user_id", table_name="login_failure")
    op.drop_index("ix_login_failure_at", table_name="login_failure")
    op.drop_table("login_failure")
    op.drop_index("ix_login_session_user_id", table_name="login_session")
    op.drop_table("login_session")
