"""What follows triage for investigation: a case file for each report that needs an
investigation and for each cluster (group AEFI); reminders when a deadline passes.

Read the chain: intake ``file_report`` → triage → ``triage.events.report_triaged`` /
``cluster_formed`` → here → ``case_files.open_case_for_report`` / ``open_case_for_cluster``.
Handlers run inside the triage transaction: they flush, they do not commit."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, select

from aefi import background
from aefi.auth.permissions import Actor
from aefi.intake.models import Report
from aefi.investigation import lifecycle
from aefi.investigation.cases import service as case_files
from aefi.investigation.models import CaseFile
from aefi.triage import events


def _system(county_id: int) -> Actor:
    return Actor.system(county_id, reason="case file after triage")


def on_report_triaged(
    session: Session, actor: Actor, report: Report, decision: Any, previous: Any
) -> None:
    """Open the case file when triage requires an investigation (DOMAIN.md: all but clearly
    diagnosed common reactions); keep an existing case's seriousness up to date."""
    required = bool(getattr(decision, "investigation_required", False))
    serious = bool(getattr(decision, "serious", report.serious))
    preliminary = bool(getattr(decision, "preliminary_report_required", serious))
    if required:
        # Triage acts for the county, whoever filed the report: the county's system actor.
        case_files.open_case_for_report(
            session,
            _system(report.county_id),
            report,
            serious=serious,
            preliminary_report_required=preliminary,
        )
        return
    existing = session.exec(select(CaseFile).where(CaseFile.report_id == report.id)).first()
    if existing is not None:
        # An investigation once required stays open: the investigators close it themselves.
        case_files.open_case_for_report(
            session,
            _system(report.county_id),
            report,
            serious=serious,
            preliminary_report_required=preliminary,
        )


def on_cluster_formed(session: Session, actor: Actor, cluster: Any) -> None:
    case_files.open_case_for_cluster(session, _system(cluster.county_id), cluster)


events.subscribe_report_triaged(on_report_triaged)
events.subscribe_cluster_formed(on_cluster_formed)
# Deadline reminders: a late step is seen within 5 minutes.
background.register("case_deadlines", lifecycle.check_deadlines, 300)
