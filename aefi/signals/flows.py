"""What makes signals look: a report filed or changed, a cluster, the timer.

Event handlers run inside the caller's transaction (intake's filing, triage's cluster),
under a savepoint: a scan that fails is logged and rolled back alone, and the report is
filed all the same. The timer scans everything and brings future-dated halts into force.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from aefi import background, clock
from aefi.auth.permissions import Actor, every_county
from aefi.intake import events as intake_events
from aefi.registry import lot_states
from aefi.signals.config import get_signal_settings
from aefi.signals.halts import banners
from aefi.signals.halts import service as halts
from aefi.signals.scans import service as scans
from aefi.triage import events as triage_events
from aefi.web import BANNER_PROVIDERS

log = logging.getLogger("aefi.signals")


def _safely(session: Session, what: str, fn) -> None:
    try:
        with session.begin_nested():
            fn()
    except Exception:  # a scan must never stop a report from being filed
        log.exception("signal scan after %s failed", what)


def on_report_filed(session: Session, actor: Any, report: Any) -> None:
    if getattr(report, "source", "") == "vaers":
        return
    _safely(
        session,
        "report",
        lambda: scans.scan_for_reports(session, actor, [report.id], trigger="report"),
    )


def on_follow_up(session: Session, actor: Any, report: Any, follow_up: Any) -> None:
    # New symptoms change the event groups a report counts in.
    if "symptoms" not in (getattr(follow_up, "changes", None) or {}):
        return
    _safely(
        session,
        "follow-up",
        lambda: scans.scan_for_reports(session, actor, [report.id], trigger="follow_up"),
    )


def cluster_lot_ids(session: Session, cluster: Any) -> list[int]:
    """The lots a cluster asks about. Duck-typed: ``evaluation_lot_ids`` (triage's Cluster),
    else its ``lot_id``, else the lots of its member reports (``report_ids``, ``members``
    or the ``cluster_member`` table)."""
    lots = [int(x) for x in (getattr(cluster, "evaluation_lot_ids", None) or [])]
    if getattr(cluster, "lot_id", None):
        lots.append(int(cluster.lot_id))
    if lots:
        return sorted(set(lots))
    report_ids = list(getattr(cluster, "report_ids", None) or [])
    for m in getattr(cluster, "members", None) or []:
        rid = getattr(m, "report_id", None) or getattr(m, "id", None)
        if rid:
            report_ids.append(int(rid))
    if not report_ids and getattr(cluster, "id", None) is not None:
        try:
            with session.begin_nested():
                report_ids = [
                    int(r)
                    for (r,) in session.execute(
                        text("SELECT report_id FROM cluster_member WHERE cluster_id = :c"),
                        {"c": cluster.id},
                    )
                ]
        except Exception:  # no cluster_member table: nothing more to find
            report_ids = []
    return scans.lot_ids_of_reports(session, report_ids)


def on_cluster_formed(session: Session, actor: Any, cluster: Any) -> None:
    def run() -> None:
        lots = cluster_lot_ids(session, cluster)
        if lots:
            from sqlmodel import col, select

            from aefi.registry.models import Lot

            vaccines = sorted(
                {int(v) for v in session.exec(select(Lot.vaccine_id).where(col(Lot.id).in_(lots)))}
            )
            site = getattr(cluster, "site_id", None)
            scans.run_scan(
                session,
                Actor.system(cluster.county_id, reason=f"signal scan of cluster #{cluster.id}"),
                trigger="cluster",
                lot_ids=lots,
                vaccine_ids=vaccines,
                site_ids=[site] if site else [],
                commit=False,
            )
        if hasattr(cluster, "evaluated_at"):
            cluster.evaluated_at = clock.now()  # triage's record of when signals looked
            if hasattr(cluster, "_sa_instance_state"):
                session.add(cluster)

    _safely(session, "cluster", run)


def _timer_scan(session: Session) -> None:
    scans.run_scan(
        session, Actor.system(every_county(session), reason="timer: signal scan"), trigger="timer"
    )


def _banners(user: Any) -> list:
    from aefi.db import session_scope

    try:
        with session_scope() as session:
            return banners.banners_for(session, user)
    except Exception:  # a banner must never break a page
        log.exception("halt banners failed")
        return []


intake_events.subscribe_report_filed(on_report_filed)
intake_events.subscribe_follow_up_added(on_follow_up)
triage_events.subscribe_cluster_formed(on_cluster_formed)
_cfg = get_signal_settings()
background.register("signals_scan", _timer_scan, _cfg.scan_every_s)
background.register("signals_halts_due", halts.apply_due_halts, _cfg.halts_every_s)
# Lots whose expiry date passed are marked expired (registry.lot_states), hourly.
background.register("registry_lots_expired", lot_states.expire_due_lots, 3600)
if _banners not in BANNER_PROVIDERS:
    BANNER_PROVIDERS.append(_banners)
