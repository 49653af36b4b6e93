"""Reading case files: the county's list with its counts and the overdue banner, the
timeline and everything the case page shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from aefi import audit, clock, listing
from aefi.audit import AuditEvent
from aefi.auth.models import User
from aefi.auth.permissions import Actor, require_role, scope_clause
from aefi.errors import Invalid
from aefi.intake import access as intake_access
from aefi.intake.models import Report
from aefi.investigation import brighton as bc
from aefi.investigation import closing, sections, workflow
from aefi.investigation.access import READERS, can_read, can_work, load_case
from aefi.investigation.assessments.service import assessments, brighton_of
from aefi.investigation.cases.service import investigators
from aefi.investigation.evidence.service import attachments, notes
from aefi.investigation.form.prefill import Suggestion
from aefi.investigation.form.service import (
    ExposureRow,
    exposure,
    form_sections,
    suggested_values,
)
from aefi.investigation.lifecycle import (
    ENTITY,
    deadline_states,
    is_overdue,
)
from aefi.investigation.models import (
    CaseAttachment,
    CaseFile,
    CaseFormSection,
    CaseKind,
    CaseNote,
    CaseStatus,
    CausalityAssessment,
)
from aefi.referral.models import Referral
from aefi.registry.models import Site
from aefi.triage.models import Cluster, ClusterMember, Escalation
from aefi.types import MAX_ID, ascii_int

# --- lists -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseFilter:
    status: str = ""  # "" active (not closed), "all", or a CaseStatus
    assignee: str = ""  # "" anyone, "me", "none", or a user id
    overdue: bool = False
    kind: str = ""
    q: str = ""
    sort: str = "due"  # a key of CASE_SORTS, "-" before it for descending


# Cases with no deadline running sort after those with one, on both databases.
_NO_DEADLINE_LAST = sql_case((col(CaseFile.next_due_at).is_(None), 1), else_=0)
# The columns the case list sorts by (``listing.order_by``).
CASE_SORTS = {
    "due": (_NO_DEADLINE_LAST, col(CaseFile.next_due_at)),
    "number": col(CaseFile.number),
    "patient": col(CaseFile.title),
    "status": col(CaseFile.status),
    "assignee": col(CaseFile.assignee_name),
    "who": col(CaseFile.who_category),
    "opened": col(CaseFile.opened_at),
}


def list_cases(
    session: Session, actor: Actor, flt: CaseFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[CaseFile], int]:
    """The county's case files, by default the most urgent deadline first (cases with no
    deadline running last, newest first); or sorted by ``flt.sort``."""
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
    if flt.sort in ("", "due"):
        order = [
            _NO_DEADLINE_LAST,
            col(CaseFile.next_due_at),
            col(CaseFile.opened_at).desc(),
            col(CaseFile.id).desc(),
        ]
    else:
        order = listing.order_by(flt.sort, CASE_SORTS, col(CaseFile.id))
    rows = session.exec(stmt.order_by(*order).offset((page - 1) * per_page).limit(per_page))
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
    if not can_read(actor):
        return 0
    stmt = select(func.count()).where(
        CaseFile.county_id == actor.county_id,
        CaseFile.status != CaseStatus.closed.value,
        col(CaseFile.next_due_at) < clock.now(),
    )
    if can_work(actor):  # an investigator: theirs and nobody's
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
    if case.kind == CaseKind.report and case.report_ids:
        # The clusters triage put the case's reports in (its member rows).
        cluster_ids.update(
            session.exec(
                select(ClusterMember.cluster_id).where(
                    col(ClusterMember.report_id).in_(case.report_ids)
                )
            )
        )
    also += [("cluster", cid) for cid in sorted(cluster_ids)]
    # Triage's escalation queue and the green-channel referrals record their steps on
    # their own records.
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
        refs = session.exec(
            select(Referral.id).where(col(Referral.report_id).in_(case.report_ids))
        ).all()
        also += [("referral", rid) for rid in refs]
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
    # The form's sections still missing: what closing the case would be refused for.
    close_missing: list[closing.MissingSection] = field(default_factory=list)
    # What the report, the referral and the hospital suggest for the form's empty fields.
    suggested: dict[str, dict[str, Suggestion]] = field(default_factory=dict)


def case_page(session: Session, actor: Actor, case_id: int) -> CasePage:
    """Everything the case page shows, for those who may read the case."""
    case = load_case(session, actor, case_id)
    reports = reports_of(session, case)
    saved = form_sections(session, case.id)
    values = {k: dict(v.values) for k, v in saved.items()}
    cluster = None
    if case.cluster_id:
        cluster = session.get(Cluster, case.cluster_id)
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
        doses=intake_access.report_doses(session, [r.id for r in reports]),
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
        close_missing=closing.what_is_missing(values),
        suggested=suggested_values(session, case) if working else {},
    )
