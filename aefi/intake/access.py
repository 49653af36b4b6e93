"""Who may do what with a report, and loading reports in the actor's scope: one report (a
reporter sees only their site's), the linked doses of several reports. The services check
these before they act; the pages ask the same questions to decide what to offer (a form
nobody may submit is not shown)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from aefi.auth.models import Role
from aefi.auth.permissions import Actor, in_scope, require_role
from aefi.errors import NotFound
from aefi.intake.models import Report, ReportDose
from aefi.registry.models import Lot, Vaccine

# Who files reports (the API client files for the immunization information system).
FILERS = (Role.reporter, Role.investigator, Role.admin, Role.api_client)
# (aefi itself too, for the county it acts for: reporting its cases upward)
READERS = (Role.reporter, Role.investigator, Role.bureau, Role.admin, Role.province, Role.system)
# Who adds follow-ups to a report of their scope (a hospital: ``hospital_cares_for``).
FOLLOW_UP_ROLES = (Role.reporter, Role.investigator, Role.admin)


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


def can_file(actor: Actor) -> bool:
    return actor.role in FILERS


def may_link_dose_at(actor: Actor, site_id: int) -> bool:
    """A report links doses of the actor's scope; a reporter's, only doses given at their
    own site."""
    return actor.role != Role.reporter or site_id == actor.site_id


def can_follow_up(actor: Actor, report: Report) -> bool:
    """The reporter of the report's site, or the county's investigator or administrator."""
    if actor.role not in FOLLOW_UP_ROLES or not in_scope(actor, report.county_id):
        return False
    return actor.role != Role.reporter or report.site_id == actor.site_id


def hospital_cares_for(session: Session, actor: Actor, report: Report) -> bool:
    """A hospital adds to a report whose patient was referred to it (the admission and
    the outcome of the referral become follow-ups of the report)."""
    from aefi.referral.models import Referral

    if actor.role != Role.hospital or actor.hospital_id is None:
        return False
    if not in_scope(actor, report.county_id):
        return False
    stmt = select(Referral.id).where(
        Referral.report_id == report.id, Referral.hospital_id == actor.hospital_id
    )
    return session.exec(stmt.limit(1)).first() is not None
