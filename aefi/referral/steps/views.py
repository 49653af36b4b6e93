"""The green channel's steps as forms: the hospital's and the sender's buttons on a
referral, and the send form of a report."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from aefi import i18n
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.forms import FormErrors, entered, parse_form, read_form
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


class StepForm(BaseModel):
    """A step's button: an optional note or reason, and the page to go back to."""

    next: str = ""
    note: str = ""
    reason: str = ""


class AdmitForm(StepForm, AdmitIn):
    pass


class OutcomeForm(StepForm, OutcomeIn):
    pass


async def _step_form(request: Request, model: type[StepForm] = StepForm) -> StepForm:
    data = await parse_form(request, model)
    return data if isinstance(data, StepForm) else StepForm()


def _done(request: Request, referral_id: Id, form: StepForm, message: str = "") -> Response:
    """After a step: htmx callers refresh their lists; forms go back where they came from."""
    if is_htmx(request):
        return Response(status_code=204, headers=CHANGED)
    if message:
        flash(request, message, "success")
    target = form.next
    # Only a path of this site: "//host" and "/\\host" would leave it.
    if not target.startswith("/") or target.startswith(("//", "/\\")):
        target = f"/referrals/{referral_id}"
    return RedirectResponse(target, status_code=303)


def _invalid(request, session, actor, referral_id, exc: Invalid, values) -> Response:
    errors = {k: i18n.gettext(FIELD_MESSAGES.get(v, v)) for k, v in exc.fields.items()}
    errors.setdefault("_", i18n.gettext(exc.message, **exc.params))
    return inbox_views.detail_response(
        request, session, actor, referral_id, errors=errors, values=values, status=422
    )


@router.post("/referrals/{referral_id:int}/acknowledge")
async def acknowledge(request: Request, referral_id: Id, session: SessionDep, actor: WebActor):
    form = await _step_form(request)
    service.acknowledge(session, actor, referral_id, note=form.note)
    return _done(request, referral_id, form, i18n.gettext("Acknowledged."))


@router.post("/referrals/{referral_id:int}/arrive")
async def arrive(request: Request, referral_id: Id, session: SessionDep, actor: WebActor):
    form = await _step_form(request)
    service.record_arrival(session, actor, referral_id)
    return _done(request, referral_id, form, i18n.gettext("Arrival recorded."))


@router.post("/referrals/{referral_id:int}/admit")
async def admit(request: Request, referral_id: Id, session: SessionDep, actor: WebActor):
    form = await _step_form(request, AdmitForm)
    data = AdmitIn.model_validate(form.model_dump(include=set(AdmitIn.model_fields)))
    service.admit(session, actor, referral_id, data)
    return _done(request, referral_id, form, i18n.gettext("Admission recorded."))


@router.post("/referrals/{referral_id:int}/outcome")
async def outcome(request: Request, referral_id: Id, session: SessionDep, actor: WebActor):
    raw = await request.form()
    form = read_form(raw, OutcomeForm)
    try:
        if isinstance(form, FormErrors):
            fields = dict.fromkeys(form.fields, "required")
            raise Invalid("Some fields need correcting.", fields=fields)
        data = OutcomeIn.model_validate(form.model_dump(include=set(OutcomeIn.model_fields)))
        service.record_outcome(session, actor, referral_id, data)
    except Invalid as exc:
        return _invalid(request, session, actor, referral_id, exc, entered(raw))
    return _done(request, referral_id, form, i18n.gettext("Outcome recorded."))


@router.post("/referrals/{referral_id:int}/decline")
async def decline(request: Request, referral_id: Id, session: SessionDep, actor: WebActor):
    raw = await request.form()
    form = read_form(raw, StepForm)
    assert isinstance(form, StepForm)  # every input is optional text
    try:
        service.decline(session, actor, referral_id, form.reason)
    except Invalid as exc:
        return _invalid(request, session, actor, referral_id, exc, entered(raw))
    return _done(request, referral_id, form, i18n.gettext("Declined; the site has been told."))


@router.post("/referrals/{referral_id:int}/reroute")
async def reroute(request: Request, referral_id: Id, session: SessionDep, actor: WebActor):
    form = await _step_form(request)
    leg = service.reroute(session, actor, referral_id, reason=form.reason)
    return _done(request, leg.id, form, i18n.gettext("Re-routed to the backup hospital."))


@router.post("/referrals/{referral_id:int}/cancel")
async def cancel(request: Request, referral_id: Id, session: SessionDep, actor: WebActor):
    raw = await request.form()
    form = read_form(raw, StepForm)
    assert isinstance(form, StepForm)  # every input is optional text
    try:
        service.cancel(session, actor, referral_id, reason=form.reason)
    except Invalid as exc:
        return _invalid(request, session, actor, referral_id, exc, entered(raw))
    return _done(request, referral_id, form, i18n.gettext("Referral cancelled."))
