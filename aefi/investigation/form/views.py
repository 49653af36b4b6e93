"""The sections of the investigation form, its progress and deadlines, the preliminary report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, BeforeValidator, create_model

from aefi import i18n
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.forms import parse_form
from aefi.investigation import access, sections
from aefi.investigation.cases import service as case_files
from aefi.investigation.form import service as case_form
from aefi.investigation.labels import (
    error_text,
    page_ctx,
    part_ctx,
)
from aefi.investigation.overview import service as case_overview
from aefi.investigation.overview.views import back_to_case
from aefi.types import Id, ascii_int
from aefi.web import flash, is_htmx, parse_local, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])


# --- form sections -----------------------------------------------------------------------


class SectionForm(BaseModel):
    """One section's inputs as typed (its rules in ``sections`` check them) and the version
    the page showed; a version that is not a number is none (the save then conflicts)."""

    version: Annotated[int | None, BeforeValidator(ascii_int)] = None


SECTION_FORMS: dict[str, type[SectionForm]] = {
    key: create_model(
        f"SectionForm_{key}",
        __base__=SectionForm,
        **{f.name: (str, "") for f in section.fields},
    )
    for key, section in sections.BY_KEY.items()
}


class PreliminaryForm(BaseModel):
    at: str = ""


def _section_ctx(part: case_form.FormPart, key: str, **state: Any) -> dict[str, Any]:
    ctx = part_ctx(part)
    ctx["section"] = sections.BY_KEY[key]
    ctx["section_state"] = {key: state} if state else {}
    return ctx


@router.post("/cases/{case_id:int}/form/{key}")
async def save_section(
    request: Request, case_id: Id, key: str, session: SessionDep, actor: WebActor
):
    parsed = await parse_form(request, SECTION_FORMS.get(key, SectionForm))
    # Every input is text, checked by the section's own rules: the form always parses.
    assert isinstance(parsed, SectionForm)
    raw = parsed.model_dump(exclude={"version"})
    version = parsed.version
    state: dict[str, Any] = {}
    status_code = 200
    headers = {"HX-Trigger": "form-changed"}
    before = access.get_case(session, actor, case_id).status
    try:
        row = case_form.save_section(session, actor, case_id, key, raw, version=version)
        state = {"saved": True}
        if access.get_case(session, actor, row.case_id).status != before:
            # The first save started the investigation: the header and clocks change too.
            headers = {"HX-Refresh": "true"}
    except case_form.SectionInvalid as exc:
        session.rollback()
        state = {
            "typed": exc.cleaned.typed,
            "errors": {
                k: i18n.gettext(msg, **params) for k, (msg, params) in exc.cleaned.errors.items()
            },
            "message": i18n.gettext(exc.message),
        }
        status_code = 422
    except case_form.SectionConflict as exc:
        session.rollback()
        state = {"typed": raw, "errors": {}, "message": error_text(exc), "conflict": True}
        status_code = 409
    if is_htmx(request):
        return render(
            request,
            "investigation/_section.html",
            _section_ctx(case_form.form_part(session, actor, case_id, key=key), key, **state),
            status_code=status_code,
            headers=headers,
        )
    if status_code == 200:
        return RedirectResponse(f"/cases/{case_id}#section-{key}", status_code=303)
    ctx = page_ctx(case_overview.case_page(session, actor, case_id))
    ctx["section_state"] = {key: state}
    return render(request, "investigation/case.html", ctx, status_code=status_code)


@router.get("/cases/{case_id:int}/deadlines")
def deadlines(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    part = case_files.deadlines_part(session, actor, case_id)
    return render(request, "investigation/_deadlines.html", part_ctx(part))


@router.get("/cases/{case_id:int}/form-progress")
def form_progress(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    part = case_form.form_part(session, actor, case_id)
    return render(request, "investigation/_form_progress.html", part_ctx(part))


@router.post("/cases/{case_id:int}/form-complete")
def complete_form(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    error = None
    try:
        case_form.complete_form(session, actor, case_id)
    except Invalid as exc:
        session.rollback()
        error = error_text(exc)
    if is_htmx(request):
        return render(
            request,
            "investigation/_form_progress.html",
            part_ctx(case_form.form_part(session, actor, case_id), progress_error=error),
            status_code=422 if error else 200,
            headers={} if error else {"HX-Trigger": "case-changed"},
        )
    if error:
        flash(request, error, "error")
    return RedirectResponse(f"/cases/{case_id}#form", status_code=303)


@router.post("/cases/{case_id:int}/preliminary-report")
async def preliminary_report(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    data = await parse_form(request, PreliminaryForm)
    try:
        at = parse_local(data.at or None) if isinstance(data, PreliminaryForm) else None
        case_form.record_preliminary_report(session, actor, case_id, at)
        flash(request, i18n.gettext("Saved."), "success")
    except (Invalid, ValueError) as exc:
        session.rollback()
        flash(request, error_text(exc), "error")
    return back_to_case(request, case_id, "form")
