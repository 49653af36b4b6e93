"""doses per (lot, site, local day) as one summary: dose_day, up to a watermark

The lot page counted a lot's doses per site and local day, and its distinct persons, from
the dose table on every request (5.7-6.9x slower at 200k doses than at 100: issue 18), and
the full scan kept its own (lot, site) summary (``dose_count``, migration 0030) with its
own watermark. One summary now serves both, with one watermark and one upkeep
(aefi.registry.dose_summary): ``dose_day`` holds, per lot x site x local day of the
county's zone, the doses, their first and last time, and the persons counted once:
``persons_site`` counts the doses that are a person's first (lowest id) of the lot at that
site, ``persons_county`` those that are the person's first of the lot at the sites of the
site's county; ``dose_count`` stays as its (lot, site) roll-up. Readers add the doses
above ``dose_day_state.last_dose_id`` and move the watermark; no writer of doses
(importer, record_dose, filing) needs to know.

What the watermark cannot see drops the state row (triggers): a dose deleted, or its lot,
site, person or time changed, the dose table truncated, a site moved to another county. The
state row also records the zone the days were cut in; a new zone means a recount. The
backfill is the first recount: the state row starts absent.

Revision ID: 0033_lotpage_dose_summary
Revises: 0032_merge_scan_growth
"""

import sqlalchemy as sa
from alembic import op

from aefi.db import UTCDateTime

revision = "0033_lotpage_dose_summary"
down_revision = "0032_merge_scan_growth"
branch_labels = None
depends_on = None

_DOSE_CHANGED = (
    "OLD.lot_id IS DISTINCT FROM NEW.lot_id OR OLD.site_id IS DISTINCT FROM NEW.site_id "
    "OR OLD.person_id IS DISTINCT FROM NEW.person_id "
    "OR OLD.administered_at IS DISTINCT FROM NEW.administered_at"
)


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _drop_triggers(prefix: str, *, site: bool) -> None:
    names = [("dose", f"{prefix}_on_delete"), ("dose", f"{prefix}_on_move")]
    if site:
        names.append(("site", f"{prefix}_on_site_move"))
    for table, name in names:
        op.execute(
            f"DROP TRIGGER IF EXISTS {name} ON {table}"
            if _pg()
            else f"DROP TRIGGER IF EXISTS {name}"
        )
    if _pg():
        op.execute(f"DROP TRIGGER IF EXISTS {prefix}_on_truncate ON dose")


def upgrade() -> None:
    _drop_triggers("dose_count", site=False)
    if _pg():
        op.execute("DROP FUNCTION IF EXISTS dose_count_invalidate()")
    op.drop_table("dose_count_state")
    # dose_count (lot, site, n) stays, as the (lot, site) roll-up of dose_day kept in the
    # same fold: the full scan reads a row per (lot, site), where summing dose_day would
    # read one per (lot, site, day of use), nearly a row per dose at the scan's 5 M. Empty
    # until the first fold, which recounts it.
    op.execute("DELETE FROM dose_count")
    op.create_table(
        "dose_day",
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("persons_site", sa.Integer(), nullable=False),
        sa.Column("persons_county", sa.Integer(), nullable=False),
        sa.Column("first_at", UTCDateTime(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("lot_id", "site_id", "day"),
    )
    op.create_table(
        "dose_day_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_dose_id", sa.Integer(), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    if _pg():
        op.execute(
            "CREATE OR REPLACE FUNCTION dose_day_invalidate() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN DELETE FROM dose_day_state; RETURN NULL; END $$"
        )
        run = "EXECUTE PROCEDURE dose_day_invalidate()"
        op.execute(
            f"CREATE TRIGGER dose_day_on_delete AFTER DELETE ON dose FOR EACH STATEMENT {run}"
        )
        op.execute(
            "CREATE TRIGGER dose_day_on_move AFTER UPDATE ON dose "
            f"FOR EACH ROW WHEN ({_DOSE_CHANGED}) {run}"
        )
        op.execute(
            f"CREATE TRIGGER dose_day_on_truncate AFTER TRUNCATE ON dose FOR EACH STATEMENT {run}"
        )
        op.execute(
            "CREATE TRIGGER dose_day_on_site_move AFTER UPDATE ON site FOR EACH ROW "
            f"WHEN (OLD.county_id IS DISTINCT FROM NEW.county_id) {run}"
        )
    else:
        clear = "BEGIN DELETE FROM dose_day_state; END"
        op.execute(f"CREATE TRIGGER dose_day_on_delete AFTER DELETE ON dose {clear}")
        op.execute(
            "CREATE TRIGGER dose_day_on_move AFTER UPDATE ON dose "
            f"WHEN {_DOSE_CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} {clear}"
        )
        op.execute(
            "CREATE TRIGGER dose_day_on_site_move AFTER UPDATE OF county_id ON site "
            f"WHEN OLD.county_id IS NOT NEW.county_id {clear}"
        )


def downgrade() -> None:
    _drop_triggers("dose_day", site=True)
    if _pg():
        op.execute("DROP FUNCTION IF EXISTS dose_day_invalidate()")
    op.drop_table("dose_day_state")
    op.drop_table("dose_day")
    # Migration 0030's state and triggers; the state row absent: the next scan recounts.
    op.create_table(
        "dose_count_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("last_dose_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    moved = "OLD.lot_id IS DISTINCT FROM NEW.lot_id OR OLD.site_id IS DISTINCT FROM NEW.site_id"
    if _pg():
        op.execute(
            "CREATE OR REPLACE FUNCTION dose_count_invalidate() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ BEGIN DELETE FROM dose_count_state; RETURN NULL; END $$"
        )
        run = "EXECUTE PROCEDURE dose_count_invalidate()"
        op.execute(
            f"CREATE TRIGGER dose_count_on_delete AFTER DELETE ON dose FOR EACH STATEMENT {run}"
        )
        op.execute(
            "CREATE TRIGGER dose_count_on_move AFTER UPDATE OF lot_id, site_id ON dose "
            f"FOR EACH ROW WHEN ({moved}) {run}"
        )
        op.execute(
            f"CREATE TRIGGER dose_count_on_truncate AFTER TRUNCATE ON dose FOR EACH STATEMENT {run}"
        )
    else:
        clear = "BEGIN DELETE FROM dose_count_state; END"
        op.execute(f"CREATE TRIGGER dose_count_on_delete AFTER DELETE ON dose {clear}")
        op.execute(
            "CREATE TRIGGER dose_count_on_move AFTER UPDATE OF lot_id, site_id ON dose "
            f"WHEN {moved.replace('IS DISTINCT FROM', 'IS NOT')} {clear}"
        )
