"""Referral JSON API: the physician sends a referral for a report (API.md, referral)."""

from __future__ import annotations

from fastapi import APIRouter, status

from aefi.deps import ApiActor, SessionDep
from aefi.referral.inbox.api import one
from aefi.referral.schemas import ReferralIn, ReferralOut
from aefi.referral.sending import service as sending
from aefi.types import Id

router = APIRouter(prefix="/api/v1", tags=["referral"])


@router.post(
    "/reports/{report_id}/referral", status_code=status.HTTP_201_CREATED, response_model=ReferralOut
)
def send_referral(
    report_id: Id, body: ReferralIn, session: SessionDep, actor: ApiActor
) -> ReferralOut:
    """Send a referral for a report to its site's green-channel hospital, or complete the
    open one with vital signs, treatment given and transport."""
    ref = sending.send_referral(session, actor, report_id, body)
    return one(session, actor, ref.id)
