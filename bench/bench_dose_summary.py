"""The dose summary's full recount (``registry.dose_summary``, issue 18): first doses
probed per dose (the old path, still the incremental fold's) against found set-wise by
window functions (the recount's), on the same data, same run, on SQLite and PostgreSQL.

A recount follows the migration, any dose deleted or changed, a site moved and a zone
change, inside the first lot page or scan that comes; the 5 M-dose figure was 250 s on
SQLite and more than 8.5 minutes on PostgreSQL with the probes.

The data are generated inside SQLite: two counties of 50 sites each, 10,000 lots, doses
in series of three of one lot for one person (a quarter of doses are single), 20 doses a
person on average, each dose of a series at one of five neighbouring sites of its lot (so
some series span sites, and some of them both counties), at a random second of 180 days.
Printed per database: each path's time, the rows it wrote, and whether both paths wrote
the same rows.
AEFI_BENCH_DOSES (default 1,000,000); AEFI_BENCH_PG=0 skips PostgreSQL;
AEFI_BENCH_OLD=0 skips the probe path (minutes at 5 M)."""

from __future__ import annotations

import os
import time

from bench.common import fresh_sqlite

DOSES = int(os.environ.get("AEFI_BENCH_DOSES", 1_000_000))
LOTS = 10_000
SITES = 100
# 20 doses a person, as the signal bench (bench_signals: 250,000 persons at 5 M doses); + 3
# keeps the count prime to LOTS, so that a person's series are of different lots.
PERSONS = DOSES // 20 + 3
OLD = os.environ.get("AEFI_BENCH_OLD", "1") != "0"


def build(engine) -> float:
    raw = engine.raw_connection()
    cur = raw.cursor()
    t0 = time.perf_counter()
    for rid, code, level, parent in (
        (1, "B000", "county", None),
        (2, "B001", "township", 1),
        (3, "B100", "county", None),
        (4, "B101", "township", 3),
    ):
        cur.execute(
            "INSERT INTO region (id, code, name, name_en, level, parent_id) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (rid, code, f"基准{code}", f"Bench {code}", level, parent),
        )
    # Sites 1-50 in the first county, 51-100 in the second.
    cur.executemany(
        "INSERT INTO site (id, code, name, name_en, township_id, county_id, phone, halted, "
        "halt_note) VALUES (?, ?, ?, ?, ?, ?, '', 0, '')",
        [
            (i, f"BS{i:03d}", f"基准接种点{i}", f"Bench site {i}", *((2, 1) if i <= 50 else (4, 3)))
            for i in range(1, SITES + 1)
        ],
    )
    cur.execute(
        "INSERT INTO vaccine (code, name, name_en, manufacturer, observation_minutes, halted, "
        "halt_note) VALUES ('BV01', '基准疫苗', 'Bench vaccine', 'Bench', 30, 0, '')"
    )
    cur.execute(
        f"""INSERT INTO lot (lot_number, vaccine_id, expiry_on, doses_received, status,
               status_note, created_at)
        WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {LOTS})
        SELECT printf('BL%05d', i), 1, NULL, 1000, 'active', '', '2026-01-01 00:00:00' FROM s"""
    )
    cur.execute(
        f"""INSERT INTO person (county_id, name, id_number, sex, birth_on, phone, address,
               guardian_name)
        WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {PERSONS})
        SELECT 1, '受种者' || i, printf('B%017d', i), 'female', NULL, '', '', '' FROM s"""
    )
    indexes = cur.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'dose' "
        "AND sql IS NOT NULL"
    ).fetchall()
    for name, _sql in indexes:
        cur.execute(f"DROP INDEX {name}")
    # A series: three consecutive ids (every fourth dose a series of its own, single).
    cur.execute(
        f"""INSERT INTO dose (person_id, lot_id, site_id, dose_number, route, body_site,
               administered_at, vaccinator, created_at)
        WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {DOSES}),
        k AS (SELECT i, CASE WHEN i % 4 = 0 THEN {DOSES} + i ELSE i / 3 END AS series FROM s),
        d AS MATERIALIZED (SELECT i, series, 1 + (series * 7919) % {LOTS} AS lot FROM k)
        SELECT 1 + (series * 104729) % {PERSONS}, lot,
               1 + (lot * 7 + abs(random()) % 5) % {SITES}, 1 + i % 3, 'im', '',
               datetime('2026-05-01', '+' || (abs(random()) % 15552000) || ' seconds'),
               '', '2026-05-01 00:00:00'
        FROM d ORDER BY i"""
    )
    for _name, sql in indexes:
        cur.execute(sql)
    cur.execute("ANALYZE")
    raw.commit()
    raw.close()
    return time.perf_counter() - t0


def _summary(session) -> tuple[list, list]:
    from sqlalchemy import text

    days = session.execute(
        text(
            "SELECT lot_id, site_id, day, n, persons_site, persons_county, first_at, last_at "
            "FROM dose_day ORDER BY lot_id, site_id, day"
        )
    ).all()
    pairs = session.execute(text("SELECT * FROM dose_count ORDER BY lot_id, site_id")).all()
    return [tuple(map(str, r)) for r in days], [tuple(r) for r in pairs]


def compare(label: str, engine) -> None:
    """The probe path's recount and the set-wise one, each timed in its own transaction
    (rolled back: both start from the same table)."""
    from sqlalchemy import text
    from sqlmodel import Session

    from aefi.registry import dose_summary
    from aefi.settings import get_settings

    zone = get_settings().timezone
    out = {}
    paths = [("set-wise (window functions)", True)] + ([("probed (EXISTS)", False)] * OLD)
    for name, setwise in paths:
        with Session(engine) as session:
            session.execute(text("DELETE FROM dose_day_state"))
            top = session.execute(text("SELECT COALESCE(MAX(id), 0) FROM dose")).scalar_one()
            t0 = time.perf_counter()
            if setwise:
                dose_summary.top_up(session)  # the recount as the app runs it
            else:
                session.execute(text("DELETE FROM dose_day"))
                session.execute(text("DELETE FROM dose_count"))
                dose_summary._fold(session, 0, int(top), zone, setwise=False)
            wall = time.perf_counter() - t0
            out[name] = _summary(session)
            session.rollback()
        days, pairs = out[name]
        persons = sum(int(r[4]) for r in days), sum(int(r[5]) for r in days)
        print(
            f"  {label} {name}: {wall:.1f} s for {DOSES:,} doses -> {len(days):,} day rows, "
            f"{len(pairs):,} (lot, site) rows, persons at sites {persons[0]:,}, "
            f"in counties {persons[1]:,}",
            flush=True,
        )
    if len(out) == 2:
        a, b = out.values()
        print(f"  {label}: both paths wrote the same rows: {a == b}", flush=True)
    load = os.getloadavg()
    print(f"  load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}", flush=True)


def main() -> None:
    from aefi import db

    fresh_sqlite("dose_summary")
    engine = db.get_engine()
    print(f"data: {DOSES:,} doses, {PERSONS:,} persons in {build(engine):.1f} s", flush=True)
    compare("SQLite", engine)
    sqlite_path = engine.url.database
    engine.dispose()
    if os.environ.get("AEFI_BENCH_PG", "1") == "0":
        return
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.bench_signals import copy_to_postgres
    from tests.pg import ThrowawayPostgres

    pg = ThrowawayPostgres()
    if not pg.available:
        print("PostgreSQL binaries not found: the PostgreSQL part is skipped")
        return
    url = pg.start()
    try:
        from aefi.settings import get_settings

        os.environ["AEFI_DATABASE_URL"] = url
        get_settings.cache_clear()
        db.upgrade(url)
        print(f"PostgreSQL: the same data copied in {copy_to_postgres(sqlite_path, url):.1f} s")
        engine = db._engine_for(url)
        compare("PostgreSQL", engine)
        engine.dispose()
    finally:
        pg.stop()
