"""The expected-rate table: the county roles read it, the administrator edits it."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, create_model

from aefi import audit, i18n
from aefi.auth.permissions import require_role
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.forms import parse_form
from aefi.signals import access, expected, presenters
from aefi.signals.rates import service
from aefi.types import Id
from aefi.web import flash, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])

# --- expected rates (admin edits, county roles read) -----------------------------------------


@router.get("/signals/rates")
def rates_page(request: Request, session: SessionDep, actor: WebActor):
    rows = service.list_rates(session, actor)
    return render(
        request,
        "signals/rates.html",
        {
            **presenters.common(actor),
            "rows": rows,
            "products": service.list_products(session, actor),
            "can_edit": access.can_edit_rates(actor),
        },
    )


@router.post("/signals/rates/planned/{vaccine_id:int}")
async def save_planned_doses(
    request: Request, vaccine_id: Id, session: SessionDep, actor: WebActor
):
    form = await request.form()
    try:
        service.set_planned_doses(session, actor, vaccine_id, form.get("planned_doses", ""))
    except Invalid as exc:
        session.rollback()
        for msg in exc.fields.values():
            flash(request, i18n.gettext(msg), "error")
        return RedirectResponse("/signals/rates#planned", status_code=303)
    flash(request, i18n.gettext("Saved."), "success")
    return RedirectResponse("/signals/rates#planned", status_code=303)


def _rate_form(request, actor, values, errors, record=None, status_code=200, events=()):
    return render(
        request,
        "signals/rate_form.html",
        {
            **presenters.common(actor),
            "values": values,
            "errors": errors,
            "record": record,
            "events": events,
            "windows": expected.DEFAULT_WINDOWS,
        },
        status_code=status_code,
    )


@router.get("/signals/rates/new")
def new_rate(request: Request, actor: WebActor, event_group: str = "anaphylaxis"):
    require_role(actor, *access.RATE_EDITORS)
    start, end = expected.DEFAULT_WINDOWS.get(event_group, (0, 1))
    values = {
        "vaccine_code": "*",
        "event_group": event_group,
        "rate_per_dose": "",
        "window_start_days": start,
        "window_end_days": end,
        "source": "",
    }
    return _rate_form(request, actor, values, {})


@router.get("/signals/rates/{rate_id:int}")
def edit_rate(request: Request, rate_id: Id, session: SessionDep, actor: WebActor):
    row = service.get_rate(session, actor, rate_id)
    values = {f: getattr(row, f) for f in service.RATE_FIELDS}
    return _rate_form(
        request, actor, values, {}, row, events=audit.timeline(session, "expected_rate", rate_id)
    )


# The rate form as typed; the service parses each figure and names what is wrong.
RateForm = create_model("RateForm", **{f: (str, "") for f in service.RATE_FIELDS})


@router.post("/signals/rates/new")
@router.post("/signals/rates/{rate_id:int}")
async def save_rate(
    request: Request, session: SessionDep, actor: WebActor, rate_id: Id | None = None
):
    form = await parse_form(request, RateForm)
    values = (form if isinstance(form, BaseModel) else RateForm()).model_dump()
    try:
        row = service.save_rate(session, actor, rate_id, values)
    except Invalid as exc:
        session.rollback()
        record = service.get_rate(session, actor, rate_id) if rate_id else None
        errs = {k: i18n.gettext(v) for k, v in exc.fields.items()}
        return _rate_form(request, actor, values, errs, record, status_code=422)
    flash(request, i18n.gettext("Saved."), "success")
    return RedirectResponse(f"/signals/rates/{row.id}", status_code=303)
