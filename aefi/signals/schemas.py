"""Input and output shapes of the signals API (API.md, "Signals and halts")."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from aefi.types import Id, When


class SignalOut(BaseModel):
    """API.md's fields first; the rest are additions."""

    id: int
    lot_number: str | None
    vaccine_code: str | None
    event_group: str
    observed: int
    expected: float
    method: str
    statistic: float
    p_value: float | None
    threshold: float
    level: Literal["signal", "halt_recommended"]
    status: Literal["new", "under_review", "dismissed", "escalated"]
    scope: str
    site_code: str | None = None
    doses: int
    oe_ratio: float | None = None
    oe_lower: float | None = None
    oe_upper: float | None = None
    upper_limit: float | None = None
    risk_window_days: list[float | None] | None = None
    held_lot: bool = False
    first_detected_at: datetime
    last_scanned_at: datetime
    details: dict[str, Any] = Field(default_factory=dict)


class ScanOut(BaseModel):
    scan_id: int
    cells: int
    seconds: float
    signals: list[SignalOut] = Field(description="signals that are new, raised or reopened")
    held_lots: list[str]
    open_signals: list[SignalOut] = Field(description="every signal not dismissed")


class SignalStatusIn(BaseModel):
    status: Literal["new", "under_review", "dismissed", "escalated"]
    note: str = ""
    release_hold: bool = False


class HaltIn(BaseModel):
    scope: Literal["lot", "vaccine", "site"]
    target: str = Field(description="lot number, vaccine code or site code")
    reason: str
    signal_ids: list[Id] = Field(default_factory=list, max_length=500)
    cluster_ids: list[Id] = Field(default_factory=list, max_length=500)
    report_ids: list[Id] = Field(default_factory=list, max_length=500)
    effective_at: When | None = None
    confirm: bool | None = Field(
        default=None,
        description=(
            "true: the caller confirms the decision; false: not confirmed, answered 422 with "
            "what it would touch (the lot, the sites). Omitted: the documented v1 call, taken "
            "as confirmed."
        ),
    )


class LiftIn(BaseModel):
    reason: str
    confirm: bool | None = Field(
        default=None,
        description=(
            "true: the caller confirms the decision; false: not confirmed, answered 422 with "
            "what it would touch (the lot, the sites). Omitted: the documented v1 call, taken "
            "as confirmed."
        ),
    )


class HaltOut(BaseModel):
    id: int
    number: str
    scope: str
    target: str
    reason: str
    signal_ids: list[int]
    cluster_ids: list[int]
    report_ids: list[int]
    effective_at: datetime
    in_force: bool
    state: Literal["pending", "in force", "lifted"]
    issued_at: datetime
    issued_by: str
    lift_number: str | None = None
    lifted_at: datetime | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None
    notice_pdf: str


class PlannedDosesIn(BaseModel):
    """Doses planned for a product's surveillance; null clears it (aefi.signals.plans)."""

    planned_doses: int | None = Field(default=None, ge=1, le=1_000_000_000)


class PlannedDosesOut(BaseModel):
    vaccine_id: int
    vaccine_code: str
    planned_doses: int | None
