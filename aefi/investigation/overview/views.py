"""The case list, the case page and its PDF; the overdue banner. ``case_response`` and
``back_to_case`` are how the other slices' views answer after a change.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from aefi import clock, exporting, i18n, listing
from aefi.db import session_scope
from aefi.deps import SessionDep, WebActor
from aefi.i18n import N_
from aefi.investigation import access, lifecycle
from aefi.investigation.cases import service as case_files
from aefi.investigation.labels import (
    STATUS_FILTERS,
    helpers,
    page_ctx,
)
from aefi.investigation.overview import export as case_export
from aefi.investigation.overview import service as case_overview
from aefi.types import Id
from aefi.web import is_htmx, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])


# --- the banner --------------------------------------------------------------------------


class _Banner:
    def __init__(self, level: str, text: str) -> None:
        self.level = level
        self.text = text


def overdue_banner(user) -> list:
    """Investigators see how many of their (or nobody's) cases have a deadline past due."""
    from aefi.auth.permissions import Actor

    if user is None or not access.can_work(actor := Actor.of(user)):
        return []
    with session_scope() as session:
        n = case_overview.overdue_count(session, actor)
    if not n:
        return []
    return [
        _Banner(
            "warning",
            i18n.gettext("Case files with a deadline past due: {n}", n=n),
        )
    ]


# --- the list ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseQuery:
    """The case list's filters, as the query string carries them."""

    status: str = listing.choice(dict(STATUS_FILTERS), label=N_("Status"))
    assignee: str = listing.labelled("", N_("Assigned to"))
    overdue: bool = listing.labelled(False, N_("Overdue only"))
    kind: str = listing.choice(("report", "cluster"), label=N_("Kind"))
    q: str = listing.labelled("", N_("Search"))
    sort: str = listing.sorting(tuple(case_overview.CASE_SORTS), default="due")


@router.get("/cases")
def cases_page(request: Request, session: SessionDep, actor: WebActor):
    flt = listing.read(CaseQuery, request.query_params)
    wanted = case_overview.CaseFilter(**dataclasses.asdict(flt))

    def query(n: int, size: int):
        return case_overview.list_cases(session, actor, wanted, page=n, per_page=size)

    if fmt := listing.export_format(request.query_params):
        return exporting.export_list(
            session, actor, case_export.CASES, query, fmt=fmt, filter_text=listing.query_string(flt)
        )
    page = listing.fetch(query, listing.paging(request.query_params, per_page=50))
    now = clock.now()
    return render(
        request,
        "investigation/list.html",
        {
            **listing.context("/cases", flt, page),
            "reports": case_overview.reports_by_id(session, page.items),
            "overdue_of": {c.id: lifecycle.is_overdue(c, now) for c in page.items},
            "counts": case_overview.case_counts(session, actor),
            "investigators": case_files.investigators(session, actor),
            "status_filters": STATUS_FILTERS,
            "can_work": access.can_work(actor),
            "me": actor.user_id,
            **helpers(),
        },
        block="results",
    )


# --- the case page -----------------------------------------------------------------------


def case_response(request: Request, session, actor, case_id: Id, **extra: Any):
    page = case_overview.case_page(session, actor, case_id)
    return render(request, "investigation/case.html", page_ctx(page, **extra))


@router.get("/cases/{case_id:int}")
def case_page(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    return case_response(request, session, actor, case_id)


def back_to_case(request: Request, case_id: Id, anchor: str = ""):
    """After a change: htmx gets the refreshed part (or a full refresh), a plain form post
    goes back to the case page."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    return RedirectResponse(f"/cases/{case_id}{'#' + anchor if anchor else ''}", status_code=303)


# --- the investigation report (PDF) ------------------------------------------------------


@router.get("/cases/{case_id:int}/report.pdf")
def report_pdf(case_id: Id, session: SessionDep, actor: WebActor):
    from aefi.intake.pages import ROUTE_LABELS
    from aefi.pdf import render_pdf

    page = case_overview.case_page(session, actor, case_id)
    ctx = page_ctx(
        page,
        routes=ROUTE_LABELS,
        printed_at=clock.now(),
        sections_values={k: v.values for k, v in page.sections.items()},
    )
    pdf = render_pdf("pdf/investigation_report.html", ctx)
    name = quote(f"{page.case.number}-investigation.pdf")
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f"inline; filename*=UTF-8''{name}"},
    )
