"""The emergency block of a report: what the site did and measured in the first minutes of
an anaphylaxis, a seizure or an HHE — adrenaline (dose, route, time, repeats), vital signs,
weight and the times treatment started. It travels with the green-channel referral and the
hand-over sheet, so the hospital knows what was given and when.

Pure: pydantic shapes and plain values; no web or database imports. The plausible ranges
of every measurement live here (``RANGES``), for the report form, the API and the referral.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from aefi.i18n import N_
from aefi.types import When

# Plausible ranges of the vital signs and doses (wide: a form must not refuse a real
# measurement of a very sick child or adult, only a typing slip). Adrenaline: 0.01 mg/kg IM,
# at most 0.5 mg a dose (WHO / national anaphylaxis guidance); 5 mg leaves room for an IV
# infusion total but catches a dose typed in micrograms.
RANGES: dict[str, tuple[float, float]] = {
    "adrenaline_mg": (0, 5),
    "weight_kg": (0.5, 250),
    "bp_systolic": (20, 300),
    "bp_diastolic": (10, 200),
    "heart_rate": (10, 300),
    "resp_rate": (2, 100),
    "spo2": (30, 100),
    "temperature_c": (30, 45),
}
UNITS: dict[str, str] = {
    "adrenaline_mg": "mg",
    "weight_kg": "kg",
    "bp_systolic": "mmHg",
    "bp_diastolic": "mmHg",
    "heart_rate": "/min",
    "resp_rate": "/min",
    "spo2": "%",
    "temperature_c": "°C",
}
# Repeats of adrenaline the form offers (WHO: repeat every 5-15 min if no improvement;
# more than three before the ambulance is rare).
MAX_REPEATS = 5


def range_of(name: str) -> dict[str, float]:
    """The ``Field(ge=, le=)`` keywords of a measured value."""
    lo, hi = RANGES[name]
    return {"ge": lo, "le": hi}


class Consciousness(enum.StrEnum):
    """AVPU scale, the quick consciousness check of first aid and pre-hospital care."""

    alert = "alert"
    voice = "voice"
    pain = "pain"
    unresponsive = "unresponsive"


class AdrenalineRoute(enum.StrEnum):
    im = "im"  # the anterolateral thigh: the route of first choice
    iv = "iv"
    sc = "sc"


ROUTE_LABELS = {
    AdrenalineRoute.im: N_("intramuscular"),
    AdrenalineRoute.iv: N_("intravenous"),
    AdrenalineRoute.sc: N_("subcutaneous"),
}
CONSCIOUSNESS_LABELS = {
    Consciousness.alert: N_("alert"),
    Consciousness.voice: N_("responds to voice"),
    Consciousness.pain: N_("responds to pain"),
    Consciousness.unresponsive: N_("unresponsive"),
}


def _aware(v: datetime | None) -> datetime | None:
    if v is not None and v.tzinfo is None:
        raise ValueError("give the time with its UTC offset, e.g. 2026-11-25T09:30:00+08:00")
    return v


class RepeatIn(BaseModel):
    """A repeated adrenaline dose: when, and how much and by which route if they differ
    from the first."""

    at: When
    dose_mg: float | None = Field(default=None, **range_of("adrenaline_mg"))
    route: AdrenalineRoute | None = None

    _check_at = field_validator("at")(classmethod(lambda cls, v: _aware(v)))


class AdrenalineIn(BaseModel):
    dose_mg: float = Field(**range_of("adrenaline_mg"))
    route: AdrenalineRoute = AdrenalineRoute.im
    at: When
    repeats: list[RepeatIn] = Field(default_factory=list, max_length=MAX_REPEATS)

    _check_at = field_validator("at")(classmethod(lambda cls, v: _aware(v)))

    @model_validator(mode="after")
    def _repeats_after_first(self) -> AdrenalineIn:
        for r in self.repeats:
            if r.at < self.at:
                raise ValueError("a repeat dose cannot be given before the first dose")
        self.repeats.sort(key=lambda r: r.at)
        return self


class VitalsIn(BaseModel):
    at: When | None = None
    bp_systolic: int | None = Field(default=None, **range_of("bp_systolic"))
    bp_diastolic: int | None = Field(default=None, **range_of("bp_diastolic"))
    heart_rate: int | None = Field(default=None, **range_of("heart_rate"))
    resp_rate: int | None = Field(default=None, **range_of("resp_rate"))
    spo2: int | None = Field(default=None, **range_of("spo2"))
    temperature_c: float | None = Field(default=None, **range_of("temperature_c"))
    consciousness: Consciousness | None = None

    _check_at = field_validator("at")(classmethod(lambda cls, v: _aware(v)))

    @model_validator(mode="after")
    def _pressure(self) -> VitalsIn:
        s, d = self.bp_systolic, self.bp_diastolic
        if s is not None and d is not None and d >= s:
            raise ValueError("the diastolic pressure must be lower than the systolic")
        return self

    def measured(self) -> bool:
        return any(v is not None for k, v in self if k != "at")


class TreatmentTimesIn(BaseModel):
    started_at: When | None = None  # first treatment (positioning, antihistamine, ...)
    oxygen_at: When | None = None
    iv_at: When | None = None  # IV access and fluids

    _check = field_validator("started_at", "oxygen_at", "iv_at")(
        classmethod(lambda cls, v: _aware(v))
    )


class EmergencyIn(BaseModel):
    """The optional ``emergency`` block of ``POST /api/v1/reports``."""

    adrenaline: AdrenalineIn | None = None
    vitals: VitalsIn | None = None
    weight_kg: float | None = Field(default=None, **range_of("weight_kg"))
    treatment: TreatmentTimesIn | None = None

    def is_empty(self) -> bool:
        return (
            self.adrenaline is None
            and (self.vitals is None or not self.vitals.measured())
            and self.weight_kg is None
            and (self.treatment is None or not any(v for _k, v in self.treatment))
        )

    def stored(self) -> dict[str, Any]:
        """As the report keeps it (JSON, times in ISO 8601 UTC offsets, no empty parts)."""
        return self.model_dump(mode="json", exclude_none=True)


def read(stored: dict[str, Any] | None) -> EmergencyIn | None:
    """The stored block as a model (None when nothing was recorded)."""
    if not stored:
        return None
    block = EmergencyIn.model_validate(stored)
    return None if block.is_empty() else block


def with_adrenaline(
    stored: dict[str, Any] | None,
    *,
    dose_mg: float | None,
    at: datetime | None,
    route: AdrenalineRoute | None,
    repeats: list[RepeatIn] | None,
) -> dict[str, Any]:
    """The stored block with its adrenaline replaced, as the referral form edits it: the
    first dose (from the referral's own columns), its route and the repeats. ``None`` for
    route or repeats keeps what the block had. No first dose removes the adrenaline, and
    repeats without a first dose are refused (ValueError, like the model's own checks)."""
    block = EmergencyIn.model_validate(stored or {})
    old = block.adrenaline
    if route is None:
        route = old.route if old is not None else AdrenalineRoute.im
    if repeats is None:
        repeats = list(old.repeats) if old is not None else []
    if dose_mg is None or at is None:
        if repeats:
            raise ValueError("record the first adrenaline dose and its time before the repeats")
        block.adrenaline = None
    else:
        # Validated as a whole: the repeats must follow the first dose.
        block.adrenaline = AdrenalineIn.model_validate(
            {
                "dose_mg": dose_mg,
                "at": at,
                "route": route,
                "repeats": [r.model_dump() for r in repeats],
            }
        )
    return block.stored()


def referral_details(block: EmergencyIn | None) -> dict[str, Any]:
    """What a green-channel referral keeps of the block in its own columns (the first
    adrenaline dose, the weight, the vital signs); repeats, route and treatment times are
    read from the report."""
    if block is None:
        return {}
    out: dict[str, Any] = {}
    if block.adrenaline is not None:
        out["adrenaline_mg"] = block.adrenaline.dose_mg
        out["adrenaline_at"] = block.adrenaline.at
    if block.weight_kg is not None:
        out["weight_kg"] = block.weight_kg
    v = block.vitals
    if v is not None and v.measured():
        out["vitals_at"] = v.at
        for name in (
            "bp_systolic",
            "bp_diastolic",
            "heart_rate",
            "resp_rate",
            "spo2",
            "temperature_c",
        ):
            if getattr(v, name) is not None:
                out[name] = getattr(v, name)
        if v.consciousness is not None:
            out["consciousness"] = v.consciousness.value
    return out
