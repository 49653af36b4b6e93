"""The green channel's steps after sending: the hospital's steps
(acknowledge, arrival, admission, outcome, decline), the sender's re-route and cancel, and
the acknowledgement timer. Each checks the actor's scope first (``access``), moves the
status by ``states``, audits and tells the other side."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from aefi import audit, clock
from aefi.auth.permissions import Actor
from aefi.errors import Conflict, Invalid
from aefi.i18n import N_, _
from aefi.intake.follow_up import service as intake_follow_up
from aefi.intake.models import Outcome
from aefi.intake.schemas import FollowUpIn
from aefi.referral import states
from aefi.referral.access import (
    for_hospital,
    for_sender,
)
from aefi.referral.legs import ack_minutes, next_hospital_id
from aefi.referral.models import Referral, label
from aefi.referral.notices import (
    announce,
    hospital_name,
    report_number,
    tell_hospital,
    tell_senders,
)
from aefi.referral.schemas import CARRIED_FIELDS, AdmitIn, OutcomeIn
from aefi.referral.states import Action, ReferralStatus, Result


def _step(ref: Referral, action: Action) -> str:
    """Move the status on; a step the status does not allow is a conflict (409)."""
    old = ref.status
    try:
        ref.status = states.next_status(ref.status, action)
    except states.TransitionError:
        raise Conflict(
            "This referral is {status} now; it cannot be changed that way.",
            status=label(ref.status),
        ) from None
    return old


def _next_leg(session: Session, actor: Actor, ref: Referral, origin: str) -> Referral | None:
    """Open the next leg, to the next of the site's hospitals not yet asked."""
    hospital_id = next_hospital_id(session, ref)
    if hospital_id is None:
        return None
    leg = Referral(
        **{name: getattr(ref, name) for name in CARRIED_FIELDS},
        hospital_id=hospital_id,
        previous_id=ref.id,
        leg=ref.leg + 1,
        origin=origin,
        sent_at=clock.now(),
    )
    session.add(leg)
    session.flush()
    audit.record(
        session,
        actor,
        "create",
        "referral",
        leg.id,
        summary=f"{report_number(session, ref)} → {hospital_name(session, hospital_id)}",
        changes={"origin": origin, "hospital_id": hospital_id, "previous_id": ref.id},
        county_id=ref.county_id,
    )
    announce(session, leg)
    return leg


def acknowledge(session: Session, actor: Actor, referral_id: int, *, note: str = "") -> Referral:
    """The hospital has seen the referral and expects the patient. Repeating it is harmless
    (a double click, a retried API call)."""
    ref = for_hospital(session, actor, referral_id)
    if ref.status in (ReferralStatus.acknowledged, ReferralStatus.arrived, ReferralStatus.admitted):
        return ref
    old = _step(ref, Action.acknowledge)
    ref.acknowledged_at = clock.now()
    ref.acknowledged_by = actor.name
    session.add(ref)
    audit.record(
        session,
        actor,
        "acknowledge",
        "referral",
        ref.id,
        changes={"status": [old, ref.status], "minutes_to_acknowledge": ref.minutes_to_acknowledge},
        summary=note.strip()[:200],
        county_id=ref.county_id,
    )
    number = report_number(session, ref)
    tell_senders(
        session,
        ref,
        _(
            "{hospital} acknowledged referral {number}",
            hospital=hospital_name(session, ref.hospital_id),
            number=number,
        ),
        note.strip(),
        county=old == ReferralStatus.escalated,
    )
    session.commit()
    return ref


def record_arrival(session: Session, actor: Actor, referral_id: int) -> Referral:
    ref = for_hospital(session, actor, referral_id)
    old = _step(ref, Action.arrive)
    now = clock.now()
    ref.arrived_at = now
    if ref.acknowledged_at is None:
        ref.acknowledged_at, ref.acknowledged_by = now, actor.name
    session.add(ref)
    audit.record(
        session,
        actor,
        "arrive",
        "referral",
        ref.id,
        changes={"status": [old, ref.status], "minutes_to_arrival": ref.minutes_to_arrival},
        county_id=ref.county_id,
    )
    tell_senders(
        session,
        ref,
        _(
            "The patient of referral {number} arrived at {hospital}",
            number=report_number(session, ref),
            hospital=hospital_name(session, ref.hospital_id),
        ),
    )
    session.commit()
    return ref


def admit(session: Session, actor: Actor, referral_id: int, data: AdmitIn) -> Referral:
    """Admission makes the report serious (hospitalisation, WHO/ICH E2A): it goes to the
    report as a follow-up from the hospital, and triage re-triages it."""
    ref = for_hospital(session, actor, referral_id)
    old = _step(ref, Action.admit)
    ref.admitted_at = clock.now()
    ref.ward = data.ward.strip()
    session.add(ref)
    audit.record(
        session,
        actor,
        "admit",
        "referral",
        ref.id,
        changes={"status": [old, ref.status], "ward": ref.ward},
        county_id=ref.county_id,
    )
    hospital = hospital_name(session, ref.hospital_id)
    note = _("Admitted to {hospital}", hospital=hospital)
    if ref.ward:
        note += f" ({ref.ward})"
    if data.note.strip():
        note += f": {data.note.strip()}"
    tell_senders(
        session,
        ref,
        _(
            "Referral {number}: admitted to {hospital}",
            number=report_number(session, ref),
            hospital=hospital,
        ),
    )
    # The hospital adds to the report of a referral addressed to it.
    intake_follow_up.add_follow_up(
        session,
        actor,
        ref.report_id,
        FollowUpIn(
            hospitalization=True, already_in_hospital=True, hospital_name=hospital, note=note
        ),
        source="hospital",
    )
    return ref


def record_outcome(session: Session, actor: Actor, referral_id: int, data: OutcomeIn) -> Referral:
    """Discharge, transfer or death, with the diagnosis. The outcome becomes a follow-up of
    the report (source "hospital"); a death re-triages it (triage follows follow-ups)."""
    ref = for_hospital(session, actor, referral_id)
    errors = {}
    if not data.diagnosis.strip():
        errors["diagnosis"] = N_("Enter the diagnosis.")
    if data.result == Result.transferred and not data.transferred_to.strip():
        errors["transferred_to"] = N_("Name the hospital the patient was transferred to.")
    if data.result != Result.died and data.patient_outcome == Outcome.died:
        errors["patient_outcome"] = N_('Record a death as the result "died".')
    if errors:
        raise Invalid("Some fields need correcting.", fields=errors)
    old = _step(ref, states.RESULT_ACTION[data.result])
    if data.result == Result.died:
        outcome = Outcome.died
    else:
        outcome = data.patient_outcome or (
            Outcome.recovering if data.result == Result.transferred else Outcome.recovered
        )
    ref.closed_at = clock.now()
    ref.result = data.result.value
    ref.diagnosis = data.diagnosis.strip()
    ref.patient_outcome = outcome.value
    ref.transferred_to = data.transferred_to.strip()
    ref.outcome_note = data.note.strip()
    session.add(ref)
    audit.record(
        session,
        actor,
        states.RESULT_ACTION[data.result].value,
        "referral",
        ref.id,
        changes={
            "status": [old, ref.status],
            "diagnosis": ref.diagnosis,
            "patient_outcome": ref.patient_outcome,
            "transferred_to": ref.transferred_to,
        },
        county_id=ref.county_id,
    )
    hospital = hospital_name(session, ref.hospital_id)
    number = report_number(session, ref)
    summary = {
        Result.discharged: _("Discharged from {hospital}: {diagnosis}"),
        Result.transferred: _("Transferred from {hospital} to {target}: {diagnosis}"),
        Result.died: _("Died at {hospital}: {diagnosis}"),
    }[data.result].format(hospital=hospital, target=ref.transferred_to, diagnosis=ref.diagnosis)
    note = f"{summary}. {ref.outcome_note}".strip() if ref.outcome_note else summary
    tell_senders(
        session,
        ref,
        _("Referral {number}: {summary}", number=number, summary=summary),
        urgent=data.result == Result.died,
        county=data.result == Result.died,
    )
    intake_follow_up.add_follow_up(
        session,
        actor,
        ref.report_id,
        FollowUpIn(outcome=outcome, diagnosis=ref.diagnosis, note=note),
        source="hospital",
    )  # commits
    return ref


def decline(session: Session, actor: Actor, referral_id: int, reason: str) -> Referral:
    """The hospital cannot take the patient. The reason is required, and the referral goes
    at once to the site's next green-channel hospital (the backup); if none is left the
    site and the county are told to arrange it by phone."""
    ref = for_hospital(session, actor, referral_id)
    if len(reason.strip()) < 2:
        raise Invalid("Give the reason for declining.", fields={"reason": "required"})
    old = _step(ref, Action.decline)
    ref.closed_at = clock.now()
    ref.decline_reason = reason.strip()
    session.add(ref)
    leg = _next_leg(session, actor, ref, "decline")
    audit.record(
        session,
        actor,
        "decline",
        "referral",
        ref.id,
        changes={
            "status": [old, ref.status],
            "reason": ref.decline_reason,
            "next_leg": leg.id if leg else None,
        },
        county_id=ref.county_id,
    )
    hospital = hospital_name(session, ref.hospital_id)
    number = report_number(session, ref)
    if leg is not None:
        title = _(
            "{hospital} declined referral {number}; re-routed to {backup}",
            hospital=hospital,
            number=number,
            backup=hospital_name(session, leg.hospital_id),
        )
    else:
        title = _(
            "{hospital} declined referral {number}; no other green-channel hospital "
            "is assigned: arrange the transfer by phone",
            hospital=hospital,
            number=number,
        )
    tell_senders(session, ref, title, ref.decline_reason, urgent=True, county=True)
    session.commit()
    return ref


def reroute(session: Session, actor: Actor, referral_id: int, *, reason: str = "") -> Referral:
    """Stop waiting for a hospital that has not acknowledged (typically after escalation)
    and send the referral to the site's next green-channel hospital. Returns the new leg."""
    ref = for_sender(session, actor, referral_id)
    if not states.can(ref.status, Action.reroute):
        _step(ref, Action.reroute)  # raises the conflict naming the status
    if next_hospital_id(session, ref) is None:
        raise Conflict("No other green-channel hospital is assigned to this site.")
    old = _step(ref, Action.reroute)
    ref.closed_at = clock.now()
    ref.withdraw_reason = reason.strip() or _("Not acknowledged in time")
    session.add(ref)
    leg = _next_leg(session, actor, ref, "reroute")
    audit.record(
        session,
        actor,
        "reroute",
        "referral",
        ref.id,
        changes={"status": [old, ref.status], "reason": ref.withdraw_reason, "next_leg": leg.id},
        county_id=ref.county_id,
    )
    tell_hospital(
        session,
        ref,
        _(
            "Referral {number} was re-routed to another hospital",
            number=report_number(session, ref),
        ),
        ref.withdraw_reason,
    )
    session.commit()
    return leg


def cancel(session: Session, actor: Actor, referral_id: int, *, reason: str) -> Referral:
    """The sender withdraws the referral (the patient recovered on site, went elsewhere)."""
    ref = for_sender(session, actor, referral_id)
    if len(reason.strip()) < 2:
        raise Invalid("Give the reason for cancelling.", fields={"reason": "required"})
    old = _step(ref, Action.cancel)
    ref.closed_at = clock.now()
    ref.withdraw_reason = reason.strip()
    session.add(ref)
    audit.record(
        session,
        actor,
        "cancel",
        "referral",
        ref.id,
        changes={"status": [old, ref.status], "reason": ref.withdraw_reason},
        county_id=ref.county_id,
    )
    tell_hospital(
        session,
        ref,
        _("Referral {number} was cancelled by the site", number=report_number(session, ref)),
        ref.withdraw_reason,
    )
    session.commit()
    return ref


def check_timers(session: Session, now: datetime | None = None) -> list[Referral]:
    """Escalate every referral sent and not acknowledged within AEFI_REFERRAL_ACK_MINUTES
    (default 10): the bureau and CDC are told, the site is offered the backup hospital, the
    hospital is reminded. Each referral escalates once. Run by the background timer."""
    now = now or clock.now()
    minutes = ack_minutes()
    cutoff = now - timedelta(minutes=minutes)
    due = list(
        session.exec(
            select(Referral)
            .where(Referral.status == ReferralStatus.sent, col(Referral.sent_at) <= cutoff)
            .order_by(Referral.id)
            .with_for_update(skip_locked=True)
        )
    )
    for ref in due:
        if not states.ack_overdue(ref.status, ref.sent_at, now, minutes):
            continue
        old = _step(ref, Action.escalate)
        ref.escalated_at = now
        session.add(ref)
        waited = states.minutes_between(ref.sent_at, now)
        audit.record(
            session,
            Actor.system(ref.county_id, reason="timer: referral acknowledgement"),
            "escalate",
            "referral",
            ref.id,
            changes={"status": [old, ref.status], "minutes_waiting": waited},
            summary=f"not acknowledged within {minutes} min",
            county_id=ref.county_id,
        )
        number = report_number(session, ref)
        hospital = hospital_name(session, ref.hospital_id)
        backup = next_hospital_id(session, ref)
        body = (
            _("Call the hospital, or re-route to {backup}.", backup=hospital_name(session, backup))
            if backup
            else _("Call the hospital; no backup hospital is assigned to the site.")
        )
        tell_senders(
            session,
            ref,
            _(
                "Referral {number} not acknowledged by {hospital} within {minutes} min",
                number=number,
                hospital=hospital,
                minutes=minutes,
            ),
            body,
            urgent=True,
            county=True,
        )
        tell_hospital(
            session,
            ref,
            _(
                "Referral {number} is waiting for your acknowledgement ({minutes} min)",
                number=number,
                minutes=int(waited or 0),
            ),
        )
    session.commit()
    return due
