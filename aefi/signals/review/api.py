"""Signals JSON API (API.md, "Signals and halts"): list, read, review."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import Session

from aefi.deps import ApiActor, SessionDep
from aefi.signals.review import service
from aefi.signals.schemas import (
    SignalOut,
    SignalStatusIn,
)
from aefi.types import Id, PageNo

router = APIRouter(prefix="/api/v1", tags=["signals"])


def signal_out(row: service.SignalRow) -> SignalOut:
    s = row.signal
    return SignalOut.model_validate(
        {
            **s.model_dump(),
            "lot_number": row.lot.lot_number if row.lot else None,
            "vaccine_code": row.vaccine.code if row.vaccine else None,
            "site_code": row.site.code if row.site else None,
            "risk_window_days": (
                [s.window_start_days, s.window_end_days] if s.window_end_days is not None else None
            ),
            "details": s.details or {},
        }
    )


def rows_out(session: Session, signals) -> list[SignalOut]:
    return [signal_out(r) for r in service.signal_rows(session, list(signals))]


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
