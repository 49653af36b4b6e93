"""What a green-channel referral may do next, and when its clocks run out.

Pure: plain values in and out; no web or database imports.

The life of one referral (one "leg": one hospital asked to take one patient):

    sent ──► acknowledged ──► arrived ──► admitted ──► discharged | transferred | died
     │  ╲                        └──────────────────► discharged | transferred | died
     │   escalated (not acknowledged in time; the hospital may still acknowledge)
     └──► declined (reason) ─► a new leg to the next hospital (primary, then backup)
     └──► rerouted (the sender gave up waiting) ─► a new leg to the next hospital
     └──► cancelled (the sender withdrew it: the patient recovered on site, ...)

A declined or rerouted leg stays as it was, so the trail shows every hospital asked.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta

# The AVPU scale is the report's emergency block's too: one home, in intake.
from aefi.intake.emergency import Consciousness as Consciousness


class ReferralStatus(enum.StrEnum):
    sent = "sent"
    escalated = "escalated"
    acknowledged = "acknowledged"
    arrived = "arrived"
    admitted = "admitted"
    discharged = "discharged"
    transferred = "transferred"
    died = "died"
    declined = "declined"
    rerouted = "rerouted"
    cancelled = "cancelled"


class Action(enum.StrEnum):
    acknowledge = "acknowledge"
    arrive = "arrive"
    admit = "admit"
    discharge = "discharge"
    transfer = "transfer"
    die = "die"
    decline = "decline"
    escalate = "escalate"
    reroute = "reroute"
    cancel = "cancel"


class Urgency(enum.StrEnum):
    emergency = "emergency"  # 危急: airway, breathing, circulation at risk now
    urgent = "urgent"  # 紧急: needs hospital care today, stable for now
    non_urgent = "non_urgent"


class Transport(enum.StrEnum):
    ambulance_120 = "ambulance_120"
    site_vehicle = "site_vehicle"
    family = "family"


class Result(enum.StrEnum):
    """How the hospital's care of the patient ended."""

    discharged = "discharged"
    transferred = "transferred"
    died = "died"


S = ReferralStatus
AWAITING_ACK = frozenset({S.sent, S.escalated})
OPEN = frozenset({S.sent, S.escalated, S.acknowledged, S.arrived, S.admitted})
IN_HOSPITAL = frozenset({S.arrived, S.admitted})
# Legs that handed the patient on to another hospital.
HANDED_ON = frozenset({S.declined, S.rerouted})

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[Action, tuple[frozenset[ReferralStatus], ReferralStatus]] = {
    Action.acknowledge: (AWAITING_ACK, S.acknowledged),
    # The ambulance may be faster than the click: arrival also acknowledges.
    Action.arrive: (AWAITING_ACK | {S.acknowledged}, S.arrived),
    Action.admit: (frozenset({S.arrived}), S.admitted),
    Action.discharge: (IN_HOSPITAL, S.discharged),
    Action.transfer: (IN_HOSPITAL, S.transferred),
    Action.die: (IN_HOSPITAL, S.died),
    Action.decline: (AWAITING_ACK | {S.acknowledged}, S.declined),
    Action.escalate: (frozenset({S.sent}), S.escalated),
    Action.reroute: (AWAITING_ACK, S.rerouted),
    Action.cancel: (AWAITING_ACK | {S.acknowledged}, S.cancelled),
}
RESULT_ACTION = {
    Result.discharged: Action.discharge,
    Result.transferred: Action.transfer,
    Result.died: Action.die,
}

# Who takes which step: the receiving hospital, or the sending side (site physician,
# county CDC and bureau). Escalation is the timer's.
HOSPITAL_ACTIONS = (
    Action.acknowledge,
    Action.arrive,
    Action.admit,
    Action.discharge,
    Action.transfer,
    Action.die,
    Action.decline,
)
SENDER_ACTIONS = (Action.reroute, Action.cancel)


class TransitionError(ValueError):
    def __init__(self, status: str, action: str) -> None:
        super().__init__(f"a {status} referral cannot {action}")
        self.status = status
        self.action = action


def next_status(status: str, action: Action | str) -> ReferralStatus:
    """The status after ``action``, or TransitionError if it may not happen now."""
    action = Action(action)
    sources, target = TRANSITIONS[action]
    if ReferralStatus(status) not in sources:
        raise TransitionError(status, action.value)
    return target


def can(status: str, action: Action | str) -> bool:
    return ReferralStatus(status) in TRANSITIONS[Action(action)][0]


def allowed(status: str, actions: Iterable[Action]) -> list[Action]:
    """Of ``actions``, those the status allows now, in the order given (for buttons)."""
    return [a for a in actions if can(status, a)]


def ack_due_at(sent_at: datetime, ack_minutes: int) -> datetime:
    return sent_at + timedelta(minutes=ack_minutes)


def ack_overdue(status: str, sent_at: datetime, now: datetime, ack_minutes: int) -> bool:
    """Sent and not acknowledged within the configured time (default 10 min): escalate."""
    return ReferralStatus(status) == S.sent and now >= ack_due_at(sent_at, ack_minutes)


def minutes_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 60, 1)


def next_hospital(
    primary_id: int | None, backup_id: int | None, tried: Iterable[int]
) -> int | None:
    """The site's green-channel hospitals in order, skipping those already asked."""
    asked = set(tried)
    for hospital_id in (primary_id, backup_id):
        if hospital_id is not None and hospital_id not in asked:
            return hospital_id
    return None


def urgency_for(
    event_groups: Iterable[str], life_threatening: bool, *, emergency_groups: Iterable[str]
) -> Urgency:
    """Triage's referrals: a life-threatening event, or one of the designated emergency
    conditions, is an emergency (minutes matter: WHO anaphylaxis guidance, adrenaline and
    transfer without delay). ``emergency_groups`` are the conditions the triage rules refer
    to the green channel (rules.toml [referral] event_groups, which also open the report
    form's emergency block): one home for the list."""
    if life_threatening or set(emergency_groups) & set(event_groups):
        return Urgency.emergency
    return Urgency.urgent


def should_refer(
    *, required: bool, previously_required: bool, has_open: bool, has_any: bool
) -> bool:
    """Whether triage opens a referral. Re-triage after every follow-up repeats the same
    decision, so a referral is opened when the decision is new (first triage, or it changed
    to "refer"), or when none was ever opened; never while one is open."""
    if not required or has_open:
        return False
    return not previously_required or not has_any


def median(values: Iterable[float]) -> float | None:
    xs = sorted(values)
    if not xs:
        return None
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else round((xs[mid - 1] + xs[mid]) / 2, 1)
