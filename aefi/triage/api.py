"""Triage JSON API: the escalation queue, clusters and the rules in force. The triage
decision itself is in every report's body (API.md, "Triage")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel

from aefi.deps import ApiActor, SessionDep
from aefi.triage.cluster_review import service as cluster_review
from aefi.triage.escalation import service as escalation
from aefi.triage.models import Urgency
from aefi.triage.rules_in_force import service as rules_in_force
from aefi.types import Id

router = APIRouter(prefix="/api/v1", tags=["triage"])


class AcknowledgementOut(BaseModel):
    id: int
    user_name: str
    role: str
    at: datetime
    note: str


class EscalationOut(BaseModel):
    id: int
    kind: str  # report | cluster
    report_id: Id | None
    report_number: str | None
    cluster_id: Id | None
    urgency: int
    urgency_name: str
    escalated_at: datetime
    due_at: datetime
    overdue: bool
    acknowledged: bool
    acknowledgements: list[AcknowledgementOut]


class AcknowledgeIn(BaseModel):
    note: str = ""


class ClusterOut(BaseModel):
    id: int
    kind: str
    kinds: list[str]
    event_group: str
    status: str
    site_id: Id | None
    lot_id: Id | None
    vaccine_id: Id | None
    member_count: int
    report_ids: list[int] = []
    first_onset_at: datetime
    last_onset_at: datetime
    reason_en: str
    reason_zh: str
    observed: int | None
    expected: float | None
    p_value: float | None
    ruleset_version: str
    escalated_at: datetime | None
    evaluation_lot_ids: list[int]
    evaluation_requested_at: datetime | None
    evaluated_at: datetime | None


class RulesOut(BaseModel):
    version: str
    declared_version: str
    path: str
    error: str | None
    text: str


def _ack(a) -> AcknowledgementOut:
    return AcknowledgementOut(id=a.id, user_name=a.user_name, role=a.role, at=a.at, note=a.note)


@router.get("/escalations", response_model=list[EscalationOut])
def escalations(session: SessionDep, actor: ApiActor, show: str = "open") -> list[EscalationOut]:
    """The caller's escalation queue (bureau, investigator), most urgent first."""
    return [
        EscalationOut(
            id=i.escalation.id,
            kind=i.kind,
            report_id=i.escalation.report_id,
            report_number=i.report.number if i.report else None,
            cluster_id=i.escalation.cluster_id,
            urgency=i.escalation.urgency,
            urgency_name=Urgency(i.escalation.urgency).name,
            escalated_at=i.escalation.escalated_at,
            due_at=i.escalation.due_at,
            overdue=i.overdue,
            acknowledged=i.acknowledged is not None,
            acknowledgements=[_ack(a) for a in i.acknowledgements],
        )
        for i in escalation.escalation_queue(session, actor, show=show)
    ]


@router.post(
    "/escalations/{escalation_id}/acknowledge",
    status_code=status.HTTP_201_CREATED,
    response_model=AcknowledgementOut,
)
def acknowledge(
    escalation_id: Id, session: SessionDep, actor: ApiActor, body: AcknowledgeIn | None = None
) -> AcknowledgementOut:
    return _ack(
        escalation.acknowledge(session, actor, escalation_id, note=(body.note if body else ""))
    )


def _cluster(view: cluster_review.ClusterView) -> ClusterOut:
    c = view.cluster
    return ClusterOut(
        **c.model_dump(exclude={"county_id", "created_at", "updated_at", "closed_at"}),
        report_ids=[r.id for r in view.members],
    )


@router.get("/clusters", response_model=list[ClusterOut])
def clusters(
    session: SessionDep,
    actor: ApiActor,
    status_: Annotated[str, Query(alias="status")] = "open",
) -> list[ClusterOut]:
    rows = cluster_review.list_clusters(session, actor, status=status_)
    return [ClusterOut(**c.model_dump(exclude={"county_id"})) for c in rows]


@router.get("/clusters/{cluster_id}", response_model=ClusterOut)
def cluster(cluster_id: Id, session: SessionDep, actor: ApiActor) -> ClusterOut:
    return _cluster(cluster_review.get_cluster(session, actor, cluster_id))


@router.get("/triage/rules", response_model=RulesOut)
def rules(session: SessionDep, actor: ApiActor) -> RulesOut:
    view = rules_in_force.effective_rules(session, actor)
    return RulesOut(
        version=view.ruleset.version,
        declared_version=view.ruleset.declared_version,
        path=str(view.path),
        error=view.error,
        text=view.ruleset.text,
    )
