"""Green channel: how fast a referral reaches the hospital's inbox and the ack comes back.

On a fresh SQLite database with the demo county: anaphylaxis reports filed through the
service (triage opens the referral in the same transaction), the table then padded to
5,000 referrals of history; then, through a live server, the hospital inbox poll (every
2 s in the browser), the report page's status poll (every 3 s), the API list, the
acknowledgement, the timer over 1,000 overdue referrals, and the hand-over PDF."""

from __future__ import annotations

import re
import time
from datetime import timedelta

from bench.common import Server, fmt, fresh_sqlite, percentiles

REPORTS = 200
HISTORY = 5000


def _login(client, base: str, username: str) -> None:
    from aefi.demo import DEMO_PASSWORDS

    page = client.get(f"{base}/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post(
        f"{base}/login",
        data={"username": username, "password": DEMO_PASSWORDS[username][1], "csrf_token": token},
    )
    assert r.status_code in (200, 303), r.text


def _timed(fn, n: int) -> dict:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return percentiles(samples)


def main() -> None:
    import httpx
    from sqlmodel import Session, func, select

    from aefi import clock, db, demo, wiring
    from aefi.app import create_app
    from aefi.auth.models import User
    from aefi.auth.permissions import Actor
    from aefi.intake.filing import service as intake_filing
    from aefi.intake.schemas import ReportIn
    from aefi.referral.inbox import service as inbox
    from aefi.referral.models import Referral
    from aefi.referral.steps import service as steps
    from aefi.registry.models import Dose

    fresh_sqlite("referral")
    wiring.wire()
    engine = db.get_engine()
    with Session(engine, expire_on_commit=False) as session:
        county = demo.build(session, doses=4000, days=30, seed=11)
        users = {u.username: Actor.of(u) for u in session.exec(select(User))}
        reporter = users["reporter"]
        persons_seen: set[int] = set()
        doses = []
        for d in session.exec(
            select(Dose).where(Dose.site_id == reporter.site_id).order_by(Dose.id)
        ):
            if d.person_id not in persons_seen:
                persons_seen.add(d.person_id)
                doses.append(d)
        doses = doses[:REPORTS]
        samples = []
        for d in doses:
            data = ReportIn(
                dose_ids=[d.id],
                onset_at=d.administered_at + timedelta(minutes=15),
                symptoms=["ANAPH"],
                outcome="recovering",
                reporter_name="刘医生",
                reporter_phone="13800000000",
            )
            t0 = time.perf_counter()
            intake_filing.file_report(session, reporter, data)
            samples.append(time.perf_counter() - t0)
        opened = session.exec(select(func.count()).select_from(Referral)).one()
        print(
            f"file_report of an anaphylaxis (triage + referral + notifications in one "
            f"transaction): {fmt(percentiles(samples))}; referrals opened {opened}"
        )

        # History: closed referrals of other reports, spread over the three hospitals.
        template = session.exec(select(Referral)).first()
        rows = []
        for i in range(HISTORY - opened):
            rows.append(
                Referral(
                    report_id=template.report_id,
                    county_id=template.county_id,
                    site_id=county.site_ids[i % len(county.site_ids)],
                    hospital_id=county.hospital_ids[i % len(county.hospital_ids)],
                    status="discharged",
                    sent_at=clock.now() - timedelta(days=1 + i % 300),
                    acknowledged_at=clock.now()
                    - timedelta(days=1 + i % 300)
                    + timedelta(minutes=2 + i % 9),
                )
            )
        session.add_all(rows)
        session.commit()
        total = session.exec(select(func.count()).select_from(Referral)).one()
        print(f"referrals in the table: {total}")

        hospital = users["hospital"]
        first_page, open_total = inbox.list_referrals(session, hospital)
        open_ids = [r.referral.id for r in first_page]

    app = create_app()
    with Server(app) as base:
        hosp = httpx.Client(timeout=30, headers={"Accept-Language": "zh-CN"})
        _login(hosp, base, "hospital")
        rep = httpx.Client(timeout=30)
        _login(rep, base, "reporter")
        htmx = {"HX-Request": "true"}
        r = hosp.get(f"{base}/referrals", headers=htmx)
        assert r.status_code == 200 and "ref-new" in r.text
        print(
            f"inbox poll (htmx fragment, first 50 of {open_total} open, {total} in all): "
            f"{fmt(_timed(lambda: hosp.get(f'{base}/referrals', headers=htmx), 200))}; "
            f"{len(r.content) / 1000:.0f} kB"
        )
        print(
            f"hospital home page (full inbox page): {fmt(_timed(lambda: hosp.get(f'{base}/'), 50))}"
        )
        with Session(engine) as session:
            report_id = session.get(Referral, open_ids[0]).report_id
        status_url = f"{base}/reports/{report_id}/referral-status"
        polls = _timed(lambda: rep.get(status_url, headers=htmx), 200)
        print(f"report page status poll: {fmt(polls)}")
        token = hosp.post(
            f"{base}/api/v1/auth/token",
            data={"username": "hospital", "password": demo.DEMO_PASSWORDS["hospital"][1]},
        ).json()["access_token"]
        api = {"Authorization": f"Bearer {token}"}
        list_url = f"{base}/api/v1/referrals?show=open&per_page=50"
        r = hosp.get(list_url, headers=api)
        listed = _timed(lambda: hosp.get(list_url, headers=api), 30)
        print(
            f"API list of open referrals (50 per page, full records): {fmt(listed)}; "
            f"{len(r.json()['items'])} items"
        )
        acks = []
        for rid in open_ids[: len(open_ids) // 2]:
            t0 = time.perf_counter()
            r = hosp.post(f"{base}/api/v1/referrals/{rid}/acknowledge", headers=api)
            acks.append(time.perf_counter() - t0)
            assert r.status_code == 200
        print(f"acknowledge (API, notifies the site): {fmt(percentiles(acks))}")
        pdf = _timed(lambda: hosp.get(f"{base}/referrals/{open_ids[-1]}/handover.pdf"), 10)
        print(f"hand-over sheet PDF (Chinese): {fmt(pdf)}")

    # The timer over 1,000 overdue referrals at once.
    with Session(engine, expire_on_commit=False) as session:
        template = session.exec(select(Referral)).first()
        now = clock.now()
        session.add_all(
            Referral(
                report_id=template.report_id,
                county_id=template.county_id,
                site_id=template.site_id,
                hospital_id=template.hospital_id,
                status="sent",
                sent_at=now - timedelta(minutes=11),
            )
            for _ in range(1000)
        )
        session.commit()
        t0 = time.perf_counter()
        escalated = steps.check_timers(session, now)
        took = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = steps.check_timers(session, now)
        idle = time.perf_counter() - t0
    print(
        f"check_timers: escalated {len(escalated)} in {took:.2f} s "
        f"({took / max(len(escalated), 1) * 1000:.1f} ms each, with notifications); "
        f"a quiet round ({len(again)} due) {idle * 1000:.1f} ms"
    )
