"""A follow-up added on the report page: errors re-render the page with what was typed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from aefi import clock
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.i18n import gettext
from aefi.intake import access
from aefi.intake.follow_up import service
from aefi.intake.models import Outcome
from aefi.intake.report.views import render_report
from aefi.intake.schemas import FollowUpIn
from aefi.types import Id
from aefi.web import flash, parse_local, verify_csrf

pages = APIRouter(dependencies=[Depends(verify_csrf)])


@pages.post("/reports/{report_id:int}/follow-ups")
async def add_follow_up(request: Request, report_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("outcome", "hospital_name", "diagnosis")}
    values.update({k: str(form.get(k) or "") for k in ("treatment", "note", "at")})
    flags = ("death", "life_threatening", "hospitalization", "disability")
    flags += ("already_in_hospital", "diagnosis_clear")
    for k in flags:
        values[k] = "1" if form.get(k) else ""
    values["symptoms_added"] = [str(v) for v in form.getlist("symptoms_added")]
    errors: dict[str, str] = {}
    at = None
    try:
        at = parse_local(values["at"]) if values["at"].strip() else None
    except ValueError:
        errors["at"] = gettext("Enter a date and time.")
    if at is not None and at > clock.now() + timedelta(minutes=5):
        errors["at"] = gettext("The time of the follow-up lies in the future.")
    fields: dict[str, Any] = {k: True for k in flags if values[k]}
    if values["outcome"] in Outcome.__members__:
        fields["outcome"] = values["outcome"]
    for k in ("hospital_name", "diagnosis", "treatment"):
        if values[k].strip():
            fields[k] = values[k].strip()
    report = access.get_report(session, actor, report_id)
    if not errors:
        try:
            service.add_follow_up(
                session,
                actor,
                report_id,
                FollowUpIn(
                    **fields,
                    symptoms_added=values["symptoms_added"],
                    note=values["note"][:4000],
                    at=at,
                ),
            )
        except Invalid as exc:
            session.rollback()
            message = gettext(exc.message, **exc.params)
            errors = {k: message for k in exc.fields} or {"note": message}
    if errors:
        return render_report(
            request, session, actor, report, status=422, fu_values=values, fu_errors=errors
        )
    flash(request, gettext("Follow-up added."), "success")
    return RedirectResponse(f"/reports/{report_id}#history", status_code=303)


router = pages
