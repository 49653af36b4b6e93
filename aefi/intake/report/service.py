"""One report read for its printed card (a disclosure of the identity, audited)."""

from __future__ import annotations

from sqlmodel import Session

from aefi import audit
from aefi.auth.permissions import Actor, sees_identity
from aefi.errors import NotFound
from aefi.intake import access
from aefi.intake.models import Report


def print_card(session: Session, actor: Actor, report_id: int) -> Report:
    """The report for its printed card (PDF). The card carries the full identity, so
    printing it is recorded like any other disclosure."""
    if not sees_identity(actor):
        raise NotFound("Not found.")
    report = access.get_report(session, actor, report_id)
    audit.record(
        session,
        actor,
        "print",
        "report",
        report.id,
        summary=report.number,
        county_id=report.county_id,
    )
    session.commit()
    return report
