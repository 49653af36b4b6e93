"""The observation board (留观) pages: the reporter's home, refreshed by htmx every few
seconds; release, early departure, hand check-in; the county's overview of all sites."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from aefi import i18n
from aefi.auth.permissions import sees_all_sites
from aefi.deps import SessionDep, WebActor
from aefi.errors import Conflict, DomainError, Invalid
from aefi.observation import service
from aefi.observation.actions import service as observation_actions
from aefi.observation.models import STATE_LABELS, ObservationEntry
from aefi.referral.models import LABELS as REFERRAL_LABELS
from aefi.types import Id
from aefi.web import flash, is_htmx, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])


def _board_response(request: Request, session, actor, site_id: Id | None = None, **extra):
    board = service.board(session, actor, site_id)
    return render(
        request,
        "observation/board.html",
        {
            "board": board,
            "actor": actor,
            "labels": STATE_LABELS,
            "referral_labels": REFERRAL_LABELS,
            **extra,
        },
        block="board",
    )


@router.get("/observation")
def board_page(request: Request, session: SessionDep, actor: WebActor, site_id: Id | None = None):
    if sees_all_sites(actor) and site_id is None:
        lines = service.overview(session, actor)
        return render(request, "observation/overview.html", {"lines": lines, "actor": actor})
    return _board_response(request, session, actor, site_id)


def board_home(request: Request, session, actor):
    """The reporter's home page is the board of their site."""
    return _board_response(request, session, actor)


def _after_action(request: Request, session, actor, site_id: Id | None, message: str = ""):
    if is_htmx(request):
        return _board_response(request, session, actor, site_id)
    if message:
        flash(request, message, "success")
    target = "/observation" + (f"?site_id={site_id}" if site_id else "")
    return RedirectResponse(target, status_code=303)


def _refused(request: Request, session, actor, entry_id: int, exc: DomainError):
    """A row whose state changed since the board was drawn (a report filed, the hospital
    recorded the arrival): the board comes back as it is now, saying why nothing happened
    (an htmx swap of an error status would leave the old board standing)."""
    session.rollback()
    message = i18n.gettext(exc.message, **exc.params)
    entry = session.get(ObservationEntry, entry_id)
    site_id = entry.site_id if entry is not None else None
    if is_htmx(request):
        return _board_response(request, session, actor, site_id, error=message)
    flash(request, message, "error")
    target = "/observation" + (f"?site_id={site_id}" if site_id else "")
    return RedirectResponse(target, status_code=303)


@router.post("/observation/{entry_id:int}/release")
def release(request: Request, entry_id: Id, session: SessionDep, actor: WebActor):
    try:
        entry = observation_actions.release(session, actor, entry_id)
    except Conflict as exc:
        return _refused(request, session, actor, entry_id, exc)
    return _after_action(request, session, actor, entry.site_id, i18n.gettext("Released."))


@router.post("/observation/{entry_id:int}/left-early")
def left_early(
    request: Request, entry_id: Id, session: SessionDep, actor: WebActor, note: str = Form("")
):
    try:
        entry = observation_actions.left_early(session, actor, entry_id, note)
    except Conflict as exc:
        return _refused(request, session, actor, entry_id, exc)
    return _after_action(
        request, session, actor, entry.site_id, i18n.gettext("Recorded as left early.")
    )


def _close_page(request: Request, row, *, reason: str = "", error: str = "", status: int = 200):
    return render(
        request,
        "observation/close.html",
        {
            "r": row,
            "reason": reason,
            "error": error,
            "labels": STATE_LABELS,
            "referral_labels": REFERRAL_LABELS,
        },
        status_code=status,
    )


@router.get("/observation/{entry_id:int}/close")
def close_form(request: Request, entry_id: Id, session: SessionDep, actor: WebActor):
    """The physician's decision on a row with a report: its own page, so the board's
    refresh never wipes a half-written reason."""
    return _close_page(request, observation_actions.entry_row(session, actor, entry_id))


@router.post("/observation/{entry_id:int}/close")
def close_by_decision(
    request: Request,
    entry_id: Id,
    session: SessionDep,
    actor: WebActor,
    reason: str = Form(""),
):
    try:
        entry = observation_actions.close_by_decision(session, actor, entry_id, reason)
    except Invalid as exc:
        session.rollback()
        row = observation_actions.entry_row(session, actor, entry_id)
        message = i18n.gettext(exc.message, **exc.params)
        return _close_page(request, row, reason=reason, error=message, status=422)
    flash(request, i18n.gettext("Closed with your decision."), "success")
    return RedirectResponse(f"/observation?site_id={entry.site_id}", status_code=303)


@router.post("/observation/release-ready")
def release_ready(
    request: Request, session: SessionDep, actor: WebActor, site_id: Id | None = Form(None)
):
    n = observation_actions.release_ready(session, actor, site_id)
    return _after_action(request, session, actor, site_id, i18n.gettext("Released: {n}", n=n))


@router.get("/observation/check-in")
def check_in_search(request: Request, session: SessionDep, actor: WebActor, q: str = ""):
    found = observation_actions.check_in_candidates(session, actor, q) if q.strip() else []
    return render(
        request,
        "observation/check_in.html",
        {"found": found, "q": q, "actor": actor},
        block="candidates",
    )


@router.post("/observation/check-in")
def check_in(request: Request, session: SessionDep, actor: WebActor, dose_id: Id = Form(...)):
    try:
        entry = observation_actions.check_in(session, actor, dose_id)
    except DomainError as exc:
        session.rollback()
        flash(request, i18n.gettext(exc.message, **exc.params), "error")
        return RedirectResponse("/observation", status_code=303)
    return _after_action(request, session, actor, entry.site_id, i18n.gettext("Checked in."))
