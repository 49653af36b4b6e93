"""Output shapes of the reporting API."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import AliasChoices, BaseModel, Field


class ShareOut(BaseModel):
    done: int
    total: int
    pending: int
    percent: float | None


class RateOut(BaseModel):
    """One line of ``indicators.RateLine``, under the API's names."""

    key: str
    name: str = Field(validation_alias=AliasChoices("name", "label_zh"))
    name_en: str = Field(validation_alias=AliasChoices("name_en", "label_en"))
    reports: int
    doses: int
    rate_per_100k: float | None = Field(validation_alias=AliasChoices("rate_per_100k", "rate"))
    expected_per_100k: float | None = Field(
        validation_alias=AliasChoices("expected_per_100k", "expected_rate")
    )
    expected_reports: float | None
    observed_expected: float | None = Field(
        validation_alias=AliasChoices("observed_expected", "oe")
    )
    oe_lower: float | None
    oe_upper: float | None
    finding: str = Field(validation_alias=AliasChoices("finding", "flag"))  # "above", "below", ""


class ExactShareOut(BaseModel):
    """k of n, with the exact (Clopper–Pearson) 95% interval of the share."""

    k: int
    n: int
    share: float
    low: float
    high: float


class CheckinDayOut(BaseModel):
    day: int
    answered: ExactShareOut  # of those invited


class CheckinGroupOut(BaseModel):
    event_group: str
    reporting: ExactShareOut  # of those who answered


class VaccineCheckinsOut(BaseModel):
    """Active surveillance of one vaccine's doses given in the period (check-ins)."""

    vaccine_code: str
    name: str
    name_en: str
    invited: int
    responders: int
    days: list[CheckinDayOut]
    event_groups: list[CheckinGroupOut]


class IndicatorsOut(BaseModel):
    since: date
    until: date
    computed_at: datetime
    reports: int
    reports_within_48h: ShareOut
    investigations_started_within_48h: ShareOut
    investigation_forms_within_3d: ShareOut
    cases_classified: ShareOut
    complete_reports: ShareOut
    field_completeness: dict[str, ShareOut]
    rate_by_vaccine: list[RateOut]
    rate_by_township: list[RateOut]
    rate_county: RateOut
    expected_rate_source: str
    active_surveillance: list[VaccineCheckinsOut] = []


class DoseLineOut(BaseModel):
    vaccine_code: str
    dose_number: int
    count: int


class SiteDayOut(BaseModel):
    site_code: str
    state: str  # on_time, late, missing, awaiting
    version: int | None
    submitted_at: datetime | None
    figures: dict[str, int] | None
    dose_lines: list[DoseLineOut]


class DayStatusOut(BaseModel):
    day: date
    deadline_at: datetime
    sites: list[SiteDayOut]
    total: dict[str, int]
