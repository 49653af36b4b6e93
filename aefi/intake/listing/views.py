"""The list of reports: filters, paging, the drafts still open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from fastapi import APIRouter, Depends, Request
from sqlmodel import col, select

from aefi import clock, exporting, i18n, listing
from aefi.deps import SessionDep, WebActor
from aefi.i18n import N_
from aefi.intake import access, symptoms
from aefi.intake.drafts import service as drafts_service
from aefi.intake.listing import export, service
from aefi.intake.models import ReportStatus
from aefi.intake.pages import draft_summary, symptom_name
from aefi.registry.models import Region, Vaccine
from aefi.registry.records import service as registry_records
from aefi.web import render, verify_csrf

pages = APIRouter(dependencies=[Depends(verify_csrf)])


PER_PAGE = 25


@dataclass(frozen=True)
class ReportQuery:
    """The report list's filters, as the query string carries them."""

    since: date | None = listing.labelled(None, N_("Reported from"))
    until: date | None = listing.labelled(None, N_("Reported until"))
    site: int | None = listing.labelled(None, N_("Site"))
    vaccine: str = listing.labelled("", N_("Vaccine"))
    lot: str = listing.labelled("", N_("Lot"))
    serious: str = listing.choice(("yes", "no"), label=N_("Seriousness"))
    status: str = listing.choice(ReportStatus.__members__, label=N_("Status"))
    q: str = listing.labelled("", N_("Search"))
    sort: str = listing.sorting(tuple(service.SORTS), default="-reported")

    def for_service(self) -> service.ReportFilter:
        """Days are whole local days: ``until`` includes its own."""
        return service.ReportFilter(
            since=_day_start(self.since),
            until=_day_start(self.until + timedelta(days=1)) if self.until else None,
            site_id=self.site,
            vaccine_code=self.vaccine,
            lot_number=self.lot,
            serious={"yes": True, "no": False}.get(self.serious),
            status=self.status,
            q=self.q,
            sort=self.sort,
        )


def _day_start(day: date | None) -> datetime | None:
    return clock.local_start_of(day) if day else None


def _county_names(session, reports) -> dict[int, str]:
    ids = {r.county_id for r in reports}
    if not ids:
        return {}
    rows = session.exec(select(Region).where(col(Region.id).in_(ids))).all()
    return {g.id: i18n.pick(g.name, g.name_en) for g in rows}


@pages.get("/reports")
def list_page(request: Request, session: SessionDep, actor: WebActor):
    flt = listing.read(ReportQuery, request.query_params)
    wanted = flt.for_service()

    def query(n: int, size: int):
        return service.list_reports(session, actor, wanted, page=n, per_page=size)

    if fmt := listing.export_format(request.query_params):
        return exporting.export_list(
            session, actor, export.REPORTS, query, fmt=fmt, filter_text=listing.query_string(flt)
        )
    page = listing.fetch(query, listing.paging(request.query_params, per_page=PER_PAGE))
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
            **listing.context("/reports", flt, page),
            "doses": access.report_doses(session, [r.id for r in page.items]),
            "sites": sites,
            "site_names": {s.id: i18n.pick(s.name, s.name_en) for s in sites},
            "vaccines": session.exec(select(Vaccine).order_by(Vaccine.code)).all(),
            "statuses": list(ReportStatus),
            "drafts": drafts_service.open_drafts(session, actor) if access.can_file(actor) else [],
            "can_file": access.can_file(actor),
            "county_wide": county_wide,
            # Over several counties (the province): each case's county of origin.
            "county_names": (
                _county_names(session, page.items) if len(actor.county_ids) != 1 else {}
            ),
            "group_name": symptoms.group_name,
            "symptom_name": symptom_name,
            "draft_summary": draft_summary,
        },
        block="results",
    )


router = pages
