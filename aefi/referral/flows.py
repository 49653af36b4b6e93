"""What follows for the green channel: triage's decision opens a referral, and the
acknowledgement timer escalates referrals nobody acknowledged in time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aefi import background
from aefi.referral.sending import service as sending
from aefi.referral.steps import service as steps
from aefi.triage import events as triage_events

if TYPE_CHECKING:
    from sqlmodel import Session

    from aefi.auth.permissions import Actor
    from aefi.intake.models import Report


def on_report_triaged(
    session: Session, actor: Actor, report: Report, decision: Any, previous: Any
) -> None:
    """Triage decided (or re-decided) a report: refer it when the decision asks for it."""
    sending.open_from_triage(session, actor, report, decision, previous)


triage_events.subscribe_report_triaged(on_report_triaged)
# Every 30 s: an escalation is at most half a minute late on a 10-minute limit.
background.register("referral_timers", lambda session: steps.check_timers(session), 30)
