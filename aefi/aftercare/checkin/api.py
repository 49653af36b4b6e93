"""The check-in through the API (an app or an SMS gateway that opened the link for the
vaccinee): the same personal link, the same rules and limits as the page."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from aefi.aftercare.checkin import service
from aefi.aftercare.checkin.views import rate_limited
from aefi.aftercare.schemas import AnswerIn
from aefi.aftercare.tokens import TokenRejected
from aefi.deps import SessionDep
from aefi.errors import NotFound
from aefi.settings import get_settings

router = APIRouter(prefix="/api/v1", tags=["aftercare"])


def _page(session, token: str):
    try:
        return service.link_page(session, token, get_settings())
    except TokenRejected:
        raise NotFound("This link is not valid (or no longer valid).") from None


@router.get("/checkin/{token}", dependencies=[Depends(rate_limited)])
def checkin_status(token: str, session: SessionDep) -> dict:
    page = _page(session, token)
    return {
        "vaccine": page.vaccine.name,
        "given_on": page.given_on.isoformat(),
        "days": list(page.days),
        "day_due": page.day_due,
        "answered_days": sorted(page.answered_days),
        "site_phone": page.site.phone,
        "hospital": (
            {
                "name": page.hospital.name,
                "phone": page.hospital.phone,
                "address": page.hospital.address,
            }
            if page.hospital
            else None
        ),
        "emergency_number": page.emergency_number,
    }


@router.post("/checkin/{token}", status_code=201, dependencies=[Depends(rate_limited)])
def checkin_answer(token: str, data: AnswerIn, session: SessionDep) -> dict:
    _page(session, token)
    recorded = service.record_answer(session, token, data, get_settings())
    return {
        "id": recorded.checkin.id,
        "day": recorded.checkin.day,
        "red_flags": recorded.red_flags,
        "self_report_id": recorded.self_report.id if recorded.self_report else None,
    }
