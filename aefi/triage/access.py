"""Who may do what in triage, and loading triage's records in the actor's county."""

from __future__ import annotations

from sqlmodel import Session, select

from aefi.auth.models import Role
from aefi.intake.models import Report
from aefi.triage.models import (
    ClusterMember,
)

QUEUE_ROLES = (Role.bureau, Role.investigator)
RULE_READERS = (Role.admin, Role.investigator, Role.bureau)
CLUSTER_READERS = (Role.investigator, Role.bureau, Role.admin)


def member_reports(session: Session, cluster_id: int) -> list[Report]:
    return list(
        session.exec(
            select(Report)
            .join(ClusterMember, ClusterMember.report_id == Report.id)
            .where(ClusterMember.cluster_id == cluster_id)
            .order_by(Report.onset_at, Report.id)
        )
    )
