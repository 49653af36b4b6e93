"""Doses per (lot, site, local day), kept as a summary above a watermark (migration 0033):
what the lot page and the full signal scan read instead of counting the dose table, whose
size they must not follow (issue 18).

``dose_day`` (and its (lot, site) roll-up ``dose_count``, the full scan's denominators)
holds the doses with ids up to ``dose_day_state.last_dose_id``; a reader first
tops it up with the doses above the watermark (a range of the primary key) and moves it.
Doses are append-only in practice, so no writer of doses (importer, ``record_dose``,
filing) needs to know; what the watermark cannot see (a dose deleted or changed, a site
moved to another county) drops the state row by trigger, and so does nothing here: the next
reader recounts everything. The readers are the ``registry_dose_summary`` timer
(``aefi.flow.JOBS``), so that folds and recounts happen off the request path, and, as
fallbacks, the lot page and the full scan. The days are the county's local days
(``settings.timezone``); the state row records the zone, and a new zone means a recount.

A person with two doses of a lot is one person: a dose counts in ``persons_site`` when it is
the person's first (lowest id) of the lot at its site, in ``persons_county`` when it is the
first of the lot at any site of its site's county. Ids only grow, so the doses above the
watermark never change the flags of those below."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import text
from sqlmodel import Session

from aefi.db import serialized_writes
from aefi.registry.local_days import offset_spans
from aefi.settings import get_settings


@dataclass(frozen=True)
class DoseDayRow:
    lot_id: int
    site_id: int
    day: date
    n: int
    persons_site: int
    persons_county: int
    first_at: datetime
    last_at: datetime


def _pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _aware(at: datetime | str) -> datetime:
    """An aggregate of a UTC column comes back without the column type's processing on
    SQLite (text): as stored, in UTC."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _day(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


# A dose is its person's first of the lot at the site / in the county when no dose with a
# lower id is: found through the person's doses (ix_dose_person_id, a handful each). The
# unary plus keeps the planner off (lot_id, site_id): SQLite chose ix_dose_lot_site and
# read the whole lot for every dose (a 200k-dose lot took minutes to fold).
_FIRST_AT_SITE = (
    "CASE WHEN EXISTS (SELECT 1 FROM dose e WHERE e.person_id = d.person_id "
    "AND +e.lot_id = d.lot_id AND e.id < d.id AND +e.site_id = d.site_id) THEN 0 ELSE 1 END"
)
_FIRST_IN_COUNTY = (
    "CASE WHEN EXISTS (SELECT 1 FROM dose e JOIN site t ON t.id = e.site_id "
    "WHERE e.person_id = d.person_id AND +e.lot_id = d.lot_id AND e.id < d.id "
    "AND t.county_id = s.county_id) THEN 0 ELSE 1 END"
)


# The full recount (no state row, or another zone) finds the first doses set-wise: each
# (person, lot, site) and (person, lot, county) group's lowest id, by window functions over
# the doses folded, one sort each. Probing two indexes per dose cost 250 s on SQLite and
# more than 8.5 minutes on PostgreSQL at 5 M doses (issue 18). A fold above the watermark
# keeps the probes: its doses' firsts depend on doses below the mark, which it does not read.
_FIRSTS_SETWISE = (
    "(SELECT d.lot_id, d.site_id, d.administered_at, "
    "CASE WHEN ROW_NUMBER() OVER (PARTITION BY d.person_id, d.lot_id, d.site_id "
    "ORDER BY d.id) = 1 THEN 1 ELSE 0 END AS first_at_site, "
    "CASE WHEN ROW_NUMBER() OVER (PARTITION BY d.person_id, d.lot_id, s.county_id "
    "ORDER BY d.id) = 1 THEN 1 ELSE 0 END AS first_in_county "
    "FROM dose d JOIN site s ON s.id = d.site_id WHERE {where}) d"
)


def _grouped(
    session: Session, where: str, zone: str, params: dict, *, setwise: bool = False
) -> tuple[str, dict] | None:
    """The SELECT of (lot, site, day, n, persons_site, persons_county, first_at, last_at)
    over the doses matching ``where`` (alias ``d``, site ``s``), None when there are none.
    ``setwise``: the first doses found by window functions over exactly those doses (right
    only when they include every dose below them: the recount). PostgreSQL cuts the days in
    the zone; SQLite by the spans of one UTC offset, each shifted by its offset (whole
    seconds: SQLite rounds stored times to milliseconds, so 23:59:59.9995 stays on its
    day), in one statement: a statement per span would sort the whole recount once each."""
    if setwise:
        source, cond = _FIRSTS_SETWISE.format(where=where), ""
        firsts = "SUM(d.first_at_site), SUM(d.first_in_county)"
    else:
        source, cond = "dose d JOIN site s ON s.id = d.site_id", f" WHERE {where}"
        firsts = f"SUM({_FIRST_AT_SITE}), SUM({_FIRST_IN_COUNTY})"
    if _pg(session):
        day = "CAST(timezone(CAST(:zone AS TEXT), d.administered_at) AS DATE)"
        params = {**params, "zone": zone}
    else:
        bounds = session.execute(
            text(
                "SELECT MIN(d.administered_at), MAX(d.administered_at) "
                f"FROM dose d JOIN site s ON s.id = d.site_id WHERE {where}"
            ),
            params,
        ).one()
        if bounds[0] is None:
            return None
        day = _sqlite_day(offset_spans(zone, _aware(bounds[0]), _aware(bounds[1])))
    sql = (
        f"SELECT d.lot_id, d.site_id, {day}, COUNT(*), {firsts}, "
        f"MIN(d.administered_at), MAX(d.administered_at) FROM {source}{cond} "
        f"GROUP BY d.lot_id, d.site_id, {day}"
    )
    return sql, params


def _sqlite_day(spans: list) -> str:
    """The local day of ``d.administered_at`` on SQLite: its offset span's shift (the
    span ends are our own UTC times, written as SQL literals)."""
    seconds = "substr(d.administered_at, 1, 19)"
    cases = []
    for span in spans:
        shifted = f"date({seconds}, '{span.offset_s:+d} seconds')"
        if span.end is None:
            cases.append(shifted)
        else:
            end = span.end.strftime("%Y-%m-%d %H:%M:%S")
            cases.append(f"WHEN {seconds} < '{end}' THEN {shifted}")
    if len(cases) == 1:
        return cases[0]
    return f"CASE {' '.join(cases[:-1])} ELSE {cases[-1]} END"


def _fold_is_safe(session: Session) -> bool:
    """May the watermark move past every dose visible now? On SQLite, yes: one writer at a
    time, so no uncommitted dose can hold an id below a committed one. On PostgreSQL only
    when no other transaction is in progress: a concurrent one may have drawn lower ids
    from the sequence and commit later (the doses above the watermark are then counted
    live, and folded by a later reader)."""
    if not _pg(session):
        return True
    n = session.execute(text("SELECT count(*) FROM pg_snapshot_xip(pg_current_snapshot())"))
    return int(n.scalar_one()) == 0


def _state(session: Session) -> tuple[int, str] | None:
    row = session.execute(
        text("SELECT last_dose_id, zone FROM dose_day_state WHERE id = 1")
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))


def top_up(session: Session) -> None:
    """Fold the doses above the watermark into ``dose_day`` (everything, when the state row
    is absent or records another zone), in the caller's transaction: a rolled-back caller
    rolls its fold back too. The watermark is claimed first, by a conditional write of the
    state row, so two readers never fold the same doses (the loser folds nothing and
    counts the tail live)."""
    zone = get_settings().timezone
    state = _state(session)
    if state is not None and state[1] == zone:
        mark = state[0]
        top = session.execute(text("SELECT MAX(id) FROM dose WHERE id > :m"), {"m": mark}).one()[0]
        if top is None or not _fold_is_safe(session):
            return
        claimed = session.execute(
            text(
                "UPDATE dose_day_state SET last_dose_id = :top "
                "WHERE id = 1 AND last_dose_id = :m AND zone = :zone"
            ),
            {"top": int(top), "m": mark, "zone": zone},
        ).rowcount
    else:
        mark = 0
        if not _fold_is_safe(session):
            return
        top = session.execute(text("SELECT COALESCE(MAX(id), 0) FROM dose")).one()[0]
        if state is None:
            claimed = session.execute(
                text(
                    "INSERT INTO dose_day_state (id, last_dose_id, zone) VALUES (1, :top, :zone) "
                    "ON CONFLICT (id) DO NOTHING"
                ),
                {"top": int(top), "zone": zone},
            ).rowcount
        else:
            claimed = session.execute(
                text(
                    "UPDATE dose_day_state SET last_dose_id = :top, zone = :zone "
                    "WHERE id = 1 AND last_dose_id = :m AND zone = :old"
                ),
                {"top": int(top), "zone": zone, "m": state[0], "old": state[1]},
            ).rowcount
        if claimed == 1:
            session.execute(text("DELETE FROM dose_day"))
            session.execute(text("DELETE FROM dose_count"))
    if claimed != 1:
        return
    _fold(session, mark, int(top), zone, setwise=mark == 0)


def _fold(session: Session, mark: int, top: int, zone: str, *, setwise: bool) -> None:
    """Add the doses with ids in (mark, top] to ``dose_day`` and ``dose_count``; the first
    doses ``setwise`` (only when mark is 0: nothing lies below) or probed per dose."""
    least, greatest = ("LEAST", "GREATEST") if _pg(session) else ("MIN", "MAX")
    upsert = (
        "INSERT INTO dose_day (lot_id, site_id, day, n, persons_site, persons_county, "
        "first_at, last_at) {select} "
        "ON CONFLICT (lot_id, site_id, day) DO UPDATE SET n = dose_day.n + excluded.n, "
        "persons_site = dose_day.persons_site + excluded.persons_site, "
        "persons_county = dose_day.persons_county + excluded.persons_county, "
        f"first_at = {least}(dose_day.first_at, excluded.first_at), "
        f"last_at = {greatest}(dose_day.last_at, excluded.last_at)"
    )
    where = "d.id > :m AND d.id <= :top"
    grouped = _grouped(session, where, zone, {"m": mark, "top": top}, setwise=setwise)
    if grouped is not None:
        session.execute(text(upsert.format(select=grouped[0])), grouped[1])
    session.execute(
        text(
            "INSERT INTO dose_count (lot_id, site_id, n) SELECT d.lot_id, d.site_id, COUNT(*) "
            f"FROM dose d WHERE {where} GROUP BY d.lot_id, d.site_id "
            "ON CONFLICT (lot_id, site_id) DO UPDATE SET n = dose_count.n + excluded.n"
        ),
        {"m": mark, "top": top},
    )


def refresh(session: Session) -> None:
    """Top the summary up and commit, for a page that only reads: without a commit every
    request would fold the same doses again. Writes only when there are doses above the
    watermark (or no valid state), so a page over a quiet registry stays a read."""
    state = _state(session)
    valid = state is not None and state[1] == get_settings().timezone
    if valid and _above(session, state[0]) is None:
        return
    with serialized_writes(session):
        top_up(session)
        session.commit()


def _rows(session: Session, sql: str, params: dict) -> list[DoseDayRow]:
    return [
        DoseDayRow(
            int(r[0]),
            int(r[1]),
            _day(r[2]),
            int(r[3]),
            int(r[4]),
            int(r[5]),
            _aware(r[6]),
            _aware(r[7]),
        )
        for r in session.execute(text(sql), params)
    ]


def _merge(rows: Iterable[DoseDayRow]) -> list[DoseDayRow]:
    """Rows of one (lot, site, day) from the summary and the live tail, as one."""
    out: dict[tuple[int, int, date], DoseDayRow] = {}
    for r in rows:
        key = (r.lot_id, r.site_id, r.day)
        o = out.get(key)
        out[key] = (
            r
            if o is None
            else DoseDayRow(
                r.lot_id,
                r.site_id,
                r.day,
                o.n + r.n,
                o.persons_site + r.persons_site,
                o.persons_county + r.persons_county,
                min(o.first_at, r.first_at),
                max(o.last_at, r.last_at),
            )
        )
    return list(out.values())


def lot_days(
    session: Session, lot_id: int, county_id: int, site_id: int | None = None
) -> list[DoseDayRow]:
    """The lot's rows at the county's sites (or one site): from the summary, topped up
    first, plus the doses above the watermark counted live when it could not move. Rows:
    sites x days of use, whatever the number of doses."""
    refresh(session)
    zone = get_settings().timezone
    params: dict = {"lot": lot_id, "county": county_id}
    scope = "s.county_id = :county"
    if site_id is not None:
        scope += " AND s.id = :site"
        params["site"] = site_id
    state = _state(session)
    if state is None or state[1] != zone:  # the fold lost a race with a delete: all live
        where, mark = f"d.lot_id = :lot AND {scope}", None
    else:
        mark = state[0]
        where = f"d.id > :m AND d.lot_id = :lot AND {scope}"
        params["m"] = mark
    rows: list[DoseDayRow] = []
    if mark is not None:
        rows = _rows(
            session,
            "SELECT dd.lot_id, dd.site_id, dd.day, dd.n, dd.persons_site, dd.persons_county, "
            "dd.first_at, dd.last_at FROM dose_day dd JOIN site s ON s.id = dd.site_id "
            f"WHERE dd.lot_id = :lot AND {scope}",
            params,
        )
    if mark is not None and _above(session, mark) is None:
        return rows  # the usual case: nothing above the watermark
    grouped = _grouped(session, where, zone, params)
    if grouped is not None:
        rows += _rows(session, *grouped)
    return _merge(rows)


def _above(session: Session, mark: int) -> object:
    """A dose above the watermark, if any (one step of the primary key): the live tail's
    grouping, by the lot's index, would read every dose of the lot."""
    return session.execute(text("SELECT 1 FROM dose WHERE id > :m LIMIT 1"), {"m": mark}).first()


def lot_site_counts(session: Session) -> list[tuple[int, int, int]]:
    """(lot, site, doses) of every dose: the full scan's denominators, from the summary's
    (lot, site) roll-up ``dose_count`` (a row per pair, where summing ``dose_day`` would
    read one per day of use). Tops the summary up in the caller's transaction (the scan
    commits it with its results)."""
    top_up(session)
    state = _state(session)
    zone = get_settings().timezone
    if state is None or state[1] != zone:  # the fold could not run: count the doses
        return _plain(
            session, "SELECT lot_id, site_id, COUNT(*) FROM dose GROUP BY lot_id, site_id"
        )
    summed = _plain(session, "SELECT lot_id, site_id, n FROM dose_count")
    if _above(session, state[0]) is None:
        # The usual case: the fold above took every dose. Grouping an empty tail is not
        # free: SQLite reads it through ix_dose_lot_site, every dose of the registry.
        return summed
    tail = _plain(
        session,
        f"SELECT lot_id, site_id, COUNT(*) FROM dose WHERE id > {int(state[0])} "
        "GROUP BY lot_id, site_id",
    )
    if not tail:
        return summed
    out: dict[tuple[int, int], int] = {}
    for lot, site, n in [*summed, *tail]:
        out[(lot, site)] = out.get((lot, site), 0) + int(n)
    return [(lot, site, n) for (lot, site), n in out.items()]


def _plain(session: Session, sql: str) -> list[tuple]:
    """Plain tuples straight from the driver, in the session's transaction: the full scan
    reads a row per (lot, site) pair, and Row objects cost ~2 µs each."""
    cur = session.connection().connection.dbapi_connection.cursor()
    try:
        cur.execute(sql)
        return cur.fetchall()
    finally:
        cur.close()
