"""The list of reports: filters, paging, the drafts still open."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from sqlmodel import select

from aefi import clock, i18n
from aefi.deps import SessionDep, WebActor
from aefi.intake import access, symptoms
from aefi.intake.drafts import service as drafts_service
from aefi.intake.listing import service
from aefi.intake.models import ReportStatus
from aefi.intake.pages import draft_summary, int_id, symptom_name
from aefi.registry.models import Vaccine
from aefi.registry.records import service as registry_records
from aefi.types import page_number
from aefi.web import render, verify_csrf

pages = APIRouter(dependencies=[Depends(verify_csrf)])


PER_PAGE = 25


def _day(text: str) -> datetime | None:
    """A ``<input type=date>`` value as the start of that day in the local zone."""
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        return None
    return clock.local_start_of(day)


@pages.get("/reports")
def list_page(
    request: Request,
    session: SessionDep,
    actor: WebActor,
    since: str = "",
    until: str = "",
    site: str = "",
    vaccine: str = "",
    lot: str = "",
    serious: str = "",
    status: str = "",
    q: str = "",
    page: str = "1",
):
    until_day = _day(until)
    flt = service.ReportFilter(
        since=_day(since),
        until=until_day + timedelta(days=1) if until_day else None,
        site_id=int_id(site),
        vaccine_code=vaccine.strip(),
        lot_number=lot.strip(),
        serious={"yes": True, "no": False}.get(serious),
        status=status if status in ReportStatus.__members__ else "",
        q=q.strip(),
    )
    page_no = page_number(page)
    rows, total = service.list_reports(session, actor, flt, page=page_no, per_page=PER_PAGE)
    filters = {
        "since": since,
        "until": until,
        "site": site,
        "vaccine": vaccine,
        "lot": lot,
        "serious": serious,
        "status": status,
        "q": q,
    }
    county_wide = actor.is_county_wide
    sites = (
        registry_records.list_records(
            session, actor, registry_records.KINDS["sites"], per_page=500
        )[0]
        if county_wide
        else []
    )
    return render(
        request,
        "intake/list.html",
        {
            "rows": rows,
            "total": total,
            "page": page_no,
            "per_page": PER_PAGE,
            "filters": filters,
            "base": "/reports?" + urlencode({k: v for k, v in filters.items() if v}) + "&",
            "doses": access.report_doses(session, [r.id for r in rows]),
            "sites": sites,
            "site_names": {s.id: i18n.pick(s.name, s.name_en) for s in sites},
            "vaccines": session.exec(select(Vaccine).order_by(Vaccine.code)).all(),
            "statuses": list(ReportStatus),
            "drafts": drafts_service.open_drafts(session, actor)
            if actor.role in access.FILERS
            else [],
            "can_file": actor.role in access.FILERS,
            "county_wide": county_wide,
            "group_name": symptoms.group_name,
            "symptom_name": symptom_name,
            "draft_summary": draft_summary,
        },
        block="results",
    )


router = pages
