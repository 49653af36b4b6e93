"""The lot page and the indicators page on the demo county (200,000 doses), served by the
real app to a logged-in browser session, beside the bare count queries they need.

Each page is requested N times in a row after a warm-up; the count queries run N times on
their own in the same process, so the difference is what the page adds on top of them
(the other queries, Python, templates, the SVG charts)."""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, timedelta

from bench.common import Server, fmt, fresh_sqlite, percentiles

DOSES = 200_000
N = 200
REPORTS = 600  # ~10 times the 65 a county of 200,000 doses expects at 32.52 per 100,000
CASES = 150


def _seed_reports(session, county_id: int, rng: random.Random) -> None:
    """Reports linked to random doses of the demo county, and case files for a quarter of
    them, inserted in bulk: the demo county has doses but no reports of its own."""
    from sqlalchemy import insert
    from sqlmodel import select

    from aefi import clock
    from aefi.intake.models import Report, ReportDose
    from aefi.investigation.models import CaseFile
    from aefi.registry.models import Dose, Lot, Person

    now = clock.now()
    doses = session.exec(
        select(Dose.id, Dose.person_id, Dose.site_id, Dose.lot_id, Dose.administered_at)
    ).all()
    picks = rng.sample(doses, REPORTS)
    vaccine_of = dict(session.exec(select(Lot.id, Lot.vaccine_id)).all())
    names = dict(
        session.exec(
            select(Person.id, Person.name).where(
                Person.id.in_([p[1] for p in picks])  # type: ignore[union-attr]
            )
        ).all()
    )
    groups = [("FEVER", "fever"), ("URTIC", "allergic_rash"), ("SWELL", "local_reaction")]
    rows = []
    for i, (_did, pid, sid, _lid, at) in enumerate(picks):
        code, group = groups[i % 3]
        filed = min(at + timedelta(hours=rng.uniform(2, 96)), now)
        rows.append(
            {
                "number": f"330782-BENCH-{i:05d}",
                "county_id": county_id,
                "site_id": sid,
                "person_id": pid,
                "status": "submitted",
                "patient_name": names.get(pid, "?"),
                "patient_sex": "female",
                "patient_id_number": "",
                "patient_phone": "13800000000" if i % 5 else "",
                "onset_at": at + timedelta(hours=1),
                "symptoms": [code],
                "event_groups": [group],
                "outcome": "recovering",
                "reporter_name": "刘医生",
                "reporter_phone": "13800000000",
                "discovered_at": filed - timedelta(hours=rng.uniform(0, 60)),
                "reported_at": filed,
                "received_at": filed,
                "triage": {},
            }
        )
    ids = [
        r[0]
        for r in session.execute(
            insert(Report).returning(Report.id, sort_by_parameter_order=True), rows
        )
    ]
    session.execute(
        insert(ReportDose),
        [
            {
                "report_id": rid,
                "dose_id": did,
                "lot_id": lid,
                "vaccine_id": vaccine_of[lid],
                "administered_at": at,
                "dose_number": 1,
            }
            for rid, (did, _pid, _sid, lid, at) in zip(ids, picks, strict=True)
        ],
    )
    cases = []
    for i, rid in enumerate(ids[:CASES]):
        received = rows[i]["received_at"]
        started = received + timedelta(hours=rng.uniform(1, 70))
        cases.append(
            {
                "number": f"CASE-BENCH-{i:04d}",
                "county_id": county_id,
                "kind": "report",
                "report_id": rid,
                "report_ids": [rid],
                "event_groups": rows[i]["event_groups"],
                "status": "investigating",
                "received_at": received,
                "start_due_at": received + timedelta(hours=48),
                "started_at": started if started < now else None,
                "form_completed_at": started + timedelta(days=2) if i % 2 else None,
                "china_classification": "common" if i % 3 == 0 else "",
                "overdue_notified": [],
                "brighton": {},
            }
        )
    session.execute(insert(CaseFile), cases)
    session.commit()


def _login(client, username: str) -> None:
    from aefi.demo import DEMO_PASSWORDS

    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post(
        "/login",
        data={
            "username": username,
            "password": DEMO_PASSWORDS[username][1],
            "csrf_token": token,
            "next": "/",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def _time_requests(client, path: str, n: int) -> tuple[float, list[float]]:
    """The first request (charts not drawn yet), then n after a warm-up."""
    t0 = time.perf_counter()
    assert client.get(path).status_code == 200
    first = time.perf_counter() - t0
    for _ in range(4):
        assert client.get(path).status_code == 200
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get(path)
        samples.append(time.perf_counter() - t0)
        assert r.status_code == 200, r.text[:300]
    return first, samples


def _time_query(engine, sql: str, params: dict, n: int) -> tuple[list[float], object]:
    from sqlalchemy import text

    with engine.connect() as conn:
        result = conn.execute(text(sql), params).all()
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            conn.execute(text(sql), params).all()
            samples.append(time.perf_counter() - t0)
    return samples, result


def main() -> None:
    import httpx
    from sqlmodel import Session, func, select

    from aefi import db, demo, wiring
    from aefi.app import create_app
    from aefi.registry.models import Dose, Lot
    from aefi.settings import get_settings

    fresh_sqlite("reporting")
    wiring.wire()
    engine = db.get_engine()
    t0 = time.perf_counter()
    with Session(engine) as session:
        county = demo.build(session, doses=DOSES)
        _seed_reports(session, county.county_id, random.Random(9))
        lot_id, lot_doses = session.exec(
            select(Dose.lot_id, func.count()).group_by(Dose.lot_id).order_by(func.count().desc())
        ).first()
        lot = session.get(Lot, lot_id)
        total = session.exec(select(func.count()).select_from(Dose)).one()
    print(
        f"demo county: {total:,} doses, {REPORTS} reports, {CASES} case files "
        f"built in {time.perf_counter() - t0:.1f} s; busiest lot {lot.lot_number} "
        f"({lot_doses:,} doses)"
    )

    app = create_app(get_settings())
    with Server(app) as base, httpx.Client(base_url=base, timeout=60) as client:
        _login(client, "bureau")
        pages = {
            "lot page": f"/lots/{lot.lot_number}",
            "indicators page (90 days)": "/indicators",
        }
        results = {name: _time_requests(client, path, N) for name, path in pages.items()}

    from aefi.reporting.daily import service

    until = service.today()
    start, end = service.period_bounds(until - timedelta(days=89), until)
    # SQLite keeps UTC without a zone (aefi.db.UTCDateTime): bind the same.
    naive = {
        "start": start.astimezone(UTC).replace(tzinfo=None),
        "end": end.astimezone(UTC).replace(tzinfo=None),
    }
    sites = ",".join(str(i) for i in county.site_ids)
    queries = {
        "lot page: count(*) of the lot's doses": (
            "SELECT count(*) FROM dose WHERE lot_id = :lot",
            {"lot": lot.id},
        ),
        "lot page: the lot's doses (site, time)": (
            "SELECT site_id, administered_at, 1 FROM dose WHERE lot_id = :lot",
            {"lot": lot.id},
        ),
        "indicators: count(*) of 90 days' doses": (
            "SELECT count(*) FROM dose WHERE administered_at >= :start AND administered_at < :end",
            naive,
        ),
        "indicators: 90 days' doses by site and lot": (
            f"SELECT site_id, lot_id, count(*) FROM dose WHERE site_id IN ({sites}) "
            "AND administered_at >= :start AND administered_at < :end GROUP BY site_id, lot_id",
            naive,
        ),
    }
    bare = {}
    for name, (sql, params) in queries.items():
        samples, result = _time_query(engine, sql, params, N)
        counted = sum(r[-1] for r in result)
        bare[name] = (percentiles(samples), counted)

    print(f"\n{N} requests each, one logged-in session (bureau), SQLite:")
    for name, (first, samples) in results.items():
        print(f"  {name:<44} {fmt(percentiles(samples))}  first request {first * 1000:.0f} ms")
    print(f"\nthe bare count queries, {N} runs each:")
    for name, (stats, counted) in bare.items():
        print(f"  {name:<44} {fmt(stats)}  (counts {counted:,} doses)")


if __name__ == "__main__":
    main()
