"""Scan now, from the signal overview."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from aefi import i18n
from aefi.deps import SessionDep, WebActor
from aefi.signals.scans import service
from aefi.web import flash, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])


@router.post("/signals/scan")
def scan_now(request: Request, session: SessionDep, actor: WebActor):
    result = service.run_scan(session, actor, trigger="web")
    flash(
        request,
        i18n.gettext(
            "Scan done: {cells} cells in {s} s, {n} new or raised signals, {h} lots put on hold.",
            cells=result.cells,
            s=f"{result.run.seconds:.2f}",
            n=len(result.changed),
            h=len(result.held),
        ),
        "success",
    )
    return RedirectResponse("/signals", status_code=303)
