"""What follows triage for investigation: a case file for each report that needs an
investigation and for each cluster (group AEFI). ``aefi/flow.py`` says when these run;
they run inside triage's transaction: they flush, they do not commit."""

from __future__ import annotations

from sqlmodel import Session, select

from aefi.auth.permissions import Actor
from aefi.events import ClusterFormed, ReportTriaged
from aefi.intake.models import Report
from aefi.investigation.cases import service as case_files
from aefi.investigation.models import CaseFile
from aefi.triage.models import Cluster


def _system(county_id: int) -> Actor:
    return Actor.system(county_id, reason="case file after triage")


def may_touch_case(event: ReportTriaged) -> bool:
    """Whether the decision can open or change a case file, from the event alone: it
    requires an investigation, or it re-decides a report that may have one already. A
    first decision of a common reaction has nothing to do (``aefi/flow.py`` records the job
    only otherwise)."""
    return event.decision.investigation_required or event.previous is not None


def on_report_triaged(session: Session, actor: Actor, event: ReportTriaged) -> None:
    """Open the case file when triage requires an investigation (DOMAIN.md: all but clearly
    diagnosed common reactions); keep an existing case's seriousness up to date."""
    decision = event.decision
    if not decision.investigation_required:
        existing = session.exec(
            select(CaseFile.id).where(CaseFile.report_id == event.report_id)
        ).first()
        if existing is None:
            return
        # An investigation once required stays open: the investigators close it themselves.
    report = session.get(Report, event.report_id)
    # Triage acts for the county, whoever filed the report: the county's system actor.
    case_files.open_case_for_report(
        session,
        _system(report.county_id),
        report,
        serious=decision.serious,
        preliminary_report_required=decision.preliminary_report_required,
    )


def on_cluster_formed(session: Session, actor: Actor, event: ClusterFormed) -> None:
    cluster = session.get(Cluster, event.cluster_id)
    case_files.open_case_for_cluster(session, _system(event.county_id), cluster, event.report_ids)
