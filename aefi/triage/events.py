"""What follows a triage decision. Referral and investigation subscribe (through their
``flows.py``); triage calls ``report_triaged`` once per decision and ``cluster_formed``
once per new or grown cluster."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel import Session

    from aefi.auth.permissions import Actor
    from aefi.intake.models import Report

# handler(session, actor, report, decision, previous) — decision/previous are the
# TriageDecision of aefi.triage.rules (previous None on first triage).
TriagedHandler = Callable[["Session", "Actor", "Report", Any, Any], None]
# handler(session, actor, cluster) — cluster is aefi.triage.models.Cluster.
ClusterHandler = Callable[["Session", "Actor", Any], None]

_on_triaged: list[TriagedHandler] = []
_on_cluster: list[ClusterHandler] = []


def subscribe_report_triaged(handler: TriagedHandler) -> None:
    if handler not in _on_triaged:
        _on_triaged.append(handler)


def subscribe_cluster_formed(handler: ClusterHandler) -> None:
    if handler not in _on_cluster:
        _on_cluster.append(handler)


def report_triaged(
    session: Session, actor: Actor, report: Report, decision: Any, previous: Any
) -> None:
    for handler in _on_triaged:
        handler(session, actor, report, decision, previous)


def cluster_formed(session: Session, actor: Actor, cluster: Any) -> None:
    for handler in _on_cluster:
        handler(session, actor, cluster)
