"""Reporting JSON API: the indicators (API.md: ``GET /api/v1/indicators?since=&until=``) and
the day's daily-report status."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter

from aefi.aftercare import active
from aefi.aftercare.figures import service as checkin_figures
from aefi.deps import ApiActor, SessionDep
from aefi.reporting import indicators as ind
from aefi.reporting.county import service as county_view
from aefi.reporting.daily import service as daily
from aefi.reporting.models import FIGURES
from aefi.reporting.schemas import (
    CheckinDayOut,
    CheckinGroupOut,
    DayStatusOut,
    DoseLineOut,
    ExactShareOut,
    IndicatorsOut,
    RateOut,
    ShareOut,
    SiteDayOut,
    VaccineCheckinsOut,
)
from aefi.types import Day

router = APIRouter(prefix="/api/v1", tags=["reporting"])


def _share(s: ind.Share) -> ShareOut:
    return ShareOut.model_validate(s, from_attributes=True)


def _rate(x: ind.RateLine) -> RateOut:
    return RateOut.model_validate(x, from_attributes=True)


def _exact(s: active.Share) -> ExactShareOut:
    return ExactShareOut(k=s.k, n=s.n, share=s.share, low=s.low, high=s.high)


def _checkins(v: checkin_figures.VaccineFigures) -> VaccineCheckinsOut:
    return VaccineCheckinsOut(
        vaccine_code=v.vaccine_code,
        name=v.name,
        name_en=v.name_en,
        invited=v.invited,
        responders=v.responders,
        days=[CheckinDayOut(day=d, answered=_exact(s)) for d, s in v.days],
        event_groups=[CheckinGroupOut(event_group=g, reporting=_exact(s)) for g, s in v.groups],
    )


@router.get("/indicators", response_model=IndicatorsOut)
def get_indicators(
    session: SessionDep,
    actor: ApiActor,
    since: Day | None = None,
    until: Day | None = None,
) -> IndicatorsOut:
    """Timeliness, completeness and reporting rates for a period (both days included;
    default: the last 90 days)."""
    end = until or daily.today()
    start = since or end - timedelta(days=89)
    r = county_view.indicators(session, actor, start, end)
    checkins = checkin_figures.vaccine_figures(session, actor, *daily.period_bounds(start, end))
    return IndicatorsOut(
        since=r.since,
        until=r.until,
        computed_at=r.now,
        reports=r.reports,
        reports_within_48h=_share(r.reports_on_time),
        investigations_started_within_48h=_share(r.investigations_started),
        investigation_forms_within_3d=_share(r.forms_completed),
        cases_classified=_share(r.classified),
        complete_reports=_share(r.completeness.complete),
        field_completeness={k: _share(v) for k, v in r.completeness.fields.items()},
        rate_by_vaccine=[_rate(x) for x in r.by_vaccine],
        rate_by_township=[_rate(x) for x in r.by_township],
        rate_county=_rate(r.county),
        expected_rate_source=r.expected_source,
        active_surveillance=[_checkins(v) for v in checkins],
    )


@router.get("/daily-reports", response_model=DayStatusOut)
def get_daily_reports(session: SessionDep, actor: ApiActor, day: Day | None = None):
    """Which sites have submitted the day's report, and what (the latest version)."""
    status = daily.day_status(session, actor, day or daily.today())
    names = [name for name, _label in FIGURES]
    return DayStatusOut(
        day=status.day,
        deadline_at=status.deadline_at,
        sites=[
            SiteDayOut(
                site_code=s.site.code,
                state=s.state,
                version=s.latest.version if s.latest else None,
                submitted_at=s.latest.submitted_at if s.latest else None,
                figures={n: s.figures.value(n) for n in names} if s.figures else None,
                dose_lines=[
                    DoseLineOut.model_validate(x, from_attributes=True)
                    for x in (s.figures.dose_lines if s.figures else ())
                ],
            )
            for s in status.sites
        ],
        total={n: status.total.value(n) for n in names},
    )
