"""Input and output shapes of intake (API.md, intake section; DOMAIN.md's report card)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from aefi.intake.emergency import EmergencyIn
from aefi.intake.models import Outcome
from aefi.registry.models import Sex
from aefi.types import Day, Id, When


class SeriousIn(BaseModel):
    death: bool = False
    life_threatening: bool = False
    hospitalization: bool = False
    disability: bool = False
    congenital_anomaly: bool = False


class HandDoseIn(BaseModel):
    """A dose given elsewhere, entered by hand; its lot must be in the registry."""

    lot_number: str = Field(min_length=1, max_length=64)
    administered_at: When
    dose_number: int = Field(default=1, ge=1, le=10)
    route: str = ""
    body_site: str = ""
    vaccinating_unit: str = ""


class PatientIn(BaseModel):
    """Needed only when no registry dose names the person (hand-linked reports)."""

    name: str = Field(min_length=1, max_length=100)
    id_number: str = Field(min_length=4, max_length=32)
    sex: Sex = Sex.unknown
    birth_date: Day | None = None


def _aware(v: datetime | None) -> datetime | None:
    if v is not None and v.tzinfo is None:
        raise ValueError("give the time with its UTC offset, e.g. 2026-11-25T09:30:00+08:00")
    return v


class ReportIn(BaseModel):
    dose_ids: list[Id] = Field(default_factory=list, max_length=50)
    hand_doses: list[HandDoseIn] = Field(default_factory=list)
    patient: PatientIn | None = None
    onset_at: When
    discovered_at: When | None = None
    symptoms: list[str] = Field(default_factory=list)
    description: str = Field(default="", max_length=4000)
    max_temperature_c: float | None = Field(default=None, ge=34, le=44)
    local_reaction_cm: float | None = Field(default=None, ge=0, le=50)
    serious: SeriousIn = Field(default_factory=SeriousIn)
    needs_hospital_care: bool = False
    already_in_hospital: bool = False
    great_public_concern: bool = False
    treatment: str = Field(default="", max_length=2000)
    hospital_name: str = Field(default="", max_length=200)
    outcome: Outcome = Outcome.unknown
    diagnosis: str = Field(default="", max_length=500)
    diagnosis_clear: bool = False
    guardian_name: str = Field(default="", max_length=100)
    patient_phone: str = Field(default="", max_length=40)
    patient_address: str = Field(default="", max_length=300)
    reporter_unit: str = Field(default="", max_length=200)
    # Left out (API): the authenticated account's name, its phone or its site's, its site.
    reporter_name: str = Field(default="", max_length=100)
    reporter_phone: str = Field(default="", max_length=40)
    # Adrenaline, vital signs, weight and treatment times (aefi.intake.emergency).
    emergency: EmergencyIn | None = None
    # The physician's answers to the form's questions.
    confirm_late_onset: bool = False
    confirm_new_event: bool = False

    _check_onset = field_validator("onset_at")(classmethod(lambda cls, v: _aware(v)))
    _check_discovered = field_validator("discovered_at")(classmethod(lambda cls, v: _aware(v)))


class FollowUpIn(BaseModel):
    """Later information. Only the fields given are changed facts; ``note`` is free text."""

    outcome: Outcome | None = None
    death: bool | None = None
    life_threatening: bool | None = None
    hospitalization: bool | None = None
    disability: bool | None = None
    already_in_hospital: bool | None = None
    hospital_name: str | None = None
    diagnosis: str | None = None
    diagnosis_clear: bool | None = None
    treatment: str | None = None
    symptoms_added: list[str] = Field(default_factory=list)
    note: str = Field(default="", max_length=4000)
    at: When | None = None

    def changes(self) -> dict[str, Any]:
        return {
            k: v
            for k, v in self.model_dump(exclude={"note", "at"}).items()
            if v is not None and v != []
        }


class TriageOut(BaseModel):
    serious: bool = False
    escalated: bool = False
    investigation_required: bool = False
    referral_required: bool = False
    cluster_id: int | None = None
    reasons: list[dict[str, Any]] = Field(default_factory=list)
    deadlines: dict[str, Any] = Field(default_factory=dict)
    ruleset_version: str | None = None


class ReportDoseOut(BaseModel):
    dose_id: int | None
    lot_number: str
    lot_status: str
    vaccine_code: str
    vaccine_name: str
    manufacturer: str
    dose_number: int
    route: str
    administered_at: datetime


class FollowUpOut(BaseModel):
    id: int
    at: datetime
    author_name: str
    source: str
    changes: dict[str, Any]
    note: str


class ReportOut(BaseModel):
    id: int
    number: str
    status: str
    site_code: str
    patient_name: str
    onset_at: datetime
    discovered_at: datetime
    reported_at: datetime
    symptoms: list[str]
    event_groups: list[str]
    description: str
    serious: bool
    outcome: str
    linked_by_hand: bool
    lot_flag: str
    emergency: EmergencyIn | None = None
    doses: list[ReportDoseOut]
    follow_ups: list[FollowUpOut]
    triage: TriageOut


class ReportList(BaseModel):
    items: list[ReportOut]
    total: int
    page: int
    per_page: int
