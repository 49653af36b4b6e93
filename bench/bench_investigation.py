"""Case files at county scale: the demo county with 200,000 doses, a few hundred reports
(each triaged and, where needed, given a case file), then the investigator's pages timed
through the app: the case list, the case page (with the registry counts over all doses),
saving a section, the live causality preview, the PDF."""

from __future__ import annotations

import random
import re
import time
from datetime import timedelta

from bench.common import fmt, fresh_sqlite, percentiles

REPORTS = 300
DOSES = 200_000


def _timed(fn, n: int) -> dict:
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return percentiles(samples)


def main() -> None:
    fresh_sqlite("investigation")
    from fastapi.testclient import TestClient
    from sqlmodel import Session, func, select

    from aefi import db, demo, wiring
    from aefi.app import create_app
    from aefi.auth.models import User
    from aefi.auth.permissions import Actor
    from aefi.intake.filing import service as intake_filing
    from aefi.intake.schemas import ReportIn
    from aefi.investigation.models import CaseFile
    from aefi.registry.models import Dose

    wiring.wire()
    rng = random.Random(11)
    with Session(db.get_engine(), expire_on_commit=False) as session:
        t0 = time.perf_counter()
        demo.build(session, doses=DOSES, days=90, seed=5)
        print(f"demo county: {DOSES} doses in {time.perf_counter() - t0:.1f} s")
        reporter = Actor.of(session.exec(select(User).where(User.username == "admin")).one())
        doses = session.exec(select(Dose).order_by(func.random()).limit(REPORTS)).all()
        symptoms = [["ANAPH", "URTIC"], ["FEBSEIZ"], ["URTIC"], ["FEVHI"], ["SYNCOPE"], ["HHE"]]
        t0 = time.perf_counter()
        from aefi import clock

        now = clock.now()
        for dose in doses:
            onset = dose.administered_at + timedelta(minutes=rng.randint(5, 600))
            intake_filing.file_report(
                session,
                reporter,
                ReportIn(
                    dose_ids=[dose.id],
                    onset_at=min(onset, now - timedelta(minutes=1)),
                    confirm_late_onset=True,
                    symptoms=rng.choice(symptoms),
                    outcome="recovering",
                    reporter_name="bench",
                    reporter_phone="1",
                    confirm_new_event=True,
                ),
            )
        filed = time.perf_counter() - t0
        cases = session.exec(select(func.count()).select_from(CaseFile)).one()
        print(
            f"filed {REPORTS} reports in {filed:.1f} s ({filed / REPORTS * 1000:.1f} ms each, "
            f"triage and case opening included): {cases} case files"
        )
        case_ids = list(session.exec(select(CaseFile.id).where(CaseFile.kind == "report")))

    app = create_app()
    with TestClient(app) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        client.post(
            "/login",
            data={"username": "investigator", "password": demo.DEMO_PASSWORDS["investigator"][1],
                  "csrf_token": token, "next": "/"},
        )  # fmt: skip
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/cases").text).group(1)
        hx = {"HX-Request": "true", "X-CSRF-Token": csrf}
        print("GET /cases (full page, 50 rows)  ", fmt(_timed(lambda: client.get("/cases"), 30)))
        print(
            "GET /cases?overdue=1 (htmx)       ",
            fmt(_timed(lambda: client.get("/cases?status=all&overdue=1", headers=hx), 30)),
        )
        ids = iter(case_ids * 2)
        print(
            "GET /cases/{id} (case page)       ",
            fmt(_timed(lambda: client.get(f"/cases/{next(ids)}"), 50)),
        )
        cid = case_ids[0]
        n = iter(range(1000))
        print(
            "POST section (htmx)               ",
            fmt(
                _timed(
                    lambda: client.post(
                        f"/cases/{cid}/form/history",
                        data={"past_history": f"体健 {next(n)}", "previous_similar_event": "no"},
                        headers=hx,
                    ),
                    30,
                )
            ),
        )
        answers = {
            "e.vaccine_given_before_event": "yes",
            "e.valid_diagnosis": "yes",
            "e.clear_event": "yes",
            "c.in_published_literature": "yes",
            "c.within_time_window": "yes",
        }
        print(
            "POST causality preview (htmx)     ",
            fmt(
                _timed(
                    lambda: client.post(
                        f"/cases/{cid}/causality/preview", data=answers, headers=hx
                    ),
                    30,
                )
            ),
        )
        print(
            "GET /cases/{id}/report.pdf        ",
            fmt(_timed(lambda: client.get(f"/cases/{cid}/report.pdf"), 5)),
        )
