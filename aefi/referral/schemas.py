"""Input and output shapes of referral (API.md, referral section)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field, field_validator

from aefi.intake.emergency import MAX_REPEATS, AdrenalineRoute, EmergencyIn, RepeatIn, range_of

# The ranges live with the report's emergency block (one home); re-exported here.
from aefi.intake.emergency import RANGES as RANGES
from aefi.intake.models import Outcome
from aefi.referral.states import Consciousness, Result, Transport, Urgency
from aefi.types import When


def _range(name: str) -> dict[str, float]:
    return range_of(name)


def _aware(v: datetime | None) -> datetime | None:
    if v is not None and v.tzinfo is None:
        raise ValueError("give the time with its UTC offset, e.g. 2026-11-25T09:30:00+08:00")
    return v


class ReferralIn(BaseModel):
    """What the sending physician tells the hospital. On a report with an open referral
    the same shape completes it (vital signs, what was given, transport)."""

    urgency: Urgency = Urgency.urgent
    reason: str = Field(default="", max_length=2000)
    adrenaline_mg: float | None = Field(default=None, **_range("adrenaline_mg"))
    adrenaline_at: When | None = None
    treatment_given: str = Field(default="", max_length=2000)
    weight_kg: float | None = Field(default=None, **_range("weight_kg"))
    vitals_at: When | None = None
    bp_systolic: int | None = Field(default=None, **_range("bp_systolic"))
    bp_diastolic: int | None = Field(default=None, **_range("bp_diastolic"))
    heart_rate: int | None = Field(default=None, **_range("heart_rate"))
    resp_rate: int | None = Field(default=None, **_range("resp_rate"))
    spo2: int | None = Field(default=None, **_range("spo2"))
    temperature_c: float | None = Field(default=None, **_range("temperature_c"))
    consciousness: Consciousness | None = None
    transport: Transport | None = None
    # Kept in the report's emergency block (REPORT_FIELDS), not in the referral's columns;
    # left out, the block's route and repeats stay as they are.
    adrenaline_route: AdrenalineRoute | None = None
    adrenaline_repeats: list[RepeatIn] | None = Field(default=None, max_length=MAX_REPEATS)
    contact_name: str = Field(default="", max_length=100)
    contact_phone: str = Field(default="", max_length=40)
    family_contact: str = Field(default="", max_length=200)

    _check_adrenaline = field_validator("adrenaline_at")(classmethod(lambda cls, v: _aware(v)))
    _check_vitals = field_validator("vitals_at")(classmethod(lambda cls, v: _aware(v)))


class NoteIn(BaseModel):
    note: str = Field(default="", max_length=1000)


class ReasonIn(BaseModel):
    reason: str = Field(default="", max_length=1000)


class AdmitIn(BaseModel):
    ward: str = Field(default="", max_length=100)
    note: str = Field(default="", max_length=1000)


class OutcomeIn(BaseModel):
    """How the hospital's care ended: discharged, transferred or died, with the diagnosis.
    ``patient_outcome`` is the report card's outcome (recovered, recovering, sequelae)."""

    result: Result
    diagnosis: str = Field(default="", max_length=500)
    patient_outcome: Outcome | None = None
    transferred_to: str = Field(default="", max_length=200)
    note: str = Field(default="", max_length=2000)


class DischargeIn(BaseModel):
    diagnosis: str = Field(default="", max_length=500)
    patient_outcome: Outcome = Outcome.recovered
    note: str = Field(default="", max_length=2000)


class HospitalOut(BaseModel):
    id: int
    code: str
    name: str
    name_en: str
    phone: str


class PatientOut(BaseModel):
    name: str
    sex: str
    birth_date: date | None
    id_number: str  # masked for the hospital
    guardian_name: str
    phone: str


class DoseOut(BaseModel):
    vaccine_code: str
    vaccine_name: str
    manufacturer: str
    lot_number: str
    dose_number: int
    route: str
    administered_at: datetime


class EventOut(BaseModel):
    onset_at: datetime
    symptoms: list[str]
    event_groups: list[str]
    description: str
    max_temperature_c: float | None


class VitalsOut(BaseModel):
    at: datetime | None
    weight_kg: float | None
    bp_systolic: int | None
    bp_diastolic: int | None
    heart_rate: int | None
    resp_rate: int | None
    spo2: int | None
    temperature_c: float | None
    consciousness: str


class ReferralOut(BaseModel):
    id: int
    report_id: int
    report_number: str
    leg: int
    previous_id: int | None
    status: str
    origin: str
    urgency: str
    reason: str
    triage_reasons: list[dict]
    hospital: HospitalOut
    site_code: str
    site_name: str
    patient: PatientOut
    event: EventOut
    doses: list[DoseOut]
    adrenaline_mg: float | None
    adrenaline_at: datetime | None
    treatment_given: str
    vitals: VitalsOut
    transport: str
    contact_name: str
    contact_phone: str
    family_contact: str
    sent_at: datetime
    escalated_at: datetime | None
    acknowledged_at: datetime | None
    arrived_at: datetime | None
    admitted_at: datetime | None
    closed_at: datetime | None
    minutes_to_acknowledge: float | None
    minutes_to_arrival: float | None
    acknowledged_by: str
    ward: str
    decline_reason: str
    withdraw_reason: str
    rerouted: bool
    result: str
    diagnosis: str
    patient_outcome: str
    transferred_to: str
    # The report's emergency block (adrenaline route and repeats, treatment times).
    emergency: EmergencyIn | None = None


class ReferralList(BaseModel):
    items: list[ReferralOut]
    total: int
    page: int
    per_page: int


# What the form edits in the report's emergency block rather than in the referral.
REPORT_FIELDS = ("adrenaline_route", "adrenaline_repeats")
# Details the sender gives, copied to the next leg when a hospital declines.
DETAIL_FIELDS = tuple(f for f in ReferralIn.model_fields if f not in REPORT_FIELDS)


CARRIED_FIELDS = (
    *DETAIL_FIELDS,
    "triage_reasons",
    "report_id",
    "county_id",
    "site_id",
    "created_by_id",
)
