"""The escalation queue: escalated reports and clusters of a county, acknowledged by the
bureau and the CDC, and flagged once when their deadline passes unacknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, or_
from sqlmodel import Session, col, select

from aefi import audit, clock, i18n
from aefi.auth.permissions import Actor, require_role
from aefi.errors import Invalid
from aefi.intake.models import Report, ReportStatus
from aefi.notifications import service as notifications
from aefi.registry.models import Site
from aefi.settings import get_settings
from aefi.triage.access import QUEUE_ROLES, escalation_in_county
from aefi.triage.models import (
    URGENCY_LABELS,
    Acknowledgement,
    Cluster,
    ClusterStatus,
    Escalation,
    Urgency,
)
from aefi.triage.notices import working_locale

# --- the escalation queue ------------------------------------------------------------------


@dataclass
class QueueItem:
    escalation: Escalation
    report: Report | None
    cluster: Cluster | None
    site: Site | None
    acknowledgements: list[Acknowledgement]
    # The viewer's side (bureau or CDC) has acknowledged since the item was last raised.
    acknowledged: Acknowledgement | None
    overdue: bool

    @property
    def urgency_label(self) -> str:
        return URGENCY_LABELS[Urgency(self.escalation.urgency)]

    @property
    def kind(self) -> str:
        return "cluster" if self.cluster is not None else "report"


def _acked_since_raised(role: str):
    return exists().where(
        Acknowledgement.escalation_id == Escalation.id,
        Acknowledgement.role == role,
        col(Acknowledgement.at) >= Escalation.raised_at,
    )


def escalation_queue(
    session: Session, actor: Actor, *, show: str = "open", limit: int = 200
) -> list[QueueItem]:
    """Escalated reports and clusters of the actor's county, most urgent first, then by
    deadline. ``show="open"``: those the actor's side (bureau or CDC) has not yet
    acknowledged; ``"all"``: every item not closed."""
    require_role(actor, *QUEUE_ROLES)
    stmt = (
        select(Escalation)
        .outerjoin(Report, Report.id == Escalation.report_id)
        .outerjoin(Cluster, Cluster.id == Escalation.cluster_id)
        .where(
            Escalation.county_id == actor.county_id,
            col(Escalation.closed_at).is_(None),
            or_(col(Report.id).is_(None), Report.status != ReportStatus.closed),
            or_(col(Cluster.id).is_(None), Cluster.status == ClusterStatus.open),
        )
    )
    if show != "all":
        stmt = stmt.where(~_acked_since_raised(actor.role.value))
    rows = list(
        session.exec(
            stmt.order_by(Escalation.urgency, Escalation.due_at, Escalation.id).limit(limit)
        )
    )
    return _items(session, actor, rows)


def _items(session: Session, actor: Actor, rows: list[Escalation]) -> list[QueueItem]:
    report_ids = [e.report_id for e in rows if e.report_id is not None]
    cluster_ids = [e.cluster_id for e in rows if e.cluster_id is not None]
    reports = (
        {r.id: r for r in session.exec(select(Report).where(col(Report.id).in_(report_ids)))}
        if report_ids
        else {}
    )
    clusters = (
        {c.id: c for c in session.exec(select(Cluster).where(col(Cluster.id).in_(cluster_ids)))}
        if cluster_ids
        else {}
    )
    site_ids = {e.site_id for e in rows if e.site_id is not None}
    sites = (
        {s.id: s for s in session.exec(select(Site).where(col(Site.id).in_(site_ids)))}
        if site_ids
        else {}
    )
    acks: dict[int, list[Acknowledgement]] = {e.id: [] for e in rows}
    if rows:
        for a in session.exec(
            select(Acknowledgement)
            .where(col(Acknowledgement.escalation_id).in_(list(acks)))
            .order_by(Acknowledgement.at, Acknowledgement.id)
        ):
            acks[a.escalation_id].append(a)
    now = clock.now()
    items = []
    for e in rows:
        mine = [a for a in acks[e.id] if a.role == actor.role.value and a.at >= e.raised_at]
        items.append(
            QueueItem(
                escalation=e,
                report=reports.get(e.report_id),
                cluster=clusters.get(e.cluster_id),
                site=sites.get(e.site_id),
                acknowledgements=acks[e.id],
                acknowledged=mine[-1] if mine else None,
                # Overdue: its deadline has passed and nobody on the viewer's side took it.
                overdue=not mine and now > e.due_at,
            )
        )
    return items


def acknowledge(
    session: Session, actor: Actor, escalation_id: int, *, note: str = ""
) -> Acknowledgement:
    """Record that the actor has taken charge of a queue item (who and when)."""
    require_role(actor, *QUEUE_ROLES)
    esc = escalation_in_county(session, actor, escalation_id)
    if esc.closed_at is not None:
        raise Invalid("This item is closed.", fields={"escalation": "closed"})
    ack = Acknowledgement(
        escalation_id=esc.id,
        user_id=actor.user_id,
        user_name=actor.name,
        role=actor.role.value,
        at=clock.now(),
        note=note.strip()[:500],
    )
    session.add(ack)
    entity = ("report", esc.report_id) if esc.report_id is not None else ("cluster", esc.cluster_id)
    audit.record(
        session,
        actor,
        "acknowledge",
        entity[0],
        entity[1],
        summary=note.strip()[:200] or f"escalation {esc.id}",
        changes={"escalation_id": esc.id, "urgency": esc.urgency, "due_at": esc.due_at},
    )
    session.commit()
    return ack


def flag_overdue(session: Session) -> int:
    """Background job: tell the county once when a queue item passes its deadline with
    nobody having acknowledged it. Returns how many were flagged."""
    now = clock.now()
    rows = list(
        session.exec(
            select(Escalation).where(
                col(Escalation.closed_at).is_(None),
                col(Escalation.overdue_notified_at).is_(None),
                col(Escalation.due_at) < now,
                ~exists().where(
                    Acknowledgement.escalation_id == Escalation.id,
                    col(Acknowledgement.at) >= Escalation.raised_at,
                ),
            )
        )
    )
    settings = get_settings()
    for esc in rows:
        esc.overdue_notified_at = now
        session.add(esc)
        with working_locale(settings.default_locale):
            if esc.report_id is not None:
                report = session.get(Report, esc.report_id)
                title = i18n.gettext("Overdue: report {number}", number=report.number)
                link = f"/reports/{report.id}"
            else:
                title = i18n.gettext("Overdue: possible group AEFI no. {id}", id=esc.cluster_id)
                link = f"/clusters/{esc.cluster_id}"
            notifications.notify(
                session,
                county_id=esc.county_id,
                roles=QUEUE_ROLES,
                kind="deadline",
                title=title,
                body=i18n.gettext("Nobody has acknowledged it in the escalation queue."),
                link=link,
                urgent=True,
                settings=settings,
            )
    session.commit()
    return len(rows)
