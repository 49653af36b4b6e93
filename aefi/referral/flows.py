"""What follows triage for the green channel (``aefi/flow.py``): the decision opens a
referral. The acknowledgement timer is ``flow.JOBS``' ``referral_timers``."""

from __future__ import annotations

from sqlmodel import Session

from aefi.auth.permissions import Actor
from aefi.events import ReportTriaged
from aefi.intake.models import Report
from aefi.referral.sending import service as sending


def on_report_triaged(session: Session, actor: Actor, event: ReportTriaged) -> None:
    """Triage decided (or re-decided) a report: refer it when the decision asks for it."""
    report = session.get(Report, event.report_id)
    sending.open_from_triage(session, actor, report, event.decision, event.previous)
