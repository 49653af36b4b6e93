"""Scan now over the JSON API (API.md, "Signals and halts")."""

from __future__ import annotations

from fastapi import APIRouter

from aefi.deps import ApiActor, SessionDep
from aefi.signals.rates import service as rates
from aefi.signals.review.api import rows_out, signal_out
from aefi.signals.review.service import SignalFilter, list_signals
from aefi.signals.scans import service
from aefi.signals.schemas import (
    PlannedDosesIn,
    PlannedDosesOut,
    ScanOut,
)
from aefi.types import Id

router = APIRouter(prefix="/api/v1", tags=["signals"])


@router.post("/signals/scan", response_model=ScanOut)
def scan_now(session: SessionDep, actor: ApiActor) -> ScanOut:
    """Run a full scan now; returns the signals it raised and every open one."""
    result = service.run_scan(session, actor, trigger="api")
    open_rows, _ = list_signals(session, actor, SignalFilter(open_only=True), per_page=500)
    return ScanOut(
        scan_id=result.run.id,
        cells=result.cells,
        seconds=result.run.seconds,
        signals=rows_out(session, result.changed),
        held_lots=[lot.lot_number for lot in result.held],
        open_signals=[signal_out(r) for r in open_rows],
    )


@router.put("/vaccines/{vaccine_id}/planned-doses", response_model=PlannedDosesOut)
def set_planned_doses(
    vaccine_id: Id, body: PlannedDosesIn, session: SessionDep, actor: ApiActor
) -> PlannedDosesOut:
    """The doses planned for a product's surveillance plans (admin; null clears it)."""
    vac = rates.set_planned_doses(
        session, actor, vaccine_id, "" if body.planned_doses is None else str(body.planned_doses)
    )
    return PlannedDosesOut(
        vaccine_id=vac.id, vaccine_code=vac.code, planned_doses=vac.planned_doses
    )
