"""The green channel's read pages: the hospital's inbox (its home) and the county's list,
one referral, its handover PDF, and the referral block of a report page."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from aefi import exporting, i18n, listing
from aefi.auth.models import User
from aefi.auth.permissions import Actor
from aefi.db import session_scope
from aefi.deps import SessionDep, WebActor
from aefi.errors import DomainError
from aefi.i18n import N_
from aefi.referral import access, legs
from aefi.referral.desk import service as desk
from aefi.referral.inbox import export, service
from aefi.referral.page_context import page_context
from aefi.types import Id
from aefi.web import (
    render,
    templates,
    verify_csrf,
)

router = APIRouter(dependencies=[Depends(verify_csrf)])

@dataclass(frozen=True)
class InboxQuery:
    """The inbox's filter: which referrals it shows."""

    show: str = listing.choice(("open", "closed", "all"), default="open", label=N_("Show"))
    sort: str = listing.sorting(tuple(service.REFERRAL_SORTS))


def inbox_page(request: Request, session, actor: Actor):
    """The inbox at /referrals, and the hospital's home page at /."""
    flt = listing.read(InboxQuery, request.query_params)

    def query(n: int, size: int):
        return service.list_referrals(
            session, actor, show=flt.show, page=n, per_page=size, sort=flt.sort
        )

    fmt = listing.export_format(request.query_params)
    if fmt:
        rows = exporting.collect(
            session,
            actor,
            query,
            what="referrals",
            filter_text=listing.query_string(flt),
            fmt=fmt,
        )
        return exporting.response(
            export.columns(), rows, what="referrals", sheet=i18n.gettext("Referrals"), fmt=fmt
        )
    page = listing.fetch(
        query,
        listing.paging(request.query_params, per_page=50),
    )
    ctx = page_context(
        **listing.context("/referrals", flt, page),
        show=flt.show,
        awaiting=service.awaiting_count(session, actor),
        timing=service.timing(session, actor),
        actor=actor,
        is_hospital=access.receives_referrals(actor),
        ack_minutes=legs.ack_minutes(),
        sound=access.receives_referrals(actor) and desk.sound_on(session, actor),
    )
    return render(request, "referral/inbox.html", ctx, block="results")


@router.get("/referrals")
def inbox(request: Request, session: SessionDep, actor: WebActor):
    return inbox_page(request, session, actor)



def banner(user: User) -> list:
    """Above every page: a hospital's unacknowledged referrals; escalations for the rest."""
    actor = Actor.of(user)
    if not (access.receives_referrals(actor) or access.watches_escalations(actor)):
        return []
    with session_scope() as session:
        if access.receives_referrals(actor):
            n = service.awaiting_count(session, actor)
            text = i18n.gettext("Green-channel referrals awaiting acknowledgement: {n}", n=n)
            return [_Banner("danger", text, "/referrals")] if n else []
        n = service.escalated_count(session, actor)
        text = i18n.gettext(
            "Referrals not acknowledged in time: {n}. Call the hospital or re-route.", n=n
        )
        return [_Banner("warning", text, "/referrals")] if n else []


class _Banner:
    def __init__(self, level: str, text: str, link: str) -> None:
        self.level, self.text, self.link = level, text, link



# --- one referral ------------------------------------------------------------------------


def detail_response(request, session, actor, referral_id, *, errors=None, values=None, status=200):
    """One referral's page (its ``status`` block for htmx), with a step's errors in place."""
    view = service.get_referral(session, actor, referral_id)
    ctx = page_context(
        v=view,
        r=view.referral,
        errors=errors or {},
        values=values or {},
        actor=actor,
        is_hospital=access.receives_referrals(actor),
    )
    return render(request, "referral/detail.html", ctx, block="status", status_code=status)


@router.get("/referrals/{referral_id:int}")
def detail(request: Request, referral_id: Id, session: SessionDep, actor: WebActor):
    return detail_response(request, session, actor, referral_id)


@router.get("/referrals/{referral_id:int}/handover.pdf")
def handover(referral_id: Id, session: SessionDep, actor: WebActor):
    pdf = service.handover_pdf(session, actor, referral_id)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="referral-{referral_id}.pdf"'},
    )


# --- the report's side -------------------------------------------------------------------


@router.get("/reports/{report_id:int}/referral-status")
def referral_status(request: Request, report_id: Id, session: SessionDep, actor: WebActor):
    """The live referral block of a report page (polled every 3 s)."""
    rs = service.report_referrals(session, actor, report_id)
    return render(request, "referral/status.html", page_context(rs=rs))


def report_section(session, actor: Actor, report) -> str | None:
    """The referral block of intake's report page (``aefi.ui_wiring.REPORT_SECTIONS``):
    rendered at once, then it refreshes itself from /reports/{id}/referral-status."""
    try:
        rs = service.report_referrals(session, actor, report.id)
    except DomainError:
        return None
    return templates().env.get_template("referral/status.html").render(page_context(rs=rs))

