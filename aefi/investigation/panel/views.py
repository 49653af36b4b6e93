"""The expert panel's classification, the appraisal, compensation; closing and reopening."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError

from aefi import i18n
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.i18n import N_
from aefi.investigation import access
from aefi.investigation import causality as who
from aefi.investigation.labels import (
    error_text,
    field_errors,
    helpers,
    page_ctx,
    part_ctx,
)
from aefi.investigation.overview import service as case_overview
from aefi.investigation.overview.views import back_to_case
from aefi.investigation.panel import service as case_panel
from aefi.investigation.schemas import (
    AppraisalIn,
    ClassifyIn,
    CloseIn,
    CompensationIn,
    ReopenIn,
)
from aefi.types import Id, sane_year
from aefi.web import flash, is_htmx, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])


# --- classification, appraisal, compensation, closing ------------------------------------


def _date(raw: Any) -> date | None:
    text = str(raw or "").strip()
    return sane_year(date.fromisoformat(text)) if text else None


def _classify_in(form) -> ClassifyIn:
    return ClassifyIn(
        china_classification=str(form.get("china_classification", "")),
        panel_diagnosis=str(form.get("panel_diagnosis", "")),
        panel_on=_date(form.get("panel_on")),
        panel_members=str(form.get("panel_members", "")),
        note=str(form.get("note", "")),
    )


@router.post("/cases/{case_id:int}/classify/preview")
async def classify_preview(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    case = access.get_case(session, actor, case_id)
    value = str(form.get("china_classification", ""))
    warning = None
    if value in who.ChinaClassification.__members__ and case.who_category:
        warning = who.classification_warning(
            who.CausalityCategory(case.who_category), who.ChinaClassification(value)
        )
    return render(
        request,
        "investigation/_classify_warning.html",
        {"warning": warning, "case": case, **helpers()},
    )


@router.post("/cases/{case_id:int}/classify")
async def classify(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    typed = {
        k: str(form.get(k, ""))
        for k in ("china_classification", "panel_diagnosis", "panel_on", "panel_members", "note")
    }
    try:
        data = _classify_in(form)
        case_panel.classify_case(session, actor, case_id, data)
    except (Invalid, ValidationError, ValueError) as exc:
        session.rollback()
        errors = {}
        if isinstance(exc, ValidationError):
            for err in exc.errors():
                errors[str(err["loc"][0])] = i18n.gettext("Choose or correct this field.")
            message = i18n.gettext("Some fields need correcting.")
        elif isinstance(exc, Invalid):
            errors = field_errors(exc)
            message = error_text(exc)
        else:
            errors = {"panel_on": i18n.gettext("Enter a date as YYYY-MM-DD.")}
            message = i18n.gettext("Some fields need correcting.")
        state = {"typed": typed, "errors": errors, "message": message}
        if is_htmx(request):
            part = case_panel.panel_part(session, actor, case_id)
            ctx = part_ctx(part, classify_state=state)
            return render(request, "investigation/_classify.html", ctx, status_code=422)
        ctx = page_ctx(case_overview.case_page(session, actor, case_id), classify_state=state)
        return render(request, "investigation/case.html", ctx, status_code=422)
    flash(request, i18n.gettext("Classification recorded."), "success")
    return back_to_case(request, case_id, "classification")


def _save_and_flash(request: Request, session, save, done: str = "Saved.") -> None:
    """Run one small form's save; say in a flash whether it worked and, if not, why."""
    try:
        save()
        flash(request, i18n.gettext(done), "success")
    except (Invalid, ValidationError, ValueError) as exc:
        session.rollback()
        msg = (
            error_text(exc)
            if isinstance(exc, Invalid)
            else i18n.gettext("Some fields need correcting.")
        )
        flash(request, msg, "error")


@router.post("/cases/{case_id:int}/appraisal")
async def appraisal(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()

    def save() -> None:
        data = AppraisalIn(
            status=str(form.get("status", "none")),
            requested_on=_date(form.get("requested_on")),
            body=str(form.get("body", "")),
            result=str(form.get("result", "")),
            result_on=_date(form.get("result_on")),
        )
        case_panel.record_appraisal(session, actor, case_id, data)

    _save_and_flash(request, session, save)
    return back_to_case(request, case_id, "appraisal")


@router.post("/cases/{case_id:int}/compensation")
async def compensation(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()

    def save() -> None:
        amount = str(form.get("amount", "")).strip()
        data = CompensationIn(
            status=str(form.get("status", "not_applicable")),
            amount=float(amount) if amount else None,
            note=str(form.get("note", "")),
        )
        case_panel.record_compensation(session, actor, case_id, data)

    _save_and_flash(request, session, save)
    return back_to_case(request, case_id, "appraisal")


@router.post("/cases/{case_id:int}/close")
async def close(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    _save_and_flash(
        request,
        session,
        lambda: case_panel.close_case(
            session, actor, case_id, CloseIn(note=str(form.get("note", "")))
        ),
        N_("The case is closed."),
    )
    return back_to_case(request, case_id, "closing")


@router.post("/cases/{case_id:int}/reopen")
async def reopen(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    _save_and_flash(
        request,
        session,
        lambda: case_panel.reopen_case(
            session, actor, case_id, ReopenIn(reason=str(form.get("reason", "")))
        ),
        N_("The case is reopened."),
    )
    return back_to_case(request, case_id, "closing")
