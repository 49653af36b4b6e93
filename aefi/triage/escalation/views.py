"""The escalation queue page (bureau and CDC) and its acknowledgements."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from aefi import i18n, listing
from aefi.auth.permissions import mask_name
from aefi.deps import SessionDep, WebActor
from aefi.forms import NoteForm, parse_form
from aefi.i18n import N_
from aefi.intake.symptoms import group_name
from aefi.triage.escalation import service
from aefi.types import Id
from aefi.web import flash, is_htmx, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])

SHOW = {"open": N_("Not yet acknowledged"), "all": N_("All open items")}


@dataclass(frozen=True)
class EscalationQuery:
    """The queue's filter: only what nobody acknowledged yet, or every open item."""

    show: str = listing.choice(SHOW, default="open", label=N_("Show"))


@router.get("/escalations")
def escalations_page(request: Request, session: SessionDep, actor: WebActor):
    flt = listing.read(EscalationQuery, request.query_params)
    page = listing.Page.whole(service.escalation_queue(session, actor, show=flt.show))
    return render(
        request,
        "triage/escalations.html",
        {
            **listing.context("/escalations", flt, page),
            "show": flt.show,
            "choices": SHOW,
            "group_name": group_name,
            "mask_name": mask_name,
        },
        block="results",
    )


class AcknowledgeForm(NoteForm):
    show: str = "open"  # the queue's tab to go back to


@router.post("/escalations/{escalation_id:int}/acknowledge")
async def acknowledge(request: Request, escalation_id: Id, session: SessionDep, actor: WebActor):
    form = await parse_form(request, AcknowledgeForm)
    if not isinstance(form, AcknowledgeForm):
        form = AcknowledgeForm()
    service.acknowledge(session, actor, escalation_id, note=form.note)
    if is_htmx(request):
        # The queue reloads itself on this event (and every few seconds anyway).
        return Response(status_code=204, headers={"HX-Trigger": "queue-changed"})
    flash(request, i18n.gettext("Acknowledged."), "success")
    show = form.show
    return RedirectResponse(f"/escalations?show={show}", status_code=303)
