"""Triage pages: the escalation queue (bureau and CDC), clusters, and the rules in force
(read-only)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from aefi import i18n, navigation
from aefi.auth.models import Role
from aefi.auth.permissions import mask_name
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.i18n import N_
from aefi.intake.symptoms import EVENT_GROUPS
from aefi.triage import service
from aefi.triage.models import KIND_LABELS
from aefi.types import Id
from aefi.web import flash, is_htmx, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])

navigation.add((Role.bureau, Role.investigator), "/escalations", N_("Escalations"), position=1)
navigation.add((Role.bureau, Role.investigator), "/clusters", N_("Clusters"), position=2)
navigation.add((Role.admin,), "/admin/triage-rules", N_("Triage rules"))

SHOW = {"open": N_("Not yet acknowledged"), "all": N_("All open items")}


def group_name(group: str) -> str:
    zh, en = EVENT_GROUPS.get(group, (group, group))
    return i18n.pick(zh, en)


@router.get("/escalations")
def escalations_page(request: Request, session: SessionDep, actor: WebActor, show: str = "open"):
    show = show if show in SHOW else "open"
    items = service.escalation_queue(session, actor, show=show)
    return render(
        request,
        "triage/escalations.html",
        {
            "items": items,
            "show": show,
            "choices": SHOW,
            "group_name": group_name,
            "mask_name": mask_name,
        },
        block="results",
    )


@router.post("/escalations/{escalation_id:int}/acknowledge")
async def acknowledge(request: Request, escalation_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    service.acknowledge(session, actor, escalation_id, note=str(form.get("note", "")))
    if is_htmx(request):
        # The queue reloads itself on this event (and every few seconds anyway).
        return Response(status_code=204, headers={"HX-Trigger": "queue-changed"})
    flash(request, i18n.gettext("Acknowledged."), "success")
    show = form.get("show", "open")
    return RedirectResponse(f"/escalations?show={show}", status_code=303)


@router.get("/clusters")
def clusters_page(request: Request, session: SessionDep, actor: WebActor, status: str = "open"):
    status = status if status in ("open", "closed", "") else "open"
    rows = service.list_clusters(session, actor, status=status)
    return render(
        request,
        "triage/clusters.html",
        {"rows": rows, "status": status, "group_name": group_name, "kind_labels": KIND_LABELS},
        block="results",
    )


@router.get("/clusters/{cluster_id:int}")
def cluster_page(request: Request, cluster_id: Id, session: SessionDep, actor: WebActor):
    view = service.get_cluster(session, actor, cluster_id)
    return render(
        request,
        "triage/cluster.html",
        {
            "view": view,
            "group_name": group_name,
            "mask_name": mask_name,
            "kind_labels": KIND_LABELS,
            "errors": {},
        },
    )


@router.post("/clusters/{cluster_id:int}/close")
async def close_cluster(request: Request, cluster_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    note = str(form.get("note", ""))
    try:
        service.close_cluster(session, actor, cluster_id, note=note)
    except Invalid as exc:
        session.rollback()
        view = service.get_cluster(session, actor, cluster_id)
        ctx = {
            "view": view,
            "group_name": group_name,
            "mask_name": mask_name,
            "kind_labels": KIND_LABELS,
            "errors": {"note": i18n.gettext(exc.message, **exc.params)},
            "note": note,
        }
        return render(request, "triage/cluster.html", ctx, status_code=422)
    flash(request, i18n.gettext("Cluster closed."), "success")
    return RedirectResponse(f"/clusters/{cluster_id}", status_code=303)


@router.get("/admin/triage-rules")
def rules_page(request: Request, session: SessionDep, actor: WebActor):
    view = service.effective_rules(session, actor)
    return render(request, "triage/rules.html", {"view": view})


@router.get("/admin/triage-rules/{version}")
def rules_version_page(request: Request, version: str, session: SessionDep, actor: WebActor):
    stored = service.get_ruleset_version(session, actor, version)
    return render(request, "triage/rules_version.html", {"stored": stored})
