"""The desk alert's switch on the hospital's inbox (``templates/referral/_desk_alert.html``)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from aefi.deps import SessionDep, WebActor
from aefi.referral.desk import service
from aefi.referral.page_context import page_context
from aefi.web import render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])


@router.post("/referrals/desk-alert")
async def set_desk_alert(request: Request, session: SessionDep, actor: WebActor):
    """Turn the arrival sound on or off; htmx swaps the switch in place (the page, and
    with it the browser's permission to play sound after this click, stays)."""
    form = await request.form()
    on = str(form.get("sound") or "") == "on"
    service.set_sound(session, actor, on)
    if request.headers.get("HX-Request"):
        return render(request, "referral/_desk_alert.html", page_context(sound=on))
    return RedirectResponse("/referrals", status_code=303)
