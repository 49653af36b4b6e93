"""Who may do what in triage, and loading triage's records in the actor's county."""

from __future__ import annotations

from sqlmodel import Session, select

from aefi.auth.models import Role
from aefi.auth.permissions import Actor
from aefi.errors import NotFound
from aefi.intake.models import Report
from aefi.triage.models import Cluster, ClusterMember, ClusterStatus, Escalation

# The escalation queue is the county's: its health bureau and its CDC work it.
QUEUE_ROLES = (Role.bureau, Role.investigator)
RULE_READERS = (Role.admin, Role.investigator, Role.bureau)
CLUSTER_READERS = (Role.investigator, Role.bureau, Role.admin)


def can_read_rules(actor: Actor) -> bool:
    """Whether a page links to the rules in force (``effective_rules`` checks the same)."""
    return actor.role in RULE_READERS


def can_close_cluster(actor: Actor, cluster: Cluster) -> bool:
    """Whether the page offers to close the cluster (``close_cluster`` checks the same)."""
    return actor.role in QUEUE_ROLES and cluster.status == ClusterStatus.open


def escalation_in_county(session: Session, actor: Actor, escalation_id: int) -> Escalation:
    """A queue item of the actor's county; any other is not found (not forbidden)."""
    esc = session.get(Escalation, escalation_id)
    if esc is None or esc.county_id != actor.county_id:
        raise NotFound("Not found.")
    return esc


def cluster_in_county(session: Session, actor: Actor, cluster_id: int) -> Cluster:
    """A cluster of the actor's county; any other is not found (not forbidden)."""
    cluster = session.get(Cluster, cluster_id)
    if cluster is None or cluster.county_id != actor.county_id:
        raise NotFound("Not found.")
    return cluster


def member_reports(session: Session, cluster_id: int) -> list[Report]:
    """The cluster's reports, by onset."""
    return list(
        session.exec(
            select(Report)
            .join(ClusterMember, ClusterMember.report_id == Report.id)
            .where(ClusterMember.cluster_id == cluster_id)
            .order_by(Report.onset_at, Report.id)
        )
    )
