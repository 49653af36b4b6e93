"""The rules in force, read-only, and the rules an old decision was made with."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from aefi.deps import SessionDep, WebActor
from aefi.triage import access
from aefi.triage.rules_in_force import service
from aefi.web import render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])


@router.get("/admin/triage-rules")
def rules_page(request: Request, session: SessionDep, actor: WebActor):
    view = service.effective_rules(session, actor)
    return render(request, "triage/rules.html", {"view": view})


@router.get("/admin/triage-rules/{version}")
def rules_version_page(request: Request, version: str, session: SessionDep, actor: WebActor):
    stored = service.get_ruleset_version(session, actor, version)
    return render(
        request,
        "triage/rules_version.html",
        {"stored": stored, "can_read_rules": access.can_read_rules(actor)},
    )
