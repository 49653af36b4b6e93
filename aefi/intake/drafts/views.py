"""Drafts of the report form: the autosave (which works logged out, see ``device``), the
user's list of drafts and discarding a draft."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from aefi.deps import SessionDep, WebActor
from aefi.i18n import gettext
from aefi.intake.drafts import service
from aefi.intake.drafts.device import DEVICE_COOKIE, device_ok
from aefi.intake.forms import FormMeta, ReportForm
from aefi.intake.pages import draft_summary, fragment, optional_actor
from aefi.types import Id
from aefi.web import flash, render, verify_csrf

pages = APIRouter(dependencies=[Depends(verify_csrf)])
# Routes that must keep working after the session expired (they check CSRF themselves).
open_routes = APIRouter()


@open_routes.post("/reports/draft")
async def autosave(request: Request, session: SessionDep):
    """Keep what was typed. Works logged out too (see the module's docstring)."""
    form_data = await request.form()
    meta = FormMeta.from_form(form_data)
    actor = optional_actor(request, session)
    device = request.cookies.get(DEVICE_COOKIE, "")
    if actor is not None:
        await verify_csrf(request)
    elif not device_ok(device, meta.device_token):
        from aefi.errors import Forbidden

        raise Forbidden(
            "The form has expired or did not come from aefi. Reload the page and submit again."
        )
    form = ReportForm.from_form(form_data)
    if actor is None:
        draft = service.save_device_draft(session, meta.draft_id, form.payload(), device=device)
    else:
        draft = service.save_draft(session, actor, meta.draft_id, form.payload(), device=device)
    resume = f"/reports/new?draft={draft.id}"
    return fragment(
        request,
        "intake/_draft_status.html",
        {
            "draft_id": draft.id,
            "saved_at": draft.updated_at,
            "expired": actor is None,
            "login_url": f"/login?next={quote(resume, safe='')}",
            "oob": True,
        },
    )


@pages.get("/reports/drafts")
def my_drafts(request: Request, session: SessionDep, actor: WebActor):
    """The user's unfinished reports, to resume or discard."""
    return render(
        request,
        "intake/drafts.html",
        {"drafts": service.open_drafts(session, actor), "draft_summary": draft_summary},
    )


@pages.post("/reports/drafts/{draft_id:int}/discard")
def discard_draft(request: Request, draft_id: Id, session: SessionDep, actor: WebActor):
    service.discard_draft(session, actor, draft_id)
    flash(request, gettext("Draft discarded."), "success")
    return RedirectResponse("/reports/drafts", status_code=303)


router = APIRouter()
router.include_router(pages)
router.include_router(open_routes)
