"""dose natural key (unique, for idempotent imports); the audit trail's hash chain

- ``ux_dose_natural_key`` on dose (person_id, lot_id, dose_number, administered_at): the same
  vaccination recorded twice is one dose. Exact duplicates already stored are merged first
  (references moved to the oldest copy, the later copies deleted).
- ``audit_seal``: one row per audit event, ``seq`` 1, 2, 3... with the previous hash and the
  SHA-256 over it and the event (aefi/audit.py). Append-only like audit_event. The events
  stored before this migration are sealed here, in id order.

Revision ID: 0014_import_audit_chain
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_import_audit_chain"
down_revision = "0010"
branch_labels = None
depends_on = None

_SAME = (
    "k.person_id = d.person_id AND k.lot_id = d.lot_id AND k.dose_number = d.dose_number "
    "AND k.administered_at = d.administered_at"
)


def _referencing_tables() -> list[tuple[str, str]]:
    insp = sa.inspect(op.get_bind())
    found = []
    for table in insp.get_table_names():
        for fk in insp.get_foreign_keys(table):
            if fk["referred_table"] == "dose" and len(fk["constrained_columns"]) == 1:
                found.append((table, fk["constrained_columns"][0]))
    return found


def _merge_duplicate_doses() -> None:
    later_copy = f"EXISTS (SELECT 1 FROM dose k WHERE {_SAME} AND k.id < d.id)"
    for table, column in _referencing_tables():
        op.execute(
            f"UPDATE {table} SET {column} = (SELECT MIN(k.id) FROM dose k, dose d "
            f"WHERE d.id = {table}.{column} AND {_SAME}) "
            f"WHERE {column} IN (SELECT d.id FROM dose d WHERE {later_copy})"
        )
    op.execute(f"DELETE FROM dose WHERE id IN (SELECT d.id FROM dose d WHERE {later_copy})")


def _append_only(table: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )
    else:  # the function audit_event_append_only() exists since 0001
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()"
        )


def upgrade() -> None:
    _merge_duplicate_doses()
    op.create_index(
        "ux_dose_natural_key",
        "dose",
        ["person_id", "lot_id", "dose_number", "administered_at"],
        unique=True,
    )
    op.create_table(
        "audit_seal",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("event_id"),
    )
    _append_only("audit_seal")
    from aefi.audit import seal_pending

    conn = op.get_bind()
    last = 0
    while True:
        ids = [
            r[0]
            for r in conn.execute(
                sa.text("SELECT id FROM audit_event WHERE id > :last ORDER BY id LIMIT 5000"),
                {"last": last},
            )
        ]
        if not ids:
            break
        seal_pending(conn, ids)
        last = ids[-1]


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_seal_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_seal_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_seal_append_only ON audit_seal")
    op.drop_table("audit_seal")
    op.drop_index("ux_dose_natural_key", table_name="dose")
