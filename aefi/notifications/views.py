"""The user's notifications, with the unread count in the header."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from aefi import listing
from aefi.deps import SessionDep, WebActor
from aefi.notifications import service
from aefi.types import Id
from aefi.web import render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])


@router.get("/notifications")
def notifications_page(request: Request, session: SessionDep, actor: WebActor):
    page = listing.Page.whole(service.list_for(session, actor))
    return render(
        request,
        "notifications/list.html",
        {"page": page, "base": "/notifications?"},
        block="results",
    )


@router.get("/notifications/badge")
def badge(request: Request, session: SessionDep, actor: WebActor):
    return render(
        request, "notifications/badge.html", {"unread": service.unread_count(session, actor)}
    )


@router.post("/notifications/read")
def mark_all_read(session: SessionDep, actor: WebActor):
    service.mark_read(session, actor)
    return RedirectResponse("/notifications", status_code=303)


@router.post("/notifications/{notification_id:int}/read")
def mark_one_read(notification_id: Id, session: SessionDep, actor: WebActor):
    service.mark_read(session, actor, notification_id)
    return RedirectResponse("/notifications", status_code=303)
