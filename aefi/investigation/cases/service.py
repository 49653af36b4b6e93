"""A case file opens (after triage, for a report or a cluster, or by hand), is assigned and
moves through its statuses; what a reporter sees of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from aefi import clock
from aefi.auth.models import Role, User
from aefi.auth.permissions import Actor, require_own_county, require_role
from aefi.errors import Invalid
from aefi.intake import access as intake_access
from aefi.intake.models import Report
from aefi.intake.symptoms import EVENT_GROUPS
from aefi.investigation import causality as who
from aefi.investigation import workflow
from aefi.investigation.access import READERS, WORKERS, load_case, load_working
from aefi.investigation.lifecycle import (
    deadline_states,
    ensure_started,
    move,
    notify,
    record,
    refresh_deadlines,
    ruleset,
)
from aefi.investigation.models import (
    CaseFile,
    CaseKind,
    CaseStatus,
)
from aefi.investigation.schemas import (
    AssignIn,
)
from aefi.registry.models import Region
from aefi.triage import deadlines as due
from aefi.triage.decision.inputs import decision_from_json
from aefi.triage.models import Cluster


def _start_due_from_triage(report: Report, received_at: datetime) -> datetime:
    """Triage's due time for the start of the investigation, which runs from receipt or
    from the follow-up that made the report need one; computed from receipt otherwise."""
    decision = decision_from_json(report.triage)
    at = decision.deadlines.get(due.Deadline.INVESTIGATION_START.value) if decision else None
    if at is not None and at.tzinfo is not None:
        return at
    return due.investigation_start_due(received_at, ruleset())


def open_case_for_report(
    session: Session,
    actor: Actor,
    report: Report,
    *,
    serious: bool | None = None,
    preliminary_report_required: bool | None = None,
) -> CaseFile:
    """The case file of a report; opened if there is none yet, else returned (with its
    seriousness brought up to date): an investigator of the county opening it by hand, or
    the county's system actor after triage (whoever filed the report). Runs in the caller's
    transaction (flushes, does not commit)."""
    require_role(actor, *WORKERS, Role.system)
    require_own_county(actor, report.county_id)
    decision = decision_from_json(report.triage)  # triage's stored decision, if any
    if serious is None:
        serious = bool(report.serious or (decision is not None and decision.serious))
    if preliminary_report_required is None:
        preliminary_report_required = (
            decision.preliminary_report_required
            if decision is not None
            else bool(serious or report.death)
        )
    existing = session.exec(select(CaseFile).where(CaseFile.report_id == report.id)).first()
    if existing is not None:
        changes = {}
        if existing.serious != serious:
            changes["serious"] = [existing.serious, serious]
            existing.serious = serious
        if existing.preliminary_report_required != preliminary_report_required:
            changes["preliminary_report_required"] = [
                existing.preliminary_report_required,
                preliminary_report_required,
            ]
            existing.preliminary_report_required = preliminary_report_required
        if list(existing.event_groups) != list(report.event_groups):
            changes["event_groups"] = [list(existing.event_groups), list(report.event_groups)]
            existing.event_groups = list(report.event_groups)
        if changes:
            refresh_deadlines(existing)
            session.add(existing)
            session.flush()
            record(session, actor, existing, "retriaged", changes=changes)
        return existing
    received_at = report.received_at
    case = CaseFile(
        number=report.number,
        county_id=report.county_id,
        kind=CaseKind.report,
        report_id=report.id,
        report_ids=[report.id],
        event_groups=list(report.event_groups),
        title=report.patient_name,
        serious=serious,
        preliminary_report_required=preliminary_report_required,
        received_at=received_at,
        start_due_at=_start_due_from_triage(report, received_at),
    )
    refresh_deadlines(case)
    session.add(case)
    session.flush()
    record(
        session,
        actor,
        case,
        "case_opened",
        changes={"report": report.number, "serious": serious},
    )
    notify(
        session,
        case,
        kind="case_opened",
        title=f"{report.number} · {report.patient_name}",
        body=", ".join(EVENT_GROUPS.get(g, (g, g))[0] for g in report.event_groups),
    )
    session.flush()
    return case


def open_case(session: Session, actor: Actor, report_id: int) -> CaseFile:
    """An investigator opens the case file of a report by hand (triage did not require an
    investigation, or a case must be investigated anyway)."""
    require_role(actor, *WORKERS)
    report = intake_access.get_report(session, actor, report_id)
    case = open_case_for_report(session, actor, report)
    session.commit()
    return case


def _cluster_number(session: Session, county_id: int, cluster_id: int, at: datetime) -> str:
    region = session.get(Region, county_id)
    code = region.code if region is not None else str(county_id)
    return f"{code}-{at.year}-G{cluster_id:04d}"


def open_case_for_cluster(
    session: Session, actor: Actor, cluster: Cluster, report_ids: Sequence[int]
) -> CaseFile:
    """The case file of a group AEFI (one per triage cluster, with its member reports):
    opened when the cluster forms, brought up to date when it grows: an investigator or
    the system actor, of the cluster's county. Runs in the caller's transaction."""
    require_role(actor, *WORKERS, Role.system)
    ids = sorted(set(report_ids))
    reports = (
        list(session.exec(select(Report).where(col(Report.id).in_(ids)).order_by(Report.id)))
        if ids
        else []
    )
    groups = [cluster.event_group] if cluster.event_group else []
    for r in reports:
        groups += [g for g in r.event_groups if g not in groups]
    county_id = cluster.county_id
    require_own_county(actor, county_id)
    serious = any(r.serious for r in reports)
    existing = session.exec(select(CaseFile).where(CaseFile.cluster_id == cluster.id)).first()
    if existing is not None:
        added = [i for i in ids if i not in existing.report_ids]
        if added:
            existing.report_ids = list(dict.fromkeys([*existing.report_ids, *ids]))
            existing.event_groups = groups
            existing.serious = existing.serious or serious
            refresh_deadlines(existing)
            session.add(existing)
            session.flush()
            numbers = [r.number for r in reports if r.id in added]
            record(
                session,
                actor,
                existing,
                "cluster_grew",
                changes={"added": numbers, "members": len(existing.report_ids)},
                summary=", ".join(numbers),
            )
            notify(
                session,
                existing,
                kind="cluster_grew",
                title=f"{existing.number} +{len(added)}",
                body=", ".join(numbers),
            )
            session.flush()
        return existing
    received_at = cluster.created_at or clock.now()
    case = CaseFile(
        number=_cluster_number(session, county_id, cluster.id, received_at),
        county_id=county_id,
        kind=CaseKind.cluster,
        cluster_id=cluster.id,
        cluster_kind=cluster.kind,
        report_ids=ids,
        event_groups=groups,
        title=cluster.event_group,
        serious=serious,
        # Group AEFI: the preliminary report is due (national plan).
        preliminary_report_required=True,
        received_at=received_at,
        start_due_at=due.investigation_start_due(received_at, ruleset()),
    )
    refresh_deadlines(case)
    session.add(case)
    session.flush()
    record(
        session,
        actor,
        case,
        "case_opened",
        changes={"cluster": cluster.id, "members": [r.number for r in reports]},
    )
    notify(
        session,
        case,
        kind="case_opened",
        title=case.number,
        body=", ".join(r.number for r in reports),
    )
    session.flush()
    return case


# --- assignment and status ---------------------------------------------------------------


def investigators(session: Session, actor: Actor) -> list[User]:
    """The investigators a case of the actor's county may be assigned to."""
    require_role(actor, *READERS)
    return list(
        session.exec(
            select(User)
            .where(
                User.county_id == actor.county_id,
                User.role == Role.investigator.value,
                col(User.active).is_(True),
            )
            .order_by(User.full_name, User.username)
        )
    )


def _set_assignee(session: Session, actor: Actor, case: CaseFile, user_id: int, name: str) -> None:
    """The case's investigator is now this user (audited as "assigned")."""
    old = case.assignee_name
    case.assignee_id = user_id
    case.assignee_name = name
    session.add(case)
    session.flush()
    record(
        session,
        actor,
        case,
        "assigned",
        changes={"assignee": [old, case.assignee_name]},
        summary=case.assignee_name,
    )


def assign_case(session: Session, actor: Actor, case_id: int, data: AssignIn) -> CaseFile:
    """Assign the case to an investigator of the county (the caller when nobody is named)."""
    case = load_working(session, actor, case_id)
    if data.assignee_id is None and not data.username:
        user = session.get(User, actor.user_id)
    elif data.assignee_id is not None:
        user = session.get(User, data.assignee_id)
    else:
        user = session.exec(select(User).where(User.username == data.username)).first()
    if (
        user is None
        or user.county_id != case.county_id
        or user.role != Role.investigator.value
        or not user.active
    ):
        raise Invalid(
            "Assign the case to an active investigator of the county.",
            fields={"assignee_id": "Assign the case to an active investigator of the county."},
        )
    if case.assignee_id == user.id:
        return case
    case.updated_at = clock.now()
    _set_assignee(session, actor, case, user.id, user.full_name or user.username)
    if user.id != actor.user_id:
        from aefi.notifications import service as notifications

        notifications.notify_users(
            session,
            [user],
            kind="case_assigned",
            title=case.number,
            body=actor.name,
            link=f"/cases/{case.id}",
            urgent=case.serious,
        )
    session.commit()
    return case


def take_case(session: Session, actor: Actor, case_id: int) -> CaseFile:
    """The investigator takes the case: assigned to them, and the investigation starts if
    it had not (the 48 h start deadline is met now)."""
    case = load_working(session, actor, case_id)
    if case.assignee_id != actor.user_id:
        user = session.get(User, actor.user_id)
        name = (user.full_name or user.username) if user else actor.name
        _set_assignee(session, actor, case, actor.user_id, name)
    ensure_started(session, actor, case)
    session.commit()
    return case


def change_status(session: Session, actor: Actor, case_id: int, action: str) -> CaseFile:
    """Start, send to the expert panel, or take back from it."""
    if action not in ("start", "to_panel", "back_to_investigation"):
        raise Invalid("Unknown step.", fields={"action": action})
    case = load_working(session, actor, case_id)
    move(session, actor, case, action)
    session.commit()
    return case


# --- what a reporter sees ----------------------------------------------------------------


@dataclass(frozen=True)
class ReportClassification:
    """The outcome of the investigation of a report, as its reporter may see it: whether it
    is investigated, and the final classification once the panel has made it."""

    report_id: int
    under_investigation: bool
    china_classification: str | None
    label_en: str
    label_zh: str
    classified_on: date | None
    closed: bool


def classification_for_report(
    session: Session, actor: Actor, report_id: int
) -> ReportClassification | None:
    """None when no case file was opened. Whoever may read the report may see this."""
    report = intake_access.get_report(session, actor, report_id)
    case = session.exec(select(CaseFile).where(CaseFile.report_id == report.id)).first()
    if case is None:
        return None
    final = case.status in (CaseStatus.classified, CaseStatus.closed) and bool(
        case.china_classification
    )
    label = (
        who.CHINA_CLASSIFICATION_LABELS[who.ChinaClassification(case.china_classification)]
        if final
        else {"en": "", "zh": ""}
    )
    return ReportClassification(
        report_id=report.id,
        under_investigation=not final and case.status != CaseStatus.closed,
        china_classification=case.china_classification if final else None,
        label_en=label["en"],
        label_zh=label["zh"],
        classified_on=case.panel_on if final else None,
        closed=case.status == CaseStatus.closed,
    )


def case_of_report(session: Session, actor: Actor, report_id: int) -> CaseFile | None:
    """The case file of a report, for those who may read case files; None if none."""
    require_role(actor, *READERS)
    report = intake_access.get_report(session, actor, report_id)
    return session.exec(select(CaseFile).where(CaseFile.report_id == report.id)).first()


@dataclass
class DeadlinesPart:
    """What the deadlines fragment shows."""

    case: CaseFile
    deadlines: list[workflow.DeadlineState]


def deadlines_part(session: Session, actor: Actor, case_id: int) -> DeadlinesPart:
    case = load_case(session, actor, case_id)
    return DeadlinesPart(case, deadline_states(case))
