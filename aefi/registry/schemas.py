"""Input and output shapes of the registry API (API.md, registry section)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator, model_validator

from aefi.registry.models import Route, Sex
from aefi.types import Day, When

STATE_MESSAGE = (
    "{fields} cannot be set here: a lot's status, a product's or a site's halt changes only "
    "through its decisions (signal hold, halt and lift decisions, recall, expiry date). "
    "Leave the field out; halts are issued with POST /api/v1/halts."
)


class _NoStateFields(BaseModel):
    """Reference data bodies refuse the fields their decisions own, with a clear 422."""

    @model_validator(mode="before")
    @classmethod
    def _refuse_state(cls, data: Any) -> Any:
        if isinstance(data, dict):
            named = [f for f in ("status", "status_note", "halted", "halt_note") if f in data]
            if named:
                raise ValueError(STATE_MESSAGE.format(fields=", ".join(named)))
        return data


class VaccineCreate(_NoStateFields):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    manufacturer: str = Field(default="", max_length=200)
    name_en: str = ""
    observation_minutes: int = Field(default=30, ge=0, le=240)
    # Days after the dose the vaccinee is asked how they are, "1,3,7" (whole days 1–60,
    # ascending); empty: the rule of aefi.aftercare.schedule.
    checkin_days: str = Field(default="", max_length=64)


class VaccineUpdate(_NoStateFields):
    """The fields of a product a PATCH changes; those left out stay."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    manufacturer: str | None = Field(default=None, max_length=200)
    observation_minutes: int | None = Field(default=None, ge=0, le=240)
    checkin_days: str | None = Field(default=None, max_length=64)


class VaccinePublic(BaseModel):
    id: int
    code: str
    name: str
    name_en: str
    manufacturer: str
    observation_minutes: int
    checkin_days: str
    # The schedule in force: the vaccine's own days, or the rule's when it has none.
    checkin_schedule: list[int]


class LotCreate(_NoStateFields):
    lot_number: str = Field(min_length=1, max_length=64)
    vaccine_code: str
    expiry_date: Day | None = None
    doses_received: int | None = Field(default=None, ge=0)


class LotPublic(BaseModel):
    id: int
    lot_number: str
    vaccine_code: str
    vaccine_name: str
    manufacturer: str
    expiry_date: date | None
    doses_received: int | None
    status: str
    status_note: str


class SiteCreate(_NoStateFields):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    township: str = Field(description="township region code or name")
    primary_hospital_code: str | None = None
    backup_hospital_code: str | None = None
    name_en: str = ""


class HospitalCreate(BaseModel):
    code: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    level: str = ""
    name_en: str = ""
    phone: str = ""


class PersonIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    id_number: str = Field(min_length=4, max_length=32)
    sex: Sex = Sex.unknown
    birth_date: Day | None = None
    phone: str = ""
    guardian_name: str = ""
    address: str = ""

    @field_validator("id_number")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip().upper()


class DoseCreate(BaseModel):
    person: PersonIn
    lot_number: str
    site_code: str
    dose_number: int = Field(default=1, ge=1, le=10)
    administered_at: When
    route: Route | None = None
    body_site: str = ""
    vaccinator: str = ""

    @field_validator("administered_at")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("administered_at needs a UTC offset, e.g. 2026-11-25T09:30:00+08:00")
        return v


class Created(BaseModel):
    id: int


class ImportResult(BaseModel):
    imported: int
    duplicates: int = 0  # good rows already recorded (the same dose imported before)
    rejected_count: int = 0  # exact; ``rejected`` lists the first 1,000 (file line, reason)
    rejected: list[dict]
    rolled_back: bool = False
    encoding: str = ""


class RecallIn(BaseModel):
    """A recall notice: the manufacturer's or the regulator's reference and its words."""

    notice: str = Field(min_length=1, max_length=500)
