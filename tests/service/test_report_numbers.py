"""Report numbers (aefi/intake/filing/numbers.py) on SQLite and PostgreSQL: concurrent
filings of one county get distinct, consecutive numbers; the first of a year starts at 1."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from aefi.intake.filing.numbers import next_report_number
from aefi.intake.models import Report, ReportCounter
from aefi.registry.models import Region
from aefi.triage.models import Cluster, ClusterMember
from tests.factories import a_dose, file_report

pytestmark = pytest.mark.usefixtures("deferred_jobs")

THREADS = 8


def test_concurrent_filings_get_distinct_consecutive_numbers(session, county, engine):
    doses = [a_dose(session, county, site=0) for _ in range(THREADS * 2)]
    dose_ids = [d.id for d in doses]
    session.commit()
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def filer(mine: list[int]) -> None:
        try:
            with Session(engine, expire_on_commit=False) as s:
                actor = county.actor(s, "reporter")
                start.wait()
                for dose_id in mine:
                    dose = s.get(type(doses[0]), dose_id)
                    file_report(
                        s,
                        actor,
                        dose,
                        symptoms=["FEVER"],
                        confirm_new_event=True,
                        onset_at=dose.administered_at + timedelta(hours=2),
                    )
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            errors.append(exc)

    threads = [threading.Thread(target=filer, args=(dose_ids[i::THREADS],)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    numbers = list(session.exec(select(Report.number)))
    assert len(numbers) == len(set(numbers)) == THREADS * 2
    seqs = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
    if engine.dialect.name == "sqlite":
        assert seqs == list(range(1, THREADS * 2 + 1))
    else:
        # PostgreSQL takes the number in a transaction of its own: a refused filing would
        # leave a gap (intake/filing/numbers.py says why), never a duplicate; none is
        # refused here (the cluster join is idempotent, test below).
        assert seqs == list(range(1, THREADS * 2 + 1))
    code = session.get(Region, county.county_id).code
    assert all(n.startswith(f"{code}-") for n in numbers)


def test_the_first_number_of_a_year_is_one_and_counties_count_apart(session, county):
    code = session.get(Region, county.county_id).code
    assert next_report_number(session, county.county_id, 2031) == f"{code}-2031-00001"
    assert next_report_number(session, county.county_id, 2031) == f"{code}-2031-00002"
    assert next_report_number(session, county.county_id, 2032) == f"{code}-2032-00001"
    session.commit()
    counter = session.get(ReportCounter, (county.county_id, 2031))
    assert counter.last == 2


def test_concurrent_filings_forming_one_cluster_all_succeed(session, county, engine):
    """Many filings at one site at once form and grow the same clusters (a site's fevers,
    a lot's): each filing succeeds (none refused on ``cluster_member``'s unique index),
    each report is a member of a cluster once, and every cluster counts its members."""
    rounds = 3
    doses = [a_dose(session, county, site=0) for _ in range(THREADS * rounds)]
    dose_ids = [d.id for d in doses]
    session.commit()
    start = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def filer(mine: list[int]) -> None:
        try:
            with Session(engine, expire_on_commit=False) as s:
                actor = county.actor(s, "reporter")
                for dose_id in mine:
                    dose = s.get(type(doses[0]), dose_id)
                    start.wait()  # every round: all threads file at the same moment
                    file_report(
                        s,
                        actor,
                        dose,
                        symptoms=["FEVER"],
                        confirm_new_event=True,
                        onset_at=dose.administered_at + timedelta(hours=2),
                    )
        except BaseException as exc:  # noqa: BLE001 - handed to the test below
            start.abort()
            errors.append(exc)

    threads = [threading.Thread(target=filer, args=(dose_ids[i::THREADS],)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    session.expire_all()
    assert len(session.exec(select(Report.id)).all()) == THREADS * rounds
    clusters = session.exec(select(Cluster)).all()
    assert clusters, "the site's fevers form a cluster"
    for cluster in clusters:
        members = session.exec(
            select(ClusterMember.report_id).where(ClusterMember.cluster_id == cluster.id)
        ).all()
        assert len(members) == len(set(members)) == cluster.member_count
