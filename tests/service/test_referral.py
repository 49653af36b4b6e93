"""Green-channel referrals on SQLite and PostgreSQL: triage opens them, the hospital's
steps, decline re-routing, the acknowledgement timer, least data, the hand-over PDF."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta

import pytest
from sqlmodel import select

from aefi import clock
from aefi.errors import Conflict, Forbidden, Invalid, NotFound
from aefi.intake import access as intake_access
from aefi.intake.follow_up import service as intake_follow_up
from aefi.intake.models import FollowUp
from aefi.notifications.models import Notification
from aefi.referral import states
from aefi.referral.inbox import service as inbox
from aefi.referral.models import Referral
from aefi.referral.schemas import AdmitIn, OutcomeIn, ReferralIn
from aefi.referral.sending import service as sending
from aefi.referral.steps import service as steps
from aefi.registry.models import Site
from aefi.settings import get_settings
from tests.factories import REFERRAL_T0, a_dose, file_anaphylaxis, file_report, referral_of


def notified(session, username: str) -> list[Notification]:
    from aefi.auth.models import User

    uid = session.exec(select(User.id).where(User.username == username)).one()
    return list(
        session.exec(
            select(Notification).where(Notification.user_id == uid, Notification.kind == "referral")
        )
    )


def test_triage_opens_a_referral_to_the_primary_hospital(session, county):
    report = file_anaphylaxis(session, county)
    assert report.triage.get("referral_required") is True
    ref = referral_of(session, report)
    site = session.get(Site, report.site_id)
    assert ref.hospital_id == site.primary_hospital_id == county.hospital_ids[0]
    assert ref.status == "sent" and ref.origin == "triage" and ref.urgency == "emergency"
    assert ref.sent_at == clock.now()
    assert any(r["rule"] == "referral.anaphylaxis" for r in ref.triage_reasons)
    assert ref.contact_phone == "13800000000" and ref.treatment_given == "肾上腺素0.3mg肌注"
    # The hospital is told at once, urgently; the other hospital is not.
    assert [n.urgent for n in notified(session, "hospital")] == [True]
    assert notified(session, "hospital2") == []
    # Re-triage after a follow-up does not open a second referral.
    reporter = county.actor(session, "reporter")
    from aefi.intake.schemas import FollowUpIn

    intake_follow_up.add_follow_up(
        session, reporter, report.id, FollowUpIn(diagnosis="严重过敏反应")
    )
    assert len(session.exec(select(Referral).where(Referral.report_id == report.id)).all()) == 1


def test_physician_completes_triage_referral_and_sends_by_hand(session, county):
    report = file_anaphylaxis(session, county)
    reporter = county.actor(session, "reporter")
    given_at = clock.now() - timedelta(minutes=5)
    ref = sending.send_referral(
        session,
        reporter,
        report.id,
        ReferralIn(
            urgency="emergency",
            adrenaline_mg=0.15,
            adrenaline_at=given_at,
            bp_systolic=70,
            bp_diastolic=40,
            heart_rate=150,
            spo2=91,
            consciousness="voice",
            transport="ambulance_120",
            weight_kg=14.5,
        ),
    )
    assert ref.id == referral_of(session, report).id  # the open referral, completed
    assert (ref.adrenaline_mg, ref.adrenaline_at, ref.transport) == (
        0.15,
        given_at,
        "ambulance_120",
    )
    assert ref.triage_reasons  # kept: the form's empty reason does not wipe triage's
    # The hospital's inbox acts on it; a reporter of another site cannot send for this report.
    with pytest.raises(NotFound):
        sending.send_referral(
            session, county.actor(session, "reporter2"), report.id, ReferralIn(reason="x")
        )
    with pytest.raises(Forbidden):
        sending.send_referral(
            session, county.actor(session, "hospital"), report.id, ReferralIn(reason="x")
        )
    # Once closed, a new referral by hand needs a reason, and goes to the primary hospital.
    steps.cancel(session, reporter, ref.id, reason="症状缓解，家属拒绝转诊")
    with pytest.raises(Invalid) as err:
        sending.send_referral(session, reporter, report.id, ReferralIn())
    assert "reason" in err.value.fields
    again = sending.send_referral(
        session, reporter, report.id, ReferralIn(reason="再次出现喘鸣", urgency="urgent")
    )
    assert again.id != ref.id and again.origin == "physician" and again.status == "sent"
    assert again.hospital_id == county.hospital_ids[0]


def test_hospital_steps_and_outcome_become_follow_ups(session, county):
    report = file_anaphylaxis(session, county)
    ref = referral_of(session, report)
    hospital = county.actor(session, "hospital")
    clock.advance(timedelta(minutes=3))
    steps.acknowledge(session, hospital, ref.id, note="急诊已准备")
    steps.acknowledge(session, hospital, ref.id)  # a double click is harmless
    assert ref.status == "acknowledged" and ref.minutes_to_acknowledge == 3.0
    assert ref.acknowledged_by == hospital.name
    assert any(
        "acknowledged" in n.title or "确认" in n.title for n in notified(session, "reporter")
    )
    clock.advance(timedelta(minutes=22))
    steps.record_arrival(session, hospital, ref.id)
    assert ref.minutes_to_arrival == 25.0
    with pytest.raises(Conflict):  # too late to decline a patient who is here
        steps.decline(session, hospital, ref.id, "床位已满")
    steps.admit(session, hospital, ref.id, AdmitIn(ward="儿科"))
    session.refresh(report)
    assert report.hospitalization and report.already_in_hospital and report.serious
    clock.advance(timedelta(days=2))
    with pytest.raises(Invalid) as err:
        steps.record_outcome(session, hospital, ref.id, OutcomeIn(result="transferred"))
    assert set(err.value.fields) == {"diagnosis", "transferred_to"}
    steps.record_outcome(
        session,
        hospital,
        ref.id,
        OutcomeIn(result="discharged", diagnosis="严重过敏反应", patient_outcome="recovered"),
    )
    assert ref.status == "discharged" and ref.closed_at == clock.now()
    session.refresh(report)
    assert report.outcome == "recovered" and report.diagnosis == "严重过敏反应"
    history = session.exec(select(FollowUp).where(FollowUp.report_id == report.id)).all()
    assert [f.source for f in history] == ["hospital", "hospital"]
    assert history[-1].changes["outcome"] == ["recovering", "recovered"]
    # Re-triage after the hospital's follow-ups opened no new referral.
    assert len(session.exec(select(Referral).where(Referral.report_id == report.id)).all()) == 1


def test_death_at_hospital_retriages_the_report(session, county):
    report = file_anaphylaxis(session, county)
    ref = referral_of(session, report)
    hospital = county.actor(session, "hospital")
    steps.record_arrival(session, hospital, ref.id)
    assert ref.acknowledged_at == ref.arrived_at  # arrival also acknowledges
    steps.record_outcome(
        session, hospital, ref.id, OutcomeIn(result="died", diagnosis="过敏性休克")
    )
    session.refresh(report)
    assert report.outcome == "died" and report.death
    # Triage saw the follow-up: the decision now names the death.
    assert any(r["rule"] == "serious.death" for r in report.triage["reasons"])
    assert any(r["rule"] == "retriage.follow_up" for r in report.triage["reasons"])
    assert any(n.urgent for n in notified(session, "bureau"))


def test_decline_reroutes_at_once_to_the_backup_hospital(session, county):
    report = file_anaphylaxis(session, county)
    first = referral_of(session, report)
    site = session.get(Site, report.site_id)
    hospital_a = county.actor(session, "hospital")
    hospital_b = county.actor(session, "hospital2")
    assert site.backup_hospital_id == hospital_b.hospital_id
    with pytest.raises(Invalid) as err:
        steps.decline(session, hospital_a, first.id, " ")
    assert "reason" in err.value.fields
    clock.advance(timedelta(minutes=2))
    steps.decline(session, hospital_a, first.id, "ICU床位已满")
    assert first.status == "declined" and first.decline_reason == "ICU床位已满"
    legs = session.exec(
        select(Referral).where(Referral.report_id == report.id).order_by(Referral.id)
    ).all()
    assert len(legs) == 2
    second = legs[1]
    assert (second.hospital_id, second.status, second.previous_id, second.leg, second.origin) == (
        site.backup_hospital_id,
        "sent",
        first.id,
        2,
        "decline",
    )
    assert second.sent_at == clock.now()  # its own acknowledgement clock starts now
    assert second.triage_reasons == first.triage_reasons
    assert [n.urgent for n in notified(session, "hospital2")] == [True]
    assert any(n.urgent for n in notified(session, "reporter"))
    assert any(n.urgent for n in notified(session, "bureau"))
    # A sees its own declined leg and nothing of B's; B sees only its leg.
    assert [r.referral.id for r in inbox.list_referrals(session, hospital_a, show="all")[0]] == [
        first.id
    ]
    assert [r.referral.id for r in inbox.list_referrals(session, hospital_b, show="all")[0]] == [
        second.id
    ]
    view = inbox.get_referral(session, hospital_a, first.id)
    assert view.rerouted and [leg.id for leg in view.legs] == [first.id]
    # The site sees the whole trail.
    trail = inbox.get_referral(session, county.actor(session, "reporter"), second.id)
    assert [leg.id for leg in trail.legs] == [first.id, second.id]
    # B declines too: no hospital is left, the county is told to arrange it by phone.
    steps.decline(session, hospital_b, second.id, "无儿科")
    assert len(session.exec(select(Referral).where(Referral.report_id == report.id)).all()) == 2
    assert any("phone" in n.title or "电话" in n.title for n in notified(session, "bureau"))


def test_unacknowledged_referral_escalates_after_the_configured_time(session, county, monkeypatch):
    report = file_anaphylaxis(session, county)
    ref = referral_of(session, report)
    sent = ref.sent_at
    assert get_settings().referral_ack_minutes == 10
    clock.advance(timedelta(minutes=9, seconds=59))
    assert steps.check_timers(session) == []
    assert ref.status == "sent"
    clock.advance(timedelta(seconds=1))
    escalated = steps.check_timers(session)
    assert [r.id for r in escalated] == [ref.id]
    session.refresh(ref)
    assert ref.status == "escalated" and ref.escalated_at == sent + timedelta(minutes=10)
    bureau = notified(session, "bureau")
    assert len(bureau) == 1 and bureau[0].urgent and bureau[0].link == f"/referrals/{ref.id}"
    assert len(notified(session, "hospital")) == 2  # the referral, then the reminder
    # Once only.
    clock.advance(timedelta(minutes=30))
    assert steps.check_timers(session) == []
    # The site is offered the backup hospital and re-routes.
    reporter = county.actor(session, "reporter")
    status = inbox.report_referrals(session, reporter, report.id)
    assert status.current.id == ref.id and status.backup.id == county.hospital_ids[1]
    for username in ("hospital", "iis"):  # the sending side's step, not theirs
        with pytest.raises(Forbidden):
            steps.reroute(session, county.actor(session, username), ref.id)
    leg = steps.reroute(session, county.actor(session, "bureau"), ref.id)
    session.refresh(ref)
    assert ref.status == "rerouted" and leg.hospital_id == county.hospital_ids[1]
    # The hospital may still acknowledge an escalated referral; not a re-routed one.
    with pytest.raises(Conflict):
        steps.acknowledge(session, county.actor(session, "hospital"), ref.id)
    # A configured limit: 5 minutes.
    monkeypatch.setenv("AEFI_REFERRAL_ACK_MINUTES", "5")
    get_settings.cache_clear()
    clock.advance(timedelta(minutes=5))
    assert [r.id for r in steps.check_timers(session)] == [leg.id]


def test_escalated_referral_can_still_be_acknowledged(session, county):
    report = file_anaphylaxis(session, county)
    ref = referral_of(session, report)
    clock.advance(timedelta(minutes=12))
    steps.check_timers(session)
    steps.acknowledge(session, county.actor(session, "hospital"), ref.id)
    assert ref.status == "acknowledged" and ref.minutes_to_acknowledge == 12.0
    timing = inbox.timing(session, county.actor(session, "bureau"))
    assert (timing.referrals, timing.acknowledged, timing.median_ack_minutes) == (1, 1, 12.0)
    assert timing.within_limit == 0


def test_hospital_b_sees_nothing_of_a_referral_to_hospital_a(session, county):
    report = file_anaphylaxis(session, county)
    ref = referral_of(session, report)
    b = county.actor(session, "hospital2")
    assert inbox.list_referrals(session, b, show="all") == ([], 0)
    assert inbox.awaiting_count(session, b) == 0
    for call in (
        lambda: inbox.get_referral(session, b, ref.id),
        lambda: steps.acknowledge(session, b, ref.id),
        lambda: steps.decline(session, b, ref.id, "不是我们的"),
        lambda: steps.record_arrival(session, b, ref.id),
        lambda: inbox.handover_pdf(session, b, ref.id),
    ):
        with pytest.raises(NotFound):
            call()
    # Nor the reports or the rest of the county.
    with pytest.raises(Forbidden):
        intake_access.get_report(session, b, report.id)
    with pytest.raises(Forbidden):
        inbox.report_referrals(session, b, report.id)
    # Hospital A sees the patient, with the ID number masked; the site sees it whole.
    a_view = inbox.get_referral(session, county.actor(session, "hospital"), ref.id)
    assert a_view.patient.name == report.patient_name
    assert a_view.patient.id_number != report.patient_id_number and "*" in a_view.patient.id_number
    site_view = inbox.get_referral(session, county.actor(session, "reporter"), ref.id)
    assert site_view.patient.id_number == report.patient_id_number
    # Another site's physician sees nothing either.
    with pytest.raises(NotFound):
        inbox.get_referral(session, county.actor(session, "reporter2"), ref.id)


def test_no_referral_when_not_required_or_patient_died(session, county):
    reporter = county.actor(session, "reporter")
    dose = a_dose(session, county, at=REFERRAL_T0 - timedelta(hours=1))
    clock.freeze(REFERRAL_T0)
    report = file_report(
        session,
        reporter,
        dose,
        onset_at=dose.administered_at + timedelta(minutes=40),
        symptoms=["FEVER"],
        max_temperature_c=38.0,
        diagnosis_clear=True,
    )
    assert referral_of(session, report) is None
    assert states.should_refer(
        required=True, previously_required=True, has_open=False, has_any=False
    )
    assert not states.should_refer(
        required=True, previously_required=True, has_open=False, has_any=True
    )
    assert not states.should_refer(
        required=True, previously_required=False, has_open=True, has_any=True
    )


@pytest.mark.skipif(not shutil.which("pdftotext"), reason="poppler-utils missing")
def test_handover_pdf_renders_in_chinese(session, county, tmp_path):
    from aefi import i18n

    report = file_anaphylaxis(session, county)
    ref = referral_of(session, report)
    reporter = county.actor(session, "reporter")
    sending.send_referral(
        session,
        reporter,
        report.id,
        ReferralIn(
            urgency="emergency",
            adrenaline_mg=0.3,
            adrenaline_at=clock.now() - timedelta(minutes=4),
            bp_systolic=82,
            bp_diastolic=50,
            heart_rate=128,
            resp_rate=28,
            spo2=93,
            temperature_c=36.8,
            consciousness="alert",
            transport="ambulance_120",
        ),
    )
    lot = intake_access.report_doses(session, [report.id])[report.id][0].lot.lot_number
    token = i18n.set_locale("zh_CN")
    try:
        pdf = inbox.handover_pdf(session, reporter, ref.id)
    finally:
        i18n._current.reset(token)
    path = tmp_path / "handover.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert report.patient_name in text
    assert lot in text
    assert "0.3 mg" in text and "82/50" in text
    assert "严重过敏反应" in text  # the event group, in Chinese
    assert "120" in text
    # The hospital may print it too, with the ID number masked.
    pdf_h = inbox.handover_pdf(session, county.actor(session, "hospital"), ref.id)
    assert pdf_h.startswith(b"%PDF")


def test_urgency_follows_the_configured_emergency_conditions(
    session, county, tmp_path, monkeypatch
):
    """The designated emergency conditions have one home, rules.toml [referral]
    event_groups: an HHE (listed there) is referred as an emergency, and a seizure taken off
    the list (still referred, for its hospital stay) is urgent, not an emergency."""
    from aefi.triage.ruleset import DEFAULT_PATH

    clock.freeze(REFERRAL_T0)
    reporter = county.actor(session, "reporter")
    site = county.site_ids.index(reporter.site_id)

    def referred(symptom: str, minutes: int) -> Referral:
        dose = a_dose(session, county, site=site, at=REFERRAL_T0 - timedelta(minutes=minutes))
        report = file_report(
            session,
            reporter,
            dose,
            symptoms=[symptom],
            serious={"hospitalization": True},
            onset_at=dose.administered_at + timedelta(minutes=5),
        )
        return referral_of(session, report)

    assert referred("HHE", 20).urgency == "emergency"
    rules = tmp_path / "rules.toml"
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    assert 'event_groups = ["anaphylaxis", "seizure", "hhe"]' in text
    rules.write_text(
        text.replace(
            'event_groups = ["anaphylaxis", "seizure", "hhe"]', 'event_groups = ["anaphylaxis"]'
        ),
        encoding="utf-8",
    )
    monkeypatch.setenv("AEFI_TRIAGE_RULES", str(rules))
    get_settings.cache_clear()
    assert referred("SEIZ", 40).urgency == "urgent"
    assert states.urgency_for(["seizure"], False, emergency_groups=["seizure"]) == "emergency"
    assert states.urgency_for(["seizure"], True, emergency_groups=[]) == "emergency"
    assert states.urgency_for(["fever"], False, emergency_groups=["seizure"]) == "urgent"


def test_the_referral_edits_the_reports_adrenaline_repeats(session, county):
    """The repeats live in the report's emergency block: the referral form's route and
    repeats change it there (audited on the report); a repeat before the first dose, or
    without one, is refused and nothing changes."""
    from aefi.audit import AuditEvent
    from aefi.intake.emergency import RepeatIn
    from aefi.intake.models import Report

    report = file_anaphylaxis(session, county)
    reporter = county.actor(session, "reporter")
    first = clock.now() - timedelta(minutes=20)
    body = ReferralIn(
        adrenaline_mg=0.3,
        adrenaline_at=first,
        adrenaline_route="im",
        adrenaline_repeats=[
            RepeatIn(at=first + timedelta(minutes=10)),
            RepeatIn(at=first + timedelta(minutes=5), dose_mg=0.15, route="iv"),
        ],
    )
    sending.send_referral(session, reporter, report.id, body)
    session.expire_all()
    block = session.get(Report, report.id).emergency["adrenaline"]
    assert block["dose_mg"] == 0.3 and block["route"] == "im"
    assert [(r.get("dose_mg"), r.get("route")) for r in block["repeats"]] == [
        (0.15, "iv"),
        (None, None),
    ]
    assert session.exec(
        select(AuditEvent).where(
            AuditEvent.entity_type == "report",
            AuditEvent.entity_id == report.id,
            AuditEvent.action == "update",
        )
    ).first()
    with pytest.raises(Invalid):
        sending.send_referral(
            session,
            reporter,
            report.id,
            ReferralIn(
                adrenaline_mg=0.3,
                adrenaline_at=first,
                adrenaline_repeats=[RepeatIn(at=first - timedelta(minutes=1))],
            ),
        )
    with pytest.raises(Invalid):
        sending.send_referral(
            session,
            reporter,
            report.id,
            ReferralIn(adrenaline_mg=None, adrenaline_repeats=[RepeatIn(at=first)]),
        )
    session.expire_all()
    assert len(session.get(Report, report.id).emergency["adrenaline"]["repeats"]) == 2
    # Left out, the repeats stay as they are.
    sending.send_referral(session, reporter, report.id, ReferralIn(heart_rate=120))
    session.expire_all()
    assert len(session.get(Report, report.id).emergency["adrenaline"]["repeats"]) == 2
