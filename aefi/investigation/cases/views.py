"""Taking, assigning and moving a case file; opening one for a report; what a report's page
shows of its investigation.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from aefi import i18n
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.forms import FormErrors, parse_form
from aefi.i18n import N_
from aefi.investigation import access, lifecycle
from aefi.investigation.cases import service as case_files
from aefi.investigation.labels import (
    error_text,
    helpers,
)
from aefi.investigation.overview.views import back_to_case
from aefi.investigation.schemas import (
    AssignIn,
)
from aefi.types import Id
from aefi.web import flash, is_htmx, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])


class AssignForm(AssignIn):
    """The assign form names a colleague by id only; blank: the caller takes the case."""

    username: None = None


@router.post("/cases/{case_id:int}/take")
def take(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    case_files.take_case(session, actor, case_id)
    flash(request, i18n.gettext("The case is yours; the investigation has started."), "success")
    if request.query_params.get("from") == "list":
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": f"/cases/{case_id}"})
        return RedirectResponse(f"/cases/{case_id}", status_code=303)
    return back_to_case(request, case_id)


@router.post("/cases/{case_id:int}/assign")
async def assign(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    data = await parse_form(request, AssignForm)
    try:
        if isinstance(data, FormErrors):
            raise Invalid(N_("Choose a valid entry for {field}."), field="assignee_id")
        case_files.assign_case(session, actor, case_id, data)
        flash(request, i18n.gettext("Assigned."), "success")
    except Invalid as exc:
        session.rollback()
        flash(request, error_text(exc), "error")
    return back_to_case(request, case_id)


@router.post("/cases/{case_id:int}/status/{action}")
def status_action(request: Request, case_id: Id, action: str, session: SessionDep, actor: WebActor):
    case_files.change_status(session, actor, case_id, action)
    return back_to_case(request, case_id)


@router.post("/reports/{report_id:int}/case")
def open_case_of_report(request: Request, report_id: Id, session: SessionDep, actor: WebActor):
    """An investigator opens the case file of a report triage did not send."""
    case = case_files.open_case(session, actor, report_id)
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": f"/cases/{case.id}"})
    return RedirectResponse(f"/cases/{case.id}", status_code=303)


# --- what the reporter sees --------------------------------------------------------------


@router.get("/reports/{report_id:int}/classification")
def report_classification(request: Request, report_id: Id, session: SessionDep, actor: WebActor):
    """A fragment for the report page: the investigation's final classification, as the
    reporter may see it (nothing of the investigation itself)."""
    seen = case_files.classification_for_report(session, actor, report_id)
    return render(
        request,
        "investigation/classification_badge.html",
        {"classification": seen, "report_id": report_id},
    )


def report_section(session, actor, report) -> str | None:
    """The investigation block of intake's report page (``aefi.ui_wiring.REPORT_SECTIONS``):
    for the county CDC and bureau the case file's state and a link to it (or, for
    investigators, a button to open one); for a reporter only the final classification."""
    from aefi.errors import DomainError
    from aefi.web import templates

    try:
        if access.can_read(actor):
            case = case_files.case_of_report(session, actor, report.id)
            ctx = {
                **helpers(),
                "case": case,
                "report": report,
                "overdue": lifecycle.is_overdue(case) if case else False,
                "can_open": case is None and access.can_work(actor),
            }
            template = "investigation/report_section.html"
        else:
            seen = case_files.classification_for_report(session, actor, report.id)
            if seen is None:
                return None
            ctx = {"classification": seen, "report_id": report.id}
            template = "investigation/classification_badge.html"
    except DomainError:
        return None
    return templates().env.get_template(template).render(ctx)
