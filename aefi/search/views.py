"""The results page of the header's search box; one exact match goes straight to its page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from aefi.deps import SessionDep, WebActor
from aefi.search import service
from aefi.web import render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])


@router.get("/search")
def search_page(request: Request, session: SessionDep, actor: WebActor, q: str = ""):
    result = service.search(session, actor, q)
    if result.jump and request.query_params.get("all") != "1":
        return RedirectResponse(result.jump, status_code=303)
    return render(request, "search/results.html", {"result": result, "kinds": service.KINDS})
