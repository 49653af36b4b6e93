"""Report numbers: human-readable, unique and consecutive per county and year
(330782-2026-00017), for the filing and for reports received from elsewhere
(``interchange.receive``).

One statement takes the number: an upsert of the county's counter row for the year that
returns the new value and the county's code (``INSERT ... ON CONFLICT DO UPDATE ...
RETURNING last, (SELECT code ...)``), so the first report of a year needs no retry and the
county row is not read again. Where it runs differs by database:

- SQLite (one writer; the filing runs under ``db.serialized_writes``): in the filing's own
  transaction. A filing that fails gives its number back: no gaps.
- PostgreSQL (many writers): on a connection of its own in autocommit, so the statement is
  its own transaction (no BEGIN and COMMIT round trips) and the counter's row lock is held
  for that one statement instead of the whole filing (every concurrent filing of the
  county used to queue on it). The filing takes it after every
  check that can refuse the report (validation, duplicates, an earlier request with the same
  Idempotency-Key); a filing that still fails after it (its safety path failing, a twin
  request racing on the same key, the process dying) leaves that number unused: a gap,
  the price of not serialising the county's filings. The number is an identifier, not a
  count: the register is the reports themselves."""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlmodel import Session

from aefi.intake.models import ReportCounter
from aefi.registry.models import Region

_t = ReportCounter.__table__
_region = Region.__table__


def _take(conn: Connection | Session, county_id: int, year: int, dialect: str) -> tuple[int, str]:
    """The next value of the county's counter for ``year``, and the county's code."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    code = select(_region.c.code).where(_region.c.id == county_id).scalar_subquery()
    stmt = insert(_t).values(county_id=county_id, year=year, last=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[_t.c.county_id, _t.c.year], set_={"last": _t.c.last + 1}
    ).returning(_t.c.last, code)
    seq, county_code = conn.execute(stmt).one()
    return int(seq), county_code


def next_report_number(session: Session, county_id: int, year: int) -> str:
    """The county's next report number of ``year``, e.g. ``330782-2026-00017``."""
    bind = session.get_bind()
    dialect = bind.dialect.name
    if dialect == "postgresql":
        with bind.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            seq, code = _take(conn, county_id, year, dialect)
    else:
        seq, code = _take(session, county_id, year, dialect)
    return f"{code}-{year}-{seq:05d}"
