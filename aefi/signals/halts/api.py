"""Halt decisions JSON API (API.md, "Signals and halts")."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from aefi.deps import ApiActor, SessionDep
from aefi.signals.halts import service
from aefi.signals.models import HaltDecision
from aefi.signals.schemas import (
    HaltIn,
    HaltOut,
    LiftIn,
)
from aefi.types import Id

router = APIRouter(prefix="/api/v1", tags=["signals"])


def halt_out(h: HaltDecision) -> HaltOut:
    return HaltOut.model_validate(
        {
            **h.model_dump(),
            "target": h.target_label,
            "in_force": h.state == "in force",
            "state": h.state,
            "issued_by": h.issued_by_name,
            # Not yet lifted: null rather than the columns' empty text.
            "lift_number": h.lift_number or None,
            "lifted_by": h.lifted_by_name or None,
            "lift_reason": h.lift_reason or None,
            "notice_pdf": f"/api/v1/halts/{h.id}/notice.pdf",
        }
    )


@router.post("/halts", status_code=status.HTTP_201_CREATED, response_model=HaltOut)
def issue_halt(body: HaltIn, session: SessionDep, actor: ApiActor) -> HaltOut:
    halt = service.issue_halt(
        session,
        actor,
        scope=body.scope,
        target=body.target,
        reason=body.reason,
        signal_ids=body.signal_ids,
        cluster_ids=body.cluster_ids,
        report_ids=body.report_ids,
        effective_at=body.effective_at,
        confirmed=body.confirm is not False,
    )
    return halt_out(halt)


@router.post("/halts/{halt_id}/lift", response_model=HaltOut)
def lift_halt(halt_id: Id, body: LiftIn, session: SessionDep, actor: ApiActor) -> HaltOut:
    return halt_out(
        service.lift_halt(session, actor, halt_id, body.reason, confirmed=body.confirm is not False)
    )


@router.get("/halts", response_model=list[HaltOut])
def list_halts(session: SessionDep, actor: ApiActor, active: bool | None = None) -> list[HaltOut]:
    return [halt_out(h) for h in service.list_halts(session, actor, active=active)]


@router.get("/halts/{halt_id}", response_model=HaltOut)
def get_halt(halt_id: Id, session: SessionDep, actor: ApiActor) -> HaltOut:
    return halt_out(service.get_halt(session, actor, halt_id))


@router.get("/halts/{halt_id}/notice.pdf")
def halt_notice(halt_id: Id, session: SessionDep, actor: ApiActor) -> Response:
    halt, pdf = service.halt_notice_pdf(session, actor, halt_id)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="halt-{halt.id}.pdf"'},
    )
