"""CSV import of N dose rows beside the bare database load of the same rows, on SQLite and
(a throwaway cluster, tests/pg.py, when its binaries are installed) PostgreSQL.

Every run starts from a fresh copy of the same database (the demo county, 1,000 doses). Per
repetition, interleaved (the order alternates): aefi's ``import_doses`` of the file (keep-good
mode, batches of ``importer.BATCH`` with their audit events) and then the same file again
(must add nothing), and the baseline:

- SQLite: a bare ``executemany`` through the driver of the same persons and doses (already
  parsed, ids given) into the same tables with the same indexes, one transaction, with the
  page cache the import uses (``importer.IMPORT_CACHE_KIB``);
- PostgreSQL: a bare ``COPY`` of the same persons and doses into the same tables with the
  same indexes, one transaction.

The file holds one bad row (line 19): aefi reports it, the baseline loads the other rows.
Printed: seconds, rows/s, the ratio aefi / baseline, and the load. Once a database, an
all-or-nothing import of the file with a bad last row (rolled back).

Environment: AEFI_BENCH_IMPORT_ROWS (default 1,000,000), AEFI_BENCH_REPS (default 3),
AEFI_BENCH_IMPORT_DBS (``sqlite,postgresql``)."""

from __future__ import annotations

import os
import random
import resource
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import OUT, fresh_sqlite

ROWS = int(os.environ.get("AEFI_BENCH_IMPORT_ROWS", "1000000"))
REPS = int(os.environ.get("AEFI_BENCH_REPS", "3"))
DBS = os.environ.get("AEFI_BENCH_IMPORT_DBS", "sqlite,postgresql").split(",")
BAD_LINE = 19  # the file line of the one bad row (data row 17)


def _load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def _write_csv(path: Path, lots: dict, sites: dict, rows: int, bad_at: set[int]) -> tuple:
    """The file, and the rows a bare load stores for it: persons and doses (good rows only),
    as (id_number, name, sex, birth_on, phone) and (person index, lot_id, site_id,
    dose_number, route, body_site, administered_at (UTC), vaccinator)."""
    from aefi.registry.importer import COLUMNS

    rng = random.Random(1)
    lot_numbers, site_codes = list(lots), list(sites)
    persons, doses = [], []
    times: dict[str, datetime] = {}
    with path.open("w", encoding="utf-8") as fh:
        fh.write(",".join(COLUMNS) + "\n")
        for i in range(rows):
            lot = "NO-SUCH-LOT" if i in bad_at else rng.choice(lot_numbers)
            site = rng.choice(site_codes)
            idn, name, sex = (
                f"3307822015{i:08d}",
                f"受种者{i % 9973}",
                "male" if i % 2 else "female",
            )
            birth, phone = f"2015-03-0{1 + i % 9}", f"1380000{i % 10000:04d}"
            at = f"2026-10-{1 + i % 28:02d}T0{8 + i % 2}:{i % 60:02d}:00+08:00"
            fh.write(
                f"{idn},{name},{sex},{birth},{phone},{lot},{site},{1 + i % 3},{at},"
                "im,左上臂三角肌,陈护士\n"
            )
            if i in bad_at:
                continue
            when = times.get(at)
            if when is None:
                when = times[at] = datetime.fromisoformat(at).astimezone(UTC)
            persons.append((idn, name, sex, birth, phone))
            doses.append(
                (
                    len(persons) - 1,
                    lots[lot],
                    sites[site],
                    1 + i % 3,
                    "im",
                    "左上臂三角肌",
                    when,
                    "陈护士",
                )
            )
    return persons, doses


def _demo(url: str) -> tuple[int, dict, dict]:
    from sqlmodel import Session, select

    from aefi import db, demo
    from aefi.registry import lot_states
    from aefi.registry.models import Lot, Site

    engine = db.make_engine(url)
    with Session(engine) as session:
        county = demo.build(session, doses=1000, with_users=False)
        county_id = county.county_id
        blocked = lot_states.blocked_lots(session, county_id)
        halted = lot_states.halted_vaccines(session, county_id)
        usable = {
            lot.lot_number: lot.id
            for lot in session.exec(select(Lot))
            if lot.id not in blocked and lot.vaccine_id not in halted
        }
        sites = {
            s.code: s.id
            for s in session.exec(select(Site).where(Site.county_id == county_id))
            if not s.halted
        }
    engine.dispose()
    return county_id, usable, sites


def _aefi(url: str, county_id: int, path: Path, **kw) -> tuple[float, object, int]:
    from sqlmodel import Session, func, select

    from aefi import db
    from aefi.auth.models import Role
    from aefi.auth.permissions import Actor
    from aefi.registry import importer
    from aefi.registry.models import Dose

    engine = db.make_engine(url)
    actor = Actor(0, "bench", "bench", Role.admin, county_id)
    try:
        with Session(engine) as session, path.open("rb") as fh:
            t0 = time.perf_counter()
            report = importer.import_doses(session, actor, fh, **kw)
            took = time.perf_counter() - t0
            total = session.exec(select(func.count()).select_from(Dose)).one()
    finally:
        engine.dispose()
    return took, report, total


def _next_person_id(conn) -> int:
    cur = conn.cursor()
    cur.execute("SELECT coalesce(max(id), 0) FROM person")
    last = cur.fetchone()[0]
    cur.close()
    return last + 1


def _bare_sqlite(path: Path, county_id: int, persons: list, doses: list) -> float:
    import sqlite3

    from aefi.registry import importer

    conn = sqlite3.connect(path, timeout=30)
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "synchronous=NORMAL"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute(f"PRAGMA cache_size = -{importer.IMPORT_CACHE_KIB}")
    first = _next_person_id(conn)
    created = importer._sqlite_datetime(datetime.now(UTC))
    person_rows = [
        (first + k, county_id, p[0], p[1], p[2], p[3], p[4]) for k, p in enumerate(persons)
    ]
    dose_rows = [
        (first + d[0], d[1], d[2], d[3], d[4], d[5], importer._sqlite_datetime(d[6]), d[7], created)
        for d in doses
    ]
    t0 = time.perf_counter()
    conn.executemany(
        "INSERT INTO person (id, county_id, id_number, name, sex, birth_on, phone, address, "
        "guardian_name) VALUES (?, ?, ?, ?, ?, ?, ?, '', '')",
        person_rows,
    )
    conn.executemany(
        "INSERT INTO dose (person_id, lot_id, site_id, dose_number, route, body_site, "
        "administered_at, vaccinator, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        dose_rows,
    )
    conn.commit()
    took = time.perf_counter() - t0
    conn.close()
    return took


def _bare_copy(url: str, county_id: int, persons: list, doses: list) -> float:
    import psycopg

    conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
    first = _next_person_id(conn)
    created = datetime.now(UTC)
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        with cur.copy(
            "COPY person (id, county_id, id_number, name, sex, birth_on, phone, address, "
            "guardian_name) FROM STDIN"
        ) as copy:
            for k, p in enumerate(persons):
                copy.write_row((first + k, county_id, p[0], p[1], p[2], p[3], p[4], "", ""))
        with cur.copy(
            "COPY dose (person_id, lot_id, site_id, dose_number, route, body_site, "
            "administered_at, vaccinator, created_at) FROM STDIN"
        ) as copy:
            for d in doses:
                copy.write_row((first + d[0], *d[1:], created))
    conn.commit()
    took = time.perf_counter() - t0
    conn.close()
    return took


class _Fresh:
    """Fresh copies of one built database: SQLite files, or PostgreSQL databases made from
    a template."""

    def __init__(self, kind: str, url: str) -> None:
        self.kind, self.url, self.n = kind, url, 0

    def __call__(self) -> str:
        self.n += 1
        if self.kind == "sqlite":
            src = Path(self.url.split("///", 1)[1])
            dst = src.with_name(f"import-run{self.n}.db")
            for suffix in ("-wal", "-shm"):
                Path(f"{dst}{suffix}").unlink(missing_ok=True)
            shutil.copy(src, dst)
            return f"sqlite:///{dst}"
        import psycopg

        admin = self.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS import_run{self.n - 1}")
            conn.execute(f"CREATE DATABASE import_run{self.n} TEMPLATE import_template")
        return self.url.rsplit("/", 1)[0] + f"/import_run{self.n}"


def _run(kind: str, template_url: str, fresh: _Fresh) -> list[tuple]:
    county_id, lots, sites = _demo(template_url)
    path = OUT / "doses.csv"
    t0 = time.perf_counter()
    persons, doses = _write_csv(path, lots, sites, ROWS, bad_at={BAD_LINE - 2})
    print(
        f"[{kind}] generated {ROWS:,} rows ({path.stat().st_size / 1e6:.0f} MB) in "
        f"{time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    results = []
    for rep in range(REPS):
        order = ("aefi", "bare") if rep % 2 == 0 else ("bare", "aefi")
        figures = {}
        for who in order:
            url = fresh()
            if who == "aefi":
                took, report, total = _aefi(url, county_id, path)
                again, second, total_after = _aefi(url, county_id, path)
                assert report.imported == len(doses) and second.imported == 0, (report, second)
                assert [r["row"] for r in report.rejected] == [BAD_LINE]
                assert total_after == total
                figures["aefi"] = took
                print(
                    f"[{kind}] rep {rep + 1} aefi: {report.imported:,} rows in {took:.1f} s = "
                    f"{report.imported / took:,.0f} rows/s (rejected line {BAD_LINE}, "
                    f"{report.batches} batches); the same file again: 0 added, "
                    f"{second.duplicates:,} already recorded in {again:.1f} s  ({_load()})",
                    flush=True,
                )
            else:
                if kind == "sqlite":
                    took = _bare_sqlite(Path(url.split("///", 1)[1]), county_id, persons, doses)
                    name = "bare executemany"
                else:
                    took = _bare_copy(url, county_id, persons, doses)
                    name = "bare COPY"
                figures["bare"] = took
                print(
                    f"[{kind}] rep {rep + 1} {name}: {len(doses):,} rows in {took:.1f} s = "
                    f"{len(doses) / took:,.0f} rows/s  ({_load()})",
                    flush=True,
                )
        ratio = figures["aefi"] / figures["bare"]
        results.append((kind, rep + 1, len(doses), figures["aefi"], figures["bare"], ratio))
        print(
            f"[{kind}] rep {rep + 1}: aefi {figures['aefi']:.1f} s / baseline "
            f"{figures['bare']:.1f} s = {ratio:.2f}x",
            flush=True,
        )
    _write_csv(path, lots, sites, ROWS, bad_at={ROWS - 1})
    took, report, total = _aefi(fresh(), county_id, path, all_or_nothing=True)
    print(
        f"[{kind}] all-or-nothing, one bad row at line {ROWS + 1}: rolled_back="
        f"{report.rolled_back}, rejected={report.rejected}, doses in db {total:,} (the demo's) "
        f"in {took:.1f} s",
        flush=True,
    )
    path.unlink()
    return results


def main() -> None:
    rows: list[tuple] = []
    if "sqlite" in DBS:
        url = fresh_sqlite("import")
        rows += _run("sqlite", url, _Fresh("sqlite", url))
        for p in OUT.glob("import-run*.db*"):
            p.unlink()
    if "postgresql" in DBS:
        from aefi import db
        from tests.pg import ThrowawayPostgres

        pg = ThrowawayPostgres()
        if not pg.available:
            print("PostgreSQL binaries missing: PostgreSQL skipped")
        else:
            admin_url = pg.start()
            try:
                import psycopg

                raw = admin_url.replace("postgresql+psycopg://", "postgresql://")
                with psycopg.connect(raw, autocommit=True) as conn:
                    conn.execute("CREATE DATABASE import_template")
                url = admin_url.rsplit("/", 1)[0] + "/import_template"
                db.upgrade(url)
                db._engine_for.cache_clear()
                rows += _run("postgresql", url, _Fresh("postgresql", admin_url))
            finally:
                pg.stop()
    print(f"\nimport of {ROWS:,} rows, aefi / baseline (same run, interleaved):")
    for kind, rep, n, aefi_s, bare_s, ratio in rows:
        print(
            f"  {kind:10} rep {rep}: aefi {aefi_s:6.1f} s ({n / aefi_s:8,.0f} rows/s)  "
            f"baseline {bare_s:6.1f} s ({n / bare_s:8,.0f} rows/s)  ratio {ratio:.2f}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the process: {peak:.0f} MB; {_load()}")
