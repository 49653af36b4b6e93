"""What reporting does when other things happen (``aefi/flow.py``): a report filed after a
follow-up contact found a reaction is linked back to that contact."""

from __future__ import annotations

from sqlmodel import Session

from aefi.auth.permissions import Actor
from aefi.events import ReportFiled
from aefi.intake.models import Report
from aefi.reporting.follow_up import service as follow_up


def on_report_filed(session: Session, actor: Actor, event: ReportFiled) -> None:
    follow_up.note_report(session, session.get(Report, event.report_id))
