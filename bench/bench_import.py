"""CSV import of 1,000,000 dose rows: rate, memory, and bad-row reporting.

Runs the streaming importer on a generated file into a fresh SQLite database (the embedded
default), once keeping good rows (then the same file again, which must add nothing) and once
all-or-nothing with one bad row at the end."""

from __future__ import annotations

import random
import resource
import time

from bench.common import OUT, fresh_sqlite

ROWS = 1_000_000


def _write_csv(path, lots, sites, rows: int, bad_at: set[int]) -> None:
    from aefi.registry.importer import COLUMNS

    rng = random.Random(1)
    with path.open("w", encoding="utf-8") as fh:
        fh.write(",".join(COLUMNS) + "\n")
        for i in range(rows):
            lot = "NO-SUCH-LOT" if i in bad_at else rng.choice(lots)
            fh.write(
                f"3307822015{i:08d},受种者{i % 9973},{'male' if i % 2 else 'female'},"
                f"2015-03-0{1 + i % 9},1380000{i % 10000:04d},{lot},{rng.choice(sites)},"
                f"{1 + i % 3},2026-10-{1 + i % 28:02d}T0{8 + i % 2}:{i % 60:02d}:00+08:00,"
                "im,左上臂三角肌,陈护士\n"
            )


def main() -> None:
    from sqlmodel import Session, func, select

    from aefi import db, demo
    from aefi.auth.models import Role
    from aefi.auth.permissions import Actor
    from aefi.registry import importer
    from aefi.registry.models import Dose, Lot, Site

    fresh_sqlite("import")
    engine = db.get_engine()
    with Session(engine) as session:
        county = demo.build(session, doses=1000, with_users=False)
        lots = [lot.lot_number for lot in session.exec(select(Lot))]
        sites = [s.code for s in session.exec(select(Site))]
    actor = Actor(0, "bench", "bench", Role.admin, county.county_id)
    path = OUT / "doses.csv"
    t0 = time.perf_counter()
    _write_csv(path, lots, sites, ROWS, bad_at={17, 500_000})
    size_mb = path.stat().st_size / 1e6
    print(f"generated {ROWS:,} rows ({size_mb:.0f} MB) in {time.perf_counter() - t0:.1f} s")

    with Session(engine) as session, path.open("rb") as fh:
        t0 = time.perf_counter()
        report = importer.import_doses(session, actor, fh)
        took = time.perf_counter() - t0
        total = session.exec(select(func.count()).select_from(Dose)).one()
    print(
        f"keep-good: imported {report.imported:,}, rejected {report.rejected_count} "
        f"(lines {[r['row'] for r in report.rejected]}) in {took:.1f} s "
        f"= {report.imported / took:,.0f} rows/s; doses in db {total:,}"
    )

    with Session(engine) as session, path.open("rb") as fh:  # the same file again: idempotent
        t0 = time.perf_counter()
        again = importer.import_doses(session, actor, fh)
        took = time.perf_counter() - t0
        total_after = session.exec(select(func.count()).select_from(Dose)).one()
    print(
        f"same file again: added {again.imported:,}, already recorded {again.duplicates:,} "
        f"in {took:.1f} s; doses in db {total_after:,} (was {total:,})"
    )

    _write_csv(path, lots, sites, ROWS, bad_at={ROWS - 1})
    fresh_sqlite("import")
    engine = db.get_engine()
    with Session(engine) as session:
        demo.build(session, doses=1000, with_users=False)
    with Session(engine) as session, path.open("rb") as fh:
        t0 = time.perf_counter()
        report = importer.import_doses(session, actor, fh, all_or_nothing=True)
        took = time.perf_counter() - t0
        total = session.exec(select(func.count()).select_from(Dose)).one()
    print(
        f"all-or-nothing with one bad row at line {ROWS + 1}: rolled_back={report.rolled_back}, "
        f"rejected={report.rejected}, doses in db {total:,} (the 1,000 of the demo) "
        f"in {took:.1f} s"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory of the process: {peak:.0f} MB")
    path.unlink()
