"""The green channel's steps as forms: the hospital's and the sender's buttons on a
referral, and the send form of a report."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from aefi import i18n
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.referral.inbox import views as inbox_views
from aefi.referral.page_context import FIELD_MESSAGES
from aefi.referral.schemas import AdmitIn, OutcomeIn
from aefi.referral.steps import service
from aefi.types import Id
from aefi.web import (
    flash,
    is_htmx,
    verify_csrf,
)

router = APIRouter(dependencies=[Depends(verify_csrf)])

CHANGED = {"HX-Trigger": "referrals-changed"}


def _done(request: Request, referral_id: Id, form, message: str = "") -> Response:
    """After a step: htmx callers refresh their lists; forms go back where they came from."""
    if is_htmx(request):
        return Response(status_code=204, headers=CHANGED)
    if message:
        flash(request, message, "success")
    target = str(form.get("next") or "")
    # Only a path of this site: "//host" and "/\\host" would leave it.
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        target = f"/referrals/{referral_id}"
    return RedirectResponse(target, status_code=303)


def _invalid(request, session, actor, referral_id, exc: Invalid, form) -> Response:
    errors = {k: i18n.gettext(FIELD_MESSAGES.get(v, v)) for k, v in exc.fields.items()}
    errors.setdefault("_", i18n.gettext(exc.message, **exc.params))
    return inbox_views.detail_response(
        request, session, actor, referral_id, errors=errors, values=dict(form), status=422
    )


@router.post("/referrals/{referral_id:int}/acknowledge")
async def acknowledge(request: Request, referral_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    service.acknowledge(session, actor, referral_id, note=str(form.get("note") or ""))
    return _done(request, referral_id, form, i18n.gettext("Acknowledged."))


@router.post("/referrals/{referral_id:int}/arrive")
async def arrive(request: Request, referral_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    service.record_arrival(session, actor, referral_id)
    return _done(request, referral_id, form, i18n.gettext("Arrival recorded."))


@router.post("/referrals/{referral_id:int}/admit")
async def admit(request: Request, referral_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    data = AdmitIn(ward=str(form.get("ward") or ""), note=str(form.get("note") or ""))
    service.admit(session, actor, referral_id, data)
    return _done(request, referral_id, form, i18n.gettext("Admission recorded."))


@router.post("/referrals/{referral_id:int}/outcome")
async def outcome(request: Request, referral_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    try:
        data = OutcomeIn(
            result=str(form.get("result") or ""),
            diagnosis=str(form.get("diagnosis") or ""),
            patient_outcome=str(form.get("patient_outcome") or "") or None,
            transferred_to=str(form.get("transferred_to") or ""),
            note=str(form.get("note") or ""),
        )
        service.record_outcome(session, actor, referral_id, data)
    except ValidationError as exc:
        fields = {str(e["loc"][0]): "required" for e in exc.errors()}
        exc = Invalid("Some fields need correcting.", fields=fields)
        return _invalid(request, session, actor, referral_id, exc, form)
    except Invalid as exc:
        return _invalid(request, session, actor, referral_id, exc, form)
    return _done(request, referral_id, form, i18n.gettext("Outcome recorded."))


@router.post("/referrals/{referral_id:int}/decline")
async def decline(request: Request, referral_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    try:
        service.decline(session, actor, referral_id, str(form.get("reason") or ""))
    except Invalid as exc:
        return _invalid(request, session, actor, referral_id, exc, form)
    return _done(request, referral_id, form, i18n.gettext("Declined; the site has been told."))


@router.post("/referrals/{referral_id:int}/reroute")
async def reroute(request: Request, referral_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    leg = service.reroute(session, actor, referral_id, reason=str(form.get("reason") or ""))
    return _done(request, leg.id, form, i18n.gettext("Re-routed to the backup hospital."))


@router.post("/referrals/{referral_id:int}/cancel")
async def cancel(request: Request, referral_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    try:
        service.cancel(session, actor, referral_id, reason=str(form.get("reason") or ""))
    except Invalid as exc:
        return _invalid(request, session, actor, referral_id, exc, form)
    return _done(request, referral_id, form, i18n.gettext("Referral cancelled."))
