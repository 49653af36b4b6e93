"""The list of reports in the actor's scope: filtered, sorted (newest first unless asked
otherwise), paged; the same rows for the page, the API and the export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, or_
from sqlmodel import Session, col, func, select

from aefi import listing
from aefi.auth.permissions import Actor, require_role, scope_clause, site_filter
from aefi.intake import access
from aefi.intake.models import Report, ReportDose
from aefi.registry.models import Lot, Site, Vaccine


@dataclass(frozen=True)
class ReportFilter:
    since: datetime | None = None
    until: datetime | None = None
    site_id: int | None = None
    site_code: str = ""
    vaccine_code: str = ""
    lot_number: str = ""
    serious: bool | None = None
    status: str = ""
    q: str = ""
    sort: str = "-reported"  # a key of SORTS, "-" before it for descending


# The columns the list sorts by (``listing.order_by``), each as SQL: a report with several
# doses sorts by its first lot number.
SORTS = {
    "number": col(Report.number),
    "reported": col(Report.reported_at),
    "onset": col(Report.onset_at),
    "patient": col(Report.patient_name),
    "site": select(Site.name).where(Site.id == Report.site_id).scalar_subquery(),
    "lot": select(func.min(Lot.lot_number))
    .where(ReportDose.report_id == Report.id, Lot.id == ReportDose.lot_id)
    .scalar_subquery(),
    "serious": col(Report.serious),
    "status": col(Report.status),
}


def list_reports(
    session: Session, actor: Actor, flt: ReportFilter, *, page: int = 1, per_page: int = 25
) -> tuple[list[Report], int]:
    """Reports in the actor's scope, filtered, sorted by ``flt.sort`` and paged."""
    require_role(actor, *access.READERS)
    stmt = select(Report).where(scope_clause(Report.county_id, actor))
    only_site = site_filter(actor)
    if only_site is not None:
        stmt = stmt.where(Report.site_id == only_site)
    if flt.since:
        stmt = stmt.where(col(Report.reported_at) >= flt.since)
    if flt.until:
        stmt = stmt.where(col(Report.reported_at) < flt.until)
    if flt.site_id:
        stmt = stmt.where(Report.site_id == flt.site_id)
    if flt.site_code:
        stmt = stmt.where(
            Report.site_id == select(Site.id).where(Site.code == flt.site_code).scalar_subquery()
        )
    if flt.lot_number:
        stmt = stmt.where(
            exists().where(
                ReportDose.report_id == Report.id,
                ReportDose.lot_id == Lot.id,
                Lot.lot_number == flt.lot_number.strip(),
            )
        )
    if flt.vaccine_code:
        stmt = stmt.where(
            exists().where(
                ReportDose.report_id == Report.id,
                ReportDose.vaccine_id == Vaccine.id,
                Vaccine.code == flt.vaccine_code.strip(),
            )
        )
    if flt.serious is not None:
        stmt = stmt.where(Report.serious == flt.serious)
    if flt.status:
        stmt = stmt.where(Report.status == flt.status)
    if flt.q.strip():
        term = flt.q.strip()
        stmt = stmt.where(or_(Report.number == term, col(Report.patient_name).ilike(f"%{term}%")))
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(
        stmt.order_by(*listing.order_by(flt.sort or "-reported", SORTS, col(Report.id)))
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
    )
    return list(rows), total
