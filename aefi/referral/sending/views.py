"""The send form of a report: the physician refers the patient by hand."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from aefi import i18n
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.intake.emergency import MAX_REPEATS, AdrenalineRoute
from aefi.referral.inbox import service as inbox
from aefi.referral.page_context import FIELD_MESSAGES, page_context
from aefi.referral.schemas import RANGES, ReferralIn
from aefi.referral.sending import service
from aefi.types import Id
from aefi.web import (
    flash,
    parse_local,
    render,
    verify_csrf,
)

router = APIRouter(dependencies=[Depends(verify_csrf)])


def _form_page(request, session, actor, report_id, values, errors, status=200):
    rs = inbox.report_referrals(session, actor, report_id)
    ctx = page_context(
        rs=rs,
        report_id=report_id,
        values=values,
        errors=errors,
        ranges=RANGES,
        max_repeats=MAX_REPEATS,
    )
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
    if any(k == "adrenaline_route" or k.startswith("repeat_") for k in values):
        data.update(_repeat_rows(values, errors))
    try:
        parsed = ReferralIn(**{k: v for k, v in data.items() if k not in errors})
    except ValidationError as exc:
        parsed = None
        for e in exc.errors():
            name = str(e["loc"][0])
            if name == "adrenaline_repeats" and len(e["loc"]) >= 3:
                part = {"dose_mg": "dose", "at": "at", "route": "route"}.get(str(e["loc"][2]), "at")
                name = f"repeat_{part}_{e['loc'][1]}"
                errors[name] = (
                    i18n.gettext(
                        "Between {lo} and {hi}.", lo="0", hi=f"{RANGES['adrenaline_mg'][1]:g}"
                    )
                    if part == "dose"
                    else i18n.gettext("Check this value.")
                )
            elif name in RANGES:
                lo, hi = RANGES[name]
                errors[name] = i18n.gettext("Between {lo} and {hi}.", lo=f"{lo:g}", hi=f"{hi:g}")
            else:
                errors[name] = i18n.gettext("Check this value.")
    return (None if errors else parsed), values, errors


def _repeat_rows(values: dict[str, str], errors: dict[str, str]) -> dict[str, Any]:
    """The first dose's route and the repeat rows (time, dose, route); a row left blank
    is no repeat, a row with a dose or a route needs its time."""
    route = values.get("adrenaline_route", "")
    repeats: list[dict[str, Any]] = []
    for i in range(MAX_REPEATS):
        at, dose, rroute = (values.get(f"repeat_{p}_{i}", "") for p in ("at", "dose", "route"))
        if not (at or dose or rroute):
            continue
        row: dict[str, Any] = {"route": rroute or None}
        try:
            row["at"] = parse_local(at) if at else None
        except ValueError:
            row["at"] = None
        if row["at"] is None:
            errors[f"repeat_at_{i}"] = i18n.gettext("Enter a date and time.")
        if dose:
            try:
                row["dose_mg"] = float(dose.replace(",", "."))
            except ValueError:
                errors[f"repeat_dose_{i}"] = i18n.gettext("Enter a number.")
        if rroute and rroute not in AdrenalineRoute.__members__:
            errors[f"repeat_route_{i}"] = i18n.gettext("Check this value.")
        if not any(k.endswith(f"_{i}") and k.startswith("repeat_") for k in errors):
            repeats.append(row)
    if route and route not in AdrenalineRoute.__members__:
        errors["adrenaline_route"] = i18n.gettext("Check this value.")
    return {"adrenaline_route": route or None, "adrenaline_repeats": repeats}


@router.post("/reports/{report_id:int}/referral")
async def send_referral(request: Request, report_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    data, values, errors = parse_referral_form(form)
    if data is not None:
        try:
            service.send_referral(session, actor, report_id, data)
        except Invalid as exc:
            errors = {k: i18n.gettext(FIELD_MESSAGES.get(v, v)) for k, v in exc.fields.items()}
            errors["_"] = i18n.gettext(exc.message, **exc.params)
        else:
            flash(request, i18n.gettext("Saved; the hospital has been told."), "success")
            return RedirectResponse(f"/reports/{report_id}", status_code=303)
    if "_" not in errors:
        errors["_"] = i18n.gettext("Some fields need correcting.")
    return _form_page(request, session, actor, report_id, values, errors, status=422)
