"""Who may file and read reports, and loading them in the actor's scope: one report (a
reporter sees only their site's), the linked doses of several reports."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from aefi.auth.models import Role
from aefi.auth.permissions import Actor, in_scope, require_role
from aefi.errors import NotFound
from aefi.intake.models import Report, ReportDose
from aefi.registry.models import Lot, Vaccine

FILERS = (Role.reporter, Role.investigator, Role.admin, Role.api_client)
READERS = (Role.reporter, Role.investigator, Role.bureau, Role.admin, Role.province)


def get_report(session: Session, actor: Actor, report_id: int) -> Report:
    require_role(actor, *READERS)
    report = session.get(Report, report_id)
    if report is None or not in_scope(actor, report.county_id):
        raise NotFound("Not found.")
    if actor.role == Role.reporter and report.site_id != actor.site_id:
        raise NotFound("Not found.")
    return report


@dataclass(frozen=True)
class DoseView:
    link: ReportDose
    lot: Lot
    vaccine: Vaccine


def report_doses(session: Session, report_ids: list[int]) -> dict[int, list[DoseView]]:
    """The linked doses of several reports in one query."""
    out: dict[int, list[DoseView]] = {rid: [] for rid in report_ids}
    if not report_ids:
        return out
    rows = session.exec(
        select(ReportDose, Lot, Vaccine)
        .join(Lot, Lot.id == ReportDose.lot_id)
        .join(Vaccine, Vaccine.id == ReportDose.vaccine_id)
        .where(col(ReportDose.report_id).in_(report_ids))
        .order_by(ReportDose.id)
    )
    for link, lot, vaccine in rows:
        out[link.report_id].append(DoseView(link, lot, vaccine))
    return out
