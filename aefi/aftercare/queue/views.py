"""The self-report queue: the list, one self-report with the report it proposes (editable),
filing it, dismissing it."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from aefi import clock
from aefi.aftercare import questions
from aefi.aftercare.checkin import service as checkin
from aefi.aftercare.models import SelfReportStatus
from aefi.aftercare.queue import service
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.i18n import N_, gettext
from aefi.intake.symptoms import SYMPTOMS
from aefi.types import Id
from aefi.web import flash, parse_local, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])
STATUSES = tuple(s.value for s in SelfReportStatus)


@router.get("/aftercare/self-reports")
def queue_page(request: Request, session: SessionDep, actor: WebActor, status: str = "pending"):
    status = status if status in STATUSES else SelfReportStatus.pending
    rows = service.queue(session, actor, status)
    return render(
        request,
        "aftercare/queue.html",
        {"rows": rows, "status": status, "statuses": STATUSES, "plain": questions.BY_CODE},
    )


def _detail(
    request, session, actor, self_report_id, *, values=None, errors=None, reason="", status_code=200
):
    row = service.get(session, actor, self_report_id)
    proposed = service.proposed_report(row)
    values = values or {
        "onset_at": clock.to_local(proposed.onset_at).strftime("%Y-%m-%dT%H:%M"),
        "symptoms": proposed.symptoms,
        "description": proposed.description,
        "needs_hospital_care": proposed.needs_hospital_care,
    }
    return render(
        request,
        "aftercare/self_report.html",
        {
            "row": row,
            "answers": checkin.answers_of(session, row.dose.id),
            "plain": questions.BY_CODE,
            "severities": dict(questions.SEVERITIES),
            "report_symptoms": SYMPTOMS,
            "values": values,
            # Message ids until here; the shared error summary shows them as they read.
            "errors": {k: gettext(v) for k, v in (errors or {}).items()},
            "reason": reason,
            "can_decide": actor.role in service.DECIDERS
            and row.self_report.status == SelfReportStatus.pending,
        },
        status_code=status_code,
    )


@router.get("/aftercare/self-reports/{self_report_id:int}")
def detail(request: Request, self_report_id: Id, session: SessionDep, actor: WebActor):
    return _detail(request, session, actor, self_report_id)


@router.post("/aftercare/self-reports/{self_report_id:int}/confirm")
async def confirm(request: Request, self_report_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    values = {
        "onset_at": str(form.get("onset_at", "")),
        "symptoms": [str(s) for s in form.getlist("symptoms")],
        "description": str(form.get("description", ""))[:4000],
        "needs_hospital_care": bool(form.get("needs_hospital_care")),
    }
    onset: datetime | None = parse_local(values["onset_at"])
    errors: dict[str, str] = {}
    if onset is None:
        errors["onset_at"] = N_("Give the date and time the reaction started.")
    elif onset > clock.now():
        errors["onset_at"] = N_("The onset cannot be in the future.")
    if not values["symptoms"]:
        errors["symptoms"] = N_("Tick at least one symptom.")
    if not errors:
        row = service.get(session, actor, self_report_id)
        proposed = service.proposed_report(row)
        data = proposed.model_copy(
            update={
                "onset_at": onset,
                "symptoms": values["symptoms"],
                "description": values["description"],
                "needs_hospital_care": values["needs_hospital_care"],
            }
        )
        try:
            report = service.confirm(session, actor, self_report_id, data)
        except Invalid as exc:
            errors = exc.fields or {"symptoms": exc.message}
        else:
            flash(
                request,
                gettext("Report {number} filed from the self-report.", number=report.number),
                "success",
            )
            return RedirectResponse(f"/reports/{report.id}", status_code=303)
    return _detail(
        request, session, actor, self_report_id, values=values, errors=errors, status_code=422
    )


@router.post("/aftercare/self-reports/{self_report_id:int}/dismiss")
async def dismiss(request: Request, self_report_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    reason = str(form.get("reason", ""))
    try:
        service.dismiss(session, actor, self_report_id, reason)
    except Invalid as exc:
        return _detail(
            request,
            session,
            actor,
            self_report_id,
            values=None,
            errors=exc.fields or {"reason": exc.message},
            reason=reason,
            status_code=422,
        )
    flash(request, gettext("Self-report dismissed."), "success")
    return RedirectResponse("/aftercare/self-reports", status_code=303)
