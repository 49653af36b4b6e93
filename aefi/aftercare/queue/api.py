"""The self-report queue through the API."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from aefi.aftercare.models import SelfReportStatus
from aefi.aftercare.queue import service
from aefi.deps import ApiActor, SessionDep
from aefi.intake.schemas import ReportIn
from aefi.types import Id

router = APIRouter(prefix="/api/v1", tags=["aftercare"])


class DismissIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


def _out(row: service.QueueRow) -> dict:
    sr, c = row.self_report, row.checkin
    return {
        "id": sr.id,
        "status": sr.status,
        "urgent": sr.urgent,
        "dose_id": sr.dose_id,
        "site_id": sr.site_id,
        "day": c.day,
        "symptoms": [s for s in c.symptoms.split(",") if s],
        "red_flags": [s for s in c.red_flags.split(",") if s],
        "onset_on": c.onset_on.isoformat() if c.onset_on else None,
        "severity": c.severity,
        "seen_doctor": c.seen_doctor,
        "note": c.note,
        "report_id": sr.report_id,
        "reason": sr.reason,
        "created_at": sr.created_at.isoformat(),
    }


@router.get("/self-reports")
def list_self_reports(
    session: SessionDep, actor: ApiActor, status: SelfReportStatus = SelfReportStatus.pending
) -> list[dict]:
    return [_out(r) for r in service.queue(session, actor, status)]


@router.get("/self-reports/{self_report_id}")
def get_self_report(self_report_id: Id, session: SessionDep, actor: ApiActor) -> dict:
    return _out(service.get(session, actor, self_report_id))


@router.post("/self-reports/{self_report_id}/confirm", status_code=201)
def confirm_self_report(
    self_report_id: Id, session: SessionDep, actor: ApiActor, data: ReportIn | None = None
) -> dict:
    """File the report the self-report proposes (or the body's edited one, same dose)."""
    if data is None:
        data = service.proposed_report(service.get(session, actor, self_report_id))
    report = service.confirm(session, actor, self_report_id, data)
    return {"report_id": report.id, "number": report.number}


@router.post("/self-reports/{self_report_id}/dismiss")
def dismiss_self_report(
    self_report_id: Id, data: DismissIn, session: SessionDep, actor: ApiActor
) -> dict:
    return _out(
        service.get(session, actor, service.dismiss(session, actor, self_report_id, data.reason).id)
    )
