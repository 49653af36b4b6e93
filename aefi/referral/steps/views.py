"""The green channel's steps as forms: the hospital's and the sender's buttons on a
referral, and the send form of a report."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from aefi import i18n
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.i18n import N_
from aefi.referral.inbox import service as inbox
from aefi.referral.inbox import views as inbox_views
from aefi.referral.page_context import page_context
from aefi.referral.schemas import RANGES, AdmitIn, OutcomeIn, ReferralIn
from aefi.referral.steps import service
from aefi.types import Id
from aefi.web import (
    flash,
    is_htmx,
    parse_local,
    render,
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
    errors = {k: i18n.gettext(_FIELD_MESSAGES.get(v, v)) for k, v in exc.fields.items()}
    errors.setdefault("_", i18n.gettext(exc.message, **exc.params))
    return inbox_views.detail_response(
        request, session, actor, referral_id, errors=errors, values=dict(form), status=422
    )


_FIELD_MESSAGES = {
    "required": N_("Required."),
    "Enter the diagnosis.": N_("Enter the diagnosis."),
}


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


# --- sending by hand ----------------------------------------------------------------------


def _form_page(request, session, actor, report_id, values, errors, status=200):
    rs = inbox.report_referrals(session, actor, report_id)
    ctx = page_context(rs=rs, report_id=report_id, values=values, errors=errors, ranges=RANGES)
    return render(request, "referral/form.html", ctx, status_code=status)


@router.get("/reports/{report_id:int}/referral")
def referral_form(request: Request, report_id: Id, session: SessionDep, actor: WebActor):
    values = inbox.form_defaults(session, actor, report_id)
    return _form_page(request, session, actor, report_id, values, {})


_NUMBERS = ("adrenaline_mg", "weight_kg", "temperature_c")
_INTEGERS = ("bp_systolic", "bp_diastolic", "heart_rate", "resp_rate", "spo2")
_TIMES = ("adrenaline_at", "vitals_at")
_TEXTS = ("reason", "treatment_given", "contact_name", "contact_phone", "family_contact")


def parse_referral_form(form) -> tuple[ReferralIn | None, dict[str, Any], dict[str, str]]:
    """The form as typed (kept on error), the parsed input, and a message per bad field."""
    values = {k: str(v).strip() for k, v in form.items() if k != "csrf_token"}
    errors: dict[str, str] = {}
    data: dict[str, Any] = {}
    for name, value in values.items():
        if name not in ReferralIn.model_fields:
            continue
        if value == "":
            # A field cleared on the form clears the stored value.
            data[name] = "" if name in _TEXTS else None
        elif name in _TIMES:
            try:
                data[name] = parse_local(value)
            except ValueError:
                errors[name] = i18n.gettext("Enter a date and time.")
        elif name in _NUMBERS or name in _INTEGERS:
            try:
                number = float(value.replace(",", "."))
                data[name] = round(number) if name in _INTEGERS else number
            except ValueError:
                errors[name] = i18n.gettext("Enter a number.")
        else:
            data[name] = value
    try:
        parsed = ReferralIn(**{k: v for k, v in data.items() if k not in errors})
    except ValidationError as exc:
        parsed = None
        for e in exc.errors():
            name = str(e["loc"][0])
            if name in RANGES:
                lo, hi = RANGES[name]
                errors[name] = i18n.gettext("Between {lo} and {hi}.", lo=f"{lo:g}", hi=f"{hi:g}")
            else:
                errors[name] = i18n.gettext("Check this value.")
    return (None if errors else parsed), values, errors


@router.post("/reports/{report_id:int}/referral")
async def send_referral(request: Request, report_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    data, values, errors = parse_referral_form(form)
    if data is not None:
        try:
            service.send_referral(session, actor, report_id, data)
        except Invalid as exc:
            errors = {k: i18n.gettext(_FIELD_MESSAGES.get(v, v)) for k, v in exc.fields.items()}
            errors["_"] = i18n.gettext(exc.message, **exc.params)
        else:
            flash(request, i18n.gettext("Saved; the hospital has been told."), "success")
            return RedirectResponse(f"/reports/{report_id}", status_code=303)
    if "_" not in errors:
        errors["_"] = i18n.gettext("Some fields need correcting.")
    return _form_page(request, session, actor, report_id, values, errors, status=422)
