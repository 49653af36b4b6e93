"""What a failing subscriber does to the filing (aefi/flow.py): a safety-path failure
fails the filing and stores nothing; any other failure is rolled back alone, audited, and
retried by the ``flow_retry`` job."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import func, select

from aefi import audit, clock, flow
from aefi.audit import AuditEvent
from aefi.auth.models import User
from aefi.errors import Invalid
from aefi.intake.models import Report
from aefi.notifications import service as notifications
from aefi.notifications.models import Notification
from aefi.observation import service as observation
from aefi.referral.sending import service as referral_sending
from aefi.registry.models import LotStatus
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


def failures(session, action: str = "subscriber_failed") -> list[AuditEvent]:
    return list(
        session.exec(
            select(AuditEvent).where(
                AuditEvent.entity_type == flow.RETRY, AuditEvent.action == action
            )
        )
    )


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
    assert not failures(session)


def test_a_domain_error_on_the_safety_path_is_the_filing_s_error(session, county, monkeypatch):
    def refused(*args, **kwargs):
        raise Invalid("No hospital.")

    monkeypatch.setattr(referral_sending, "open_from_triage", refused)
    reports = count(session, Report)
    with pytest.raises(Invalid):
        file(session, county)
    assert count(session, Report) == reports


def test_a_failing_other_subscriber_is_rolled_back_alone_audited_and_retried(
    session, county, monkeypatch
):
    def broken(session_, report):
        # What it wrote before failing goes with its savepoint.
        audit.record(session_, None, "half_done", "report", report.id)
        session_.flush()
        raise RuntimeError("board unavailable")

    monkeypatch.setattr(observation, "note_reaction", broken)
    report = file(session, county)
    # Filed and triaged all the same.
    session.refresh(report)
    assert report.triage and report.triage["escalated"]
    assert not session.exec(select(AuditEvent).where(AuditEvent.action == "half_done")).all()
    (failure,) = failures(session)
    assert failure.changes["subscriber"] == "observation.flows.on_report_filed"
    assert failure.changes["event"] == "ReportFiled"
    assert failure.changes["payload"]["report_id"] == report.id
    assert failure.county_id == report.county_id

    # Still failing: the job tries again and says so; the failure stays pending.
    assert flow.retry_failed(session) == 0
    session.commit()
    assert [e.entity_id for e in failures(session, "subscriber_retry_failed")] == [failure.id]
    assert [f.id for f in flow.pending_failures(session)] == [failure.id]

    # Mended: the next run recovers it, and it is not run again.
    seen = []
    monkeypatch.setattr(observation, "note_reaction", lambda s, r: seen.append(r.id) or 0)
    assert flow.retry_failed(session) == 1
    session.commit()
    assert seen == [report.id]
    assert [e.entity_id for e in failures(session, "subscriber_recovered")] == [failure.id]
    assert flow.pending_failures(session) == []
    assert flow.retry_failed(session) == 0 and seen == [report.id]


def test_a_subscriber_that_keeps_failing_is_given_up_after_max_attempts(
    session, county, monkeypatch
):
    def broken(*args):
        raise RuntimeError("still broken")

    monkeypatch.setattr(observation, "note_reaction", broken)
    file(session, county)
    (failure,) = failures(session)
    for _ in range(flow.MAX_ATTEMPTS):
        flow.retry_failed(session)
        session.commit()
    assert len(failures(session, "subscriber_retry_failed")) == flow.MAX_ATTEMPTS - 1
    assert [e.entity_id for e in failures(session, "subscriber_abandoned")] == [failure.id]
    assert flow.pending_failures(session) == []


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
    (failure,) = failures(session)
    assert failure.changes["subscriber"] == "signals.halts.notices.on_halt_issued"
    assert failure.changes["payload"]["lot_id"] == lot.id

    monkeypatch.undo()
    assert flow.retry_failed(session) == 1
    session.commit()
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
    assert not failures(session)
