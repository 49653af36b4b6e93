"""The escalation queue as JSON: the caller's queue and acknowledging an item."""

from __future__ import annotations

from fastapi import APIRouter, status

from aefi.deps import ApiActor, SessionDep
from aefi.triage.escalation import service as escalation
from aefi.triage.models import Urgency
from aefi.triage.schemas import (
    AcknowledgeIn,
    AcknowledgementOut,
    EscalationOut,
)
from aefi.types import Id

router = APIRouter(prefix="/api/v1", tags=["triage"])


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
