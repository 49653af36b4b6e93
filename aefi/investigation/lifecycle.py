"""What every use case of a case file shares: its deadlines, its status moves, its audit
record and its notifications; and the deadline reminders of the background loop.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from aefi import audit, clock
from aefi.auth.models import Role, User
from aefi.auth.permissions import Actor
from aefi.errors import Conflict
from aefi.intake.models import Report, ReportStatus
from aefi.investigation import workflow
from aefi.investigation.models import (
    CaseFile,
    CaseKind,
    CaseStatus,
)
from aefi.triage import deadlines as due
from aefi.triage.rules_in_force.service import current_ruleset
from aefi.triage.ruleset import Ruleset

ENTITY = "case_file"


def ruleset() -> Ruleset:
    """The rule set whose deadline hours apply: triage's rule set in force."""
    return current_ruleset()


# --- deadlines ---------------------------------------------------------------------------


def deadline_states(case: CaseFile, now: datetime | None = None) -> list[workflow.DeadlineState]:
    return workflow.deadline_states(
        start_due_at=case.start_due_at,
        started_at=case.started_at,
        form_due_at=case.form_due_at,
        form_completed_at=case.form_completed_at,
        preliminary_required=case.preliminary_report_required,
        preliminary_due_at=case.preliminary_due_at,
        preliminary_report_at=case.preliminary_report_at,
        now=now or clock.now(),
        closed_at=case.closed_at if case.status == CaseStatus.closed else None,
    )


def is_overdue(case: CaseFile, now: datetime | None = None) -> bool:
    """A deadline still running is past due (a late but done step no longer counts here)."""
    now = now or clock.now()
    return case.status != CaseStatus.closed and any(
        s.overdue and s.running for s in deadline_states(case, now)
    )


def refresh_deadlines(case: CaseFile) -> None:
    times = workflow.due_times(
        case.start_due_at, case.started_at, case.preliminary_report_required, ruleset()
    )
    case.form_due_at = times.get(due.Deadline.INVESTIGATION_FORM.value)
    case.preliminary_due_at = times.get(due.Deadline.PRELIMINARY_REPORT.value)
    states = deadline_states(case)
    case.next_due_at = None if case.status == CaseStatus.closed else workflow.next_due(states)
    case.updated_at = clock.now()


def record(
    session: Session,
    actor: Actor,
    case: CaseFile,
    action: str,
    *,
    changes: dict[str, Any] | None = None,
    summary: str = "",
) -> None:
    audit.record(
        session,
        actor,
        action,
        ENTITY,
        case.id,
        changes=changes,
        summary=summary or case.number,
        county_id=case.county_id,
    )


def apply_changes(case: CaseFile, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set the case's fields and return what changed, for the audit record."""
    before = {k: getattr(case, k) for k in values}
    for key, value in values.items():
        setattr(case, key, value)
    case.updated_at = clock.now()
    return audit.diff(before, values)


def notify(session: Session, case: CaseFile, *, kind: str, title: str, body: str = "") -> None:
    from aefi.notifications import service as notifications

    if case.assignee_id is not None:
        user = session.get(User, case.assignee_id)
        if user is not None and user.active:
            notifications.notify_users(
                session,
                [user],
                kind=kind,
                title=title,
                body=body,
                link=f"/cases/{case.id}",
                urgent=case.serious,
            )
            return
    notifications.notify(
        session,
        county_id=case.county_id,
        roles=(Role.investigator,),
        kind=kind,
        title=title,
        body=body,
        link=f"/cases/{case.id}",
        urgent=case.serious,
    )


def _set_report_status(session: Session, actor: Actor, case: CaseFile, status: str) -> None:
    """The report follows its case (report cases only; a cluster's members have their own)."""
    if case.kind != CaseKind.report or case.report_id is None:
        return
    report = session.get(Report, case.report_id)
    if report is None or report.status == status:
        return
    old = report.status
    report.status = status
    session.add(report)
    audit.record(
        session,
        actor,
        "status",
        "report",
        report.id,
        changes={"status": [old, status], "case_id": case.id},
        summary=report.number,
        county_id=report.county_id,
    )


def move(session: Session, actor: Actor, case: CaseFile, action: str, **extra: Any) -> None:
    if not workflow.allowed(case.status, action):
        raise Conflict(
            "This step is not possible while the case is {status}.",
            status=case.status,
        )
    old = case.status
    new = workflow.target(action)
    case.status = new
    changes = {"status": [old, new.value], **extra}
    now = clock.now()
    if action == "start" and case.started_at is None:
        case.started_at = now
        _set_report_status(session, actor, case, ReportStatus.investigating)
    elif action == "reopen":
        case.reopen_count += 1
        case.closed_at = None
        if case.started_at is None:
            case.started_at = now
        _set_report_status(session, actor, case, ReportStatus.investigating)
    elif action == "close":
        case.closed_at = now
        _set_report_status(session, actor, case, ReportStatus.closed)
    elif action == "classify":
        _set_report_status(session, actor, case, ReportStatus.classified)
    refresh_deadlines(case)
    session.add(case)
    session.flush()
    record(session, actor, case, "status", changes=changes)


def ensure_started(session: Session, actor: Actor, case: CaseFile) -> None:
    """Work on the content of an open case means the investigation has started."""
    if case.status == CaseStatus.open:
        move(session, actor, case, "start")


# --- deadline reminders (background) -----------------------------------------------------


def check_deadlines(session: Session) -> int:
    """Notify once per deadline that has passed on a case still open: the assignee, or
    every investigator of the county when nobody has the case. Returns how many."""
    now = clock.now()
    cases = session.exec(
        select(CaseFile).where(
            CaseFile.status != CaseStatus.closed.value, col(CaseFile.next_due_at) < now
        )
    ).all()
    sent = 0
    for case in cases:
        late = [
            s
            for s in deadline_states(case, now)
            if s.overdue and s.running and s.name not in case.overdue_notified
        ]
        if not late:
            continue
        for state in late:
            notify(
                session,
                case,
                kind="case_overdue",
                title=f"{case.number} · {state.name}",
                body=state.label,
            )
            sent += 1
        case.overdue_notified = [*case.overdue_notified, *(s.name for s in late)]
        session.add(case)
        record(
            session,
            Actor.system(case.county_id, reason="timer: case deadlines"),
            case,
            "overdue",
            changes={"deadlines": [s.name for s in late]},
            summary=", ".join(s.name for s in late),
        )
    session.commit()
    return sent
