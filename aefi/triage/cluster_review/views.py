"""The cluster pages: the county's possible group AEFI, one cluster, closing it."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from aefi import i18n, listing
from aefi.auth.permissions import mask_name
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.forms import NoteForm, parse_form
from aefi.i18n import N_
from aefi.intake.symptoms import group_name
from aefi.triage import access
from aefi.triage.cluster_review import service
from aefi.triage.models import KIND_LABELS
from aefi.types import Id
from aefi.web import flash, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])


@dataclass(frozen=True)
class ClusterQuery:
    """The cluster list's filter: open, closed or all."""

    status: str = listing.choice(("open", "closed", "all"), default="open", label=N_("Status"))


@router.get("/clusters")
def clusters_page(request: Request, session: SessionDep, actor: WebActor):
    flt = listing.read(ClusterQuery, request.query_params)
    status = "" if flt.status == "all" else flt.status
    page = listing.Page.whole(service.list_clusters(session, actor, status=status))
    return render(
        request,
        "triage/clusters.html",
        {
            **listing.context("/clusters", flt, page),
            "status": flt.status,
            "group_name": group_name,
            "kind_labels": KIND_LABELS,
        },
        block="results",
    )


def _cluster_page(request: Request, session, actor, cluster_id: int, *, errors=None, note=""):
    """One cluster, from its own view; a failed close re-renders it with the error in place."""
    view = service.get_cluster(session, actor, cluster_id)
    ctx = {
        "view": view,
        "group_name": group_name,
        "mask_name": mask_name,
        "kind_labels": KIND_LABELS,
        "may_close": access.can_close_cluster(actor, view.cluster),
        "errors": errors or {},
        "note": note,
    }
    return render(request, "triage/cluster.html", ctx, status_code=422 if errors else 200)


@router.get("/clusters/{cluster_id:int}")
def cluster_page(request: Request, cluster_id: Id, session: SessionDep, actor: WebActor):
    return _cluster_page(request, session, actor, cluster_id)


@router.post("/clusters/{cluster_id:int}/close")
async def close_cluster(request: Request, cluster_id: Id, session: SessionDep, actor: WebActor):
    form = await parse_form(request, NoteForm)
    note = form.note if isinstance(form, NoteForm) else ""
    try:
        service.close_cluster(session, actor, cluster_id, note=note)
    except Invalid as exc:
        session.rollback()
        errors = {"note": i18n.gettext(exc.message, **exc.params)}
        return _cluster_page(request, session, actor, cluster_id, errors=errors, note=note)
    flash(request, i18n.gettext("Cluster closed."), "success")
    return RedirectResponse(f"/clusters/{cluster_id}", status_code=303)
