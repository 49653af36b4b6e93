"""The life of a case file as pure decisions: which step may follow which, and how its
deadlines stand at a given moment.

    open ──start──► investigating ──to panel──► awaiting_panel
                         │                            │
                         └──────────classify──────────┴──► classified ──close──► closed
    classified / closed ──reopen──► investigating

A case may also be closed without a classification when a reason is given (not an AEFI
after all, merged into a group case); the reason is kept.

Deadlines (DOMAIN.md, national AEFI surveillance plan): the investigation starts within
48 h of receipt of the report; the investigation form is completed within 3 days of the
start; for death, serious and group AEFI a preliminary report follows within 7 days of the
start. The hours come from triage's rule set (`aefi.triage.deadlines`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from aefi.i18n import N_
from aefi.triage import deadlines as due
from aefi.triage.deadlines import Deadline
from aefi.triage.ruleset import Ruleset


class CaseStatus(StrEnum):
    open = "open"  # opened by triage, nobody has started
    investigating = "investigating"
    awaiting_panel = "awaiting_panel"  # with the expert panel (调查诊断专家组)
    classified = "classified"  # the panel's final classification is recorded
    closed = "closed"


# Capitalised msgids, so that they do not collide with other domains' lower-case status
# words in the merged catalog.
CASE_STATUS_LABELS: dict[str, str] = {
    CaseStatus.open: N_("Not started"),
    CaseStatus.investigating: N_("Investigating"),
    CaseStatus.awaiting_panel: N_("Awaiting expert panel"),
    CaseStatus.classified: N_("Classified"),
    CaseStatus.closed: N_("Case closed"),
}

S = CaseStatus

# action -> (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[CaseStatus], CaseStatus]] = {
    "start": (frozenset({S.open}), S.investigating),
    "to_panel": (frozenset({S.investigating}), S.awaiting_panel),
    "back_to_investigation": (frozenset({S.awaiting_panel}), S.investigating),
    "classify": (
        frozenset({S.open, S.investigating, S.awaiting_panel, S.classified}),
        S.classified,
    ),
    "close": (frozenset({S.open, S.investigating, S.awaiting_panel, S.classified}), S.closed),
    "reopen": (frozenset({S.classified, S.closed}), S.investigating),
}

# Work on the content of a case (form, evidence, assessments) is allowed until it closes.
WORKING = frozenset({S.open, S.investigating, S.awaiting_panel, S.classified})


def allowed(status: str, action: str) -> bool:
    sources, _target = TRANSITIONS[action]
    return CaseStatus(status) in sources


def target(action: str) -> CaseStatus:
    return TRANSITIONS[action][1]


def actions(status: str) -> list[str]:
    """The status actions open from ``status``, in the order the page offers them."""
    order = ("start", "to_panel", "back_to_investigation", "classify", "close", "reopen")
    return [a for a in order if allowed(status, a)]


DEADLINE_LABELS = {
    Deadline.INVESTIGATION_START.value: N_("Investigation started (48 h from receipt)"),
    Deadline.INVESTIGATION_FORM.value: N_("Investigation form completed (3 days from start)"),
    Deadline.PRELIMINARY_REPORT.value: N_("Preliminary report (7 days from start)"),
}


@dataclass(frozen=True)
class DeadlineState:
    name: str
    label: str  # msgid
    due_at: datetime | None  # None: its clock has not started (no start yet)
    done_at: datetime | None
    overdue: bool  # late: done after the due time, or not done and past it
    running: bool  # not done yet and its clock is running

    @property
    def met(self) -> bool:
        return self.done_at is not None and not self.overdue

    def remaining(self, now: datetime) -> timedelta | None:
        return None if self.due_at is None else self.due_at - now


def due_times(
    start_due_at: datetime,
    started_at: datetime | None,
    preliminary_required: bool,
    ruleset: Ruleset,
) -> dict[str, datetime]:
    """The due times of a case file. The start is due as triage set it (from receipt, or
    from the follow-up that made the report need investigation); the form and preliminary
    report count from the start (``deadlines.case_deadlines``)."""
    times = {Deadline.INVESTIGATION_START.value: start_due_at}
    if started_at is not None:
        times[Deadline.INVESTIGATION_FORM.value] = due.investigation_form_due(started_at, ruleset)
        if preliminary_required:
            times[Deadline.PRELIMINARY_REPORT.value] = due.preliminary_report_due(
                started_at, ruleset
            )
    return times


def deadline_states(
    *,
    start_due_at: datetime,
    started_at: datetime | None,
    form_due_at: datetime | None,
    form_completed_at: datetime | None,
    preliminary_required: bool,
    preliminary_due_at: datetime | None,
    preliminary_report_at: datetime | None,
    now: datetime,
    closed_at: datetime | None = None,
) -> list[DeadlineState]:
    """How each deadline of a case stands at ``now``. A closed case stops its clocks: a
    step not done by then is late if its due time had passed when the case closed."""
    if closed_at is not None:
        now = min(now, closed_at)
    rows = [
        (Deadline.INVESTIGATION_START.value, start_due_at, started_at),
        (Deadline.INVESTIGATION_FORM.value, form_due_at, form_completed_at),
    ]
    if preliminary_required:
        rows.append((Deadline.PRELIMINARY_REPORT.value, preliminary_due_at, preliminary_report_at))
    out = []
    for name, due_at, done_at in rows:
        overdue = due_at is not None and due.is_overdue(due_at, done_at, now)
        out.append(
            DeadlineState(
                name=name,
                label=DEADLINE_LABELS[name],
                due_at=due_at,
                done_at=done_at,
                overdue=overdue,
                running=due_at is not None and done_at is None and closed_at is None,
            )
        )
    return out


def next_due(states: list[DeadlineState]) -> datetime | None:
    """The earliest deadline still running: what the case list sorts by."""
    running = [s.due_at for s in states if s.running and s.due_at is not None]
    return min(running) if running else None
