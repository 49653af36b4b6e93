"""What reporting does when other things happen: a report filed after a follow-up contact
found a reaction is linked back to that contact."""

from __future__ import annotations

from sqlmodel import Session

from aefi.auth.permissions import Actor
from aefi.intake import events
from aefi.intake.models import Report
from aefi.reporting import traceability


def on_report_filed(session: Session, actor: Actor, report: Report) -> None:
    traceability.note_report(session, report)


events.subscribe_report_filed(on_report_filed)
