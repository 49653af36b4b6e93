"""The durable job queue (aefi/jobs) behind the filing, on SQLite and PostgreSQL: what the
physician waits for (the safety path) is done when the filing returns, the rest is a job
committed with the report; lot scans coalesce; the halt recommendation's hold comes within
the stated bound; a worker killed after its claim loses nothing (the lease expires and the
job runs again); a worker whose lease passed to another rolls its work back.

Every test here drives the worker itself (``deferred_jobs``: no eager run after commit)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlmodel import func, select

from aefi import clock
from aefi.investigation.models import CaseFile
from aefi.jobs import queue, worker
from aefi.jobs.models import QueuedJob
from aefi.notifications.models import Notification
from aefi.referral.inbox import service as inbox
from aefi.settings import get_settings
from aefi.signals.models import ScanRun
from aefi.triage.models import Escalation
from tests.factories import a_dose, file_anaphylaxis, file_report
from tests.service.test_signals import doses_of, new_lots, only_anaphylaxis

pytestmark = pytest.mark.usefixtures("deferred_jobs")

SCAN = "signals.flows.on_report_filed"


def jobs(session, kind: str | None = None) -> list[QueuedJob]:
    session.expire_all()
    q = select(QueuedJob).order_by(QueuedJob.id)
    if kind is not None:
        q = q.where(QueuedJob.kind == kind)
    return list(session.exec(q))


def count(session, model, *where) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def test_the_referral_is_in_the_inbox_when_the_filing_returns_and_the_rest_waits(session, county):
    report = file_anaphylaxis(session, county)
    # The safety path ran inline: decided, escalated, referred; the hospital sees it now.
    assert report.triage["referral_required"] and report.triage["escalated"]
    hospital = county.actor(session, "hospital")
    rows, total = inbox.list_referrals(session, hospital)
    assert total == 1 and rows[0].referral.report_id == report.id
    # The rest is queued, committed with the report, not done yet.
    kinds = {j.kind for j in jobs(session)}
    assert kinds >= {SCAN, "investigation.flows.on_report_triaged"}
    assert all(j.done_at is None and j.attempts == 0 for j in jobs(session))
    assert count(session, CaseFile) == 0
    assert count(session, ScanRun) == 0

    # A worker's pass does them; the scan waits for its coalescing delay first.
    worker.work()
    assert count(session, CaseFile) == 1
    assert [j.done_at for j in jobs(session, SCAN)] == [None]
    worker.work(now=clock.now() + timedelta(seconds=get_settings().jobs_coalesce_s))
    assert all(j.outcome == "done" for j in jobs(session))
    assert count(session, ScanRun, ScanRun.trigger == "report") == 1


def test_the_escalation_is_queued_at_once_and_its_notices_are_a_job(session, county):
    report = file_anaphylaxis(session, county)
    # The queue item is the safety path: there when the filing returns.
    assert count(session, Escalation, Escalation.report_id == report.id) == 1
    # The notices to the queue's people and the reporting site are a job, not yet run.
    (notice,) = jobs(session, "triage.notices.on_report_triaged")
    assert notice.payload["payload"]["escalation"] == "new"
    assert count(session, Notification, Notification.kind == "escalation") == 0

    worker.work()
    titles = [
        n.title for n in session.exec(select(Notification).where(Notification.kind == "escalation"))
    ]
    assert titles and all(report.number in t for t in titles)
    assert jobs(session, "triage.notices.on_report_triaged")[0].outcome == "done"


def test_a_filing_records_no_job_with_nothing_to_do(session, county, monkeypatch):
    # No upstream set, and an urticaria triage does not escalate: no upstream job, no notice.
    assert not get_settings().upstream_url
    file_report(session, county.actor(session, "reporter"), a_dose(session, county))
    kinds = {j.kind for j in jobs(session)}
    assert not any(k.startswith("interchange.") for k in kinds)
    assert "triage.notices.on_report_triaged" not in kinds
    assert "investigation.flows.on_report_triaged" in kinds
    # With an upstream, the new case is queued for it.
    monkeypatch.setattr(get_settings(), "upstream_url", "http://province.test")
    file_report(session, county.actor(session, "reporter"), a_dose(session, county))
    assert "interchange.upstream.service.on_report_filed" in {j.kind for j in jobs(session)}


def test_a_clearly_diagnosed_common_reaction_records_no_case_file_job(session, county):
    # The first decision of a common reaction the physician marked as clear requires no
    # investigation: no case-file job (it would have returned at once).
    report = file_report(
        session,
        county.actor(session, "reporter"),
        a_dose(session, county),
        symptoms=["FEVER"],
        max_temperature_c=38.0,
        diagnosis_clear=True,
    )
    assert report.triage["investigation_required"] is False
    assert "investigation.flows.on_report_triaged" not in {j.kind for j in jobs(session)}
    assert session.exec(select(CaseFile).where(CaseFile.report_id == report.id)).first() is None


def test_ten_reports_on_one_lot_cost_one_scan_and_the_hold_comes_within_the_bound(session, county):
    s = get_settings()
    # The bound aefi/flow.py states: coalescing delay + poll interval, under 10 s.
    bound_s = s.jobs_coalesce_s + s.jobs_poll_s
    assert bound_s <= 10
    admin = county.actor(session, "admin")
    inv = county.actor(session, "investigator")
    only_anaphylaxis(session, admin, 4e-3)  # E = 2 for a lot of 500 doses
    (lot,) = new_lots(session, county, "HEPB", 1, 500, "CO")
    clock.freeze(clock.now())
    filed_at = clock.now()
    for dose in doses_of(session, lot)[:10]:
        file_report(session, inv, dose, symptoms=["ANAPH"])
    # Ten scan jobs, one key (the county and the lot), none run yet: the lot is not held.
    scans = jobs(session, SCAN)
    assert len(scans) == 10 and len({j.key for j in scans}) == 1
    assert all(j.run_after == filed_at + timedelta(seconds=s.jobs_coalesce_s) for j in scans)
    session.refresh(lot)
    assert lot.status == "active"

    # A worker looking before the delay runs the other jobs and leaves the scans to gather.
    worker.work(now=filed_at)
    assert count(session, ScanRun) == 0  # neither the reports' nor the cluster's
    session.refresh(lot)
    assert lot.status == "active"
    # The worker's next poll after the delay: one scan for the ten, and the lot is held.
    worker.work(now=filed_at + timedelta(seconds=bound_s))
    session.refresh(lot)
    assert lot.status == "held"
    assert count(session, ScanRun, ScanRun.trigger == "report") == 1
    assert count(session, ScanRun, ScanRun.trigger == "cluster") == 1  # one, as it grew
    outcomes = sorted(j.outcome for j in jobs(session, SCAN))
    assert outcomes == ["done"] + ["merged"] * 9
    (done,) = [j for j in jobs(session, SCAN) if j.outcome == "done"]
    assert {j.merged_into for j in jobs(session, SCAN) if j.outcome == "merged"} == {done.id}
    # The hold is an event too: the sites' notice is a job, run by the same pass.
    (held,) = jobs(session, "signals.halts.notices.on_lot_held")
    assert held.outcome == "done" and held.payload["payload"]["lot_id"] == lot.id


def _ten_anaphylaxis_reports_on_each_of_two_lots(session, county, prefix: str) -> tuple:
    """Two lots of 500 doses (E = 2 each) and ten reports on each, the clock frozen."""
    inv = county.actor(session, "investigator")
    only_anaphylaxis(session, county.actor(session, "admin"), 4e-3)
    lots = new_lots(session, county, "HEPB", 2, 500, prefix)
    clock.freeze(clock.now())
    for lot in lots:
        for dose in doses_of(session, lot)[:10]:
            file_report(session, inv, dose, symptoms=["ANAPH"])
    return tuple(lots)


def test_reports_on_two_lots_of_a_county_cost_one_scan_that_holds_both(session, county):
    # The lot scan is keyed by county: the jobs of the county's filings within the delay
    # merge, and the one run scans the lots of every one of them.
    s = get_settings()
    first, second = _ten_anaphylaxis_reports_on_each_of_two_lots(session, county, "TW")
    filed_at = clock.now()
    scans = jobs(session, SCAN)
    assert len(scans) == 20 and len({j.key for j in scans}) == 1
    worker.work(now=filed_at + timedelta(seconds=s.jobs_coalesce_s + s.jobs_poll_s))
    for lot in (first, second):
        session.refresh(lot)
        assert lot.status == "held", lot.lot_number
    assert count(session, ScanRun, ScanRun.trigger == "report") == 1
    assert sorted(j.outcome for j in jobs(session, SCAN)) == ["done"] + ["merged"] * 19


def test_a_merged_scan_that_fails_is_retried_with_the_work_of_every_job_it_took(session, county):
    s = get_settings()
    first, second = _ten_anaphylaxis_reports_on_each_of_two_lots(session, county, "RT")
    engine = session.get_bind()
    later = clock.now() + timedelta(seconds=s.jobs_coalesce_s)
    job = queue.claim(engine, who="w", now=later, kinds=(SCAN,))
    assert job is not None and len(job.merged) == 19 and len(job.payloads) == 20
    # The run failed (the worker's view of an exception in the scan): retried later.
    assert queue.fail(engine, job, "RuntimeError: boom", who="w") == "retry"
    (pending,) = [j for j in jobs(session, SCAN) if j.done_at is None]
    assert len(queue.unpack(pending.payload)) == 20  # the row kept what it took
    for lot in (first, second):
        session.refresh(lot)
        assert lot.status == "active"
    worker.work(now=later + timedelta(seconds=queue.backoff_s(1) + 1))
    for lot in (first, second):
        session.refresh(lot)
        assert lot.status == "held", lot.lot_number
    (done,) = [j for j in jobs(session, SCAN) if j.outcome == "done"]
    assert done.id == job.id and done.attempts == 2


def test_imported_vaers_reports_record_no_lot_scan_job(session, county):
    from aefi import flow
    from aefi.events import ReportFiled

    vaers = ReportFiled(report_id=1, county_id=county.county_id, site_id=1, source="vaers")
    (sub,) = [x for x in flow.SUBSCRIBERS[ReportFiled] if x.name == SCAN]
    assert sub.when is not None and not sub.when(vaers)
    assert sub.when(ReportFiled(report_id=1, county_id=1, site_id=1, source="web"))


_DOOMED = """
import sys, time
from aefi.db import get_engine
from aefi.jobs import queue
job = queue.claim(get_engine(), who="doomed", fresh_only=True, kinds=(sys.argv[1],))
print(job.id if job else "none", flush=True)
time.sleep(600)
"""


def test_a_worker_killed_after_its_claim_loses_nothing_the_job_runs_after_restart(
    session, county, db_url
):
    file_anaphylaxis(session, county)
    env = {**os.environ, "AEFI_DATABASE_URL": db_url}
    doomed = subprocess.Popen(
        [sys.executable, "-c", _DOOMED, SCAN], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        claimed = doomed.stdout.readline().strip()
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        doomed.stdout.close()
    (job,) = jobs(session, SCAN)
    assert claimed == str(job.id)
    assert job.lease_owner == "doomed" and job.attempts == 1 and job.done_at is None

    # While the lease lasts, nobody else takes it...
    worker.work(now=clock.now() + timedelta(seconds=get_settings().jobs_coalesce_s))
    (job,) = jobs(session, SCAN)
    assert job.done_at is None
    assert count(session, ScanRun) == 0
    # ...after it, the restarted worker does.
    worker.work(now=job.lease_until + timedelta(seconds=1))
    (job,) = jobs(session, SCAN)
    assert job.outcome == "done" and job.attempts == 2
    assert count(session, ScanRun, ScanRun.trigger == "report") == 1


def test_a_worker_whose_lease_passed_to_another_rolls_its_work_back(session, county):
    file_anaphylaxis(session, county)
    engine = session.get_bind()
    kinds = ("investigation.flows.on_report_triaged",)
    slow = queue.claim(engine, who="slow", kinds=kinds)
    later = slow and clock.now() + timedelta(seconds=get_settings().jobs_lease_s + 1)
    fast = queue.claim(engine, who="fast", kinds=kinds, now=later)
    assert slow is not None and fast is not None and fast.id == slow.id
    assert worker.run_one(engine, slow, who="slow") == "lost"
    assert count(session, CaseFile) == 0  # its work went with its transaction
    assert worker.run_one(engine, fast, who="fast") == "done"
    assert count(session, CaseFile) == 1
    (job,) = jobs(session, kinds[0])
    assert job.outcome == "done" and job.attempts == 2


def test_a_batch_claim_takes_the_oldest_first_and_merges_twins_inside_it(session, county):
    # Three filings on one lot: three lot scans with one key, and the other jobs of each.
    for _ in range(3):
        file_anaphylaxis(session, county)
    engine = session.get_bind()
    later = clock.now() + timedelta(seconds=get_settings().jobs_coalesce_s + 1)
    batch = queue.claim_batch(engine, who="w", now=later, limit=50)
    ids = [j.id for j in batch]
    assert ids == sorted(ids, key=lambda i: (session.get(QueuedJob, i).run_after, i))
    scans = [j for j in batch if j.kind == SCAN]
    assert len(scans) == 1 and len(scans[0].merged) == 2  # one scan does the three's work
    assert len({j.id for j in batch}) == len(batch)
    assert all(worker.run_one(engine, j, who="w") == "done" for j in batch)
    assert {j.outcome for j in jobs(session, SCAN)} == {"done", "merged"}
    # Every job of the batch is done (what their runs recorded waits for the next claim).
    assert count(session, QueuedJob, QueuedJob.done_at.is_(None), QueuedJob.id.in_(ids)) == 0
