"""Output shapes of the reporting API."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel


class ShareOut(BaseModel):
    done: int
    total: int
    pending: int
    percent: float | None


class RateOut(BaseModel):
    key: str
    name: str
    name_en: str
    reports: int
    doses: int
    rate_per_100k: float | None
    expected_per_100k: float | None
    expected_reports: float | None
    observed_expected: float | None
    oe_lower: float | None
    oe_upper: float | None
    finding: str  # "above", "below" or ""


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
