"""The county's surveillance indicators and its dashboard.

Counts come from the records (reports, case files, doses, signals, halts); the arithmetic
of the indicators is in ``reporting/indicators.py``."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, case, distinct
from sqlmodel import Session, col, func, select

from aefi import clock
from aefi.auth.permissions import Actor, require_role
from aefi.errors import Invalid
from aefi.i18n import N_
from aefi.intake.models import Report, ReportDose
from aefi.investigation.models import CaseFile
from aefi.investigation.workflow import CaseStatus
from aefi.referral.models import Referral
from aefi.referral.states import OPEN as REFERRAL_OPEN
from aefi.registry import access as registry_access
from aefi.registry.models import Dose, Lot, Region, Site, Vaccine
from aefi.reporting import access as reporting_access
from aefi.reporting import indicators as ind
from aefi.reporting.daily.service import (
    COUNTY_READERS,
    day_bounds,
    day_status,
    period_bounds,
    today,
)
from aefi.settings import get_settings
from aefi.signals import expected as signal_rates
from aefi.signals.models import ExpectedRate, HaltDecision, Signal, SignalStatus

# --- indicators ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Indicators:
    since: date
    until: date
    now: datetime
    reports: int
    reports_on_time: ind.Share
    investigations_started: ind.Share
    forms_completed: ind.Share
    classified: ind.Share
    completeness: ind.Completeness
    by_vaccine: list[ind.RateLine]
    by_township: list[ind.RateLine]
    county: ind.RateLine
    expected_source: str


def _expected_all_aefi(session: Session) -> tuple[dict[str, float], float, str]:
    """Expected all-AEFI reporting rates per 100,000 doses by vaccine code, the general
    one, and its source: signals' table (``all_aefi`` rows), else its shipped defaults,
    else the setting (DOMAIN.md: China NIP 32.52 per 100,000)."""
    rows = session.exec(select(ExpectedRate).where(ExpectedRate.event_group == "all_aefi")).all()
    rates = [
        signal_rates.Rate(
            r.vaccine_code,
            r.event_group,
            r.rate_per_dose,
            r.window_start_days,
            r.window_end_days,
            r.source,
        )
        for r in rows
    ] or [r for r in signal_rates.default_rates() if r.event_group == "all_aefi"]
    general = signal_rates.choose(rates, signal_rates.ALL_VACCINES, "all_aefi")
    by_code = {
        r.vaccine_code: r.rate_per_dose * ind.PER
        for r in rates
        if r.vaccine_code != signal_rates.ALL_VACCINES
    }
    if general is None:
        return by_code, get_settings().expected_aefi_rate_per_100k, "settings"
    return by_code, general.rate_per_dose * ind.PER, general.source


def indicators(session: Session, actor: Actor, since: date, until: date) -> Indicators:
    """DOMAIN.md's timeliness indicators and the reporting rate per 100,000 doses, by
    vaccine and by township, for a period (both days included).

    Timeliness counts reports filed and case files received in the period. The rate counts
    a report in the period of the vaccination it follows, so that numerator and
    denominator cover the same doses."""
    reporting_access.require_summary_reader(actor)
    if until < since:
        raise Invalid("The end of the period lies before its start.", fields={"until": "order"})
    start, end = period_bounds(since, until)
    now = clock.now()
    county = actor.county_id

    cards = session.exec(
        select(
            Report.id,
            Report.discovered_at,
            Report.reported_at,
            Report.patient_name,
            Report.patient_sex,
            Report.patient_birth_on,
            Report.patient_id_number,
            Report.patient_phone,
            Report.onset_at,
            Report.symptoms,
            Report.outcome,
            Report.reporter_name,
            Report.reporter_phone,
        ).where(
            Report.county_id == county,
            col(Report.reported_at) >= start,
            col(Report.reported_at) < end,
        )
    ).all()
    linked = set(
        session.exec(
            select(ReportDose.report_id)
            .distinct()
            .join(Report, Report.id == ReportDose.report_id)
            .where(
                Report.county_id == county,
                col(Report.reported_at) >= start,
                col(Report.reported_at) < end,
            )
        )
    )
    on_time = ind.on_time(((c.discovered_at, c.reported_at) for c in cards), ind.REPORT_WITHIN, now)
    complete = ind.completeness(
        {
            **{k: getattr(c, k) for k, _l in ind.KEY_FIELDS if k != "doses"},
            "doses": 1 if c.id in linked else 0,
        }
        for c in cards
    )

    files = session.exec(
        select(
            CaseFile.received_at,
            CaseFile.started_at,
            CaseFile.form_completed_at,
            CaseFile.china_classification,
        ).where(
            CaseFile.county_id == county,
            col(CaseFile.received_at) >= start,
            col(CaseFile.received_at) < end,
        )
    ).all()
    started = ind.on_time(
        ((f.received_at, f.started_at) for f in files), ind.INVESTIGATION_START_WITHIN, now
    )
    forms = ind.on_time(
        ((f.started_at, f.form_completed_at) for f in files if f.started_at is not None),
        ind.FORM_WITHIN,
        now,
    )
    classified = ind.share(bool(f.china_classification) for f in files)

    by_code, general, source = _expected_all_aefi(session)
    # One pass over the period's doses by site and lot (covered by ix_dose_site_time_lot);
    # lots map to vaccines and sites to townships here.
    sites = {s.id: s for s in registry_access.sites_of_county(session, county)}
    vaccine_of = dict(session.exec(select(Lot.id, Lot.vaccine_id)).all())
    doses_by_vaccine: dict[int, int] = defaultdict(int)
    doses_by_town: dict[int, int] = defaultdict(int)
    for site_id, lot_id, n in session.exec(
        select(Dose.site_id, Dose.lot_id, func.count())
        .where(col(Dose.site_id).in_(list(sites)))
        .where(col(Dose.administered_at) >= start, col(Dose.administered_at) < end)
        .group_by(Dose.site_id, Dose.lot_id)
    ):
        doses_by_vaccine[vaccine_of[lot_id]] += n
        doses_by_town[sites[site_id].township_id] += n
    linked_period = and_(
        Report.county_id == county,
        col(ReportDose.administered_at) >= start,
        col(ReportDose.administered_at) < end,
    )
    reports_by_vaccine = dict(
        session.exec(
            select(ReportDose.vaccine_id, func.count(distinct(ReportDose.report_id)))
            .join(Report, Report.id == ReportDose.report_id)
            .where(linked_period)
            .group_by(ReportDose.vaccine_id)
        ).all()
    )
    reports_by_town = dict(
        session.exec(
            select(Site.township_id, func.count(distinct(Report.id)))
            .select_from(ReportDose)
            .join(Report, Report.id == ReportDose.report_id)
            .join(Site, Site.id == Report.site_id)
            .where(linked_period)
            .group_by(Site.township_id)
        ).all()
    )
    reports_in_period = session.exec(
        select(func.count(distinct(ReportDose.report_id)))
        .join(Report, Report.id == ReportDose.report_id)
        .where(linked_period)
    ).one()

    vaccines = session.exec(select(Vaccine).order_by(Vaccine.code)).all()
    by_vaccine = [
        ind.rate_line(
            v.code,
            v.name,
            v.name_en,
            reports_by_vaccine.get(v.id, 0),
            doses_by_vaccine.get(v.id, 0),
            by_code.get(v.code, general),
        )
        for v in vaccines
        if doses_by_vaccine.get(v.id) or reports_by_vaccine.get(v.id)
    ]
    towns = session.exec(
        select(Region).where(Region.parent_id == county).order_by(Region.code)
    ).all()
    by_township = [
        ind.rate_line(
            t.code,
            t.name,
            t.name_en,
            reports_by_town.get(t.id, 0),
            doses_by_town.get(t.id, 0),
            general,
        )
        for t in towns
        if doses_by_town.get(t.id) or reports_by_town.get(t.id)
    ]
    region = session.get(Region, county)
    total = ind.rate_line(
        region.code if region else "",
        region.name if region else "",
        region.name_en if region else "",
        reports_in_period,
        sum(doses_by_vaccine.values()),
        general,
    )
    return Indicators(
        since=since,
        until=until,
        now=now,
        reports=len(cards),
        reports_on_time=on_time,
        investigations_started=started,
        forms_completed=forms,
        classified=classified,
        completeness=complete,
        by_vaccine=by_vaccine,
        by_township=by_township,
        county=total,
        expected_source=source,
    )


# --- the county dashboard --------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    key: str
    label: str  # English msgid
    value: int
    link: str
    alarm: bool = False  # shown in red when not zero


@dataclass(frozen=True)
class Dashboard:
    day: date
    now: datetime
    tiles: list[Tile]


def dashboard(session: Session, actor: Actor) -> Dashboard:
    """Today's numbers for the bureau and the CDC, each a link to its list."""
    require_role(actor, *COUNTY_READERS)
    now = clock.now()
    day = today()
    start, end = day_bounds(day)
    county = actor.county_id
    iso = day.isoformat()
    doses = session.exec(
        select(func.count())
        .select_from(Dose)
        .join(Site, Site.id == Dose.site_id)
        .where(Site.county_id == county)
        .where(col(Dose.administered_at) >= start, col(Dose.administered_at) < end)
    ).one()
    reports, serious = session.exec(
        select(func.count(), func.sum(case((col(Report.serious), 1), else_=0))).where(
            Report.county_id == county,
            col(Report.reported_at) >= start,
            col(Report.reported_at) < end,
        )
    ).one()
    open_referrals = session.exec(
        select(func.count()).where(
            Referral.county_id == county, col(Referral.status).in_([s.value for s in REFERRAL_OPEN])
        )
    ).one()
    overdue_cases = session.exec(
        select(func.count()).where(
            CaseFile.county_id == county,
            CaseFile.status != CaseStatus.closed,
            col(CaseFile.next_due_at) < now,
        )
    ).one()
    active_halts = session.exec(
        select(func.count()).where(
            HaltDecision.county_id == county,
            col(HaltDecision.applied_at).is_not(None),
            col(HaltDecision.lifted_at).is_(None),
        )
    ).one()
    from aefi.signals.access import visible_signals

    new_signals = session.exec(
        select(func.count())
        .select_from(Signal)
        .where(Signal.status == SignalStatus.new, visible_signals(session, actor))
    ).one()
    status = day_status(session, actor, day)
    missing = status.count("missing") + status.count("awaiting")
    from aefi.registry import lot_states

    held = len(lot_states.blocked_lots(session, county))  # not usable in this county
    tiles = [
        Tile("doses", N_("Doses today"), doses, f"/daily?day={iso}"),
        Tile("reports", N_("Reports today"), reports, f"/reports?since={iso}&until={iso}"),
        Tile(
            "serious",
            N_("Serious reports today"),
            int(serious or 0),
            f"/reports?since={iso}&until={iso}&serious=yes",
            alarm=True,
        ),
        Tile("referrals", N_("Open referrals"), open_referrals, "/referrals?show=open"),
        Tile("overdue_cases", N_("Overdue case files"), overdue_cases, "/cases?overdue=1", True),
        Tile("halts", N_("Halts in force"), active_halts, "/halts", alarm=True),
        Tile("lots_held", N_("Lots held, halted or recalled"), held, "/trace"),
        Tile("signals", N_("New signals"), new_signals, "/signals?status=new", alarm=True),
        Tile(
            "missing_daily",
            N_("Daily reports missing"),
            missing,
            f"/daily?day={iso}",
            alarm=now > status.deadline_at,
        ),
    ]
    return Dashboard(day, now, tiles)
