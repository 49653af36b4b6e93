"""Referral JSON API (API.md, referral section).

``GET /api/v1/referrals``: a hospital gets those addressed to it, a site's physician those
of the site, the county roles the county's. The steps answer with the referral as the
caller may now see it; a step the status does not allow is 409, another hospital's
referral 404, a role that may not take the step 403."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlmodel import Session

from aefi.deps import ApiActor, SessionDep
from aefi.referral.inbox import service as inbox
from aefi.referral.schemas import (
    AdmitIn,
    DischargeIn,
    DoseOut,
    EventOut,
    HospitalOut,
    NoteIn,
    OutcomeIn,
    PatientOut,
    ReasonIn,
    ReferralIn,
    ReferralList,
    ReferralOut,
    VitalsOut,
)
from aefi.referral.sending import service as sending
from aefi.referral.states import Result
from aefi.referral.steps import service as steps
from aefi.types import Id, PageNo

router = APIRouter(prefix="/api/v1", tags=["referral"])


def present(view: inbox.ReferralView) -> ReferralOut:
    r, h, p, e = view.referral, view.hospital, view.patient, view.event
    return ReferralOut(
        id=r.id,
        report_id=r.report_id,
        report_number=view.report_number,
        leg=r.leg,
        previous_id=r.previous_id,
        status=r.status,
        origin=r.origin,
        urgency=r.urgency,
        reason=r.reason,
        triage_reasons=r.triage_reasons,
        hospital=HospitalOut(id=h.id, code=h.code, name=h.name, name_en=h.name_en, phone=h.phone),
        site_code=view.site.code,
        site_name=view.site.name,
        patient=PatientOut(
            name=p.name,
            sex=p.sex,
            birth_date=p.birth_on,
            id_number=p.id_number,
            guardian_name=p.guardian_name,
            phone=p.phone,
        ),
        event=EventOut(
            onset_at=e.onset_at,
            symptoms=e.symptoms,
            event_groups=e.event_groups,
            description=e.description,
            max_temperature_c=e.max_temperature_c,
        ),
        doses=[
            DoseOut(
                vaccine_code=d.vaccine_code,
                vaccine_name=d.vaccine_name,
                manufacturer=d.manufacturer,
                lot_number=d.lot_number,
                dose_number=d.dose_number,
                route=d.route,
                administered_at=d.administered_at,
            )
            for d in view.doses
        ],
        adrenaline_mg=r.adrenaline_mg,
        adrenaline_at=r.adrenaline_at,
        treatment_given=r.treatment_given,
        vitals=VitalsOut(
            at=r.vitals_at,
            weight_kg=r.weight_kg,
            bp_systolic=r.bp_systolic,
            bp_diastolic=r.bp_diastolic,
            heart_rate=r.heart_rate,
            resp_rate=r.resp_rate,
            spo2=r.spo2,
            temperature_c=r.temperature_c,
            consciousness=r.consciousness,
        ),
        transport=r.transport,
        contact_name=r.contact_name,
        contact_phone=r.contact_phone,
        family_contact=r.family_contact,
        sent_at=r.sent_at,
        escalated_at=r.escalated_at,
        acknowledged_at=r.acknowledged_at,
        arrived_at=r.arrived_at,
        admitted_at=r.admitted_at,
        closed_at=r.closed_at,
        minutes_to_acknowledge=r.minutes_to_acknowledge,
        minutes_to_arrival=r.minutes_to_arrival,
        acknowledged_by=r.acknowledged_by,
        ward=r.ward,
        decline_reason=r.decline_reason,
        withdraw_reason=r.withdraw_reason,
        rerouted=view.rerouted,
        result=r.result,
        diagnosis=r.diagnosis,
        patient_outcome=r.patient_outcome,
        transferred_to=r.transferred_to,
    )


def _one(session: Session, actor, referral_id: Id) -> ReferralOut:
    return present(inbox.get_referral(session, actor, referral_id, with_trail=False))


@router.get("/referrals", response_model=ReferralList)
def list_referrals(
    session: SessionDep,
    actor: ApiActor,
    show: Annotated[str, Query(pattern="^(open|closed|all)$")] = "all",
    page: Annotated[PageNo, Query()] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReferralList:
    rows, total = inbox.list_referrals(session, actor, show=show, page=page, per_page=per_page)
    views = inbox.referrals_for_api(session, actor, rows)
    return ReferralList(
        items=[present(v) for v in views], total=total, page=page, per_page=per_page
    )


@router.get("/referrals/{referral_id}", response_model=ReferralOut)
def get_referral(referral_id: Id, session: SessionDep, actor: ApiActor) -> ReferralOut:
    return _one(session, actor, referral_id)


@router.post(
    "/reports/{report_id}/referral", status_code=status.HTTP_201_CREATED, response_model=ReferralOut
)
def send_referral(
    report_id: Id, body: ReferralIn, session: SessionDep, actor: ApiActor
) -> ReferralOut:
    """Send a referral for a report to its site's green-channel hospital, or complete the
    open one with vital signs, treatment given and transport."""
    ref = sending.send_referral(session, actor, report_id, body)
    return _one(session, actor, ref.id)


@router.post("/referrals/{referral_id}/acknowledge", response_model=ReferralOut)
def acknowledge(
    referral_id: Id, session: SessionDep, actor: ApiActor, body: NoteIn | None = None
) -> ReferralOut:
    steps.acknowledge(session, actor, referral_id, note=(body.note if body else ""))
    return _one(session, actor, referral_id)


@router.post("/referrals/{referral_id}/arrive", response_model=ReferralOut)
def arrive(referral_id: Id, session: SessionDep, actor: ApiActor) -> ReferralOut:
    steps.record_arrival(session, actor, referral_id)
    return _one(session, actor, referral_id)


@router.post("/referrals/{referral_id}/admit", response_model=ReferralOut)
def admit(
    referral_id: Id, session: SessionDep, actor: ApiActor, body: AdmitIn | None = None
) -> ReferralOut:
    steps.admit(session, actor, referral_id, body or AdmitIn())
    return _one(session, actor, referral_id)


@router.post("/referrals/{referral_id}/discharge", response_model=ReferralOut)
def discharge(
    referral_id: Id, body: DischargeIn, session: SessionDep, actor: ApiActor
) -> ReferralOut:
    steps.record_outcome(
        session, actor, referral_id, OutcomeIn(result=Result.discharged, **body.model_dump())
    )
    return _one(session, actor, referral_id)


@router.post("/referrals/{referral_id}/outcome", response_model=ReferralOut)
def outcome(referral_id: Id, body: OutcomeIn, session: SessionDep, actor: ApiActor) -> ReferralOut:
    """Discharged, transferred (name ``transferred_to``) or died, with the diagnosis."""
    steps.record_outcome(session, actor, referral_id, body)
    return _one(session, actor, referral_id)


@router.post("/referrals/{referral_id}/decline", response_model=ReferralOut)
def decline(referral_id: Id, body: ReasonIn, session: SessionDep, actor: ApiActor) -> ReferralOut:
    """Decline with ``{reason}``; the referral goes at once to the site's backup hospital
    (``rerouted: true``). The new leg is not the declining hospital's to see."""
    steps.decline(session, actor, referral_id, body.reason)
    return _one(session, actor, referral_id)


@router.post("/referrals/{referral_id}/reroute", response_model=ReferralOut)
def reroute(
    referral_id: Id, session: SessionDep, actor: ApiActor, body: ReasonIn | None = None
) -> ReferralOut:
    """The sending side stops waiting and sends it to the next hospital: returns the new leg."""
    leg = steps.reroute(session, actor, referral_id, reason=(body.reason if body else ""))
    return _one(session, actor, leg.id)


@router.post("/referrals/{referral_id}/cancel", response_model=ReferralOut)
def cancel(referral_id: Id, body: ReasonIn, session: SessionDep, actor: ApiActor) -> ReferralOut:
    steps.cancel(session, actor, referral_id, reason=body.reason)
    return _one(session, actor, referral_id)
