"""Traceability (追溯): from a lot to the sites, days, persons and reports, and from a person
to every dose and report.

Names and ID numbers are masked in lists; the full identity is on the person page, for the
roles that need it, and each viewing is recorded
(``registry.doses.service.get_person(reveal=True)``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Integer, cast, or_
from sqlmodel import Session, col, func, select

from aefi import audit
from aefi.audit import AuditEvent
from aefi.auth.permissions import Actor, mask_id_number, mask_name, sees_identity
from aefi.intake.models import Report, ReportDose
from aefi.intake.symptoms import EVENT_GROUPS
from aefi.observation import board as periods
from aefi.observation.actions import service as observation_actions
from aefi.observation.models import ObservationEntry
from aefi.registry import access as registry_access
from aefi.registry import lot_states
from aefi.registry.doses import service as registry_doses
from aefi.registry.lots import service as registry_lots
from aefi.registry.models import Dose, Lot, Person, Site, Vaccine
from aefi.reporting.access import get_lot, only_site
from aefi.reporting.follow_up.service import FOLLOW_UP_STATUSES
from aefi.reporting.models import FollowUpContact
from aefi.settings import get_settings
from aefi.signals.models import HaltDecision, HaltScope, Signal
from aefi.triage.models import Cluster

# --- the lot page ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteUse:
    site: Site
    doses: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True)
class LotTrace:
    lot: Lot
    vaccine: Vaccine
    history: list[AuditEvent]  # the lot's record: created, status changes, edits
    halts: list[HaltDecision]  # halt decisions on the lot or its vaccine
    sites: list[SiteUse]
    days: list[tuple[date, dict[int, int], int]]  # (day, site id -> doses, total), newest first
    doses: int
    persons: int
    reports: list[Report]
    report_groups: list[tuple[str, str, str, int]]  # (group, zh, en, reports)
    serious_reports: int
    signals: list[Signal] = field(default_factory=list)
    clusters: list[Cluster] = field(default_factory=list)
    only_site: Site | None = None
    can_follow_up: bool = False


def lot_trace(session: Session, actor: Actor, lot_number: str) -> LotTrace:
    """Everything about one lot, in the actor's scope."""
    only = only_site(actor)
    lot, vaccine = get_lot(session, actor, lot_number)
    zone = get_settings().timezone

    in_scope = [Dose.lot_id == lot.id, Site.county_id == actor.county_id]
    if only is not None:
        in_scope.append(Dose.site_id == only)
    sites = {s.id: s for s in registry_access.sites_of_county(session, actor.county_id)}
    uses, days = _doses_by_site_and_day(session, lot.id, in_scope, zone, sites)
    total = sum(u.doses for u in uses)

    persons = session.exec(
        select(func.count(func.distinct(Dose.person_id)))
        .join(Site, Site.id == Dose.site_id)
        .where(*in_scope)
    ).one()

    reports_q = select(Report).where(
        Report.county_id == actor.county_id,
        col(Report.id).in_(select(ReportDose.report_id).where(ReportDose.lot_id == lot.id)),
    )
    if only is not None:
        reports_q = reports_q.where(Report.site_id == only)
    reports = list(session.exec(reports_q.order_by(col(Report.reported_at).desc())))
    groups: dict[str, int] = defaultdict(int)
    for r in reports:
        for g in r.event_groups or ["other"]:
            groups[g] += 1
    report_groups = [
        (g, *EVENT_GROUPS.get(g, (g, g)), n)
        for g, n in sorted(groups.items(), key=lambda kv: (-kv[1], kv[0]))
    ]

    halts = list(
        session.exec(
            select(HaltDecision)
            .where(HaltDecision.county_id == actor.county_id)
            .where(
                or_(
                    (HaltDecision.scope == HaltScope.lot) & (HaltDecision.target_id == lot.id),
                    (HaltDecision.scope == HaltScope.vaccine)
                    & (HaltDecision.target_id == vaccine.id),
                )
            )
            .order_by(HaltDecision.issued_at)
        )
    )
    signals: list[Signal] = []
    clusters: list[Cluster] = []
    if only is None:  # signals and clusters are the county's review work
        signals = list(
            session.exec(
                select(Signal)
                .where(
                    or_(
                        Signal.lot_id == lot.id,
                        (Signal.scope == "vaccine") & (Signal.vaccine_id == vaccine.id),
                    )
                )
                .order_by(col(Signal.strength).desc())
            )
        )
        clusters = [
            c
            for c in session.exec(
                select(Cluster)
                .where(Cluster.county_id == actor.county_id)
                .order_by(col(Cluster.created_at).desc())
            )
            if c.lot_id == lot.id or lot.id in (c.evaluation_lot_ids or [])
        ]
    return LotTrace(
        lot=lot,
        vaccine=vaccine,
        history=audit.timeline(session, "lot", lot.id),
        halts=halts,
        sites=uses,
        days=days,
        doses=total,
        persons=persons,
        reports=reports,
        report_groups=report_groups,
        serious_reports=sum(1 for r in reports if r.serious),
        signals=signals,
        clusters=clusters,
        only_site=sites.get(only) if only is not None else None,
        can_follow_up=lot.status in FOLLOW_UP_STATUSES,
    )


def _aware(at: datetime) -> datetime:
    """An aggregate of a UTC column comes back without the column type's processing on
    SQLite (naive, or text): as stored, in UTC."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


# Every time zone's offset and transitions fall on a quarter hour: the doses of one
# quarter hour (in UTC) are all on the same local day.
_QUARTER_S = 900


def _one_offset(zone: str, first: datetime, last: datetime) -> timedelta | None:
    """The zone's UTC offset if it is the same all through [first, last] (checked at
    every day's start: offsets change at most twice a year), else None."""
    tz = ZoneInfo(zone)
    offset = first.astimezone(tz).utcoffset()
    at = first
    while at < last:
        at = min(at + timedelta(days=1), last)
        if at.astimezone(tz).utcoffset() != offset:
            return None
    return offset


def _doses_by_site_and_day(
    session: Session, lot_id: int, in_scope: list, zone: str, sites: dict[int, Site]
) -> tuple[list[SiteUse], list[tuple[date, dict[int, int], int]]]:
    """The lot's doses per site (most first) and per local day and site (newest day
    first), in one grouped pass of the database (rows: days × sites, whatever the lot's
    size). PostgreSQL knows the zones; on SQLite the local day is the UTC time shifted by
    the zone's offset where that offset held over the lot's whole use, and otherwise the
    doses are grouped by quarter hour of UTC and given their local day here."""
    at = Dose.administered_at
    if session.get_bind().dialect.name == "postgresql":
        bucket = cast(func.timezone(zone, at), Date)
    else:
        # The lot's first and last dose: two lookups in the (lot_id, administered_at) index.
        first = session.exec(select(func.min(at)).where(Dose.lot_id == lot_id)).one()
        last = session.exec(select(func.max(at)).where(Dose.lot_id == lot_id)).one()
        if first is None:
            return [], []
        # SQLite stores "YYYY-MM-DD HH:MM:SS.ffffff" and rounds to milliseconds: the
        # whole seconds alone, so 23:59:59.9995 stays on its day.
        seconds = func.substr(at, 1, 19)
        offset = _one_offset(zone, _aware(first), _aware(last))
        if offset is not None:
            bucket = func.date(seconds, f"{int(offset.total_seconds()) // 60:+d} minutes")
        else:
            bucket = cast(func.strftime("%s", seconds), Integer) // _QUARTER_S
    rows = session.exec(
        select(Dose.site_id, bucket, func.count(), func.min(at), func.max(at))
        .join(Site, Site.id == Dose.site_id)
        .where(*in_scope)
        .group_by(Dose.site_id, bucket)
    ).all()
    per_day: dict[date, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    per_site: dict[int, list] = {}
    for site_id, key, n, first_at, last_at in rows:
        if isinstance(key, date):
            day = key
        elif isinstance(key, str):
            day = date.fromisoformat(key)
        else:
            day = periods.local_day(datetime.fromtimestamp(int(key) * _QUARTER_S, UTC), zone)
        per_day[day][site_id] += n
        first_at, last_at = _aware(first_at), _aware(last_at)
        use = per_site.setdefault(site_id, [0, first_at, last_at])
        use[0] += n
        use[1], use[2] = min(use[1], first_at), max(use[2], last_at)
    uses = sorted(
        (SiteUse(sites[sid], n, first, last) for sid, (n, first, last) in per_site.items()),
        key=lambda u: (-u.doses, u.site.code),
    )
    days = [(d, dict(c), sum(c.values())) for d, c in sorted(per_day.items(), reverse=True)]
    return uses, days


@dataclass(frozen=True)
class PersonRow:
    person_id: int
    name: str  # masked
    id_number: str  # masked
    sex: str
    birth_on: date | None
    dose: Dose
    site: Site


def lot_persons(
    session: Session, actor: Actor, lot_number: str, *, page: int = 1, per_page: int = 50
) -> tuple[list[PersonRow], int]:
    """The vaccinations with the lot, newest first, names and ID numbers masked."""
    only = only_site(actor)
    lot, _vaccine = get_lot(session, actor, lot_number)
    stmt = (
        select(Dose, Person, Site)
        .join(Person, Person.id == Dose.person_id)
        .join(Site, Site.id == Dose.site_id)
        .where(Dose.lot_id == lot.id, Site.county_id == actor.county_id)
    )
    count = (
        select(func.count())
        .select_from(Dose)
        .join(Site, Site.id == Dose.site_id)
        .where(Dose.lot_id == lot.id, Site.county_id == actor.county_id)
    )
    if only is not None:
        stmt = stmt.where(Dose.site_id == only)
        count = count.where(Dose.site_id == only)
    total = session.exec(count).one()
    rows = session.exec(
        stmt.order_by(col(Dose.administered_at).desc(), col(Dose.id).desc())
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
    )
    return [
        PersonRow(p.id, mask_name(p.name), mask_id_number(p.id_number), p.sex, p.birth_on, d, s)
        for d, p, s in rows
    ], total


# --- search ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchResult:
    q: str
    lots: list[tuple[Lot, Vaccine]]
    persons: list[tuple[Person, str, str]]  # person, masked name, masked ID number
    flagged: list[tuple[Lot, Vaccine]]  # lots not in use, when nothing was asked


def search(session: Session, actor: Actor, q: str) -> SearchResult:
    """Lots by number (as typed: the start of it), persons by ID number or name."""
    only_site(actor)
    q = q.strip()
    if not q:
        flagged = list(
            session.exec(
                select(Lot, Vaccine)
                .join(Vaccine, Vaccine.id == Lot.vaccine_id)
                .where(col(Lot.status).in_(lot_states.UNUSABLE))
                .order_by(Lot.lot_number)
            )
        )
        return SearchResult(q, [], [], flagged)
    lots = registry_lots.search_lots(session, actor, q, limit=20)
    persons = registry_doses.search_persons(session, actor, q, limit=50)
    return SearchResult(
        q,
        lots,
        [(p, mask_name(p.name), mask_id_number(p.id_number)) for p in persons],
        [],
    )


# --- the person page -------------------------------------------------------------------------


@dataclass(frozen=True)
class PersonTrace:
    person: Person
    revealed: bool
    can_reveal: bool
    name: str  # masked unless revealed
    id_number: str
    doses: list[registry_doses.DoseRow]
    reports: list[Report]
    entries: list[ObservationEntry]
    contacts: list[FollowUpContact]


def person_trace(
    session: Session, actor: Actor, person_id: int, *, reveal: bool = False
) -> PersonTrace:
    """Every dose, report, observation and follow-up contact of one person in scope. With
    ``reveal`` the full identity is shown and the viewing recorded."""
    only = only_site(actor)
    person = registry_doses.get_person(session, actor, person_id, reveal=reveal)
    doses = registry_doses.find_doses(session, actor, person_id=person_id, limit=500)
    reports_q = select(Report).where(
        Report.person_id == person_id, Report.county_id == actor.county_id
    )
    if only is not None:
        reports_q = reports_q.where(Report.site_id == only)
    contacts_q = select(FollowUpContact).where(
        FollowUpContact.person_id == person_id, FollowUpContact.county_id == actor.county_id
    )
    if only is not None:
        contacts_q = contacts_q.where(FollowUpContact.site_id == only)
    return PersonTrace(
        person=person,
        revealed=reveal,
        can_reveal=sees_identity(actor),
        name=person.name if reveal else mask_name(person.name),
        id_number=person.id_number if reveal else mask_id_number(person.id_number),
        doses=doses,
        reports=list(session.exec(reports_q.order_by(col(Report.reported_at).desc()))),
        entries=observation_actions.entries_of_person(session, actor, person_id),
        contacts=list(session.exec(contacts_q.order_by(col(FollowUpContact.at).desc()))),
    )
