"""Signals JSON API (API.md, "Signals and halts"): list, read, review."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlmodel import Session

from aefi import exporting, listing
from aefi.deps import ApiActor, SessionDep
from aefi.signals.review import export as signal_export
from aefi.signals.review import service
from aefi.signals.schemas import (
    SignalOut,
    SignalStatusIn,
)
from aefi.types import Id

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


@dataclass(frozen=True)
class SignalParams:
    """The signal list's filters as the API takes them (all signals, not only open ones)."""

    lot_number: str = ""
    status: str = ""
    level: str = ""
    scope: str = ""
    method: str = ""
    event_group: str = ""
    sort: Annotated[str, Query(pattern=listing.sort_pattern(service.SIGNAL_SORTS))] = ""


# Signals come in longer pages.
SignalPaging = listing.api_paging(100, most=500)


@router.get("/signals", response_model=list[SignalOut], responses=exporting.API_RESPONSES)
def list_signals(
    session: SessionDep,
    actor: ApiActor,
    params: Annotated[SignalParams, Depends()],
    at: Annotated[SignalPaging, Depends()],
    format: exporting.ApiFormat = "json",
) -> list[SignalOut]:
    """``sort``: level, target, event_group, observed, expected, oe, strength, p, status or
    detected (``-`` descending); empty: halt recommendations first, then by strength."""
    flt = service.SignalFilter(**asdict(params))
    if format != "json":
        return exporting.export_list(
            session,
            actor,
            signal_export.SIGNALS,
            lambda n, size: service.list_signals(session, actor, flt, page=n, per_page=size),
            fmt=format,
            filter_text=exporting.describe(flt),
        )
    rows, total = service.list_signals(session, actor, flt, page=at.page, per_page=at.per_page)
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
