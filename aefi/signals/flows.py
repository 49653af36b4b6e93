"""What makes signals look (``aefi/flow.py`` says when): a report filed or changed, a
cluster, the timer. The event handlers run inside the caller's transaction, under the
savepoint ``flow.publish`` gives them: a scan that fails is rolled back alone and retried,
and the report is filed all the same. The timer scans everything."""

from __future__ import annotations

from sqlmodel import Session, col, select

from aefi import clock
from aefi.auth.permissions import Actor, every_county
from aefi.events import ClusterFormed, FollowUpAdded, ReportFiled
from aefi.registry.models import Lot
from aefi.signals.scans import service as scans
from aefi.triage.models import Cluster


def counts_in_scans(event: ReportFiled) -> bool:
    """Imported VAERS reports feed disproportionality, not MaxSPRT: no lot scan job."""
    return event.source != "vaers"


def on_report_filed(session: Session, actor: Actor, event: ReportFiled) -> None:
    on_reports_filed(session, actor, [event])


def on_reports_filed(session: Session, actor: Actor, events: list[ReportFiled]) -> None:
    """The lot scan after one filing or several (their jobs merged): one scan of their
    lots, as the filings named them (looked up for an event that named none)."""
    events = [e for e in events if counts_in_scans(e)]
    if not events:
        return
    ids = [e.report_id for e in events]
    named = all(e.lot_ids for e in events)
    lots = sorted({lot for e in events for lot in e.lot_ids}) if named else None
    scans.scan_for_reports(session, actor, ids, trigger="report", lot_ids=lots)


def on_follow_up(session: Session, actor: Actor, event: FollowUpAdded) -> None:
    on_follow_ups(session, actor, [event])


def on_follow_ups(session: Session, actor: Actor, events: list[FollowUpAdded]) -> None:
    # New symptoms change the event groups a report counts in.
    ids = sorted({e.report_id for e in events if "symptoms" in e.changed})
    if ids:
        scans.scan_for_reports(session, actor, ids, trigger="follow_up")


def on_cluster_formed(session: Session, actor: Actor, event: ClusterFormed) -> None:
    """Scan the lots triage asked about (with their vaccines and the cluster's site), and
    note on the cluster when signals looked."""
    if event.lot_ids:
        vaccines = session.exec(
            select(Lot.vaccine_id).where(col(Lot.id).in_(event.lot_ids)).distinct()
        )
        scans.run_scan(
            session,
            Actor.system(event.county_id, reason=f"signal scan of cluster #{event.cluster_id}"),
            trigger="cluster",
            lot_ids=list(event.lot_ids),
            vaccine_ids=sorted(int(v) for v in vaccines),
            site_ids=[event.site_id] if event.site_id else [],
            commit=False,
        )
    cluster = session.get(Cluster, event.cluster_id)
    cluster.evaluated_at = clock.now()  # triage's record of when signals looked
    session.add(cluster)


def timer_scan(session: Session) -> None:
    scans.run_scan(
        session, Actor.system(every_county(session), reason="timer: signal scan"), trigger="timer"
    )
