"""Signals and halts JSON API (API.md, "Signals and halts")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlmodel import Session

from aefi.deps import ApiActor, SessionDep
from aefi.signals import service
from aefi.signals.models import HaltDecision
from aefi.signals.schemas import (
    HaltIn,
    HaltOut,
    LiftIn,
    ScanOut,
    SignalOut,
    SignalStatusIn,
)
from aefi.types import Id, PageNo

router = APIRouter(prefix="/api/v1", tags=["signals"])


def signal_out(row: service.SignalRow) -> SignalOut:
    s = row.signal
    return SignalOut(
        id=s.id,
        lot_number=row.lot.lot_number if row.lot else None,
        vaccine_code=row.vaccine.code if row.vaccine else None,
        event_group=s.event_group,
        observed=s.observed,
        expected=s.expected,
        method=s.method,
        statistic=s.statistic,
        p_value=s.p_value,
        threshold=s.threshold,
        level=s.level,
        status=s.status,
        scope=s.scope,
        site_code=row.site.code if row.site else None,
        doses=s.doses,
        oe_ratio=s.oe_ratio,
        oe_lower=s.oe_lower,
        oe_upper=s.oe_upper,
        upper_limit=s.upper_limit,
        risk_window_days=(
            [s.window_start_days, s.window_end_days] if s.window_end_days is not None else None
        ),
        held_lot=s.held_lot,
        first_detected_at=s.first_detected_at,
        last_scanned_at=s.last_scanned_at,
        details=s.details or {},
    )


def halt_out(h: HaltDecision) -> HaltOut:
    return HaltOut(
        id=h.id,
        number=h.number,
        scope=h.scope,
        target=h.target_label,
        reason=h.reason,
        signal_ids=h.signal_ids,
        cluster_ids=h.cluster_ids,
        report_ids=h.report_ids,
        effective_at=h.effective_at,
        in_force=h.state == "in force",
        state=h.state,
        issued_at=h.issued_at,
        issued_by=h.issued_by_name,
        lift_number=h.lift_number or None,
        lifted_at=h.lifted_at,
        lifted_by=h.lifted_by_name or None,
        lift_reason=h.lift_reason or None,
        notice_pdf=f"/api/v1/halts/{h.id}/notice.pdf",
    )


def _rows(session: Session, signals) -> list[SignalOut]:
    return [signal_out(r) for r in service.signal_rows(session, list(signals))]


@router.post("/signals/scan", response_model=ScanOut)
def scan_now(session: SessionDep, actor: ApiActor) -> ScanOut:
    """Run a full scan now; returns the signals it raised and every open one."""
    result = service.run_scan(session, actor, trigger="api")
    open_rows, _ = service.list_signals(
        session, actor, service.SignalFilter(open_only=True), per_page=500
    )
    return ScanOut(
        scan_id=result.run.id,
        cells=result.cells,
        seconds=result.run.seconds,
        signals=_rows(session, result.changed),
        held_lots=[lot.lot_number for lot in result.held],
        open_signals=[signal_out(r) for r in open_rows],
    )


@router.get("/signals", response_model=list[SignalOut])
def list_signals(
    session: SessionDep,
    actor: ApiActor,
    lot_number: str = "",
    status_: Annotated[str, Query(alias="status")] = "",
    level: str = "",
    scope: str = "",
    method: str = "",
    event_group: str = "",
    page: Annotated[PageNo, Query()] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[SignalOut]:
    flt = service.SignalFilter(
        lot_number=lot_number,
        status=status_,
        level=level,
        scope=scope,
        method=method,
        event_group=event_group,
    )
    rows, total = service.list_signals(session, actor, flt, page=page, per_page=per_page)
    return [signal_out(r) for r in rows]


@router.get("/signals/{signal_id}", response_model=SignalOut)
def get_signal(signal_id: Id, session: SessionDep, actor: ApiActor) -> SignalOut:
    return signal_out(service.get_signal(session, actor, signal_id))


@router.post("/signals/{signal_id}/status", response_model=SignalOut)
def set_status(
    signal_id: Id, body: SignalStatusIn, session: SessionDep, actor: ApiActor
) -> SignalOut:
    service.set_signal_status(
        session, actor, signal_id, body.status, body.note, release_hold=body.release_hold
    )
    return signal_out(service.get_signal(session, actor, signal_id))


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
    )
    return halt_out(halt)


@router.post("/halts/{halt_id}/lift", response_model=HaltOut)
def lift_halt(halt_id: Id, body: LiftIn, session: SessionDep, actor: ApiActor) -> HaltOut:
    return halt_out(service.lift_halt(session, actor, halt_id, body.reason))


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
