"""A follow-up added on the report page: errors re-render the page with what was typed."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from aefi import clock
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.i18n import gettext
from aefi.intake import access
from aefi.intake.follow_up import service
from aefi.intake.follow_up.form import FollowUpForm
from aefi.intake.report.views import render_report
from aefi.types import Id
from aefi.web import flash, verify_csrf

pages = APIRouter(dependencies=[Depends(verify_csrf)])


@pages.post("/reports/{report_id:int}/follow-ups")
async def add_follow_up(request: Request, report_id: Id, session: SessionDep, actor: WebActor):
    form = FollowUpForm.from_form(await request.form())
    body, errors = form.parse(clock.now())
    report = access.get_report(session, actor, report_id)
    if body is not None:
        try:
            service.add_follow_up(session, actor, report_id, body)
        except Invalid as exc:
            session.rollback()
            message = gettext(exc.message, **exc.params)
            errors = {k: message for k in exc.fields} or {"note": message}
    if errors:
        return render_report(
            request, session, actor, report, status=422, fu_values=form.typed(), fu_errors=errors
        )
    flash(request, gettext("Follow-up added."), "success")
    return RedirectResponse(f"/reports/{report_id}#history", status_code=303)


router = pages
