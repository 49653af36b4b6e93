"""Use cases of the green channel: send a referral (triage or by hand), the hospital's
steps (acknowledge, arrival, admission, outcome, decline), re-route and cancel, the
acknowledgement timer, and what each role may read.

Least data (DESIGN.md): a hospital sees the patient and clinical facts of the referrals
addressed to it and nothing else of the county; every read and step below checks that
first, so pages, the API and the PDF share one rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case
from sqlmodel import Session, col, func, select

from aefi import audit, clock, i18n
from aefi.audit import AuditEvent
from aefi.auth.models import Role
from aefi.auth.permissions import Actor, mask_id_number, require_role, sees_identity
from aefi.errors import Conflict, Invalid, NotFound
from aefi.i18n import N_, _
from aefi.intake import service as intake
from aefi.intake import symptoms
from aefi.intake.models import Outcome, Report
from aefi.intake.schemas import FollowUpIn
from aefi.notifications.service import notify
from aefi.referral import states
from aefi.referral.models import LABELS, Referral
from aefi.referral.schemas import AdmitIn, OutcomeIn, ReferralIn
from aefi.referral.states import Action, ReferralStatus, Result
from aefi.registry.models import Hospital, Site
from aefi.settings import get_settings

# Who may send a referral by hand, and who may re-route or cancel one (the sending side).
REQUESTERS = (Role.reporter, Role.investigator, Role.admin)
SENDERS = (Role.reporter, Role.investigator, Role.bureau, Role.admin)
READERS = (*SENDERS, Role.hospital)
COUNTY_WATCHERS = (Role.bureau, Role.investigator)

# Details the sender gives, copied to the next leg when a hospital declines.
DETAIL_FIELDS = tuple(ReferralIn.model_fields)
CARRIED_FIELDS = (
    *DETAIL_FIELDS,
    "triage_reasons",
    "report_id",
    "county_id",
    "site_id",
    "created_by_id",
)


def ack_minutes() -> int:
    return get_settings().referral_ack_minutes


def _label(value: str) -> str:
    return i18n.gettext(LABELS.get(value, value)) if value else ""


# --- scope -------------------------------------------------------------------------------


def _in_scope(actor: Actor, ref: Referral | None) -> bool:
    if ref is None or ref.county_id != actor.county_id:
        return False
    if actor.role == Role.hospital:
        return actor.hospital_id is not None and ref.hospital_id == actor.hospital_id
    if actor.role == Role.reporter:
        return ref.site_id == actor.site_id
    return actor.is_county_wide


def _locked(session: Session, referral_id: int) -> Referral | None:
    """The row, locked for the step (PostgreSQL): the timer and a click may meet."""
    return session.exec(
        select(Referral)
        .where(Referral.id == referral_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def _for_hospital(session: Session, actor: Actor, referral_id: int) -> Referral:
    require_role(actor, Role.hospital)
    ref = _locked(session, referral_id)
    if not _in_scope(actor, ref):
        raise NotFound("Not found.")
    return ref


def _for_sender(session: Session, actor: Actor, referral_id: int) -> Referral:
    require_role(actor, *SENDERS)
    ref = _locked(session, referral_id)
    if not _in_scope(actor, ref):
        raise NotFound("Not found.")
    return ref


def _step(ref: Referral, action: Action) -> str:
    """Move the status on; a step the status does not allow is a conflict (409)."""
    old = ref.status
    try:
        ref.status = states.next_status(ref.status, action)
    except states.TransitionError:
        raise Conflict(
            "This referral is {status} now; it cannot be changed that way.",
            status=_label(ref.status),
        ) from None
    return old


def _open_of_report(session: Session, report_id: int) -> Referral | None:
    return session.exec(
        select(Referral)
        .where(Referral.report_id == report_id, col(Referral.status).in_(list(states.OPEN)))
        .order_by(col(Referral.id).desc())
    ).first()


def _chain(session: Session, ref: Referral) -> list[Referral]:
    """This leg and every earlier leg it continues, oldest first."""
    legs = [ref]
    while legs[0].previous_id is not None:
        prev = session.get(Referral, legs[0].previous_id)
        if prev is None:
            break
        legs.insert(0, prev)
    return legs


def _next_hospital_id(session: Session, ref: Referral) -> int | None:
    site = session.get(Site, ref.site_id)
    tried = [leg.hospital_id for leg in _chain(session, ref)]
    return states.next_hospital(site.primary_hospital_id, site.backup_hospital_id, tried)


# --- notifications -----------------------------------------------------------------------


def _report_number(session: Session, ref: Referral) -> str:
    return session.exec(select(Report.number).where(Report.id == ref.report_id)).one()


def _hospital_name(session: Session, hospital_id: int) -> str:
    h = session.get(Hospital, hospital_id)
    return i18n.pick(h.name, h.name_en) if h else ""


def _tell_hospital(session: Session, ref: Referral, title: str, body: str = "") -> None:
    notify(
        session,
        county_id=ref.county_id,
        roles=(Role.hospital,),
        hospital_id=ref.hospital_id,
        kind="referral",
        title=title,
        body=body,
        link=f"/referrals/{ref.id}",
        urgent=True,
    )


def _tell_senders(
    session: Session,
    ref: Referral,
    title: str,
    body: str = "",
    *,
    urgent: bool = False,
    county: bool = False,
) -> None:
    """The site's physicians; with ``county`` also the county CDC and bureau."""
    roles = (Role.reporter, *COUNTY_WATCHERS) if county else (Role.reporter,)
    notify(
        session,
        county_id=ref.county_id,
        roles=roles,
        site_id=ref.site_id,
        kind="referral",
        title=title,
        body=body,
        link=f"/referrals/{ref.id}",
        urgent=urgent,
    )


def _send(session: Session, actor: Actor | None, ref: Referral, report: Report) -> None:
    """Store a new referral, record it and tell the hospital (triage's and the physician's)."""
    session.add(ref)
    session.flush()
    audit.record(
        session,
        actor,
        "create",
        "referral",
        ref.id,
        summary=f"{report.number} → {_hospital_name(session, ref.hospital_id)}",
        changes={"origin": ref.origin, "hospital_id": ref.hospital_id, "urgency": ref.urgency},
        county_id=ref.county_id,
    )
    _announce(session, ref)


def _announce(session: Session, ref: Referral) -> None:
    number = _report_number(session, ref)
    site = session.get(Site, ref.site_id)
    _tell_hospital(
        session,
        ref,
        _(
            "New green-channel referral {number} ({urgency}) from {site}",
            number=number,
            urgency=_label(ref.urgency),
            site=i18n.pick(site.name, site.name_en),
        ),
        _("Acknowledge it in the referral inbox."),
    )


# --- sending -----------------------------------------------------------------------------


def _triage_reasons(decision: Any) -> list[dict[str, str]]:
    reasons = getattr(decision, "reasons", None) or []
    out = []
    for r in reasons:
        rule = getattr(r, "rule", None) or (r.get("rule") if isinstance(r, dict) else "")
        if not str(rule).startswith("referral."):
            continue
        text_en = getattr(r, "text_en", None) or (
            r.get("text_en", "") if isinstance(r, dict) else ""
        )
        text_zh = getattr(r, "text_zh", None) or (
            r.get("text_zh", "") if isinstance(r, dict) else ""
        )
        out.append({"rule": rule, "text_en": text_en, "text_zh": text_zh})
    return out


def _required(decision: Any) -> bool:
    if decision is None:
        return False
    if isinstance(decision, dict):
        return bool(decision.get("referral_required"))
    return bool(getattr(decision, "referral_required", False))


def open_from_triage(
    session: Session, actor: Actor | None, report: Report, decision: Any, previous: Any
) -> Referral | None:
    """Triage decided a referral is required: send it to the site's green-channel hospital.

    Runs inside the filing (or follow-up) transaction: flushes, never commits. The filing
    already checked the actor's permission; triage acts for the system."""
    has_open = _open_of_report(session, report.id) is not None
    has_any = (
        session.exec(select(Referral.id).where(Referral.report_id == report.id)).first() is not None
    )
    if not states.should_refer(
        required=_required(decision),
        previously_required=_required(previous),
        has_open=has_open,
        has_any=has_any,
    ):
        return None
    site = session.get(Site, report.site_id)
    hospital_id = states.next_hospital(site.primary_hospital_id, site.backup_hospital_id, [])
    if hospital_id is None:
        notify(
            session,
            county_id=report.county_id,
            roles=(Role.reporter, *COUNTY_WATCHERS),
            site_id=report.site_id,
            kind="referral",
            title=_(
                "Referral required for {number}, but the site has no green-channel hospital",
                number=report.number,
            ),
            body=_("Arrange the transfer by phone and ask the administrator to assign one."),
            urgent=True,
        )
        return None
    family = " ".join(p for p in (report.guardian_name, report.patient_phone) if p)
    ref = Referral(
        report_id=report.id,
        county_id=report.county_id,
        site_id=report.site_id,
        hospital_id=hospital_id,
        origin="triage",
        urgency=states.urgency_for(report.event_groups, report.life_threatening),
        triage_reasons=_triage_reasons(decision),
        treatment_given=report.treatment,
        temperature_c=report.max_temperature_c,
        contact_name=report.reporter_name,
        contact_phone=report.reporter_phone,
        family_contact=family[:200],
        sent_at=clock.now(),
        created_by_id=actor.user_id if actor else None,
    )
    _send(session, actor, ref, report)
    session.flush()
    return ref


def send_referral(session: Session, actor: Actor, report_id: int, data: ReferralIn) -> Referral:
    """The physician's referral form: send a referral for the report, or complete the open
    one (triage's, or an earlier send) with vital signs, what was given and transport."""
    require_role(actor, *REQUESTERS)
    report = intake.get_report(session, actor, report_id)
    ref = _open_of_report(session, report.id)
    if ref is not None:
        before = audit.snapshot(ref)
        # Only what was sent changes (a form sends every field, an API call maybe a few).
        for name in DETAIL_FIELDS:
            if name not in data.model_fields_set:
                continue
            value = getattr(data, name)
            if name == "reason" and not (value or "").strip() and ref.triage_reasons:
                continue
            setattr(ref, name, _stored(name, value))
        session.add(ref)
        session.flush()
        changes = audit.diff(before, audit.snapshot(ref))
        if changes:
            audit.record(
                session,
                actor,
                "update",
                "referral",
                ref.id,
                changes=changes,
                summary=report.number,
                county_id=ref.county_id,
            )
            _tell_hospital(
                session,
                ref,
                _(
                    "Referral {number}: the site updated vital signs and treatment",
                    number=report.number,
                ),
            )
        session.commit()
        return ref
    if not data.reason.strip():
        raise Invalid("Give the reason for the referral.", fields={"reason": "required"})
    site = session.get(Site, report.site_id)
    hospital_id = states.next_hospital(site.primary_hospital_id, site.backup_hospital_id, [])
    if hospital_id is None:
        raise Invalid(
            "This site has no green-channel hospital; ask the administrator to assign one.",
            fields={"hospital": "none"},
        )
    ref = Referral(
        report_id=report.id,
        county_id=report.county_id,
        site_id=report.site_id,
        hospital_id=hospital_id,
        origin="physician",
        sent_at=clock.now(),
        created_by_id=actor.user_id,
    )
    for name in DETAIL_FIELDS:
        value = getattr(data, name)
        setattr(ref, name, _stored(name, value))
    ref.reason = data.reason.strip()
    _send(session, actor, ref, report)
    session.commit()
    return ref


def _stored(name: str, value: Any) -> Any:
    """A form value as the column keeps it: enums by value, a missing text as ""."""
    if value is None:
        default = Referral.model_fields[name].default
        return default if isinstance(default, str) else None
    return value.value if hasattr(value, "value") else value


def _next_leg(session: Session, actor: Actor, ref: Referral, origin: str) -> Referral | None:
    """Open the next leg, to the next of the site's hospitals not yet asked."""
    hospital_id = _next_hospital_id(session, ref)
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
        summary=f"{_report_number(session, ref)} → {_hospital_name(session, hospital_id)}",
        changes={"origin": origin, "hospital_id": hospital_id, "previous_id": ref.id},
        county_id=ref.county_id,
    )
    _announce(session, leg)
    return leg


# --- the hospital's steps ----------------------------------------------------------------


def acknowledge(session: Session, actor: Actor, referral_id: int, *, note: str = "") -> Referral:
    """The hospital has seen the referral and expects the patient. Repeating it is harmless
    (a double click, a retried API call)."""
    ref = _for_hospital(session, actor, referral_id)
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
    number = _report_number(session, ref)
    _tell_senders(
        session,
        ref,
        _(
            "{hospital} acknowledged referral {number}",
            hospital=_hospital_name(session, ref.hospital_id),
            number=number,
        ),
        note.strip(),
        county=old == ReferralStatus.escalated,
    )
    session.commit()
    return ref


def record_arrival(session: Session, actor: Actor, referral_id: int) -> Referral:
    ref = _for_hospital(session, actor, referral_id)
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
    _tell_senders(
        session,
        ref,
        _(
            "The patient of referral {number} arrived at {hospital}",
            number=_report_number(session, ref),
            hospital=_hospital_name(session, ref.hospital_id),
        ),
    )
    session.commit()
    return ref


def admit(session: Session, actor: Actor, referral_id: int, data: AdmitIn) -> Referral:
    """Admission makes the report serious (hospitalisation, WHO/ICH E2A): it goes to the
    report as a follow-up from the hospital, and triage re-triages it."""
    ref = _for_hospital(session, actor, referral_id)
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
    hospital = _hospital_name(session, ref.hospital_id)
    note = _("Admitted to {hospital}", hospital=hospital)
    if ref.ward:
        note += f" ({ref.ward})"
    if data.note.strip():
        note += f": {data.note.strip()}"
    _tell_senders(
        session,
        ref,
        _(
            "Referral {number}: admitted to {hospital}",
            number=_report_number(session, ref),
            hospital=hospital,
        ),
    )
    # Scope checked above: the hospital adds to the report of a referral addressed to it.
    intake.add_follow_up(
        session,
        actor,
        ref.report_id,
        FollowUpIn(
            hospitalization=True, already_in_hospital=True, hospital_name=hospital, note=note
        ),
        source="hospital",
        scope_checked=True,
    )
    return ref


def record_outcome(session: Session, actor: Actor, referral_id: int, data: OutcomeIn) -> Referral:
    """Discharge, transfer or death, with the diagnosis. The outcome becomes a follow-up of
    the report (source "hospital"); a death re-triages it (triage follows follow-ups)."""
    ref = _for_hospital(session, actor, referral_id)
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
    hospital = _hospital_name(session, ref.hospital_id)
    number = _report_number(session, ref)
    summary = {
        Result.discharged: _("Discharged from {hospital}: {diagnosis}"),
        Result.transferred: _("Transferred from {hospital} to {target}: {diagnosis}"),
        Result.died: _("Died at {hospital}: {diagnosis}"),
    }[data.result].format(hospital=hospital, target=ref.transferred_to, diagnosis=ref.diagnosis)
    note = f"{summary}. {ref.outcome_note}".strip() if ref.outcome_note else summary
    _tell_senders(
        session,
        ref,
        _("Referral {number}: {summary}", number=number, summary=summary),
        urgent=data.result == Result.died,
        county=data.result == Result.died,
    )
    intake.add_follow_up(
        session,
        actor,
        ref.report_id,
        FollowUpIn(outcome=outcome, diagnosis=ref.diagnosis, note=note),
        source="hospital",
        scope_checked=True,
    )  # commits
    return ref


def decline(session: Session, actor: Actor, referral_id: int, reason: str) -> Referral:
    """The hospital cannot take the patient. The reason is required, and the referral goes
    at once to the site's next green-channel hospital (the backup); if none is left the
    site and the county are told to arrange it by phone."""
    ref = _for_hospital(session, actor, referral_id)
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
    hospital = _hospital_name(session, ref.hospital_id)
    number = _report_number(session, ref)
    if leg is not None:
        title = _(
            "{hospital} declined referral {number}; re-routed to {backup}",
            hospital=hospital,
            number=number,
            backup=_hospital_name(session, leg.hospital_id),
        )
    else:
        title = _(
            "{hospital} declined referral {number}; no other green-channel hospital "
            "is assigned: arrange the transfer by phone",
            hospital=hospital,
            number=number,
        )
    _tell_senders(session, ref, title, ref.decline_reason, urgent=True, county=True)
    session.commit()
    return ref


# --- the sender's steps ------------------------------------------------------------------


def reroute(session: Session, actor: Actor, referral_id: int, *, reason: str = "") -> Referral:
    """Stop waiting for a hospital that has not acknowledged (typically after escalation)
    and send the referral to the site's next green-channel hospital. Returns the new leg."""
    ref = _for_sender(session, actor, referral_id)
    if not states.can(ref.status, Action.reroute):
        _step(ref, Action.reroute)  # raises the conflict naming the status
    if _next_hospital_id(session, ref) is None:
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
    _tell_hospital(
        session,
        ref,
        _(
            "Referral {number} was re-routed to another hospital",
            number=_report_number(session, ref),
        ),
        ref.withdraw_reason,
    )
    session.commit()
    return leg


def cancel(session: Session, actor: Actor, referral_id: int, *, reason: str) -> Referral:
    """The sender withdraws the referral (the patient recovered on site, went elsewhere)."""
    ref = _for_sender(session, actor, referral_id)
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
    _tell_hospital(
        session,
        ref,
        _("Referral {number} was cancelled by the site", number=_report_number(session, ref)),
        ref.withdraw_reason,
    )
    session.commit()
    return ref


# --- timers ------------------------------------------------------------------------------


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
            None,
            "escalate",
            "referral",
            ref.id,
            changes={"status": [old, ref.status], "minutes_waiting": waited},
            summary=f"not acknowledged within {minutes} min",
            county_id=ref.county_id,
        )
        number = _report_number(session, ref)
        hospital = _hospital_name(session, ref.hospital_id)
        backup = _next_hospital_id(session, ref)
        body = (
            _("Call the hospital, or re-route to {backup}.", backup=_hospital_name(session, backup))
            if backup
            else _("Call the hospital; no backup hospital is assigned to the site.")
        )
        _tell_senders(
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
        _tell_hospital(
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


# --- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PatientFacts:
    name: str
    sex: str
    birth_on: date | None
    id_number: str
    guardian_name: str
    phone: str
    age_years: int | None
    age_months: int | None


@dataclass(frozen=True)
class DoseFacts:
    vaccine_code: str
    vaccine_name: str
    vaccine_name_en: str
    manufacturer: str
    lot_number: str
    dose_number: int
    route: str
    administered_at: datetime


@dataclass(frozen=True)
class EventFacts:
    onset_at: datetime
    symptoms: list[str]
    symptom_names: list[tuple[str, str]]  # (zh, en)
    event_groups: list[str]
    description: str
    max_temperature_c: float | None
    site_treatment: str


@dataclass
class ReferralView:
    """One referral as the actor may see it: the hospital gets the patient and clinical
    facts it needs, the ID number masked; the sending side also gets the trail."""

    referral: Referral
    report_number: str
    hospital: Hospital
    site: Site
    patient: PatientFacts
    event: EventFacts
    doses: list[DoseFacts]
    legs: list[Referral] = field(default_factory=list)
    hospitals: dict[int, Hospital] = field(default_factory=dict)
    rerouted: bool = False
    backup: Hospital | None = None
    actions: list[str] = field(default_factory=list)
    events: list[AuditEvent] = field(default_factory=list)
    ack_due_at: datetime | None = None


def _age(birth_on: date | None, on: date) -> tuple[int | None, int | None]:
    if birth_on is None:
        return None, None
    months = (on.year - birth_on.year) * 12 + on.month - birth_on.month
    if on.day < birth_on.day:
        months -= 1
    months = max(months, 0)
    return months // 12, months


def _patient(actor: Actor, report: Report, on: date) -> PatientFacts:
    years, months = _age(report.patient_birth_on, on)
    return PatientFacts(
        name=report.patient_name,
        sex=report.patient_sex,
        birth_on=report.patient_birth_on,
        id_number=report.patient_id_number
        if sees_identity(actor)
        else mask_id_number(report.patient_id_number),
        guardian_name=report.guardian_name,
        phone=report.patient_phone,
        age_years=years,
        age_months=months,
    )


def _event(report: Report) -> EventFacts:
    names = [
        (symptoms.BY_CODE[c].zh, symptoms.BY_CODE[c].en) if c in symptoms.BY_CODE else (c, c)
        for c in report.symptoms
    ]
    return EventFacts(
        onset_at=report.onset_at,
        symptoms=list(report.symptoms),
        symptom_names=names,
        event_groups=list(report.event_groups),
        description=report.description,
        max_temperature_c=report.max_temperature_c,
        site_treatment=report.treatment,
    )


def _doses(session: Session, report_id: int, linked=None) -> list[DoseFacts]:
    """The report's doses; ``linked`` is what ``intake.report_doses`` already fetched."""
    if linked is None:
        linked = intake.report_doses(session, [report_id])[report_id]
    return [
        DoseFacts(
            vaccine_code=d.vaccine.code,
            vaccine_name=d.vaccine.name,
            vaccine_name_en=d.vaccine.name_en,
            manufacturer=d.vaccine.manufacturer,
            lot_number=d.lot.lot_number,
            dose_number=d.link.dose_number,
            route=d.link.route,
            administered_at=d.link.administered_at,
        )
        for d in linked
    ]


def _view(
    session: Session, actor: Actor, ref: Referral, *, with_trail: bool, linked=None
) -> ReferralView:
    report = session.get(Report, ref.report_id)
    is_hospital = actor.role == Role.hospital
    # A hospital sees its own legs only, not where else the patient was sent.
    legs = [ref] if is_hospital else _chain(session, ref) + _later_legs(session, ref)
    hospitals = {
        h.id: h
        for h in session.exec(
            select(Hospital).where(col(Hospital.id).in_({leg.hospital_id for leg in legs}))
        )
    }
    rerouted = (
        session.exec(select(Referral.id).where(Referral.previous_id == ref.id)).first() is not None
    )
    backup = None
    if not is_hospital and ref.status in states.AWAITING_ACK:
        backup_id = _next_hospital_id(session, ref)
        backup = session.get(Hospital, backup_id) if backup_id else None
    if is_hospital:
        actions = [a.value for a in states.allowed(ref.status, states.HOSPITAL_ACTIONS)]
    elif actor.role in SENDERS:
        actions = [a.value for a in states.allowed(ref.status, states.SENDER_ACTIONS)]
        if backup is None and Action.reroute.value in actions:
            actions.remove(Action.reroute.value)
    else:
        actions = []
    events = []
    if with_trail:
        events = audit.timeline(
            session, "referral", legs[0].id, also=[("referral", leg.id) for leg in legs[1:]]
        )
    return ReferralView(
        referral=ref,
        report_number=report.number,
        hospital=hospitals.get(ref.hospital_id) or session.get(Hospital, ref.hospital_id),
        site=session.get(Site, ref.site_id),
        patient=_patient(actor, report, clock.now().date()),
        event=_event(report),
        doses=_doses(session, report.id, linked),
        legs=legs,
        hospitals=hospitals,
        rerouted=rerouted,
        backup=backup,
        actions=actions,
        events=events,
        ack_due_at=states.ack_due_at(ref.sent_at, ack_minutes())
        if ref.status == ReferralStatus.sent
        else None,
    )


def _later_legs(session: Session, ref: Referral) -> list[Referral]:
    out = []
    current = ref
    while True:
        nxt = session.exec(select(Referral).where(Referral.previous_id == current.id)).first()
        if nxt is None:
            return out
        out.append(nxt)
        current = nxt


def get_referral(
    session: Session, actor: Actor, referral_id: int, *, with_trail: bool = True
) -> ReferralView:
    require_role(actor, *READERS)
    ref = session.get(Referral, referral_id)
    if not _in_scope(actor, ref):
        raise NotFound("Not found.")
    return _view(session, actor, ref, with_trail=with_trail)


@dataclass(frozen=True)
class ReferralRow:
    referral: Referral
    report_number: str
    patient_name: str
    patient_sex: str
    patient_birth_on: date | None
    event_groups: list[str]
    hospital_name: str
    hospital_name_en: str
    site_name: str
    site_name_en: str


def _scope_stmt(actor: Actor):
    require_role(actor, *READERS)
    stmt = select(Referral).where(Referral.county_id == actor.county_id)
    if actor.role == Role.hospital:
        stmt = stmt.where(Referral.hospital_id == (actor.hospital_id or -1))
    elif actor.role == Role.reporter:
        stmt = stmt.where(Referral.site_id == (actor.site_id or -1))
    return stmt


def list_referrals(
    session: Session,
    actor: Actor,
    *,
    show: str = "open",
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[ReferralRow], int]:
    """The actor's referrals: a hospital's are those addressed to it, a site's those it
    sent, the county roles' the county's. Unacknowledged first, then newest first."""
    stmt = _scope_stmt(actor)
    if show == "open":
        stmt = stmt.where(col(Referral.status).in_(list(states.OPEN)))
    elif show == "closed":
        stmt = stmt.where(col(Referral.status).not_in(list(states.OPEN)))
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    ids = stmt.with_only_columns(Referral.id).subquery()
    waiting_first = case(
        (Referral.status == ReferralStatus.escalated, 0),
        (Referral.status == ReferralStatus.sent, 1),
        else_=2,
    )
    rows = session.exec(
        select(
            Referral,
            Report.number,
            Report.patient_name,
            Report.patient_sex,
            Report.patient_birth_on,
            Report.event_groups,
            Hospital.name,
            Hospital.name_en,
            Site.name,
            Site.name_en,
        )
        .join(Report, Report.id == Referral.report_id)
        .join(Hospital, Hospital.id == Referral.hospital_id)
        .join(Site, Site.id == Referral.site_id)
        .where(col(Referral.id).in_(select(ids.c.id)))
        .order_by(waiting_first, col(Referral.sent_at).desc(), col(Referral.id).desc())
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
    )
    return [ReferralRow(*row) for row in rows], total


def awaiting_count(session: Session, actor: Actor) -> int:
    """Referrals waiting for acknowledgement in the actor's scope (the inbox's alert)."""
    stmt = _scope_stmt(actor).where(col(Referral.status).in_(list(states.AWAITING_ACK)))
    return session.exec(select(func.count()).select_from(stmt.subquery())).one()


def escalated_count(session: Session, actor: Actor) -> int:
    stmt = _scope_stmt(actor).where(Referral.status == ReferralStatus.escalated)
    return session.exec(select(func.count()).select_from(stmt.subquery())).one()


@dataclass(frozen=True)
class Timing:
    """Time to acknowledge and to arrival over the actor's referrals."""

    referrals: int
    acknowledged: int
    median_ack_minutes: float | None
    within_limit: int
    arrived: int
    median_arrival_minutes: float | None
    ack_limit_minutes: int


def timing(session: Session, actor: Actor, *, since: datetime | None = None) -> Timing:
    stmt = _scope_stmt(actor)
    if since is not None:
        stmt = stmt.where(col(Referral.sent_at) >= since)
    rows = session.execute(
        stmt.with_only_columns(Referral.sent_at, Referral.acknowledged_at, Referral.arrived_at)
    ).all()
    limit = ack_minutes()
    acks = [m for s, a, _ in rows if (m := states.minutes_between(s, a)) is not None]
    arrivals = [m for s, _, a in rows if (m := states.minutes_between(s, a)) is not None]
    return Timing(
        referrals=len(rows),
        acknowledged=len(acks),
        median_ack_minutes=states.median(acks),
        within_limit=sum(1 for m in acks if m <= limit),
        arrived=len(arrivals),
        median_arrival_minutes=states.median(arrivals),
        ack_limit_minutes=limit,
    )


@dataclass
class ReportReferrals:
    """The referral status block of a report page: every leg, newest last."""

    report_id: int
    report_number: str
    legs: list[Referral]
    hospitals: dict[int, Hospital]
    # Where a new referral would go (the site's primary hospital), and the offered backup.
    primary: Hospital | None
    backup: Hospital | None
    can_request: bool
    can_reroute: bool
    ack_minutes: int

    @property
    def current(self) -> Referral | None:
        return self.legs[-1] if self.legs else None


def report_referrals(session: Session, actor: Actor, report_id: int) -> ReportReferrals:
    """What the report page shows of its referrals (the reporter's own site, the county)."""
    require_role(actor, *SENDERS)
    report = intake.get_report(session, actor, report_id)
    legs = list(
        session.exec(select(Referral).where(Referral.report_id == report.id).order_by(Referral.id))
    )
    hospitals = {
        h.id: h
        for h in session.exec(
            select(Hospital).where(col(Hospital.id).in_({leg.hospital_id for leg in legs}))
        )
    }
    current = legs[-1] if legs else None
    backup = None
    if current is not None and current.status in states.AWAITING_ACK:
        backup_id = _next_hospital_id(session, current)
        backup = session.get(Hospital, backup_id) if backup_id else None
    site = session.get(Site, report.site_id)
    primary_id = states.next_hospital(site.primary_hospital_id, site.backup_hospital_id, [])
    return ReportReferrals(
        report_id=report.id,
        report_number=report.number,
        legs=legs,
        hospitals=hospitals,
        primary=session.get(Hospital, primary_id) if primary_id else None,
        backup=backup,
        can_request=actor.role in REQUESTERS,
        can_reroute=backup is not None,
        ack_minutes=ack_minutes(),
    )


def form_defaults(session: Session, actor: Actor, report_id: int) -> dict[str, Any]:
    """The referral form's starting values: the open referral's details, or the report's."""
    require_role(actor, *REQUESTERS)
    report = intake.get_report(session, actor, report_id)
    ref = _open_of_report(session, report.id)
    if ref is not None:
        return {name: getattr(ref, name) for name in DETAIL_FIELDS}
    return {
        "urgency": states.urgency_for(report.event_groups, report.life_threatening).value,
        "treatment_given": report.treatment,
        "temperature_c": report.max_temperature_c,
        "contact_name": report.reporter_name,
        "contact_phone": report.reporter_phone,
        "family_contact": " ".join(p for p in (report.guardian_name, report.patient_phone) if p),
    }


def handover_pdf(session: Session, actor: Actor, referral_id: int) -> bytes:
    """The hand-over sheet that travels with the patient (printable at the site)."""
    from aefi.pdf import render_pdf

    view = get_referral(session, actor, referral_id, with_trail=False)
    return render_pdf(
        "pdf/handover.html",
        {
            "v": view,
            "r": view.referral,
            "labels": LABELS,
            "printed_at": clock.now(),
            "printed_by": actor.name,
            "groups": symptoms.EVENT_GROUPS,
        },
    )


def referrals_for_api(
    session: Session, actor: Actor, rows: list[ReferralRow]
) -> list[ReferralView]:
    """Full views of listed rows (the list already applied the actor's scope). Reports and
    their doses are fetched for the whole page at once, not per row."""
    report_ids = list({row.referral.report_id for row in rows})
    if report_ids:  # into the session's identity map, so _view's session.get costs nothing
        session.exec(select(Report).where(col(Report.id).in_(report_ids))).all()
    linked = intake.report_doses(session, report_ids)
    return [
        _view(session, actor, row.referral, with_trail=False, linked=linked[row.referral.report_id])
        for row in rows
    ]
