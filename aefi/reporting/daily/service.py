"""The sites' daily report (日报) and the county's view of it: the days and their deadline,
the figures counted from the records (doses, observation entries, reports, referrals), a
site's report and its versions, which sites reported on a day, and the period summary."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from aefi import audit, clock
from aefi.auth.models import Role
from aefi.auth.permissions import Actor, require_role
from aefi.errors import Conflict, Invalid, NotFound
from aefi.i18n import N_
from aefi.intake.models import Report
from aefi.observation import board as periods
from aefi.observation import service as observation
from aefi.referral.models import Referral
from aefi.registry import access as registry_access
from aefi.registry.models import Dose, Lot, Region, Site, Vaccine
from aefi.reporting import access as reporting_access
from aefi.reporting.models import FIGURES, DailyReport
from aefi.settings import get_settings
from aefi.types import MAX_ID, ascii_int

COUNTY_READERS = (Role.investigator, Role.bureau, Role.admin)
SUBMITTERS = (Role.reporter, Role.admin)
# The counted figures of a daily report (``doses`` is the sum of its dose lines).
COUNTED = tuple(name for name, _label in FIGURES if name != "doses")


# --- days and deadlines --------------------------------------------------------------------


def _zone() -> str:
    return get_settings().timezone


def today() -> date:
    return periods.local_day(clock.now(), _zone())


def day_bounds(day: date) -> tuple[datetime, datetime]:
    return periods.local_day_bounds(day, _zone())


def period_bounds(since: date, until: date) -> tuple[datetime, datetime]:
    """[start of ``since``, end of ``until``): both days included."""
    return day_bounds(since)[0], day_bounds(until)[1]


def deadline_of(day: date) -> datetime:
    """The day's submission deadline (``daily_report_deadline``, local time, 17:00, on the
    day or ``daily_report_deadline_days`` later)."""
    settings = get_settings()
    hh, mm = (int(x) for x in settings.daily_report_deadline.split(":", 1))
    due_on = day + timedelta(days=settings.daily_report_deadline_days)
    return datetime.combine(due_on, time(hh, mm), ZoneInfo(_zone()))


# --- figures from the records ----------------------------------------------------------------


@dataclass(frozen=True)
class DoseLine:
    vaccine_id: int
    vaccine_code: str
    vaccine_zh: str
    vaccine_en: str
    dose_number: int
    count: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "vaccine_id": self.vaccine_id,
            "vaccine_code": self.vaccine_code,
            "vaccine_zh": self.vaccine_zh,
            "vaccine_en": self.vaccine_en,
            "dose_number": self.dose_number,
            "count": self.count,
        }

    @classmethod
    def of(cls, d: dict[str, Any]) -> DoseLine:
        return cls(
            d["vaccine_id"],
            d["vaccine_code"],
            d.get("vaccine_zh", d["vaccine_code"]),
            d.get("vaccine_en", ""),
            int(d["dose_number"]),
            int(d["count"]),
        )


@dataclass(frozen=True)
class DayFigures:
    dose_lines: tuple[DoseLine, ...] = ()
    observed: int = 0
    released: int = 0
    left_early: int = 0
    reports: int = 0
    serious: int = 0
    referrals: int = 0

    @property
    def doses(self) -> int:
        return sum(line.count for line in self.dose_lines)

    def value(self, name: str) -> int:
        return self.doses if name == "doses" else getattr(self, name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "doses": self.doses,
            **{name: getattr(self, name) for name in COUNTED},
            "dose_lines": [line.as_dict() for line in self.dose_lines],
        }

    @classmethod
    def of_report(cls, r: DailyReport) -> DayFigures:
        return cls(
            tuple(DoseLine.of(d) for d in r.dose_lines),
            r.observed,
            r.released,
            r.left_early,
            r.reports,
            r.serious,
            r.referrals,
        )

    def __add__(self, other: DayFigures) -> DayFigures:
        lines: dict[tuple[int, int], DoseLine] = {}
        for line in (*self.dose_lines, *other.dose_lines):
            key = (line.vaccine_id, line.dose_number)
            had = lines.get(key)
            lines[key] = replace(line, count=line.count + (had.count if had else 0))
        return DayFigures(
            _sorted_lines(lines.values()),
            *(getattr(self, n) + getattr(other, n) for n in COUNTED),
        )


def _sorted_lines(lines) -> tuple[DoseLine, ...]:
    return tuple(sorted(lines, key=lambda x: (x.vaccine_code, x.dose_number)))


def figures_from_records(session: Session, site_ids: list[int], day: date) -> dict[int, DayFigures]:
    """What the records say for each site on one local day: doses per vaccine and dose
    number, persons observed / released / left early, reports filed, serious reports, and
    green-channel referrals (first legs: a re-routed referral is the same patient)."""
    if not site_ids:
        return {}
    start, end = day_bounds(day)
    lines: dict[int, list[DoseLine]] = defaultdict(list)
    for site_id, vid, code, zh, en, number, n in session.exec(
        select(
            Dose.site_id,
            Vaccine.id,
            Vaccine.code,
            Vaccine.name,
            Vaccine.name_en,
            Dose.dose_number,
            func.count(),
        )
        .join(Lot, Lot.id == Dose.lot_id)
        .join(Vaccine, Vaccine.id == Lot.vaccine_id)
        .where(col(Dose.site_id).in_(site_ids))
        .where(col(Dose.administered_at) >= start, col(Dose.administered_at) < end)
        .group_by(Dose.site_id, Vaccine.id, Vaccine.code, Vaccine.name, Vaccine.name_en)
        .group_by(Dose.dose_number)
    ):
        lines[site_id].append(DoseLine(vid, code, zh, en, number, n))
    reports = {
        sid: (n, int(s or 0))
        for sid, n, s in session.exec(
            select(Report.site_id, func.count(), func.sum(case((col(Report.serious), 1), else_=0)))
            .where(col(Report.site_id).in_(site_ids))
            .where(col(Report.reported_at) >= start, col(Report.reported_at) < end)
            .group_by(Report.site_id)
        )
    }
    referrals = dict(
        session.exec(
            select(Referral.site_id, func.count())
            .where(col(Referral.site_id).in_(site_ids), Referral.leg == 1)
            .where(col(Referral.sent_at) >= start, col(Referral.sent_at) < end)
            .group_by(Referral.site_id)
        ).all()
    )
    watched = observation.counts_for_day(session, site_ids, day)
    out = {}
    for sid in site_ids:
        obs = watched.get(sid, observation.DayCounts())
        n_reports, n_serious = reports.get(sid, (0, 0))
        out[sid] = DayFigures(
            _sorted_lines(lines.get(sid, [])),
            obs.observed,
            obs.released,
            obs.left_early,
            n_reports,
            n_serious,
            referrals.get(sid, 0),
        )
    return out


# --- the site's daily report ---------------------------------------------------------------


@dataclass(frozen=True)
class DailyForm:
    site: Site
    day: date
    computed: DayFigures  # from the records now
    versions: list[DailyReport]  # newest first
    deadline_at: datetime
    now: datetime
    can_submit: bool

    @property
    def latest(self) -> DailyReport | None:
        return self.versions[0] if self.versions else None

    @property
    def overdue(self) -> bool:
        return not self.versions and self.now > self.deadline_at


def _site_for(session: Session, actor: Actor, site_id: int | None) -> Site:
    if actor.role == Role.reporter:
        if site_id is not None and site_id != actor.site_id:
            raise NotFound("Not found.")
        site_id = actor.site_id
    elif actor.role not in COUNTY_READERS:
        raise NotFound("Not found.")
    site = session.get(Site, site_id) if site_id is not None else None
    if site is None or site.county_id != actor.county_id:
        raise NotFound("Not found.")
    return site


def versions_of(session: Session, site_id: int, day: date) -> list[DailyReport]:
    return list(
        session.exec(
            select(DailyReport)
            .where(DailyReport.site_id == site_id, DailyReport.report_on == day)
            .order_by(col(DailyReport.version).desc())
        )
    )


def daily_form(session: Session, actor: Actor, day: date, site_id: int | None = None) -> DailyForm:
    """The site's report for a day: pre-filled from the records, with every version sent."""
    require_role(actor, Role.reporter, *COUNTY_READERS)
    site = _site_for(session, actor, site_id)
    return DailyForm(
        site=site,
        day=day,
        computed=figures_from_records(session, [site.id], day)[site.id],
        versions=versions_of(session, site.id, day),
        deadline_at=deadline_of(day),
        now=clock.now(),
        can_submit=actor.role in SUBMITTERS and day <= today(),
    )


def _count(raw: Any, name: str, errors: dict[str, str]) -> int | None:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        errors[name] = N_("Enter a number (0 if none).")
        return None
    value = ascii_int(raw)
    if value is None or value > MAX_ID:
        errors[name] = N_("Enter a whole number.")
        return None
    if value < 0:
        errors[name] = N_("A count cannot be negative.")
        return None
    return value


def submit_daily(
    session: Session,
    actor: Actor,
    day: date,
    values: dict[str, Any],
    *,
    remark: str = "",
    confirmed: bool = False,
    site_id: int | None = None,
) -> DailyReport:
    """Submit (or correct) the site's report for ``day``.

    ``values`` holds the counted figures by name and the dose lines as
    ``dose:<vaccine_id>:<dose_number>``; a missing value keeps the records' figure. Each
    submission is a new version; a correction must say why (the remark)."""
    require_role(actor, *SUBMITTERS)
    site = _site_for(session, actor, site_id)
    if day > today():
        raise Invalid(
            "A day's report can be submitted on that day or later.", fields={"day": "future"}
        )
    computed = figures_from_records(session, [site.id], day)[site.id]
    errors: dict[str, str] = {}
    counted: dict[str, int] = {}
    for name in COUNTED:
        raw = values.get(name, computed.value(name))
        value = _count(raw, name, errors)
        if value is not None:
            counted[name] = value
    vaccines = {v.id: v for v in session.exec(select(Vaccine))}
    lines: dict[tuple[int, int], int] = {
        (line.vaccine_id, line.dose_number): line.count for line in computed.dose_lines
    }
    for key, raw in values.items():
        if not key.startswith("dose:"):
            continue
        try:
            _prefix, vid, number = key.split(":")
            vkey = (int(vid), int(number))
        except ValueError:
            continue
        if vkey[0] not in vaccines or not 1 <= vkey[1] <= 10:
            errors[key] = N_("Unknown vaccine or dose number.")
            continue
        value = _count(raw, key, errors)
        if value is not None:
            lines[vkey] = value
    if errors:
        raise Invalid("Some fields need correcting.", fields=errors)
    recorded = {(x.vaccine_id, x.dose_number) for x in computed.dose_lines}
    submitted = DayFigures(
        _sorted_lines(
            DoseLine(vid, vaccines[vid].code, vaccines[vid].name, vaccines[vid].name_en, num, n)
            for (vid, num), n in lines.items()
            if n > 0 or (vid, num) in recorded
        ),
        **counted,
    )
    corrected = [n for n, _l in FIGURES if submitted.value(n) != computed.value(n)]
    if "doses" not in corrected and submitted.dose_lines != computed.dose_lines:
        corrected.insert(0, "doses")
    if corrected and not remark.strip():
        errors["remark"] = N_("Say why the figures differ from the records.")
    if not confirmed:
        errors["confirm"] = N_("Confirm that the figures are right.")
    if errors:
        raise Invalid("Some fields need correcting.", fields=errors)
    earlier = versions_of(session, site.id, day)
    now = clock.now()
    deadline = deadline_of(day)
    report = DailyReport(
        county_id=site.county_id,
        site_id=site.id,
        report_on=day,
        version=(earlier[0].version + 1) if earlier else 1,
        dose_lines=[line.as_dict() for line in submitted.dose_lines],
        doses=submitted.doses,
        **{name: submitted.value(name) for name in COUNTED},
        computed=computed.as_dict(),
        corrected=corrected,
        remark=remark.strip()[:2000],
        submitted_at=now,
        submitted_by_id=actor.user_id,
        submitted_by_name=actor.name,
        deadline_at=deadline,
        late=now > deadline,
    )
    session.add(report)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Conflict(
            "Another version of this report was submitted at the same moment; reload the page."
        ) from None
    audit.record(
        session,
        actor,
        "submit",
        "daily_report",
        report.id,
        changes={"version": report.version, "corrected": corrected, "late": report.late},
        summary=f"{site.code} {day.isoformat()} v{report.version}",
    )
    session.commit()
    return report


# --- the county's view ---------------------------------------------------------------------


@dataclass(frozen=True)
class SiteDay:
    site: Site
    township: Region | None
    first: DailyReport | None
    latest: DailyReport | None
    versions: int
    state: str  # on_time, late, missing (deadline passed), awaiting (before the deadline)

    @property
    def figures(self) -> DayFigures | None:
        return DayFigures.of_report(self.latest) if self.latest else None


STATE_LABELS = {
    "on_time": N_("Submitted on time"),
    "late": N_("Submitted late"),
    "missing": N_("Not submitted (late)"),
    "awaiting": N_("Not yet submitted"),
}


@dataclass(frozen=True)
class DayStatus:
    day: date
    deadline_at: datetime
    now: datetime
    sites: list[SiteDay]
    total: DayFigures

    def count(self, state: str) -> int:
        return sum(1 for s in self.sites if s.state == state)


def _state(first: DailyReport | None, deadline: datetime, now: datetime) -> str:
    if first is not None:
        return "late" if first.late else "on_time"
    return "missing" if now > deadline else "awaiting"


def _reports_in(
    session: Session, county_id: int, since: date, until: date
) -> dict[tuple[int, date], list[DailyReport]]:
    by_key: dict[tuple[int, date], list[DailyReport]] = defaultdict(list)
    for r in session.exec(
        select(DailyReport)
        .where(DailyReport.county_id == county_id)
        .where(col(DailyReport.report_on) >= since, col(DailyReport.report_on) <= until)
        .order_by(DailyReport.version)
    ):
        by_key[(r.site_id, r.report_on)].append(r)
    return by_key


def _townships(session: Session, sites: list[Site]) -> dict[int, Region]:
    ids = {s.township_id for s in sites}
    return {r.id: r for r in session.exec(select(Region).where(col(Region.id).in_(ids)))}


def day_status(session: Session, actor: Actor, day: date) -> DayStatus:
    """Which sites have and have not submitted the day's report, and the county's totals
    of what was submitted (the latest version of each)."""
    reporting_access.require_summary_reader(actor)
    sites = registry_access.sites_of_county(session, actor.county_id)
    towns = _townships(session, sites)
    reports = _reports_in(session, actor.county_id, day, day)
    now = clock.now()
    deadline = deadline_of(day)
    rows = []
    total = DayFigures()
    for s in sites:
        versions = reports.get((s.id, day), [])
        first, latest = (versions[0], versions[-1]) if versions else (None, None)
        row = SiteDay(
            s, towns.get(s.township_id), first, latest, len(versions), _state(first, deadline, now)
        )
        if row.figures is not None:
            total = total + row.figures
        rows.append(row)
    return DayStatus(day, deadline, now, rows, total)


@dataclass(frozen=True)
class SummaryRow:
    site: Site | None  # None on the county's total row
    township: Region | None
    submitted: int  # days with a report
    late: int  # days first submitted after the deadline
    missing: int  # days past their deadline with no report
    figures: DayFigures


@dataclass(frozen=True)
class Summary:
    since: date
    until: date
    days: int
    rows: list[SummaryRow]
    total: SummaryRow | None = None
    vaccines: tuple[DoseLine, ...] = field(default_factory=tuple)


def summary(session: Session, actor: Actor, since: date, until: date) -> Summary:
    """The county's summary table over a date range: per site, the latest version of each
    day's report added up, with the days submitted, late and missing."""
    reporting_access.require_summary_reader(actor)
    if until < since:
        raise Invalid("The end of the period lies before its start.", fields={"until": "order"})
    if (until - since).days > 366:
        raise Invalid("Choose a period of at most a year.", fields={"since": "too long"})
    sites = registry_access.sites_of_county(session, actor.county_id)
    towns = _townships(session, sites)
    reports = _reports_in(session, actor.county_id, since, until)
    now = clock.now()
    days = [since + timedelta(days=i) for i in range((until - since).days + 1)]
    rows = []
    grand = DayFigures()
    totals = [0, 0, 0]
    for s in sites:
        figures = DayFigures()
        submitted = late = missing = 0
        for d in days:
            versions = reports.get((s.id, d), [])
            state = _state(versions[0] if versions else None, deadline_of(d), now)
            if versions:
                submitted += 1
                late += state == "late"
                figures = figures + DayFigures.of_report(versions[-1])
            elif state == "missing":
                missing += 1
        rows.append(SummaryRow(s, towns.get(s.township_id), submitted, late, missing, figures))
        grand = grand + figures
        totals = [totals[0] + submitted, totals[1] + late, totals[2] + missing]
    total = SummaryRow(None, None, *totals, grand)
    return Summary(since, until, len(days), rows, total, grand.dose_lines)


def audit_export(session: Session, actor: Actor, what: str, rows: int) -> None:
    """Exports leave the system: each one is recorded."""
    audit.record(session, actor, "export", "report_export", None, summary=f"{what}: {rows} rows")
    session.commit()
