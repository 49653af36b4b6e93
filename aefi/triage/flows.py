"""What follows a report for triage: every report filed, and every follow-up that changes
its facts, is triaged at once, in the filing transaction (intake's events). Overdue queue
items are flagged on the background timer."""

from aefi import background
from aefi.intake import events as intake_events
from aefi.triage.decision import service as decision
from aefi.triage.escalation import service as escalation

intake_events.subscribe_report_filed(decision.on_report_filed)
intake_events.subscribe_follow_up_added(decision.on_follow_up_added)

background.register("triage_overdue", escalation.flag_overdue, 60)
