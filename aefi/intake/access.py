"""Who may do what with a report. The service checks these before it acts; the pages ask
the same questions to decide what to offer (a form nobody may submit is not shown)."""

from __future__ import annotations

from sqlmodel import Session, select

from aefi.auth.models import Role
from aefi.auth.permissions import Actor, in_scope
from aefi.intake.models import Report

# Who files reports (the API client files for the immunization information system).
FILERS = (Role.reporter, Role.investigator, Role.admin, Role.api_client)
READERS = (Role.reporter, Role.investigator, Role.bureau, Role.admin, Role.province)
# Who adds follow-ups to a report of their scope (a hospital: ``hospital_cares_for``).
FOLLOW_UP_ROLES = (Role.reporter, Role.investigator, Role.admin)


def can_file(actor: Actor) -> bool:
    return actor.role in FILERS


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
