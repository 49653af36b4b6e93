"""The expert panel's classification, the appraisal, compensation; closing and reopening."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from aefi import i18n
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.forms import FormErrors, entered, parse_form, read_form
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
from aefi.investigation.models import AppraisalStatus, CompensationStatus
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
from aefi.types import Id
from aefi.web import flash, is_htmx, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])


# --- classification, appraisal, compensation, closing ------------------------------------


class AppraisalForm(AppraisalIn):
    status: AppraisalStatus = AppraisalStatus.none


class CompensationForm(CompensationIn):
    status: CompensationStatus = CompensationStatus.not_applicable


class ClassifyPreviewForm(BaseModel):
    china_classification: str = ""


@router.post("/cases/{case_id:int}/classify/preview")
async def classify_preview(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    data = await parse_form(request, ClassifyPreviewForm)
    case = access.get_case(session, actor, case_id)
    value = data.china_classification if isinstance(data, ClassifyPreviewForm) else ""
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
    data = read_form(form, ClassifyIn)
    try:
        if isinstance(data, FormErrors):
            state = {"typed": data.values, "errors": data.fields, "message": data.message}
        else:
            case_panel.classify_case(session, actor, case_id, data)
            state = None
    except Invalid as exc:
        session.rollback()
        state = {"typed": entered(form), "errors": field_errors(exc), "message": error_text(exc)}
    if state is not None:
        if is_htmx(request):
            part = case_panel.panel_part(session, actor, case_id)
            ctx = part_ctx(part, classify_state=state)
            return render(request, "investigation/_classify.html", ctx, status_code=422)
        ctx = page_ctx(case_overview.case_page(session, actor, case_id), classify_state=state)
        return render(request, "investigation/case.html", ctx, status_code=422)
    flash(request, i18n.gettext("Classification recorded."), "success")
    return back_to_case(request, case_id, "classification")


def _save_and_flash(
    request: Request, session, data: BaseModel | FormErrors, save, done: str = "Saved."
) -> None:
    """Run one small form's save; say in a flash whether it worked and, if not, why."""
    if isinstance(data, FormErrors):
        flash(request, data.message, "error")
        return
    try:
        save(data)
        flash(request, i18n.gettext(done), "success")
    except Invalid as exc:
        session.rollback()
        flash(request, error_text(exc), "error")


@router.post("/cases/{case_id:int}/appraisal")
async def appraisal(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    data = await parse_form(request, AppraisalForm)
    _save_and_flash(
        request, session, data, lambda d: case_panel.record_appraisal(session, actor, case_id, d)
    )
    return back_to_case(request, case_id, "appraisal")


@router.post("/cases/{case_id:int}/compensation")
async def compensation(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    data = await parse_form(request, CompensationForm)
    _save_and_flash(
        request,
        session,
        data,
        lambda d: case_panel.record_compensation(session, actor, case_id, d),
    )
    return back_to_case(request, case_id, "appraisal")


@router.post("/cases/{case_id:int}/close")
async def close(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    """Close the case; refused, the page comes back with what is missing listed (each
    section linked) above the closing form, which keeps what was typed."""
    form = await request.form()
    data = read_form(form, CloseIn)
    try:
        if isinstance(data, FormErrors):
            state = {"typed": data.values, "errors": data.fields, "message": data.message}
        else:
            case_panel.close_case(session, actor, case_id, data)
            state = None
    except Invalid as exc:
        session.rollback()
        state = {
            "typed": entered(form),
            "errors": field_errors(exc),
            "message": error_text(exc),
            "missing": exc.missing if isinstance(exc, case_panel.FormIncomplete) else [],
        }
    if state is not None:
        ctx = page_ctx(case_overview.case_page(session, actor, case_id), close_state=state)
        return render(request, "investigation/case.html", ctx, status_code=422)
    flash(request, i18n.gettext("The case is closed."), "success")
    return back_to_case(request, case_id, "closing")


@router.post("/cases/{case_id:int}/reopen")
async def reopen(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    data = await parse_form(request, ReopenIn)
    _save_and_flash(
        request,
        session,
        data,
        lambda d: case_panel.reopen_case(session, actor, case_id, d),
        N_("The case is reopened."),
    )
    return back_to_case(request, case_id, "closing")
