"""A full signal scan over 5,000,000 doses, 10,000 lots and 50,000 reports, beside a bare
SQL count of the same observed numbers, in one run on a fresh SQLite database.

The data are generated inside SQLite (recursive CTEs, ``random()``), which is the fast way
to write millions of rows from Python: 100 sites, 20 vaccines, 10,000 lots of ~500 doses
given at a few sites each over 180 days, 250,000 persons, and 50,000 reports of randomly
chosen doses whose event groups and onsets follow the rates installed in the expected-rate
table (so most lots are on expectation), plus five lots with an excess of anaphylaxis.

Printed: the time to build the data, the full scan (cold: critical values computed in
this process; warm: cached), and the bare SQL (observed counts per lot x event group in
the risk windows, and doses per lot) with a check that both give the same numbers; then
three warm full scans and three bare counts interleaved, with their ratio and the load.
AEFI_BENCH_DOSES=20000000 for the 20 M figure (reports: 1 % of the doses)."""

from __future__ import annotations

import os
import time

from bench.common import fresh_sqlite

DOSES = int(os.environ.get("AEFI_BENCH_DOSES", 5_000_000))
LOTS = 10_000
REPORTS = int(os.environ.get("AEFI_BENCH_REPORTS", DOSES // 100))
SITES = 100
VACCINES = 20
PERSONS = 250_000
PLANTED_LOTS = 5

# Per-dose rates of the bench's county (they sum to ~1 % of doses = 50,000 reports), with
# each group's risk window; the report generator draws onsets inside these windows.
RATES = {
    # group: (rate per dose, window start, window end, share of generated reports)
    "fever": (4.0e-3, 0, 3, 0.40),
    "local_reaction": (3.0e-3, 0, 3, 0.30),
    "allergic_rash": (1.5e-3, 0, 3, 0.15),
    "gastrointestinal": (9.0e-4, 0, 3, 0.09),
    "seizure": (3.0e-4, 0, 14, 0.03),
    "syncope": (2.0e-4, 0, 1, 0.02),
    "anaphylaxis": (1.0e-4, 0, 1, 0.01),
}
ALL_AEFI = 1.0e-2
SERIOUS = 5.0e-4


def build(engine) -> dict[str, float]:
    """Regions, sites, vaccines, lots, persons, doses, reports: all in SQL."""
    times: dict[str, float] = {}
    raw = engine.raw_connection()
    cur = raw.cursor()
    t0 = time.perf_counter()
    cur.execute(
        "INSERT INTO region (id, code, name, name_en, level, parent_id) "
        "VALUES (1, 'B000', '基准县', 'Bench County', 'county', NULL)"
    )
    cur.execute(
        "INSERT INTO region (id, code, name, name_en, level, parent_id) "
        "VALUES (2, 'B001', '基准镇', 'Bench Township', 'township', 1)"
    )
    cur.executemany(
        "INSERT INTO site (code, name, name_en, township_id, county_id, phone, halted, "
        "halt_note) VALUES (?, ?, ?, 2, 1, '', 0, '')",
        [(f"BS{i:03d}", f"基准接种点{i}", f"Bench site {i}") for i in range(1, SITES + 1)],
    )
    cur.executemany(
        "INSERT INTO vaccine (code, name, name_en, manufacturer, observation_minutes, halted, "
        "halt_note) VALUES (?, ?, ?, 'Bench', 30, 0, '')",
        [(f"BV{i:02d}", f"基准疫苗{i}", f"Bench vaccine {i}") for i in range(1, VACCINES + 1)],
    )
    cur.execute(
        f"""INSERT INTO lot (lot_number, vaccine_id, expiry_on, doses_received, status,
               status_note, created_at)
        WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {LOTS})
        SELECT printf('BL%05d', i), 1 + (i % {VACCINES}), NULL, 1000, 'active', '',
               '2026-01-01 00:00:00' FROM s"""
    )
    cur.execute(
        f"""INSERT INTO person (county_id, name, id_number, sex, birth_on, phone, address,
               guardian_name)
        WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {PERSONS})
        SELECT 1, '受种者' || i, printf('B%017d', i), 'female', NULL, '', '', '' FROM s"""
    )
    raw.commit()
    times["reference data"] = time.perf_counter() - t0

    # Doses: indexes dropped while loading, rebuilt after (faster than maintaining them).
    t0 = time.perf_counter()
    indexes = cur.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'dose' "
        "AND sql IS NOT NULL"
    ).fetchall()
    for name, _sql in indexes:
        cur.execute(f"DROP INDEX {name}")
    cur.execute(
        f"""INSERT INTO dose (person_id, lot_id, site_id, dose_number, route, body_site,
               administered_at, vaccinator, created_at)
        WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {DOSES}),
        d AS MATERIALIZED (SELECT i, 1 + abs(random()) % {LOTS} AS lot FROM s)
        SELECT 1 + i % {PERSONS}, lot, 1 + (lot * 7 + abs(random()) % 5) % {SITES}, 1, 'im',
               '', datetime('2026-05-01', '+' || (abs(random()) % 15552000) || ' seconds'),
               '', '2026-05-01 00:00:00'
        FROM d"""
    )
    raw.commit()
    times["doses"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _name, sql in indexes:
        cur.execute(sql)
    raw.commit()
    times["dose indexes"] = time.perf_counter() - t0

    # Reports of random doses; event group by share, onset inside its window. Five planted
    # lots get 8 extra anaphylaxis reports each (their E is ~0.05).
    t0 = time.perf_counter()
    case = "CASE"
    lo = 0.0
    for group, (_rate, _a, _b, share) in RATES.items():
        hi = lo + share
        case += f" WHEN u < {hi:.4f} THEN '{group}'"
        lo = hi
    case += " ELSE 'fever' END"
    # Seconds from the dose to the onset: uniform over the group's window.
    window = (
        "CASE g.grp "
        + " ".join(
            f"WHEN '{g}' THEN {max(b - a, 0.01) * 86400 * 0.999:.0f}"
            for g, (_r, a, b, _s) in RATES.items()
        )
        + " END"
    )
    onset = f"datetime(d.administered_at, '+' || (abs(random()) % ({window})) || ' seconds')"
    cur.execute(
        f"""CREATE TEMP TABLE gen AS
        WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {REPORTS}),
        r AS (SELECT i, 1 + abs(random()) % {DOSES} AS dose_id,
                     (abs(random()) % 1000000) / 1000000.0 AS u FROM s)
        SELECT r.i AS i, r.dose_id AS dose_id, {case} AS grp FROM r"""
    )
    planted = [1 + k * 1999 for k in range(PLANTED_LOTS)]
    extra = []
    for lot in planted:
        ids = cur.execute(
            f"SELECT id FROM dose WHERE lot_id = {lot} ORDER BY id LIMIT 8"
        ).fetchall()
        extra.extend(d for (d,) in ids)
    cur.executemany(
        "INSERT INTO gen (i, dose_id, grp) VALUES (?, ?, 'anaphylaxis')",
        [(REPORTS + k + 1, d) for k, d in enumerate(extra)],
    )
    cur.execute(
        f"""INSERT INTO report (id, number, county_id, site_id, person_id, status,
            patient_name, patient_sex, patient_birth_on, patient_id_number, guardian_name,
            patient_phone, patient_address, onset_at, symptoms, event_groups, description,
            max_temperature_c, local_reaction_cm, death, life_threatening, hospitalization,
            disability, congenital_anomaly, needs_hospital_care, already_in_hospital,
            great_public_concern, treatment, hospital_name, outcome, diagnosis,
            diagnosis_clear, reporter_id, reporter_unit, reporter_name, reporter_phone,
            discovered_at, reported_at, received_at, linked_by_hand, lot_flag,
            confirmed_new_event, source, external_id, serious, triage)
        SELECT g.i, 'B-' || g.i, 1, d.site_id, d.person_id, 'submitted', '受种者', 'female',
            NULL, '', '', '', '',
            {onset},
            '[]', json_array(g.grp), '', NULL, NULL, 0,
            CASE WHEN g.grp = 'anaphylaxis' THEN 1 ELSE 0 END, 0, 0, 0, 0, 0, 0, '', '',
            'recovering', '', 0, NULL, '', '', '', d.administered_at, d.administered_at,
            d.administered_at, 0, '', 0, 'api', '',
            CASE WHEN g.grp = 'anaphylaxis' OR abs(random()) % 100 < 4 THEN 1 ELSE 0 END, '{{}}'
        FROM gen g JOIN dose d ON d.id = g.dose_id"""
    )
    cur.execute(
        """INSERT INTO report_dose (report_id, dose_id, lot_id, vaccine_id, administered_at,
            dose_number, route, body_site, vaccinating_unit)
        SELECT g.i, d.id, d.lot_id, l.vaccine_id, d.administered_at, 1, 'im', '', ''
        FROM gen g JOIN dose d ON d.id = g.dose_id JOIN lot l ON l.id = d.lot_id"""
    )
    raw.commit()
    times["reports"] = time.perf_counter() - t0
    cur.execute("ANALYZE")
    raw.commit()
    raw.close()
    return times


def install_rates(session) -> None:
    from sqlmodel import delete

    from aefi.signals.models import ExpectedRate

    session.exec(delete(ExpectedRate))
    rows = [("*", g, r, a, b) for g, (r, a, b, _s) in RATES.items()]
    rows += [("*", "all_aefi", ALL_AEFI, 0, 30), ("*", "serious_aefi", SERIOUS, 0, 30)]
    for code, group, rate, a, b in rows:
        session.add(
            ExpectedRate(
                vaccine_code=code,
                event_group=group,
                rate_per_dose=rate,
                window_start_days=a,
                window_end_days=b,
                source="bench",
            )
        )
    session.commit()


def bare_observed_sql(dialect: str) -> str:
    """The observed numbers of the lot cells, as one would write them by hand: report doses
    x event groups (pseudo-groups added), inside the risk window of the vaccine's rate row
    (its own row, else the '*' row), distinct reports per lot x group. No dose table (a
    lot count needs no site), nothing of aefi's code."""
    if dialect == "postgresql":
        unnest = "CROSS JOIN LATERAL json_array_elements_text(r.event_groups) AS g(value)"
        days = "(EXTRACT(EPOCH FROM (r.onset_at - rd.administered_at)) / 86400.0)"
    else:
        unnest = "JOIN json_each(r.event_groups) AS g"
        days = "(julianday(r.onset_at) - julianday(rd.administered_at))"
    rows = (
        f"SELECT rd.report_id AS report_id, rd.lot_id AS lot_id, rd.vaccine_id AS vaccine_id, "
        f"{days} AS dt, CAST(g.value AS VARCHAR(32)) AS grp FROM report_dose rd "
        f"JOIN report r ON r.id = rd.report_id {unnest} WHERE r.source <> 'vaers' "
        f"UNION ALL SELECT rd.report_id, rd.lot_id, rd.vaccine_id, {days}, 'all_aefi' "
        "FROM report_dose rd JOIN report r ON r.id = rd.report_id WHERE r.source <> 'vaers' "
        f"UNION ALL SELECT rd.report_id, rd.lot_id, rd.vaccine_id, {days}, 'serious_aefi' "
        "FROM report_dose rd JOIN report r ON r.id = rd.report_id "
        "WHERE r.source <> 'vaers' AND r.serious"
    )
    return (
        f"SELECT ev.lot_id, ev.grp, COUNT(DISTINCT ev.report_id) FROM ({rows}) ev "
        "JOIN vaccine v ON v.id = ev.vaccine_id "
        "LEFT JOIN expected_rate ws ON ws.vaccine_code = v.code AND ws.event_group = ev.grp "
        "LEFT JOIN expected_rate wa ON wa.vaccine_code = '*' AND wa.event_group = ev.grp "
        "WHERE COALESCE(ws.rate_per_dose, wa.rate_per_dose) > 0 "
        "AND ev.dt >= COALESCE(ws.window_start_days, wa.window_start_days) "
        "AND ev.dt <= COALESCE(ws.window_end_days, wa.window_end_days) "
        "GROUP BY ev.lot_id, ev.grp"
    )


def bare_sql(session) -> tuple[float, float, dict, dict]:
    """The same observed numbers by one grouped query, and the doses per lot by another."""
    from sqlalchemy import text

    dialect = session.get_bind().dialect.name
    t0 = time.perf_counter()
    observed = {(lot, g): n for lot, g, n in session.execute(text(bare_observed_sql(dialect)))}
    t_obs = time.perf_counter() - t0
    t0 = time.perf_counter()
    doses = dict(session.execute(text("SELECT lot_id, COUNT(*) FROM dose GROUP BY lot_id")).all())
    t_doses = time.perf_counter() - t0
    return t_obs, t_doses, observed, doses


def compare_warm(session, system, reps: int = 3) -> list[tuple[float, float]]:
    """Warm full scans and the bare SQL, interleaved (scan, bare, scan, bare, ...), in the
    same process and database: (scan seconds, bare seconds) per repetition."""
    from aefi.signals.scans.service import run_scan

    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run_scan(session, system, trigger="bench")
        t_scan = time.perf_counter() - t0
        t_obs, t_doses, _o, _d = bare_sql(session)
        session.commit()
        out.append((t_scan, t_obs + t_doses))
    return out


def print_comparison(label: str, pairs: list[tuple[float, float]]) -> None:
    import os

    for k, (a, b) in enumerate(pairs, 1):
        print(
            f"  {label} rep {k}: warm full scan {a:.2f} s, bare count {b:.2f} s, ratio {a / b:.2f}",
            flush=True,
        )
    ratios = sorted(a / b for a, b in pairs)
    load = os.getloadavg()
    print(
        f"  {label}: ratio {ratios[0]:.2f}-{ratios[-1]:.2f} "
        f"(median {ratios[len(ratios) // 2]:.2f}); "
        f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}",
        flush=True,
    )


def main() -> None:
    import numpy as np
    from sqlmodel import Session, func, select

    from aefi import db, wiring
    from aefi.signals import counts, scan
    from aefi.signals.models import Signal
    from aefi.signals.rates.service import current_rates
    from aefi.signals.scans.service import run_scan, thresholds

    wiring.wire()
    fresh_sqlite("signals")
    engine = db.get_engine()
    t0 = time.perf_counter()
    times = build(engine)
    print(
        f"data: {DOSES:,} doses, {LOTS:,} lots, {REPORTS:,} reports (+{PLANTED_LOTS * 8} "
        f"planted) in {time.perf_counter() - t0:.1f} s  "
        + "  ".join(f"{k} {v:.1f} s" for k, v in times.items()),
        flush=True,
    )
    sqlite_path = engine.url.database
    with Session(engine, expire_on_commit=False) as session:
        install_rates(session)
        from aefi.auth.permissions import Actor, every_county

        system = Actor.system(every_county(session), reason="bench: signal scan")
        print("bare SQL (same numbers, grouped counts only):", flush=True)
        t_obs, t_doses, observed, doses = bare_sql(session)
        print(
            f"  observed per lot x event group in the risk windows: {t_obs:.2f} s "
            f"({len(observed):,} non-zero cells, {sum(observed.values()):,} report-cells)"
        )
        print(f"  doses per lot: {t_doses:.2f} s ({len(doses):,} lots)")
        print(f"  bare SQL total: {t_obs + t_doses:.2f} s", flush=True)

        # Time the critical values computed (cache misses) apart from the rest of the scan.
        cv_time = {"s": 0.0, "n": 0}
        exact = scan.critical_value

        def timed_cv(T: float, alpha: float, m: int) -> float:
            if (float(T), float(alpha), int(m)) in scan._cv_cache:
                return exact(T, alpha, m)
            t = time.perf_counter()
            value = exact(T, alpha, m)
            cv_time["s"] += time.perf_counter() - t
            cv_time["n"] += 1
            return value

        scan.critical_value = timed_cv
        for label in ("cold (critical values computed)", "warm (critical values cached)"):
            cv_time.update(s=0.0, n=0)
            t0 = time.perf_counter()
            result = run_scan(session, system, trigger="bench")
            wall = time.perf_counter() - t0
            groups = len(scan.scanned_groups(current_rates(session)))
            print(
                f"full scan, {label}: {wall:.2f} s for {result.cells:,} cells "
                f"(lots, vaccines, sites x {groups} event groups); "
                f"{len(result.changed)} new or raised signals, {len(result.held)} lots held",
                flush=True,
            )
            print(
                f"  of which {cv_time['n']} critical values computed: {cv_time['s']:.2f} s; "
                f"the rest (SQL counts, numpy, storing signals, holds): "
                f"{wall - cv_time['s']:.2f} s",
                flush=True,
            )
        scan.critical_value = exact
        print("warm full scan against the bare count, same run, interleaved:", flush=True)
        print_comparison("SQLite", compare_warm(session, system))
        # The scan's observed and expected for lots are the bare counts.
        rates = {g: r for g, (r, *_rest) in RATES.items()}
        rates["all_aefi"], rates["serious_aefi"] = ALL_AEFI, SERIOUS
        cells = counts.build_cells(session, current_rates(session), thresholds())
        o, d, e, _T, _r = cells.arrays()
        lot_cells = np.nonzero(cells.scope == 0)[0]
        mismatches = 0
        for i in lot_cells.tolist():
            lot, g = int(cells.target_id[i]), cells.group_name(i)
            if o[i] != observed.get((lot, g), 0) or d[i] != doses[lot]:
                mismatches += 1
            if abs(e[i] - doses[lot] * rates[g]) > 1e-9:
                mismatches += 1
        print(
            f"check: the scan's O, doses and E of {lot_cells.size:,} lot cells equal the bare "
            f"SQL's: {mismatches} mismatches"
        )
        held = session.exec(
            select(Signal).where(Signal.scope == "lot", Signal.held_lot == True)  # noqa: E712
        ).all()
        planted = {1 + k * 1999 for k in range(PLANTED_LOTS)}
        found = {s.target_id for s in held} & planted
        n_lot_signals = session.exec(
            select(func.count()).select_from(Signal).where(Signal.scope == "lot")
        ).one()
        print(
            f"planted lots held: {len(found)}/{PLANTED_LOTS}; lots held in all: "
            f"{len({s.target_id for s in held})}; lot signals stored: {n_lot_signals}"
        )
    engine.dispose()
    if os.environ.get("AEFI_BENCH_PG", "1") != "0":
        postgres_comparison(sqlite_path)


COPIED = ("region", "site", "vaccine", "lot", "person", "dose", "report", "report_dose")


def copy_to_postgres(sqlite_path: str, pg_url: str) -> float:
    """The SQLite bench data into a migrated PostgreSQL database by ``COPY`` (the dose
    table's secondary indexes rebuilt after, foreign-key triggers off while loading)."""
    import sqlite3

    import psycopg

    t0 = time.perf_counter()
    src = sqlite3.connect(sqlite_path)
    with psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://")) as pg:
        cur = pg.cursor()
        cur.execute("SET session_replication_role = replica")
        idx = cur.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'dose' "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        ).fetchall()
        for name, _sql in idx:
            cur.execute(f'DROP INDEX "{name}"')
        for table in COPIED:
            cols = ", ".join(f'"{r[1]}"' for r in src.execute(f'PRAGMA table_info("{table}")'))
            with cur.copy(f'COPY "{table}" ({cols}) FROM STDIN') as cp:
                for row in src.execute(f'SELECT {cols} FROM "{table}"'):
                    cp.write_row(row)
        for _name, sql in idx:
            cur.execute(sql)
        for table in COPIED:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f'(SELECT max(id) FROM "{table}"))'
            )
        cur.execute("SET session_replication_role = DEFAULT")
        pg.commit()
        pg.autocommit = True
        pg.execute("VACUUM ANALYZE")
    src.close()
    return time.perf_counter() - t0


def postgres_comparison(sqlite_path: str) -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.pg import ThrowawayPostgres

    pg = ThrowawayPostgres()
    if not pg.available:
        print("PostgreSQL binaries not found: the PostgreSQL part is skipped")
        return
    url = pg.start()
    try:
        from sqlmodel import Session

        from aefi import db
        from aefi.auth.permissions import Actor, every_county
        from aefi.settings import get_settings
        from aefi.signals.scans.service import run_scan

        os.environ["AEFI_DATABASE_URL"] = url
        get_settings.cache_clear()
        db.upgrade(url)
        print(f"PostgreSQL: the same data copied in {copy_to_postgres(sqlite_path, url):.1f} s")
        engine = db._engine_for(url)
        with Session(engine, expire_on_commit=False) as session:
            install_rates(session)
            system = Actor.system(every_county(session), reason="bench: signal scan")
            t0 = time.perf_counter()
            run_scan(session, system, trigger="bench")  # plans started, summary built
            print(f"  first full scan (plans started): {time.perf_counter() - t0:.2f} s")
            print_comparison("PostgreSQL", compare_warm(session, system))
        engine.dispose()
    finally:
        pg.stop()
