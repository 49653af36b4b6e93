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
    return AcknowledgementOut.model_validate(a, from_attributes=True)


@router.get("/escalations", response_model=list[EscalationOut])
def escalations(session: SessionDep, actor: ApiActor, show: str = "open") -> list[EscalationOut]:
    """The caller's escalation queue (bureau, investigator), most urgent first."""
    return [
        EscalationOut.model_validate(
            {
                **i.escalation.model_dump(),
                "kind": i.kind,
                "report_number": i.report.number if i.report else None,
                "urgency_name": Urgency(i.escalation.urgency).name,
                "overdue": i.overdue,
                "acknowledged": i.acknowledged is not None,
                "acknowledgements": [_ack(a) for a in i.acknowledgements],
            }
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
