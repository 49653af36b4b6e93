"""Clusters for people: the county's possible group AEFI, each with its members, lots and
trail, closed once reviewed.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from aefi import audit, clock
from aefi.auth.permissions import Actor, require_role
from aefi.errors import Invalid
from aefi.intake.models import Report
from aefi.registry.models import Lot, Site, Vaccine
from aefi.triage.access import CLUSTER_READERS, QUEUE_ROLES, cluster_in_county, member_reports
from aefi.triage.models import (
    Cluster,
    ClusterStatus,
    Escalation,
)

# --- clusters for people -------------------------------------------------------------------


@dataclass
class ClusterView:
    cluster: Cluster
    members: list[Report]
    sites: dict[int, Site]
    lots: list[Lot]
    site: Site | None
    lot: Lot | None
    vaccine: Vaccine | None
    events: list[audit.AuditEvent]
    escalation: Escalation | None


def list_clusters(
    session: Session, actor: Actor, *, status: str = "open", limit: int = 200
) -> list[Cluster]:
    require_role(actor, *CLUSTER_READERS)
    stmt = select(Cluster).where(Cluster.county_id == actor.county_id)
    if status:
        stmt = stmt.where(Cluster.status == status)
    return list(session.exec(stmt.order_by(col(Cluster.created_at).desc()).limit(limit)))


def get_cluster(session: Session, actor: Actor, cluster_id: int) -> ClusterView:
    require_role(actor, *CLUSTER_READERS)
    cluster = cluster_in_county(session, actor, cluster_id)
    members = member_reports(session, cluster.id)
    site_ids = {m.site_id for m in members}
    sites = (
        {s.id: s for s in session.exec(select(Site).where(col(Site.id).in_(site_ids)))}
        if site_ids
        else {}
    )
    lots = (
        list(session.exec(select(Lot).where(col(Lot.id).in_(cluster.evaluation_lot_ids))))
        if cluster.evaluation_lot_ids
        else []
    )
    return ClusterView(
        cluster=cluster,
        members=members,
        sites=sites,
        lots=lots,
        site=session.get(Site, cluster.site_id) if cluster.site_id else None,
        lot=session.get(Lot, cluster.lot_id) if cluster.lot_id else None,
        vaccine=session.get(Vaccine, cluster.vaccine_id) if cluster.vaccine_id else None,
        events=audit.timeline(session, "cluster", cluster.id),
        escalation=session.exec(
            select(Escalation).where(Escalation.cluster_id == cluster.id)
        ).first(),
    )


def close_cluster(session: Session, actor: Actor, cluster_id: int, *, note: str) -> Cluster:
    """Reviewed: the cluster leaves the queue; a later finding opens a new one."""
    require_role(actor, *QUEUE_ROLES)
    view = get_cluster(session, actor, cluster_id)
    cluster = view.cluster
    if not note.strip():
        raise Invalid("Say why the cluster is closed.", fields={"note": "required"})
    if cluster.status == ClusterStatus.closed:
        return cluster
    now = clock.now()
    cluster.status, cluster.closed_at, cluster.updated_at = ClusterStatus.closed, now, now
    session.add(cluster)
    esc = session.exec(select(Escalation).where(Escalation.cluster_id == cluster.id)).first()
    if esc is not None and esc.closed_at is None:
        esc.closed_at = now
        session.add(esc)
    audit.record(
        session,
        actor,
        "status",
        "cluster",
        cluster.id,
        summary=note.strip()[:500],
        changes={"status": [ClusterStatus.open.value, ClusterStatus.closed.value]},
    )
    session.commit()
    return cluster
