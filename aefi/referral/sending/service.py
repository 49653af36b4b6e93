"""Sending a referral: triage's (in the filing transaction, for the system) and a
physician's by hand from the report page. Each is stored, audited and announced to the
hospital."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, select

from aefi import audit, clock
from aefi.auth.models import Role
from aefi.auth.permissions import Actor, require_role
from aefi.errors import Invalid
from aefi.i18n import _
from aefi.intake import access as intake_access
from aefi.intake import emergency
from aefi.intake.models import Report
from aefi.notifications.service import notify
from aefi.referral import states
from aefi.referral.access import (
    COUNTY_WATCHERS,
    REQUESTERS,
)
from aefi.referral.legs import open_of_report
from aefi.referral.models import Referral
from aefi.referral.notices import (
    announce,
    hospital_name,
    tell_hospital,
)
from aefi.referral.schemas import DETAIL_FIELDS, REPORT_FIELDS, ReferralIn
from aefi.registry.models import Site
from aefi.triage.rules import TriageDecision
from aefi.triage.rules_in_force.service import emergency_groups


def _send(session: Session, actor: Actor, ref: Referral, report: Report) -> None:
    """Store a new referral, record it and tell the hospital (triage's and the physician's)."""
    session.add(ref)
    session.flush()
    audit.record(
        session,
        actor,
        "create",
        "referral",
        ref.id,
        summary=f"{report.number} → {hospital_name(session, ref.hospital_id)}",
        changes={"origin": ref.origin, "hospital_id": ref.hospital_id, "urgency": ref.urgency},
        county_id=ref.county_id,
    )
    announce(session, ref)


def _triage_reasons(decision: TriageDecision) -> list[dict[str, str]]:
    """The referral rules that fired, in both languages."""
    return [
        {"rule": r.rule, "text_en": r.text_en, "text_zh": r.text_zh}
        for r in decision.reasons
        if r.rule.startswith("referral.")
    ]


def _required(decision: TriageDecision | None) -> bool:
    return decision is not None and decision.referral_required


def open_from_triage(
    session: Session,
    actor: Actor,
    report: Report,
    decision: TriageDecision,
    previous: TriageDecision | None,
) -> Referral | None:
    """Triage decided a referral is required: send it to the site's green-channel hospital.

    Runs inside the filing (or follow-up) transaction: flushes, never commits. The filing
    already checked the actor's permission; triage acts for the system."""
    required, previously_required = _required(decision), _required(previous)
    # Asked only as far as the answer depends on them (``should_refer``): a decision
    # that refers nobody, the most common one, costs no query.
    has_open = required and open_of_report(session, report.id) is not None
    has_any = (
        required
        and not has_open
        and previously_required
        and session.exec(select(Referral.id).where(Referral.report_id == report.id)).first()
        is not None
    )
    if not states.should_refer(
        required=required,
        previously_required=previously_required,
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
        urgency=states.urgency_for(
            report.event_groups, report.life_threatening, emergency_groups=emergency_groups()
        ),
        triage_reasons=_triage_reasons(decision),
        treatment_given=report.treatment,
        contact_name=report.reporter_name,
        contact_phone=report.reporter_phone,
        family_contact=family[:200],
        sent_at=clock.now(),
        created_by_id=actor.user_id if actor else None,
    )
    # What the site gave and measured, from the report's emergency block (its repeats,
    # route and treatment times stay on the report, where the referral pages read them).
    for name, value in emergency.referral_details(emergency.read(report.emergency)).items():
        setattr(ref, name, value)
    if ref.temperature_c is None:
        ref.temperature_c = report.max_temperature_c
    _send(session, actor, ref, report)
    session.flush()
    return ref


def send_referral(session: Session, actor: Actor, report_id: int, data: ReferralIn) -> Referral:
    """The physician's referral form: send a referral for the report, or complete the open
    one (triage's, or an earlier send) with vital signs, what was given and transport."""
    require_role(actor, *REQUESTERS)
    report = intake_access.get_report(session, actor, report_id)
    ref = open_of_report(session, report.id)
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
        repeats_changed = _edit_adrenaline(session, actor, report, ref, data)
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
        if changes or repeats_changed:
            tell_hospital(
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
    _edit_adrenaline(session, actor, report, ref, data)
    _send(session, actor, ref, report)
    session.commit()
    return ref


def _edit_adrenaline(
    session: Session, actor: Actor, report: Report, ref: Referral, data: ReferralIn
) -> bool:
    """The route and repeats the form edits live in the report's emergency block (one home,
    read by the referral pages and the hand-over); the first dose is the referral's. Audited
    on the report; True when the block changed."""
    if not (data.model_fields_set & set(REPORT_FIELDS)):
        return False
    try:
        after = emergency.with_adrenaline(
            report.emergency,
            dose_mg=ref.adrenaline_mg,
            at=ref.adrenaline_at,
            route=data.adrenaline_route,
            repeats=data.adrenaline_repeats,
        )
    except (ValueError, ValidationError) as exc:
        session.rollback()
        message = (
            "Each repeat dose needs a time after the first dose, "
            "and the first dose its dose and time."
        )
        raise Invalid(message, fields={"adrenaline_repeats": message}) from exc
    before = report.emergency or {}
    if after == before:
        return False
    report.emergency = after or None
    session.add(report)
    session.flush()
    audit.record(
        session,
        actor,
        "update",
        "report",
        report.id,
        changes={"emergency": [before, after]},
        summary=report.number,
        county_id=report.county_id,
    )
    return True


def _stored(name: str, value: Any) -> Any:
    """A form value as the column keeps it: enums by value, a missing text as ""."""
    if value is None:
        default = Referral.model_fields[name].default
        return default if isinstance(default, str) else None
    return value.value if hasattr(value, "value") else value
