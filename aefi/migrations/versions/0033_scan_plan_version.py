"""a token that changes with every surveillance-plan write: warm scans keep the plans

A full scan reads the active plan of each of its ~100,000 cells; reading them every time
was most of a warm scan (0.7 s of 1.3 s at 1 M doses). The plans change only when a scan
starts or replaces some, so the scan keeps them in memory under the token below and
rereads them when the token differs (aefi.signals.scans.plan_store).

The triggers draw a new random token on every insert, update or delete of
``surveillance_plan`` (and truncate on PostgreSQL), in the writer's transaction: a
rolled-back write leaves the old token, and a token is never reused for other plans — not
by another database copied from the same template either, which a counter would be.

Revision ID: 0033_scan_plan_version
Revises: 0032_merge_scan_growth
"""

import sqlalchemy as sa
from alembic import op

revision = "0033_scan_plan_version"
down_revision = "0032_merge_scan_growth"
branch_labels = None
depends_on = None

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION surveillance_plan_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE surveillance_plan_version
       SET token = md5(random()::text || clock_timestamp()::text) WHERE id = 1;
    RETURN NULL;
END $$
"""
# 16 random bytes as hex: the row-level triggers of SQLite (no statement triggers there).
_SQLITE_BUMP = (
    "BEGIN UPDATE surveillance_plan_version SET token = lower(hex(randomblob(16))) "
    "WHERE id = 1; END"
)
_SQLITE_EVENTS = ("insert", "update", "delete")


def upgrade() -> None:
    op.create_table(
        "surveillance_plan_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    if _pg():
        op.execute(
            "INSERT INTO surveillance_plan_version (id, token) "
            "VALUES (1, md5(random()::text || clock_timestamp()::text))"
        )
        op.execute(_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER surveillance_plan_bump AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            "ON surveillance_plan FOR EACH STATEMENT EXECUTE PROCEDURE surveillance_plan_bump()"
        )
    else:
        op.execute(
            "INSERT INTO surveillance_plan_version (id, token) "
            "VALUES (1, lower(hex(randomblob(16))))"
        )
        for event in _SQLITE_EVENTS:
            op.execute(
                f"CREATE TRIGGER surveillance_plan_bump_{event} AFTER {event.upper()} "
                f"ON surveillance_plan {_SQLITE_BUMP}"
            )


def downgrade() -> None:
    if _pg():
        op.execute("DROP TRIGGER IF EXISTS surveillance_plan_bump ON surveillance_plan")
        op.execute("DROP FUNCTION IF EXISTS surveillance_plan_bump()")
    else:
        for event in _SQLITE_EVENTS:
            op.execute(f"DROP TRIGGER IF EXISTS surveillance_plan_bump_{event}")
    op.drop_table("surveillance_plan_version")


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"
