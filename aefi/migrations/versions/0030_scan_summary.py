"""the full scan's dose denominators as a summary: dose_count (lot, site, n) up to a watermark

A full signal scan needs the doses of every lot at every site. Counting 5 M dose rows on
each scan cost as much as the scan's observed counts; doses are append-only in practice,
so the scan keeps ``dose_count`` itself (aefi.signals.counts.full_dose_counts): it adds the
doses with an id above ``dose_count_state.last_dose_id`` and moves the watermark. No writer
of doses (importer, record_dose, filing) needs to know.

What the watermark cannot see — a dose deleted, a dose moved to another lot or site, the
dose table truncated — drops the state row (triggers below); the next full scan then
recounts from the dose table. The backfill is that first recount: the state row starts
absent.

``ix_report_source``: the full scan's disproportionality half reads only imported
(``source = 'vaers'``) reports; without the index it read every report four times to find
none.

Revision ID: 0030_scan_summary
Revises: 0029_merge_field_speed_after
"""

import sqlalchemy as sa
from alembic import op

revision = "0030_scan_summary"
down_revision = "0029_merge_field_speed_after"
branch_labels = None
depends_on = None

_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION dose_count_invalidate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM dose_count_state;
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    op.create_table(
        "dose_count",
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("lot_id", "site_id"),
    )
    op.create_table(
        "dose_count_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_dose_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_source", "report", ["source"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        op.execute(
            "CREATE TRIGGER dose_count_on_delete AFTER DELETE ON dose "
            "FOR EACH STATEMENT EXECUTE PROCEDURE dose_count_invalidate()"
        )
        op.execute(
            "CREATE TRIGGER dose_count_on_move AFTER UPDATE OF lot_id, site_id ON dose "
            "FOR EACH ROW WHEN (OLD.lot_id IS DISTINCT FROM NEW.lot_id "
            "OR OLD.site_id IS DISTINCT FROM NEW.site_id) "
            "EXECUTE PROCEDURE dose_count_invalidate()"
        )
        op.execute(
            "CREATE TRIGGER dose_count_on_truncate AFTER TRUNCATE ON dose "
            "FOR EACH STATEMENT EXECUTE PROCEDURE dose_count_invalidate()"
        )
    else:
        op.execute(
            "CREATE TRIGGER dose_count_on_delete AFTER DELETE ON dose "
            "BEGIN DELETE FROM dose_count_state; END"
        )
        op.execute(
            "CREATE TRIGGER dose_count_on_move AFTER UPDATE OF lot_id, site_id ON dose "
            "WHEN OLD.lot_id IS NOT NEW.lot_id OR OLD.site_id IS NOT NEW.site_id "
            "BEGIN DELETE FROM dose_count_state; END"
        )


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER IF EXISTS dose_count_on_delete ON dose"
        if _pg()
        else "DROP TRIGGER IF EXISTS dose_count_on_delete"
    )
    op.execute(
        "DROP TRIGGER IF EXISTS dose_count_on_move ON dose"
        if _pg()
        else "DROP TRIGGER IF EXISTS dose_count_on_move"
    )
    if _pg():
        op.execute("DROP TRIGGER IF EXISTS dose_count_on_truncate ON dose")
        op.execute("DROP FUNCTION IF EXISTS dose_count_invalidate()")
    op.drop_index("ix_report_source", table_name="report")
    op.drop_table("dose_count_state")
    op.drop_table("dose_count")


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"
