"""The county dashboard's trend: reports per week by event group over the last 26 weeks
(the epidemic curve, by onset), and the reporting rate per 100,000 doses by township over
the same weeks (``reporting.county.service.indicators``: a report counts in the period of
the vaccination it follows, so numerator and denominator cover the same doses). The
arithmetic is in ``reporting/trends.py``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlmodel import Session, col, select

from aefi import clock
from aefi.auth.permissions import Actor, require_role
from aefi.intake.models import Report
from aefi.reporting import trends
from aefi.reporting.county import service as county_view
from aefi.reporting.daily.service import COUNTY_READERS, day_bounds, today
from aefi.reporting.indicators import RateLine


@dataclass(frozen=True)
class Trend:
    since: date  # the Monday the curve starts
    until: date  # today
    curve: trends.EpiCurve
    townships: list[RateLine]  # highest rate first
    county: RateLine


def dashboard_trend(session: Session, actor: Actor, *, weeks: int = trends.WEEKS) -> Trend:
    """The county's curve and township rates, up to today (local time)."""
    require_role(actor, *COUNTY_READERS)
    day = today()
    since = trends.week_start(day) - timedelta(weeks=weeks - 1)
    start = day_bounds(since)[0]
    rows = session.exec(
        select(Report.onset_at, Report.event_groups).where(
            Report.county_id == actor.county_id, col(Report.onset_at) >= start
        )
    ).all()
    curve = trends.epi_curve(
        ((clock.to_local(onset).date(), groups or []) for onset, groups in rows),
        today=day,
        weeks=weeks,
    )
    rates = county_view.indicators(session, actor, since, day)
    return Trend(since, day, curve, trends.by_rate(rates.by_township), rates.county)
