"""Pages of the green channel: the hospital inbox (also the hospital's home page), one
referral with its steps, the physician's referral form, the status block of a report page
and the hand-over sheet."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from aefi import home, i18n, navigation
from aefi.auth.models import Role, User
from aefi.auth.permissions import Actor
from aefi.db import session_scope
from aefi.deps import SessionDep, WebActor
from aefi.errors import DomainError, Invalid
from aefi.i18n import N_
from aefi.intake import symptoms
from aefi.intake import views as intake_views
from aefi.intake.models import Outcome
from aefi.referral import service, states
from aefi.referral.models import LABELS
from aefi.referral.schemas import RANGES, AdmitIn, OutcomeIn, ReferralIn
from aefi.referral.states import Consciousness, Result, Transport, Urgency
from aefi.types import Id, PageNo
from aefi.web import (
    BANNER_PROVIDERS,
    flash,
    is_htmx,
    parse_local,
    render,
    templates,
    verify_csrf,
)

router = APIRouter(dependencies=[Depends(verify_csrf)])

navigation.add((Role.hospital,), "/referrals", N_("Referral inbox"), position=1)
navigation.add(
    (Role.reporter, Role.investigator, Role.bureau, Role.admin), "/referrals", N_("Referrals")
)

CHANGED = {"HX-Trigger": "referrals-changed"}
OPTIONS = {
    "urgency": [u.value for u in Urgency],
    "transport": [t.value for t in Transport],
    "consciousness": [c.value for c in Consciousness],
    "result": [r.value for r in Result],
    "patient_outcome": [Outcome.recovered, Outcome.recovering, Outcome.sequelae, Outcome.unknown],
}


def _base(**ctx: Any) -> dict[str, Any]:
    return {
        "labels": LABELS,
        "states": states,
        "options": OPTIONS,
        "groups": symptoms.EVENT_GROUPS,
        **ctx,
    }


# --- inbox -------------------------------------------------------------------------------


def inbox_page(request: Request, session, actor: Actor, show: str = "open", page: PageNo = 1):
    show = show if show in ("open", "closed", "all") else "open"
    rows, total = service.list_referrals(session, actor, show=show, page=max(page, 1))
    ctx = _base(
        rows=rows,
        total=total,
        show=show,
        page=max(page, 1),
        per_page=50,
        awaiting=service.awaiting_count(session, actor),
        timing=service.timing(session, actor),
        actor=actor,
        ack_minutes=service.ack_minutes(),
    )
    return render(request, "referral/inbox.html", ctx, block="live")


@router.get("/referrals")
def inbox(
    request: Request, session: SessionDep, actor: WebActor, show: str = "open", page: PageNo = 1
):
    return inbox_page(request, session, actor, show, page)


# The hospital's home is its inbox.
home.HOME_VIEWS[Role.hospital] = inbox_page


def _banner(user: User) -> list:
    """Above every page: a hospital's unacknowledged referrals; escalations for the rest."""
    if user.role not in (Role.hospital, Role.reporter, Role.bureau, Role.investigator):
        return []
    actor = Actor.of(user)
    with session_scope() as session:
        if actor.role == Role.hospital:
            n = service.awaiting_count(session, actor)
            text = i18n.gettext("Green-channel referrals awaiting acknowledgement: {n}", n=n)
            return [_Banner("danger", text, "/referrals")] if n else []
        n = service.escalated_count(session, actor)
        text = i18n.gettext(
            "Referrals not acknowledged in time: {n}. Call the hospital or re-route.", n=n
        )
        return [_Banner("warning", text, "/referrals")] if n else []


class _Banner:
    def __init__(self, level: str, text: str, link: str) -> None:
        self.level, self.text, self.link = level, text, link


BANNER_PROVIDERS.append(_banner)


# --- one referral ------------------------------------------------------------------------


def _detail(request, session, actor, referral_id, *, errors=None, values=None, status=200):
    view = service.get_referral(session, actor, referral_id)
    ctx = _base(v=view, r=view.referral, errors=errors or {}, values=values or {}, actor=actor)
    return render(request, "referral/detail.html", ctx, block="status", status_code=status)


@router.get("/referrals/{referral_id:int}")
def detail(request: Request, referral_id: Id, session: SessionDep, actor: WebActor):
    return _detail(request, session, actor, referral_id)


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
    return _detail(
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


@router.get("/referrals/{referral_id:int}/handover.pdf")
def handover(referral_id: Id, session: SessionDep, actor: WebActor):
    pdf = service.handover_pdf(session, actor, referral_id)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="referral-{referral_id}.pdf"'},
    )


# --- the report's side -------------------------------------------------------------------


@router.get("/reports/{report_id:int}/referral-status")
def referral_status(request: Request, report_id: Id, session: SessionDep, actor: WebActor):
    """The live referral block of a report page (polled every 3 s)."""
    rs = service.report_referrals(session, actor, report_id)
    return render(request, "referral/status.html", _base(rs=rs))


def report_section(session, actor: Actor, report) -> str | None:
    """The referral block of intake's report page (its REPORT_SECTIONS hook): rendered at
    once, then it refreshes itself from /reports/{id}/referral-status."""
    try:
        rs = service.report_referrals(session, actor, report.id)
    except DomainError:
        return None
    return templates().env.get_template("referral/status.html").render(_base(rs=rs))


intake_views.REPORT_SECTIONS["referral"] = report_section


def _form_page(request, session, actor, report_id, values, errors, status=200):
    rs = service.report_referrals(session, actor, report_id)
    ctx = _base(rs=rs, report_id=report_id, values=values, errors=errors, ranges=RANGES)
    return render(request, "referral/form.html", ctx, status_code=status)


@router.get("/reports/{report_id:int}/referral")
def referral_form(request: Request, report_id: Id, session: SessionDep, actor: WebActor):
    values = service.form_defaults(session, actor, report_id)
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
