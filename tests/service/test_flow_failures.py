"""What a failing subscriber does to the filing (aefi/flow.py): a safety-path failure
fails the filing and stores nothing; any other subscriber is a durable job (aefi/jobs): its
failure is rolled back alone, recorded on the job, retried with back-off and abandoned,
audited, after ``jobs_max_attempts``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import func, select

from aefi import audit, clock, flow
from aefi.audit import AuditEvent
from aefi.auth.models import User
from aefi.auth.permissions import Actor
from aefi.errors import Invalid
from aefi.intake.models import Report
from aefi.jobs import queue, worker
from aefi.jobs.models import QueuedJob
from aefi.notifications import service as notifications
from aefi.notifications.models import Notification
from aefi.observation import service as observation
from aefi.referral.sending import service as referral_sending
from aefi.registry.models import LotStatus
from aefi.settings import get_settings
from aefi.signals.halts import service as halts
from tests.factories import a_dose, a_report


def file(session, county) -> Report:
    """An anaphylaxis on a new dose at the reporter's site, 10 minutes after it."""
    dose = a_dose(session, county)
    return a_report(
        session,
        county,
        dose=dose,
        symptoms=["ANAPH"],
        onset_at=dose.administered_at + timedelta(minutes=10),
    )


def count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def jobs_of(session, kind: str) -> list[QueuedJob]:
    session.expire_all()
    return list(
        session.exec(select(QueuedJob).where(QueuedJob.kind == kind).order_by(QueuedJob.id))
    )


def retry_due(session) -> int:
    """Run the queue as the worker would once every back-off has passed."""
    session.commit()
    return worker.work(now=clock.now() + timedelta(hours=2))


def test_a_failing_safety_subscriber_fails_the_filing_and_stores_nothing(
    session, county, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("green channel down")

    monkeypatch.setattr(referral_sending, "open_from_triage", broken)
    reports, events = count(session, Report), count(session, AuditEvent)
    with pytest.raises(flow.SubscriberFailed) as failed:
        file(session, county)
    assert failed.value.params == {"step": "referral.flows.on_report_triaged"}
    assert failed.value.status_code == 500
    # Rolled back: no report, no triage, no audit entry of either.
    assert count(session, Report) == reports
    assert count(session, AuditEvent) == events
    assert count(session, QueuedJob) == 0


def test_a_domain_error_on_the_safety_path_is_the_filing_s_error(session, county, monkeypatch):
    def refused(*args, **kwargs):
        raise Invalid("No hospital.")

    monkeypatch.setattr(referral_sending, "open_from_triage", refused)
    reports = count(session, Report)
    with pytest.raises(Invalid):
        file(session, county)
    assert count(session, Report) == reports


def test_a_failing_other_subscriber_is_rolled_back_alone_recorded_and_retried(
    session, county, monkeypatch
):
    def broken(session_, report):
        # What it wrote before failing goes with its transaction.
        audit.record(
            session_,
            Actor.system(report.county_id, reason="test"),
            "half_done",
            "report",
            report.id,
        )
        session_.flush()
        raise RuntimeError("board unavailable")

    monkeypatch.setattr(observation, "note_reaction", broken)
    clock.freeze(clock.now())
    report = file(session, county)
    # Filed and triaged all the same (the job ran right after the commit, and failed).
    session.refresh(report)
    assert report.triage and report.triage["escalated"]
    assert not session.exec(select(AuditEvent).where(AuditEvent.action == "half_done")).all()
    (job,) = jobs_of(session, "observation.flows.on_report_filed")
    assert job.payload["event"] == "ReportFiled"
    assert job.payload["payload"]["report_id"] == report.id
    assert job.payload["actor"]["username"] == "reporter"  # it acts as the publisher
    assert job.done_at is None and job.attempts == 1
    assert "board unavailable" in job.last_error
    assert job.run_after == clock.now() + timedelta(seconds=queue.BACKOFF_S)

    # Still failing: the worker tries again and says so; the job stays pending.
    retry_due(session)
    (job,) = jobs_of(session, "observation.flows.on_report_filed")
    assert job.done_at is None and job.attempts == 2

    # Mended: the next run does it, and it is not run again.
    seen = []
    monkeypatch.setattr(observation, "note_reaction", lambda s, r: seen.append(r.id) or 0)
    retry_due(session)
    (job,) = jobs_of(session, "observation.flows.on_report_filed")
    assert seen == [report.id] and job.outcome == "done" and job.last_error
    assert retry_due(session) == 0 and seen == [report.id]


def test_a_job_that_keeps_failing_is_given_up_after_max_attempts_and_audited(
    session, county, monkeypatch
):
    def broken(*args):
        raise RuntimeError("still broken")

    monkeypatch.setattr(observation, "note_reaction", broken)
    file(session, county)
    for _ in range(get_settings().jobs_max_attempts + 2):
        retry_due(session)
    (job,) = jobs_of(session, "observation.flows.on_report_filed")
    assert job.outcome == "abandoned" and job.done_at is not None
    assert job.attempts == get_settings().jobs_max_attempts
    (gave_up,) = session.exec(
        select(AuditEvent).where(
            AuditEvent.action == "job_abandoned", AuditEvent.entity_id == job.id
        )
    ).all()
    assert gave_up.entity_type == "queued_job" and "still broken" in gave_up.changes["error"]
    assert gave_up.county_id == county.county_id


# --- the halt part of the chain --------------------------------------------------------------


def halt_notices(session) -> list[tuple[str, Notification]]:
    """(recipient's username, notice) of every halt notice."""
    return list(
        session.exec(
            select(User.username, Notification)
            .join(User, User.id == Notification.user_id)
            .where(Notification.kind == "halt")
        )
    )


# The reporter of the site that gave the lot (not reporter2's site), and the county's staff.
TOLD = {"reporter", "investigator", "bureau", "admin"}


def test_a_halt_and_its_lift_tell_the_sites_through_their_events(session, county):
    bureau = county.actor(session, "bureau")
    lot = county.lot(session)
    a_dose(session, county, site=0, lot=lot)
    halt = halts.issue_halt(
        session, bureau, scope="lot", target=lot.lot_number, reason="质量问题", confirmed=True
    )
    issued = halt_notices(session)
    assert {u for u, _ in issued} == TOLD
    assert all(n.urgent for u, n in issued if u == "reporter")
    halts.lift_halt(session, bureau, halt.id, "检验合格", confirmed=True)
    lifted = [(u, n) for u, n in halt_notices(session) if n.id not in {i.id for _, i in issued}]
    assert {u for u, _ in lifted} == TOLD
    assert not any(n.urgent for _, n in lifted)
    assert all(halt.lift_number in n.title for _, n in lifted)


def test_a_failing_halt_notice_leaves_the_halt_in_force_and_is_retried(
    session, county, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("mail down")

    bureau = county.actor(session, "bureau")
    lot = county.lot(session)
    a_dose(session, county, site=0, lot=lot)
    monkeypatch.setattr(notifications, "notify", broken)
    halt = halts.issue_halt(
        session, bureau, scope="lot", target=lot.lot_number, reason="质量问题", confirmed=True
    )
    # The state change is the decision's own: in force, the lot halted; nobody told yet.
    session.refresh(lot)
    assert halt.applied_at is not None and lot.status == LotStatus.halted
    assert halt_notices(session) == []
    (job,) = jobs_of(session, "signals.halts.notices.on_halt_issued")
    assert job.payload["payload"]["lot_id"] == lot.id and job.done_at is None

    monkeypatch.undo()
    assert retry_due(session) == 1
    assert {u for u, _ in halt_notices(session)} == TOLD


def test_a_halt_lifted_before_its_date_tells_nobody(session, county):
    bureau = county.actor(session, "bureau")
    lot = county.lot(session)
    a_dose(session, county, site=0, lot=lot)
    halt = halts.issue_halt(
        session,
        bureau,
        scope="lot",
        target=lot.lot_number,
        reason="质量问题",
        effective_at=clock.now() + timedelta(days=1),
        confirmed=True,
    )
    assert halt.applied_at is None
    halts.lift_halt(session, bureau, halt.id, "撤回", confirmed=True)
    assert halt_notices(session) == []
    assert all(
        j.outcome == "done" for j in jobs_of(session, "signals.halts.notices.on_halt_lifted")
    )
