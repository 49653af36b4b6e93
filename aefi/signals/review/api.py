"""Signals JSON API (API.md, "Signals and halts"): list, read, review."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import Session

from aefi import exporting
from aefi.deps import ApiActor, SessionDep
from aefi.signals.review import export as signal_export
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


SIGNAL_SORT = "^-?(" + "|".join(service.SIGNAL_SORTS) + ")$"


@router.get("/signals", response_model=list[SignalOut], responses=exporting.API_RESPONSES)
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
    sort: Annotated[str, Query(pattern=SIGNAL_SORT)] = "",
    format: exporting.ApiFormat = "json",
) -> list[SignalOut]:
    """``sort``: level, target, event_group, observed, expected, oe, strength, p, status or
    detected (``-`` descending); empty: halt recommendations first, then by strength."""
    flt = service.SignalFilter(
        lot_number=lot_number,
        status=status_,
        level=level,
        scope=scope,
        method=method,
        event_group=event_group,
        sort=sort,
    )
    if format != "json":
        return exporting.export_list(
            session,
            actor,
            signal_export.SIGNALS,
            lambda n, size: service.list_signals(session, actor, flt, page=n, per_page=size),
            fmt=format,
            filter_text=exporting.describe(flt),
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
