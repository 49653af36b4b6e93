"""Referral JSON API, the inbox (API.md, referral section).

``GET /api/v1/referrals``: a hospital gets those addressed to it, a site's physician those
of the site, the county roles the county's. The steps (``steps/api.py``) answer with the
referral as the caller may now see it (``one``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import Session

from aefi import exporting, listing
from aefi.deps import ApiActor, SessionDep
from aefi.referral.inbox import export as referral_export
from aefi.referral.inbox import service as inbox
from aefi.referral.schemas import (
    DoseOut,
    EventOut,
    HospitalOut,
    PatientOut,
    ReferralList,
    ReferralOut,
    VitalsOut,
)
from aefi.types import Id

router = APIRouter(prefix="/api/v1", tags=["referral"])


def present(view: inbox.ReferralView) -> ReferralOut:
    """The referral as the caller may see it: the row's own fields, and the hospital,
    patient, event and doses the view loaded (the ID number already masked)."""
    r = view.referral
    own = r.model_dump()
    return ReferralOut.model_validate(
        {
            **own,
            "minutes_to_acknowledge": r.minutes_to_acknowledge,
            "minutes_to_arrival": r.minutes_to_arrival,
            "report_number": view.report_number,
            "hospital": HospitalOut.model_validate(view.hospital, from_attributes=True),
            "site_code": view.site.code,
            "site_name": view.site.name,
            "patient": PatientOut.model_validate(
                {**asdict(view.patient), "birth_date": view.patient.birth_on}
            ),
            "event": EventOut.model_validate(view.event, from_attributes=True),
            "doses": [DoseOut.model_validate(d, from_attributes=True) for d in view.doses],
            "vitals": VitalsOut.model_validate({**own, "at": r.vitals_at}),
            "rerouted": view.rerouted,
            "emergency": view.emergency,
        }
    )


def one(session: Session, actor, referral_id: Id) -> ReferralOut:
    """A referral as the caller may now see it, after a step."""
    return present(inbox.get_referral(session, actor, referral_id, with_trail=False))


@dataclass(frozen=True)
class ReferralParams:
    """The referral list's filters as the API takes them (all referrals unless ``show``)."""

    show: Annotated[str, Query(pattern="^(open|closed|all)$")] = "all"
    sort: Annotated[str, Query(pattern=listing.sort_pattern(inbox.REFERRAL_SORTS))] = ""


@router.get("/referrals", response_model=ReferralList, responses=exporting.API_RESPONSES)
def list_referrals(
    session: SessionDep,
    actor: ApiActor,
    params: Annotated[ReferralParams, Depends()],
    at: Annotated[listing.ApiPaging, Depends()],
    format: exporting.ApiFormat = "json",
) -> ReferralList:
    """``sort``: sent, patient, report, hospital, site, urgency, status or acknowledged
    (``-`` descending); empty: unacknowledged first, then newest."""
    if format != "json":
        return exporting.export_list(
            session,
            actor,
            referral_export.REFERRALS,
            lambda n, size: inbox.list_referrals(
                session, actor, **asdict(params), page=n, per_page=size
            ),
            fmt=format,
            filter_text="&".join(f"{k}={v}" for k, v in asdict(params).items() if v),
        )
    rows, total = inbox.list_referrals(
        session, actor, **asdict(params), page=at.page, per_page=at.per_page
    )
    views = inbox.referrals_for_api(session, actor, rows)
    return ReferralList(
        items=[present(v) for v in views], total=total, page=at.page, per_page=at.per_page
    )


@router.get("/referrals/{referral_id}", response_model=ReferralOut)
def get_referral(referral_id: Id, session: SessionDep, actor: ApiActor) -> ReferralOut:
    return one(session, actor, referral_id)
