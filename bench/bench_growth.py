"""Costs that must not grow with a site's history (issue 18): filing a report against the
reports already at the site, and the observation board and the lot page against the
entries and doses behind them.

Filing: 2,000 reports in a row at one site of a small county (tests/factories.py), filed
through intake's service as the site's reporter, a report every 2 hours of a frozen clock
(so the 72-hour windows hold ~36 reports and the 28-day baseline ~340 once the site has
that much history); the symptoms rotate fever / urticaria / swelling, one in 40 is
serious. The jobs a filing leaves (scans, case file, notices) run after it, untimed for
the filing and timed on their own. Printed: mean ms of each block of 100 filings, SQL
statements a filing issues, and the figure: last 100 / first 100.

Board and lot page: GET through the app (TestClient, logged in) on an empty site or a
small lot, beside the same page after the site has N entries or the lot M doses,
interleaved, REPS repetitions; the ratio is grown / empty.

Environment: AEFI_BENCH_FILINGS (2000), AEFI_BENCH_ENTRIES (2000), AEFI_BENCH_LOT_DOSES
(200000), AEFI_BENCH_REPS (3), AEFI_BENCH_GETS (20 requests a measurement),
AEFI_BENCH_PROFILE=1 (profile filing #100 and the last), AEFI_BENCH_GROWTH (the parts to
run: filing,board,lot)."""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import statistics
import time
from datetime import UTC, date, datetime, timedelta

from bench.common import fresh_sqlite

FILINGS = int(os.environ.get("AEFI_BENCH_FILINGS", "2000"))
ENTRIES = int(os.environ.get("AEFI_BENCH_ENTRIES", "2000"))
LOT_DOSES = int(os.environ.get("AEFI_BENCH_LOT_DOSES", "200000"))
REPS = int(os.environ.get("AEFI_BENCH_REPS", "3"))
GETS = int(os.environ.get("AEFI_BENCH_GETS", "20"))
PROFILE = os.environ.get("AEFI_BENCH_PROFILE", "") == "1"  # profile filings #100 and last
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
SYMPTOMS = (
    dict(symptoms=["FEVER"], max_temperature_c=38.2),
    dict(symptoms=["URTIC"]),
    dict(symptoms=["SWELL"], local_reaction_cm=3.0),
)


class Statements:
    """Counts the SQL statements an engine runs."""

    def __init__(self, engine) -> None:
        from sqlalchemy import event

        self.n = 0

        def count(*_a, **_k) -> None:
            self.n += 1

        event.listen(engine, "before_cursor_execute", count)


def bench_filing() -> None:
    from sqlmodel import Session

    from aefi import clock, db
    from aefi.intake.filing import service as intake_filing
    from aefi.intake.schemas import SeriousIn
    from aefi.jobs import worker
    from tests.factories import a_county, a_dose, a_person, report_in

    url = fresh_sqlite("growth_filing")
    engine = db.get_engine()
    statements = Statements(engine)
    clock.freeze(START)
    with Session(engine, expire_on_commit=False) as session:
        county = a_county(session)
        actor = county.actor(session, "reporter")
        lot = county.lot(session)
        filing_ms: list[float] = []
        jobs_ms: list[float] = []
        sql: list[int] = []
        cpu_ms: list[float] = []  # this process's CPU: less noisy than the wall on a busy box
        profiles: dict[int, cProfile.Profile] = {}
        for i in range(FILINGS):
            clock.advance(timedelta(hours=2))
            # A new person each time (a_person's ID numbers repeat after 1,000 a birthday).
            person = a_person(session, county.county_id, birth_on=date(2020, 1, 1 + i // 900))
            at = clock.now() - timedelta(minutes=90)
            dose = a_dose(session, county, lot=lot, person=person, at=at)
            kw = dict(SYMPTOMS[i % len(SYMPTOMS)])
            if i % 40 == 39:
                kw["serious"] = SeriousIn(hospitalization=True)
            card = report_in(dose, **kw, confirm_new_event=True)
            before = statements.n
            profile = cProfile.Profile() if PROFILE and i + 1 in (100, FILINGS) else None
            t0, c0 = time.perf_counter(), time.process_time()
            if profile is not None:
                profile.runcall(intake_filing.file_report, session, actor, card)
                profiles[i + 1] = profile
            else:
                intake_filing.file_report(session, actor, card)
            filing_ms.append((time.perf_counter() - t0) * 1000)
            cpu_ms.append((time.process_time() - c0) * 1000)
            sql.append(statements.n - before)
            t0 = time.perf_counter()
            worker.work(engine, now=clock.now())
            jobs_ms.append((time.perf_counter() - t0) * 1000)
            session.expunge_all()
    clock.unfreeze()
    print(f"filing at one site, SQLite ({url}): {FILINGS} reports, one every 2 h")
    print("block        filing: mean ms  p50 ms  CPU ms  SQL   jobs mean ms")
    for b in range(0, FILINGS, 100):
        f, j, s = filing_ms[b : b + 100], jobs_ms[b : b + 100], sql[b : b + 100]
        c = cpu_ms[b : b + 100]
        print(
            f"{b + 1:>5}-{b + len(f):<5} {statistics.fmean(f):>14.1f} {statistics.median(f):>7.1f}"
            f" {statistics.fmean(c):>7.1f} {statistics.fmean(s):>5.1f} {statistics.fmean(j):>10.1f}"
        )
    first, last = statistics.fmean(filing_ms[:100]), statistics.fmean(filing_ms[-100:])
    c_first, c_last = statistics.fmean(cpu_ms[:100]), statistics.fmean(cpu_ms[-100:])
    # The first blocks form the site's first clusters (a site with no history): block 2
    # onwards is the steady state, printed beside the figure.
    c_second = statistics.fmean(cpu_ms[100:200]) if FILINGS >= 300 else c_first
    jf, jl = statistics.fmean(jobs_ms[:100]), statistics.fmean(jobs_ms[-100:])
    print(f"FIGURE filing last 100 / first 100: {last:.1f} / {first:.1f} ms = {last / first:.2f}")
    print(f"  CPU, last 100 / first 100: {c_last:.1f} / {c_first:.1f} ms = {c_last / c_first:.2f}")
    print(f"  CPU, last 100 / 101-200: {c_last:.1f} / {c_second:.1f} ms = {c_last / c_second:.2f}")
    print(f"       jobs after it, last / first: {jl:.1f} / {jf:.1f} ms = {jl / jf:.2f}")
    for nth, profile in profiles.items():
        print(f"profile of filing #{nth} (aefi functions by cumulative time):")
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(r"/aefi/", 25)
        print("\n".join(line for line in out.getvalue().splitlines() if "/aefi/" in line))


def _people(session, county_id: int, n: int, tag: str) -> list[int]:
    """``n`` persons inserted at once; their ids."""
    from sqlalchemy import insert, select

    from aefi.registry.models import Person

    rows = [
        {
            "county_id": county_id,
            "name": f"受种者{tag}{i}",
            "id_number": f"{tag}{i:012d}",
            "sex": "female",
            "birth_on": date(2020, 1, 1),
            "phone": "",
            "address": "",
            "guardian_name": "",
        }
        for i in range(n)
    ]
    for i in range(0, n, 5000):
        session.execute(insert(Person), rows[i : i + 5000])
    return list(
        session.execute(select(Person.id).where(Person.id_number.like(f"{tag}%"))).scalars()
    )


def _doses(session, rows: list[dict]) -> list[int]:
    """Doses inserted at once, in order; their ids."""
    from sqlalchemy import func, insert, select

    from aefi.registry.models import Dose

    start = session.execute(select(func.coalesce(func.max(Dose.id), 0))).scalar_one()
    for i in range(0, len(rows), 10000):
        session.execute(insert(Dose), rows[i : i + 10000])
    return list(range(start + 1, start + 1 + len(rows)))


def _timed_gets(client, url: str) -> float:
    """Mean ms of GETS requests of ``url``."""
    t0 = time.perf_counter()
    for _ in range(GETS):
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
    return (time.perf_counter() - t0) * 1000 / GETS


def _client(username: str):
    from fastapi.testclient import TestClient

    from aefi.app import create_app
    from tests.conftest import login

    client = TestClient(create_app())
    client.__enter__()
    login(client, username)
    return client


def _compare(label: str, small: tuple, grown: tuple) -> None:
    """GET the small and the grown page in turn, REPS times, and print the ratio."""
    print(f"{label}: mean ms of {GETS} GETs, interleaved")
    ratios = []
    for rep in range(REPS):
        a = _timed_gets(*small)
        b = _timed_gets(*grown)
        ratios.append(b / a)
        print(f"  rep {rep + 1}: small {a:.1f} ms  grown {b:.1f} ms  ratio {b / a:.2f}")
    print(f"FIGURE {label} grown / small: {min(ratios):.2f}-{max(ratios):.2f}")


def bench_board() -> None:
    """The board of a site with ENTRIES closed rows (half of them left today) beside the
    board of a site with none; both have the same five vaccinees in observation now."""
    from sqlalchemy import insert
    from sqlmodel import Session

    from aefi import clock, db
    from aefi.observation import board as rules
    from aefi.observation.models import ObservationEntry
    from aefi.settings import get_settings
    from tests.factories import a_county, a_dose

    fresh_sqlite("growth_board")
    engine = db.get_engine()
    now = clock.now()
    today_start, _ = rules.local_day_bounds(
        rules.local_day(now, get_settings().timezone), get_settings().timezone
    )
    with Session(engine, expire_on_commit=False) as session:
        county = a_county(session)
        lot = county.lot(session)
        for site in (0, 1):
            for k in range(5):
                a_dose(session, county, site=site, lot=lot, at=now - timedelta(minutes=5 + k))
        persons = _people(session, county.county_id, ENTRIES, "B")
        ats = []
        for i in range(ENTRIES):
            if i % 2 == 0:  # today, before the last hour
                span = max(now - timedelta(hours=1) - today_start, timedelta(minutes=1))
                ats.append(today_start + span * (i / ENTRIES))
            else:  # the 60 days before
                ats.append(today_start - timedelta(days=60) * (i / ENTRIES))
        dose_rows = [
            {
                "person_id": persons[i],
                "lot_id": lot.id,
                "site_id": county.site_ids[0],
                "dose_number": 1,
                "route": "im",
                "administered_at": ats[i],
            }
            for i in range(ENTRIES)
        ]
        dose_ids = _doses(session, dose_rows)
        entries = [
            {
                "county_id": county.county_id,
                "site_id": county.site_ids[0],
                "dose_id": dose_ids[i],
                "person_id": persons[i],
                "vaccine_id": lot.vaccine_id,
                "source": "dose",
                "checked_in_at": ats[i],
                "due_at": ats[i] + timedelta(minutes=30),
                "minutes": 30,
                "released_at": ats[i] + timedelta(minutes=31),
                "closed_by_name": "刘医生",
                "checked_in_by_name": "",
                "note": "",
                "decision_reason": "",
            }
            for i in range(ENTRIES)
        ]
        session.execute(insert(ObservationEntry), entries)
        session.commit()
    grown, small = _client("reporter"), _client("reporter2")  # site 0, site 1
    for c in (grown, small):
        _timed_gets(c, "/observation")  # warm-up
    print(f"board, SQLite: site of {ENTRIES} closed rows ({ENTRIES // 2} today) vs none")
    _compare("board", (small, "/observation"), (grown, "/observation"))


def bench_lot_page() -> None:
    """The lot page of a lot of LOT_DOSES doses beside a lot of 100, same county, doses
    over 60 days at both sites."""
    from sqlmodel import Session

    from aefi import clock, db
    from tests.factories import a_county

    fresh_sqlite("growth_lot")
    engine = db.get_engine()
    now = clock.now()
    with Session(engine, expire_on_commit=False) as session:
        county = a_county(session)
        small, big = county.lot(session, "FLU", 0), county.lot(session, "FLU", 1)
        persons = _people(session, county.county_id, 20000, "L")
        rows = []
        for lot, n in ((small, 100), (big, LOT_DOSES)):
            rows += [
                {
                    "person_id": persons[i % len(persons)],
                    "lot_id": lot.id,
                    "site_id": county.site_ids[i % 2],
                    "dose_number": 1,
                    "route": "im",
                    "administered_at": now - timedelta(days=60) * (i / n) - timedelta(hours=3),
                }
                for i in range(n)
            ]
        _doses(session, rows)
        session.commit()
        numbers = small.lot_number, big.lot_number
    client = _client("bureau")
    for number in numbers:
        _timed_gets(client, f"/lots/{number}")  # warm-up
    print(f"lot page, SQLite: lot of {LOT_DOSES} doses vs 100")
    _compare("lot page", (client, f"/lots/{numbers[0]}"), (client, f"/lots/{numbers[1]}"))


PARTS = {"filing": bench_filing, "board": bench_board, "lot": bench_lot_page}


def main() -> None:
    # AEFI_BENCH_GROWTH=board,lot runs some parts only.
    names = os.environ.get("AEFI_BENCH_GROWTH", "filing,board,lot").split(",")
    for name in names:
        PARTS[name.strip()]()
        print(flush=True)


if __name__ == "__main__":
    main()
