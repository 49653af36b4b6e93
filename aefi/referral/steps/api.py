"""Referral JSON API: the green channel's steps (API.md, referral section). Each answers
with the referral as the caller may now see it; a step the status does not allow is 409,
another hospital's referral 404, a role that may not take the step 403."""

from __future__ import annotations

from fastapi import APIRouter

from aefi.deps import ApiActor, SessionDep
from aefi.referral.inbox.api import one
from aefi.referral.schemas import AdmitIn, DischargeIn, NoteIn, OutcomeIn, ReasonIn, ReferralOut
from aefi.referral.states import Result
from aefi.referral.steps import service as steps
from aefi.types import Id

router = APIRouter(prefix="/api/v1", tags=["referral"])


@router.post("/referrals/{referral_id}/acknowledge", response_model=ReferralOut)
def acknowledge(
    referral_id: Id, session: SessionDep, actor: ApiActor, body: NoteIn | None = None
) -> ReferralOut:
    steps.acknowledge(session, actor, referral_id, note=(body.note if body else ""))
    return one(session, actor, referral_id)


@router.post("/referrals/{referral_id}/arrive", response_model=ReferralOut)
def arrive(referral_id: Id, session: SessionDep, actor: ApiActor) -> ReferralOut:
    steps.record_arrival(session, actor, referral_id)
    return one(session, actor, referral_id)


@router.post("/referrals/{referral_id}/admit", response_model=ReferralOut)
def admit(
    referral_id: Id, session: SessionDep, actor: ApiActor, body: AdmitIn | None = None
) -> ReferralOut:
    steps.admit(session, actor, referral_id, body or AdmitIn())
    return one(session, actor, referral_id)


@router.post("/referrals/{referral_id}/discharge", response_model=ReferralOut)
def discharge(
    referral_id: Id, body: DischargeIn, session: SessionDep, actor: ApiActor
) -> ReferralOut:
    steps.record_outcome(
        session, actor, referral_id, OutcomeIn(result=Result.discharged, **body.model_dump())
    )
    return one(session, actor, referral_id)


@router.post("/referrals/{referral_id}/outcome", response_model=ReferralOut)
def outcome(referral_id: Id, body: OutcomeIn, session: SessionDep, actor: ApiActor) -> ReferralOut:
    """Discharged, transferred (name ``transferred_to``) or died, with the diagnosis."""
    steps.record_outcome(session, actor, referral_id, body)
    return one(session, actor, referral_id)


@router.post("/referrals/{referral_id}/decline", response_model=ReferralOut)
def decline(referral_id: Id, body: ReasonIn, session: SessionDep, actor: ApiActor) -> ReferralOut:
    """Decline with ``{reason}``; the referral goes at once to the site's backup hospital
    (``rerouted: true``). The new leg is not the declining hospital's to see."""
    steps.decline(session, actor, referral_id, body.reason)
    return one(session, actor, referral_id)


@router.post("/referrals/{referral_id}/reroute", response_model=ReferralOut)
def reroute(
    referral_id: Id, session: SessionDep, actor: ApiActor, body: ReasonIn | None = None
) -> ReferralOut:
    """The sending side stops waiting and sends it to the next hospital: returns the new leg."""
    leg = steps.reroute(session, actor, referral_id, reason=(body.reason if body else ""))
    return one(session, actor, leg.id)


@router.post("/referrals/{referral_id}/cancel", response_model=ReferralOut)
def cancel(referral_id: Id, body: ReasonIn, session: SessionDep, actor: ApiActor) -> ReferralOut:
    steps.cancel(session, actor, referral_id, reason=body.reason)
    return one(session, actor, referral_id)
