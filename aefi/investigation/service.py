"""Use cases of investigation: case files opened after triage, assignment and status,
the investigation form, evidence, WHO causality, Brighton level, the expert panel's
classification, appraisal and compensation, deadlines and their reminders.

Who may do what (DESIGN.md roles): investigators of the county work case files; the
health bureau of the county reads them (timeline, evidence, PDF) but does not change them,
because the investigation and the panel's diagnosis are the CDC's to record; nobody else
opens a case file. A reporter sees only the final classification of a report of their site
(``classification_for_report``). Every function checks this first.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, distinct, or_
from sqlalchemy import case as sql_case
from sqlmodel import Session, col, func, select

from aefi import audit, clock
from aefi.audit import AuditEvent
from aefi.auth.models import Role, User
from aefi.auth.permissions import Actor, in_scope, require_role, scope_clause
from aefi.errors import Conflict, Invalid, NotFound
from aefi.i18n import N_
from aefi.intake import service as intake
from aefi.intake.models import Report, ReportDose, ReportStatus
from aefi.intake.symptoms import EVENT_GROUPS
from aefi.investigation import brighton as bc
from aefi.investigation import causality as who
from aefi.investigation import evidence, sections, workflow
from aefi.investigation.models import (
    AppraisalStatus,
    CaseAttachment,
    CaseFile,
    CaseFormSection,
    CaseKind,
    CaseNote,
    CaseStatus,
    CausalityAssessment,
    CompensationStatus,
)
from aefi.investigation.schemas import (
    AppraisalIn,
    AssignIn,
    BrightonIn,
    CausalityIn,
    ClassifyIn,
    CloseIn,
    CompensationIn,
    ReopenIn,
)
from aefi.registry.models import Dose, Lot, Region, Site, Vaccine
from aefi.settings import get_settings
from aefi.triage import deadlines as due
from aefi.triage.rules_in_force.service import current_ruleset
from aefi.triage.ruleset import Ruleset
from aefi.types import MAX_ID, ascii_int

READERS = (Role.investigator, Role.bureau, Role.province)
WORKERS = (Role.investigator,)
ENTITY = "case_file"


def ruleset() -> Ruleset:
    """The rule set whose deadline hours apply: triage's rule set in force."""
    return current_ruleset()


# --- loading and scope -------------------------------------------------------------------


def _load(session: Session, actor: Actor, case_id: int, *, write: bool = False) -> CaseFile:
    require_role(actor, *(WORKERS if write else READERS))
    case = session.get(CaseFile, case_id)
    if case is None or not in_scope(actor, case.county_id):
        raise NotFound("Not found.")
    return case


def _load_working(session: Session, actor: Actor, case_id: int) -> CaseFile:
    """A case whose content may change: not closed."""
    case = _load(session, actor, case_id, write=True)
    if case.status not in workflow.WORKING:
        raise Conflict("The case is closed; reopen it to change it.")
    return case


def get_case(session: Session, actor: Actor, case_id: int) -> CaseFile:
    return _load(session, actor, case_id)


def can_work(actor: Actor) -> bool:
    return actor.role in WORKERS


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


def _refresh_deadlines(case: CaseFile) -> None:
    times = workflow.due_times(
        case.start_due_at, case.started_at, case.preliminary_report_required, ruleset()
    )
    case.form_due_at = times.get(due.Deadline.INVESTIGATION_FORM.value)
    case.preliminary_due_at = times.get(due.Deadline.PRELIMINARY_REPORT.value)
    states = deadline_states(case)
    case.next_due_at = None if case.status == CaseStatus.closed else workflow.next_due(states)
    case.updated_at = clock.now()


def _start_due_from_triage(report: Report, received_at: datetime) -> datetime:
    """Triage's due time for the start of the investigation, which runs from receipt or
    from the follow-up that made the report need one; computed from receipt otherwise."""
    raw = (report.triage or {}).get("deadlines", {}).get(due.Deadline.INVESTIGATION_START.value)
    if raw:
        try:
            parsed = datetime.fromisoformat(raw) if isinstance(raw, str) else raw
            if parsed.tzinfo is not None:
                return parsed
        except (TypeError, ValueError):
            pass
    return due.investigation_start_due(received_at, ruleset())


# --- opening -----------------------------------------------------------------------------


def _audit(
    session: Session,
    actor: Actor | None,
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


def _apply(case: CaseFile, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set the case's fields and return what changed, for the audit record."""
    before = {k: getattr(case, k) for k in values}
    for key, value in values.items():
        setattr(case, key, value)
    case.updated_at = clock.now()
    return audit.diff(before, values)


def _notify(session: Session, case: CaseFile, *, kind: str, title: str, body: str = "") -> None:
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


def open_case_for_report(
    session: Session,
    actor: Actor | None,
    report: Report,
    *,
    serious: bool | None = None,
    preliminary_report_required: bool | None = None,
) -> CaseFile:
    """The case file of a report; opened if there is none yet, else returned (with its
    seriousness brought up to date). ``actor`` None is triage acting for the county after a
    report was filed; a person opening a case by hand must be an investigator of the county.
    Runs in the caller's transaction (flushes, does not commit)."""
    if actor is not None:
        require_role(actor, *WORKERS)
        if report.county_id != actor.county_id:
            raise NotFound("Not found.")
    triage = report.triage or {}
    if serious is None:
        serious = bool(report.serious or triage.get("serious"))
    if preliminary_report_required is None:
        preliminary_report_required = bool(
            triage.get("preliminary_report_required", serious or report.death)
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
            _refresh_deadlines(existing)
            session.add(existing)
            session.flush()
            _audit(session, actor, existing, "retriaged", changes=changes)
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
    _refresh_deadlines(case)
    session.add(case)
    session.flush()
    _audit(
        session,
        actor,
        case,
        "case_opened",
        changes={"report": report.number, "serious": serious},
    )
    _notify(
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
    report = intake.get_report(session, actor, report_id)
    case = open_case_for_report(session, actor, report)
    session.commit()
    return case


def _member_ids(session: Session, cluster: Any) -> list[int]:
    """The report ids of a triage cluster (``aefi.triage.models.Cluster``), read duck-typed:
    its ``members`` (report ids, reports or member rows) or, failing that, its member rows."""
    members = getattr(cluster, "members", None)
    ids: list[int] = []
    if members is None:
        from aefi.triage.models import ClusterMember

        members = session.exec(
            select(ClusterMember.report_id)
            .where(ClusterMember.cluster_id == cluster.id)
            .order_by(ClusterMember.report_id)
        ).all()
    for m in members:
        if isinstance(m, int):
            ids.append(m)
        elif isinstance(m, Report):
            ids.append(m.id)
        elif getattr(m, "report_id", None) is not None:
            ids.append(m.report_id)
    return list(dict.fromkeys(ids))


def _cluster_number(session: Session, county_id: int, cluster_id: int, at: datetime) -> str:
    region = session.get(Region, county_id)
    code = region.code if region is not None else str(county_id)
    return f"{code}-{at.year}-G{cluster_id:04d}"


def open_case_for_cluster(session: Session, actor: Actor | None, cluster: Any) -> CaseFile:
    """The case file of a group AEFI (one per triage cluster): opened when the cluster
    forms, brought up to date when it grows. Runs in the caller's transaction."""
    if actor is not None:
        require_role(actor, *WORKERS)
    ids = _member_ids(session, cluster)
    reports = (
        list(session.exec(select(Report).where(col(Report.id).in_(ids)).order_by(Report.id)))
        if ids
        else []
    )
    groups = [getattr(cluster, "event_group", "")] if getattr(cluster, "event_group", "") else []
    for r in reports:
        groups += [g for g in r.event_groups if g not in groups]
    county_id = getattr(cluster, "county_id", None) or (reports[0].county_id if reports else None)
    if county_id is None:
        raise Invalid("A cluster without a county or members cannot open a case file.")
    serious = any(r.serious for r in reports)
    existing = session.exec(select(CaseFile).where(CaseFile.cluster_id == cluster.id)).first()
    if existing is not None:
        added = [i for i in ids if i not in existing.report_ids]
        if added:
            existing.report_ids = list(dict.fromkeys([*existing.report_ids, *ids]))
            existing.event_groups = groups
            existing.serious = existing.serious or serious
            _refresh_deadlines(existing)
            session.add(existing)
            session.flush()
            numbers = [r.number for r in reports if r.id in added]
            _audit(
                session,
                actor,
                existing,
                "cluster_grew",
                changes={"added": numbers, "members": len(existing.report_ids)},
                summary=", ".join(numbers),
            )
            _notify(
                session,
                existing,
                kind="cluster_grew",
                title=f"{existing.number} +{len(added)}",
                body=", ".join(numbers),
            )
            session.flush()
        return existing
    received_at = getattr(cluster, "created_at", None) or clock.now()
    case = CaseFile(
        number=_cluster_number(session, county_id, cluster.id, received_at),
        county_id=county_id,
        kind=CaseKind.cluster,
        cluster_id=cluster.id,
        cluster_kind=str(getattr(cluster, "kind", "") or ""),
        report_ids=ids,
        event_groups=groups,
        title=str(getattr(cluster, "event_group", "") or ""),
        serious=serious,
        # Group AEFI: the preliminary report is due (national plan).
        preliminary_report_required=True,
        received_at=received_at,
        start_due_at=due.investigation_start_due(received_at, ruleset()),
    )
    _refresh_deadlines(case)
    session.add(case)
    session.flush()
    _audit(
        session,
        actor,
        case,
        "case_opened",
        changes={"cluster": cluster.id, "members": [r.number for r in reports]},
    )
    _notify(
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


def _move(session: Session, actor: Actor, case: CaseFile, action: str, **extra: Any) -> None:
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
    _refresh_deadlines(case)
    session.add(case)
    session.flush()
    _audit(session, actor, case, "status", changes=changes)


def _ensure_started(session: Session, actor: Actor, case: CaseFile) -> None:
    """Work on the content of an open case means the investigation has started."""
    if case.status == CaseStatus.open:
        _move(session, actor, case, "start")


def assign_case(session: Session, actor: Actor, case_id: int, data: AssignIn) -> CaseFile:
    """Assign the case to an investigator of the county (the caller when nobody is named)."""
    case = _load_working(session, actor, case_id)
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
    old = case.assignee_name
    case.assignee_id = user.id
    case.assignee_name = user.full_name or user.username
    case.updated_at = clock.now()
    session.add(case)
    session.flush()
    _audit(
        session,
        actor,
        case,
        "assigned",
        changes={"assignee": [old, case.assignee_name]},
        summary=case.assignee_name,
    )
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
    case = _load_working(session, actor, case_id)
    if case.assignee_id != actor.user_id:
        user = session.get(User, actor.user_id)
        old = case.assignee_name
        case.assignee_id = actor.user_id
        case.assignee_name = (user.full_name or user.username) if user else actor.name
        session.add(case)
        session.flush()
        _audit(
            session,
            actor,
            case,
            "assigned",
            changes={"assignee": [old, case.assignee_name]},
            summary=case.assignee_name,
        )
    _ensure_started(session, actor, case)
    session.commit()
    return case


def change_status(session: Session, actor: Actor, case_id: int, action: str) -> CaseFile:
    """Start, send to the expert panel, or take back from it."""
    if action not in ("start", "to_panel", "back_to_investigation"):
        raise Invalid("Unknown step.", fields={"action": action})
    case = _load_working(session, actor, case_id)
    _move(session, actor, case, action)
    session.commit()
    return case


def close_case(session: Session, actor: Actor, case_id: int, data: CloseIn) -> CaseFile:
    """Close the case. A case without the panel's classification needs a reason."""
    case = _load(session, actor, case_id, write=True)
    note = data.note.strip()
    if not workflow.allowed(case.status, "close"):
        raise Conflict("The case is already closed.")
    if case.status != CaseStatus.classified and not note:
        raise Invalid(
            "Give a reason to close a case without a classification.",
            fields={"note": "Give a reason to close a case without a classification."},
        )
    case.close_note = note
    _move(session, actor, case, "close", note=note)
    session.commit()
    return case


def reopen_case(session: Session, actor: Actor, case_id: int, data: ReopenIn) -> CaseFile:
    case = _load(session, actor, case_id, write=True)
    reason = data.reason.strip()
    if not reason:
        raise Invalid(
            "Say why the case is reopened.", fields={"reason": "Say why the case is reopened."}
        )
    _move(session, actor, case, "reopen", reason=reason)
    session.commit()
    return case


# --- investigation form ------------------------------------------------------------------


class SectionInvalid(Invalid):
    """A section's input with errors: the typed values come back with the messages."""

    def __init__(self, cleaned: sections.Cleaned) -> None:
        super().__init__(
            "Some fields need correcting.",
            fields={k: msg for k, (msg, _params) in cleaned.errors.items()},
        )
        self.cleaned = cleaned


class SectionConflict(Conflict):
    """Somebody saved the section after this form was loaded."""

    def __init__(self, saved: CaseFormSection) -> None:
        super().__init__(
            "{name} saved this section at {at} while you were editing it. Your values are "
            "kept below: check them against the saved ones and save again.",
            name=saved.saved_by_name,
            at=saved.saved_at.strftime("%H:%M"),
        )
        self.saved = saved


def form_sections(session: Session, case_id: int) -> dict[str, CaseFormSection]:
    rows = session.exec(select(CaseFormSection).where(CaseFormSection.case_id == case_id))
    return {row.section: row for row in rows}


def _saved_values(session: Session, case_id: int) -> dict[str, dict[str, Any]]:
    return {k: dict(v.values) for k, v in form_sections(session, case_id).items()}


def get_section(
    session: Session, actor: Actor, case_id: int, key: str
) -> tuple[CaseFile, sections.Section, CaseFormSection | None]:
    case = _load(session, actor, case_id)
    section = sections.BY_KEY.get(key)
    if section is None:
        raise NotFound("Not found.")
    return case, section, form_sections(session, case.id).get(key)


def save_section(
    session: Session,
    actor: Actor,
    case_id: int,
    key: str,
    raw: dict[str, str],
    *,
    version: int | None = None,
) -> CaseFormSection:
    """Save one section. ``version`` is the one the form was loaded with: a section saved
    by someone else since then is refused (SectionConflict), not overwritten."""
    case = _load_working(session, actor, case_id)
    section = sections.BY_KEY.get(key)
    if section is None:
        raise NotFound("Not found.")
    cleaned = sections.clean(section, raw)
    if cleaned.errors:
        raise SectionInvalid(cleaned)
    row = session.exec(
        select(CaseFormSection).where(
            CaseFormSection.case_id == case.id, CaseFormSection.section == key
        )
    ).first()
    if row is not None and version is not None and row.version != version:
        raise SectionConflict(row)
    before = dict(row.values) if row is not None else {}
    if row is None:
        row = CaseFormSection(case_id=case.id, section=key)
    changes = audit.diff(before, cleaned.values)
    if not changes and row.id is not None:
        return row
    _ensure_started(session, actor, case)
    row.values = dict(cleaned.values)
    row.version = (row.version or 0) + 1
    row.saved_at = clock.now()
    row.saved_by_id = actor.user_id
    row.saved_by_name = actor.name
    session.add(row)
    case.updated_at = row.saved_at
    session.add(case)
    session.flush()
    _audit(session, actor, case, "form_section", changes={"section": key, **changes}, summary=key)
    session.commit()
    return row


def complete_form(session: Session, actor: Actor, case_id: int) -> CaseFile:
    """Mark the investigation form complete (the 3-day indicator) once every required field
    is filled; otherwise say which are missing."""
    case = _load_working(session, actor, case_id)
    missing = sections.missing_required(_saved_values(session, case.id))
    if missing:
        raise Invalid(
            "The form is not complete: {n} required fields are empty.",
            fields={f"{s.key}.{f.name}": f.label for s, f in missing},
            n=len(missing),
        )
    if case.form_completed_at is not None:
        return case
    _ensure_started(session, actor, case)
    case.form_completed_at = clock.now()
    _refresh_deadlines(case)
    session.add(case)
    session.flush()
    _audit(session, actor, case, "form_completed")
    session.commit()
    return case


def record_preliminary_report(
    session: Session, actor: Actor, case_id: int, at: datetime | None = None
) -> CaseFile:
    """The preliminary investigation report was sent (death, serious and group AEFI)."""
    case = _load_working(session, actor, case_id)
    now = clock.now()
    at = at or now
    if at > now + timedelta(minutes=5):
        raise Invalid("The time lies in the future.", fields={"at": "The time lies in the future."})
    _ensure_started(session, actor, case)
    if case.started_at is not None and at < case.started_at:
        raise Invalid(
            "The report cannot precede the start of the investigation.",
            fields={"at": "The report cannot precede the start of the investigation."},
        )
    old = case.preliminary_report_at
    case.preliminary_report_at = at
    _refresh_deadlines(case)
    session.add(case)
    session.flush()
    _audit(
        session,
        actor,
        case,
        "preliminary_report",
        changes={"at": [old.isoformat() if old else None, at.isoformat()]},
    )
    session.commit()
    return case


# --- others vaccinated (registry) --------------------------------------------------------


@dataclass(frozen=True)
class ReportRef:
    id: int
    number: str
    event_groups: list[str]
    serious: bool
    case_id: int | None


@dataclass(frozen=True)
class ExposureRow:
    """People vaccinated together with a case's patient, counted from the registry."""

    scope: str  # session, lot_session, lot
    label: str  # msgid
    day: date | None
    site: Site | None
    lot: Lot | None
    vaccine: Vaccine | None
    doses: int
    persons: int
    reports: int
    report_refs: list[ReportRef] = field(default_factory=list)


EXPOSURE_LABELS = {
    "session": N_("Same site, same day (the session), any vaccine"),
    "lot_session": N_("Same lot, same site, same day"),
    "lot": N_("All doses of the lot in the county"),
}


def _local_day_bounds(at: datetime) -> tuple[date, datetime, datetime]:
    zone = ZoneInfo(get_settings().timezone)
    day = at.astimezone(zone).date()
    start = datetime.combine(day, time.min, tzinfo=zone)
    return day, start, start + timedelta(days=1)


def _report_refs(session: Session, report_ids: set[int], limit: int = 12) -> list[ReportRef]:
    if not report_ids:
        return []
    reports = session.exec(
        select(Report).where(col(Report.id).in_(report_ids)).order_by(col(Report.id).desc())
    ).all()
    case_of = dict(
        session.exec(
            select(CaseFile.report_id, CaseFile.id).where(col(CaseFile.report_id).in_(report_ids))
        ).all()
    )
    return [
        ReportRef(r.id, r.number, list(r.event_groups), r.serious, case_of.get(r.id))
        for r in reports[:limit]
    ]


def exposure(session: Session, case: CaseFile) -> list[ExposureRow]:
    """For each dose linked to the case's reports: doses given at the same site the same
    day (any vaccine, and of the same lot) and all doses of the lot in the county, each with
    the number of reports among them (registry and intake, not typed by anybody)."""
    if not case.report_ids:
        return []
    links = session.exec(
        select(ReportDose, Report.site_id, Dose.site_id)
        .join(Report, Report.id == ReportDose.report_id)
        .join(Dose, Dose.id == ReportDose.dose_id, isouter=True)
        .where(col(ReportDose.report_id).in_(case.report_ids))
        .order_by(ReportDose.administered_at)
    ).all()
    keys: list[tuple[int, int, date, datetime, datetime]] = []
    for link, report_site, dose_site in links:
        day, start, end = _local_day_bounds(link.administered_at)
        key = (link.lot_id, dose_site or report_site, day, start, end)
        if key not in keys:
            keys.append(key)
    rows: list[ExposureRow] = []
    seen: set[tuple] = set()
    dose_site = func.coalesce(Dose.site_id, Report.site_id)
    for lot_id, site_id, day, start, end in keys:
        lot = session.get(Lot, lot_id)
        vaccine = session.get(Vaccine, lot.vaccine_id) if lot else None
        site = session.get(Site, site_id)
        in_day = and_(col(Dose.administered_at) >= start, col(Dose.administered_at) < end)
        report_in_day = and_(
            col(ReportDose.administered_at) >= start, col(ReportDose.administered_at) < end
        )
        scopes = [
            ("session", (site_id, day), [Dose.site_id == site_id, in_day], [
                dose_site == site_id,
                report_in_day,
            ]),
            ("lot_session", (lot_id, site_id, day), [
                Dose.site_id == site_id,
                Dose.lot_id == lot_id,
                in_day,
            ], [dose_site == site_id, ReportDose.lot_id == lot_id, report_in_day]),
            ("lot", (lot_id,), [Dose.lot_id == lot_id, Site.county_id == case.county_id], [
                ReportDose.lot_id == lot_id,
                Report.county_id == case.county_id,
            ]),
        ]  # fmt: skip
        for scope, ident, dose_where, report_where in scopes:
            if (scope, ident) in seen:
                continue
            seen.add((scope, ident))
            doses, persons = session.exec(
                select(func.count(Dose.id), func.count(distinct(Dose.person_id)))
                .select_from(Dose)
                .join(Site, Site.id == Dose.site_id)
                .where(*dose_where)
            ).one()
            report_ids = set(
                session.exec(
                    select(ReportDose.report_id)
                    .distinct()
                    .select_from(ReportDose)
                    .join(Report, Report.id == ReportDose.report_id)
                    .join(Dose, Dose.id == ReportDose.dose_id, isouter=True)
                    .where(*report_where)
                ).all()
            )
            rows.append(
                ExposureRow(
                    scope=scope,
                    label=EXPOSURE_LABELS[scope],
                    day=None if scope == "lot" else day,
                    site=None if scope == "lot" else site,
                    lot=None if scope == "session" else lot,
                    vaccine=None if scope == "session" else vaccine,
                    doses=doses,
                    persons=persons,
                    reports=len(report_ids),
                    report_refs=_report_refs(session, report_ids - set(case.report_ids)),
                )
            )
    return rows


# --- evidence ----------------------------------------------------------------------------


def _upload_root() -> Path:
    return Path(get_settings().upload_dir) / "cases"


def add_attachment(
    session: Session,
    actor: Actor,
    case_id: int,
    filename: str,
    stream: IO[bytes],
    description: str = "",
) -> CaseAttachment:
    """Store a file of evidence. Refused when too large or when its name or its content is
    not one of PDF, JPG, PNG, DOCX, XLSX, TXT."""
    case = _load_working(session, actor, case_id)
    limit = get_settings().upload_max_bytes
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(1024 * 1024)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            break
        chunks.append(chunk)
    content = b"".join(chunks)
    verdict = evidence.check(filename, content, size, limit)
    if verdict.kind is None:
        raise Invalid(verdict.error, fields={"file": verdict.error}, **(verdict.params or {}))
    root = _upload_root()
    root.mkdir(parents=True, exist_ok=True)
    stored = secrets.token_hex(16)
    tmp = root / f".{stored}.part"
    tmp.write_bytes(content)
    os.replace(tmp, root / stored)
    attachment = CaseAttachment(
        case_id=case.id,
        filename=evidence.safe_display_name(filename),
        stored_name=stored,
        kind=verdict.kind,
        size=size,
        sha256=hashlib.sha256(content).hexdigest(),
        description=description.strip()[:500],
        uploaded_by_id=actor.user_id,
        uploaded_by_name=actor.name,
    )
    session.add(attachment)
    session.flush()
    _audit(
        session,
        actor,
        case,
        "attachment",
        changes={"file": attachment.filename, "size": size, "sha256": attachment.sha256},
        summary=attachment.filename,
    )
    try:
        session.commit()
    except Exception:
        (root / stored).unlink(missing_ok=True)
        raise
    return attachment


def open_attachment(
    session: Session, actor: Actor, case_id: int, attachment_id: int
) -> tuple[CaseAttachment, Path]:
    """A file of evidence for download, to those who may read the case."""
    case = _load(session, actor, case_id)
    attachment = session.get(CaseAttachment, attachment_id)
    if attachment is None or attachment.case_id != case.id or attachment.removed_at is not None:
        raise NotFound("Not found.")
    path = _upload_root() / attachment.stored_name
    if not path.is_file():
        raise NotFound("The file is no longer stored.")
    return attachment, path


def remove_attachment(
    session: Session, actor: Actor, case_id: int, attachment_id: int
) -> CaseAttachment:
    """Take a file off the case (kept on disk and in the trail: evidence is not destroyed)."""
    case = _load_working(session, actor, case_id)
    attachment = session.get(CaseAttachment, attachment_id)
    if attachment is None or attachment.case_id != case.id or attachment.removed_at is not None:
        raise NotFound("Not found.")
    attachment.removed_at = clock.now()
    session.add(attachment)
    session.flush()
    _audit(session, actor, case, "attachment_removed", summary=attachment.filename)
    session.commit()
    return attachment


def attachments(session: Session, case_id: int) -> list[CaseAttachment]:
    return list(
        session.exec(
            select(CaseAttachment)
            .where(CaseAttachment.case_id == case_id, col(CaseAttachment.removed_at).is_(None))
            .order_by(CaseAttachment.uploaded_at, CaseAttachment.id)
        )
    )


def add_note(session: Session, actor: Actor, case_id: int, text: str) -> CaseNote:
    case = _load_working(session, actor, case_id)
    text = (text or "").strip()
    if not text:
        raise Invalid("Write the note first.", fields={"text": "Write the note first."})
    if len(text) > 4000:
        raise Invalid("Too long: at most {n} characters.", fields={"text": "Too long."}, n=4000)
    note = CaseNote(case_id=case.id, author_id=actor.user_id, author_name=actor.name, text=text)
    session.add(note)
    session.flush()
    _audit(session, actor, case, "note", changes={"note_id": note.id}, summary=text[:500])
    session.commit()
    return note


def notes(session: Session, case_id: int) -> list[CaseNote]:
    return list(
        session.exec(
            select(CaseNote)
            .where(CaseNote.case_id == case_id)
            .order_by(col(CaseNote.at).desc(), col(CaseNote.id).desc())
        )
    )


# --- WHO causality -----------------------------------------------------------------------

_ITEM_BY_CODE = {code: name for name, (code, _words) in who.CHECKLIST_ITEMS.items()}


def checklist_of(answers: dict[str, Any]) -> who.Checklist:
    """A checklist from item names or numbers ("II.5"); unknown keys are refused."""
    values: dict[str, who.Answer] = {}
    bad = []
    for key, value in answers.items():
        name = key if key in who.CHECKLIST_ITEMS else _ITEM_BY_CODE.get(key)
        if name is None:
            bad.append(key)
            continue
        try:
            values[name] = who.Answer(value)
        except ValueError:
            bad.append(key)
    if bad:
        raise Invalid(
            "Unknown checklist items or answers: {items}.",
            fields={k: "Unknown checklist items or answers: {items}." for k in bad},
            items=", ".join(bad),
        )
    return who.Checklist(**values)


def eligibility_of(data: CausalityIn) -> who.Eligibility:
    e = data.eligibility
    return who.Eligibility(
        vaccine_given_before_event=e.vaccine_given_before_event,
        valid_diagnosis=e.valid_diagnosis,
        clear_event=e.clear_event,
        vaccine=e.vaccine.strip() or None,
        diagnosis=e.diagnosis.strip() or None,
    )


def preview_causality(
    session: Session, actor: Actor, case_id: int, data: CausalityIn
) -> who.Assessment:
    """Run the algorithm without saving: the guided form shows the category as it fills."""
    _load(session, actor, case_id)
    return who.assess(eligibility_of(data), checklist_of(data.checklist))


def _warning(case: CaseFile) -> None:
    """Compare the panel's Chinese classification with the latest WHO category."""
    warning = None
    if case.china_classification:
        category = who.CausalityCategory(case.who_category) if case.who_category else None
        warning = who.classification_warning(
            category, who.ChinaClassification(case.china_classification)
        )
    case.classification_warning = warning.en if warning else ""
    case.classification_warning_zh = warning.zh if warning else ""


def assess_causality(
    session: Session, actor: Actor, case_id: int, data: CausalityIn
) -> CausalityAssessment:
    """Run and keep one WHO causality assessment; the case shows the latest category."""
    case = _load_working(session, actor, case_id)
    checklist = checklist_of(data.checklist)
    eligibility = eligibility_of(data)
    result = who.assess(eligibility, checklist)
    _ensure_started(session, actor, case)
    row = CausalityAssessment(
        case_id=case.id,
        assessor_id=actor.user_id,
        assessor_name=actor.name,
        vaccine=eligibility.vaccine or "",
        diagnosis=eligibility.diagnosis or "",
        eligibility=data.eligibility.model_dump(),
        checklist={k: v.value for k, v in vars(checklist).items()},
        eligible=result.eligible,
        category=result.category.value if result.category else "",
        applicable=[c.value for c in result.applicable],
        reasons=list(result.reasons),
        reasons_zh=list(result.reasons_zh),
        missing=list(result.missing),
        missing_zh=list(result.missing_zh),
        path=[s.value for s in result.path],
        note=data.note.strip(),
    )
    session.add(row)
    old = case.who_category
    case.who_category = row.category
    case.who_assessed_at = row.at
    _warning(case)
    case.updated_at = clock.now()
    session.add(case)
    session.flush()
    _audit(
        session,
        actor,
        case,
        "causality",
        changes={"category": [old, row.category], "assessment_id": row.id},
        summary=row.category or "ineligible",
    )
    session.commit()
    return row


def assessments(session: Session, case_id: int) -> list[CausalityAssessment]:
    """Every assessment of the case, newest first."""
    return list(
        session.exec(
            select(CausalityAssessment)
            .where(CausalityAssessment.case_id == case_id)
            .order_by(col(CausalityAssessment.at).desc(), col(CausalityAssessment.id).desc())
        )
    )


# --- Brighton ----------------------------------------------------------------------------


def reported_as_anaphylaxis(case: CaseFile) -> bool:
    return "anaphylaxis" in (case.event_groups or [])


def brighton_of(case: CaseFile) -> bc.BrightonResult | None:
    """The level the recorded criteria give (recomputed, so a corrected rule applies)."""
    if not case.brighton:
        return None
    b = case.brighton
    return bc.brighton_level(
        [bc.Criterion(c) for c in b.get("criteria", [])],
        sudden_onset_rapid_progression=b.get("sudden_onset_rapid_progression"),
        multiple_organ_systems=b.get("multiple_organ_systems"),
        reported_as_anaphylaxis=b.get("reported_as_anaphylaxis", True),
    )


def preview_brighton(
    session: Session, actor: Actor, case_id: int, data: BrightonIn
) -> bc.BrightonResult:
    case = _load(session, actor, case_id)
    return _brighton(case, data)[2]


def _brighton(
    case: CaseFile, data: BrightonIn
) -> tuple[list[bc.Criterion], bool, bc.BrightonResult]:
    criteria = sorted(
        set(data.criteria) | bc.criteria_from_signs(data.signs), key=list(bc.Criterion).index
    )
    reported = (
        data.reported_as_anaphylaxis
        if data.reported_as_anaphylaxis is not None
        else reported_as_anaphylaxis(case)
    )
    result = bc.brighton_level(
        criteria,
        sudden_onset_rapid_progression=data.sudden_onset_rapid_progression,
        multiple_organ_systems=data.multiple_organ_systems,
        reported_as_anaphylaxis=reported,
    )
    return criteria, reported, result


def record_brighton(session: Session, actor: Actor, case_id: int, data: BrightonIn) -> CaseFile:
    """Record the anaphylaxis criteria found and the Brighton level they give."""
    case = _load_working(session, actor, case_id)
    criteria, reported, result = _brighton(case, data)
    old = case.brighton_level
    case.brighton = {
        "criteria": [c.value for c in criteria],
        "signs": [s.value for s in data.signs],
        "sudden_onset_rapid_progression": data.sudden_onset_rapid_progression,
        "multiple_organ_systems": data.multiple_organ_systems,
        "reported_as_anaphylaxis": reported,
        "at": clock.now().isoformat(),
        "by": actor.name,
    }
    case.brighton_level = result.level
    _ensure_started(session, actor, case)
    case.updated_at = clock.now()
    session.add(case)
    session.flush()
    _audit(
        session,
        actor,
        case,
        "brighton",
        changes={"level": [old, result.level], "criteria": case.brighton["criteria"]},
        summary=f"Brighton {result.level}",
    )
    session.commit()
    return case


# --- the expert panel, appraisal, compensation -------------------------------------------


def classify_case(session: Session, actor: Actor, case_id: int, data: ClassifyIn) -> CaseFile:
    """Record the expert panel's final diagnosis and China's classification; warn (and keep
    the warning on the case) when it disagrees with the latest WHO category."""
    case = _load(session, actor, case_id, write=True)
    if not workflow.allowed(case.status, "classify"):
        raise Conflict("The case is closed; reopen it to change it.")
    if data.panel_on is not None and data.panel_on > clock.now().date() + timedelta(days=1):
        raise Invalid(
            "The date lies in the future.", fields={"panel_on": "The date lies in the future."}
        )
    changes = _apply(
        case,
        {
            "china_classification": data.china_classification.value,
            "panel_diagnosis": data.panel_diagnosis.strip(),
            "panel_on": data.panel_on or clock.now().date(),
            "panel_members": data.panel_members.strip(),
        },
    )
    case.classification_note = data.note.strip()
    case.classified_at = clock.now()
    _warning(case)
    # A rare adverse reaction (异常反应) is compensated (Vaccine Administration Law, art. 56):
    # put the question on the case's list.
    if (
        data.china_classification is who.ChinaClassification.rare_reaction
        and case.compensation_status == CompensationStatus.not_applicable
    ):
        case.compensation_status = CompensationStatus.pending
    if case.classification_warning:
        changes["warning"] = case.classification_warning
    _audit(session, actor, case, "classified", changes=changes, summary=case.china_classification)
    if case.status != CaseStatus.classified:
        _move(session, actor, case, "classify")
    else:
        session.add(case)
    session.commit()
    return case


def record_appraisal(session: Session, actor: Actor, case_id: int, data: AppraisalIn) -> CaseFile:
    """The appraisal (鉴定) asked of the medical association, and its result."""
    case = _load(session, actor, case_id, write=True)
    if data.status != AppraisalStatus.none and data.requested_on is None:
        raise Invalid(
            "Give the date of the request.",
            fields={"requested_on": "Give the date of the request."},
        )
    if data.status == AppraisalStatus.concluded and not data.result.strip():
        raise Invalid(
            "Record the result of the appraisal.",
            fields={"result": "Record the result of the appraisal."},
        )
    if data.result_on and data.requested_on and data.result_on < data.requested_on:
        raise Invalid(
            "The result cannot precede the request.",
            fields={"result_on": "The result cannot precede the request."},
        )
    changes = _apply(
        case,
        {
            "appraisal_status": data.status.value,
            "appraisal_requested_on": data.requested_on,
            "appraisal_body": data.body.strip(),
            "appraisal_result": data.result.strip(),
            "appraisal_on": data.result_on,
        },
    )
    session.add(case)
    session.flush()
    _audit(
        session,
        actor,
        case,
        "appraisal",
        changes=changes,
        summary=case.appraisal_status,
    )
    session.commit()
    return case


def record_compensation(
    session: Session, actor: Actor, case_id: int, data: CompensationIn
) -> CaseFile:
    case = _load(session, actor, case_id, write=True)
    if data.status == CompensationStatus.paid and data.amount is None:
        raise Invalid("Give the amount paid.", fields={"amount": "Give the amount paid."})
    changes = _apply(
        case,
        {
            "compensation_status": data.status.value,
            "compensation_amount": data.amount,
            "compensation_note": data.note.strip(),
        },
    )
    session.add(case)
    session.flush()
    _audit(
        session,
        actor,
        case,
        "compensation",
        changes=changes,
        summary=case.compensation_status,
    )
    session.commit()
    return case


# --- lists -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseFilter:
    status: str = ""  # "" active (not closed), "all", or a CaseStatus
    assignee: str = ""  # "" anyone, "me", "none", or a user id
    overdue: bool = False
    kind: str = ""
    q: str = ""


def list_cases(
    session: Session, actor: Actor, flt: CaseFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[CaseFile], int]:
    """The county's case files, the most urgent deadline first (cases with no deadline
    running last, newest first)."""
    require_role(actor, *READERS)
    now = clock.now()
    stmt = select(CaseFile).where(scope_clause(CaseFile.county_id, actor))
    if flt.status == "all":
        pass
    elif flt.status:
        try:
            stmt = stmt.where(CaseFile.status == CaseStatus(flt.status).value)
        except ValueError:
            raise Invalid("Unknown status.", fields={"status": flt.status}) from None
    else:
        stmt = stmt.where(CaseFile.status != CaseStatus.closed.value)
    if flt.assignee == "me":
        stmt = stmt.where(CaseFile.assignee_id == actor.user_id)
    elif flt.assignee == "none":
        stmt = stmt.where(col(CaseFile.assignee_id).is_(None))
    elif flt.assignee:
        assignee = ascii_int(flt.assignee)
        if assignee is None or not 1 <= assignee <= MAX_ID:
            raise Invalid("Unknown assignee.", fields={"assignee": flt.assignee})
        stmt = stmt.where(CaseFile.assignee_id == assignee)
    if flt.overdue:
        stmt = stmt.where(col(CaseFile.next_due_at) < now)
    if flt.kind:
        stmt = stmt.where(CaseFile.kind == flt.kind)
    if flt.q.strip():
        like = f"%{flt.q.strip()}%"
        stmt = stmt.where(or_(col(CaseFile.number).ilike(like), col(CaseFile.title).ilike(like)))
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    nulls_last = sql_case((col(CaseFile.next_due_at).is_(None), 1), else_=0)
    rows = session.exec(
        stmt.order_by(nulls_last, col(CaseFile.next_due_at), col(CaseFile.opened_at).desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows), total


def case_counts(session: Session, actor: Actor) -> dict[str, int]:
    """Counts for the list's quick filters: mine, not assigned, overdue, with the panel
    (cases not closed)."""
    require_role(actor, *READERS)
    active = (
        scope_clause(CaseFile.county_id, actor),
        CaseFile.status != CaseStatus.closed.value,
    )

    def count(*where) -> int:
        return session.exec(select(func.count()).where(*active, *where)).one()

    return {
        "active": count(),
        "mine": count(CaseFile.assignee_id == actor.user_id),
        "none": count(col(CaseFile.assignee_id).is_(None)),
        "overdue": count(col(CaseFile.next_due_at) < clock.now()),
        "awaiting_panel": count(CaseFile.status == CaseStatus.awaiting_panel.value),
    }


def overdue_count(session: Session, actor: Actor) -> int:
    """Open cases with a deadline past due: the investigator's banner."""
    if actor.role not in READERS:
        return 0
    stmt = select(func.count()).where(
        CaseFile.county_id == actor.county_id,
        CaseFile.status != CaseStatus.closed.value,
        col(CaseFile.next_due_at) < clock.now(),
    )
    if actor.role == Role.investigator:
        stmt = stmt.where(
            or_(CaseFile.assignee_id == actor.user_id, col(CaseFile.assignee_id).is_(None))
        )
    return session.exec(stmt).one()


def reports_of(session: Session, case: CaseFile) -> list[Report]:
    if not case.report_ids:
        return []
    return list(
        session.exec(select(Report).where(col(Report.id).in_(case.report_ids)).order_by(Report.id))
    )


def reports_by_id(session: Session, cases: Iterable[CaseFile]) -> dict[int, Report]:
    ids = {i for c in cases for i in c.report_ids[:1]}
    if not ids:
        return {}
    return {r.id: r for r in session.exec(select(Report).where(col(Report.id).in_(ids)))}


# --- the timeline ------------------------------------------------------------------------


def _related(session: Session, case: CaseFile) -> list[tuple[str, int]]:
    """The records whose trail belongs on the case's timeline: its reports, their
    clusters and escalations, referrals."""
    also: list[tuple[str, int]] = [("report", rid) for rid in case.report_ids]
    cluster_ids = {case.cluster_id} if case.cluster_id else set()
    if case.kind == CaseKind.report:
        for report in reports_of(session, case):
            triage = report.triage or {}
            ids = [triage.get("cluster_id"), *(triage.get("cluster_ids") or [])]
            cluster_ids.update(i for i in ids if isinstance(i, int))
    also += [("cluster", cid) for cid in sorted(cluster_ids)]
    # Sibling domains are read if they are installed: triage's escalation queue and the
    # green-channel referrals record their steps on their own records.
    try:
        from aefi.triage.models import Escalation

        if case.report_ids:
            esc = session.exec(
                select(Escalation.id).where(
                    or_(
                        col(Escalation.report_id).in_(case.report_ids),
                        Escalation.cluster_id == case.cluster_id
                        if case.cluster_id
                        else col(Escalation.id).is_(None),
                    )
                )
            ).all()
            also += [("escalation", eid) for eid in esc]
    except ImportError:  # pragma: no cover - triage not installed
        pass
    try:
        from aefi.referral.models import Referral  # type: ignore[import-not-found]

        if case.report_ids and hasattr(Referral, "report_id"):
            refs = session.exec(
                select(Referral.id).where(col(Referral.report_id).in_(case.report_ids))
            ).all()
            also += [("referral", rid) for rid in refs]
    except ImportError:
        pass
    return also


def timeline(session: Session, case: CaseFile) -> list[AuditEvent]:
    """Everything that happened to the case and its reports, oldest first."""
    events = audit.timeline(session, ENTITY, case.id, also=_related(session, case))
    # A report's status follows its case: the case's own "status" entry says it already.
    return [
        e
        for e in events
        if not (e.entity_type == "report" and e.action == "status" and "case_id" in e.changes)
    ]


# --- the case page -----------------------------------------------------------------------


@dataclass
class CasePage:
    case: CaseFile
    reports: list[Report]
    doses: dict[int, list[Any]]
    sites: dict[int, Site]
    sections: dict[str, CaseFormSection]
    missing: list[tuple[sections.Section, sections.FormField]]
    concerns: list[tuple[sections.Section, sections.FormField]]
    exposure: list[ExposureRow]
    assessments: list[CausalityAssessment]
    brighton: bc.BrightonResult | None
    attachments: list[CaseAttachment]
    notes: list[CaseNote]
    events: list[AuditEvent]
    deadlines: list[workflow.DeadlineState]
    overdue: bool
    actions: list[str]
    can_work: bool
    investigators: list[User]
    cluster: Any = None
    # Group cases this report belongs to, and for a group case its members' own cases.
    group_cases: list[CaseFile] = field(default_factory=list)
    member_cases: dict[int, int] = field(default_factory=dict)


def case_page(session: Session, actor: Actor, case_id: int) -> CasePage:
    """Everything the case page shows, for those who may read the case."""
    case = _load(session, actor, case_id)
    reports = reports_of(session, case)
    saved = form_sections(session, case.id)
    values = {k: dict(v.values) for k, v in saved.items()}
    cluster = None
    if case.cluster_id:
        try:
            from aefi.triage.models import Cluster

            cluster = session.get(Cluster, case.cluster_id)
        except ImportError:  # pragma: no cover
            cluster = None
    site_ids = {r.site_id for r in reports}
    sites = (
        {s.id: s for s in session.exec(select(Site).where(col(Site.id).in_(site_ids)))}
        if site_ids
        else {}
    )
    group_cases: list[CaseFile] = []
    member_cases: dict[int, int] = {}
    if case.kind == CaseKind.report:
        cluster_ids = {
            i
            for r in reports
            for i in [
                (r.triage or {}).get("cluster_id"),
                *((r.triage or {}).get("cluster_ids") or []),
            ]
            if isinstance(i, int)
        }
        if cluster_ids:
            group_cases = list(
                session.exec(select(CaseFile).where(col(CaseFile.cluster_id).in_(cluster_ids)))
            )
    elif case.report_ids:
        member_cases = dict(
            session.exec(
                select(CaseFile.report_id, CaseFile.id).where(
                    col(CaseFile.report_id).in_(case.report_ids)
                )
            ).all()
        )
    now = clock.now()
    working = can_work(actor)
    return CasePage(
        case=case,
        reports=reports,
        doses=intake.report_doses(session, [r.id for r in reports]),
        sites=sites,
        sections=saved,
        missing=sections.missing_required(values),
        concerns=sections.concerns(values),
        exposure=exposure(session, case),
        assessments=assessments(session, case.id),
        brighton=brighton_of(case),
        attachments=attachments(session, case.id),
        notes=notes(session, case.id),
        events=timeline(session, case),
        deadlines=deadline_states(case, now),
        overdue=is_overdue(case, now),
        actions=workflow.actions(case.status) if working else [],
        can_work=working,
        investigators=investigators(session, actor) if working else [],
        cluster=cluster,
        group_cases=group_cases,
        member_cases=member_cases,
    )


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
    report = intake.get_report(session, actor, report_id)
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
    report = intake.get_report(session, actor, report_id)
    return session.exec(select(CaseFile).where(CaseFile.report_id == report.id)).first()


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
            _notify(
                session,
                case,
                kind="case_overdue",
                title=f"{case.number} · {state.name}",
                body=state.label,
            )
            sent += 1
        case.overdue_notified = [*case.overdue_notified, *(s.name for s in late)]
        session.add(case)
        _audit(
            session,
            None,
            case,
            "overdue",
            changes={"deadlines": [s.name for s in late]},
            summary=", ".join(s.name for s in late),
        )
    session.commit()
    return sent
