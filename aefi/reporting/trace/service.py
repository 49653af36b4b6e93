"""Traceability (追溯): from a lot to the sites, days, persons and reports, and from a person
to every dose and report.

Names and ID numbers are masked in lists; the full identity is on the person page, for the
roles that need it, and each viewing is recorded
(``registry.doses.service.get_person(reveal=True)``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from aefi import audit
from aefi.audit import AuditEvent
from aefi.auth.permissions import Actor, mask_id_number, mask_name, sees_identity
from aefi.intake.models import Report, ReportDose
from aefi.intake.symptoms import EVENT_GROUPS
from aefi.observation.actions import service as observation_actions
from aefi.observation.models import ObservationEntry
from aefi.registry import access as registry_access
from aefi.registry import dose_summary, lot_states
from aefi.registry.doses import service as registry_doses
from aefi.registry.lots import service as registry_lots
from aefi.registry.models import Dose, Lot, Person, Site, Vaccine
from aefi.reporting.access import get_lot, only_site
from aefi.reporting.follow_up.service import FOLLOW_UP_STATUSES
from aefi.reporting.models import FollowUpContact
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
    sites = {s.id: s for s in registry_access.sites_of_county(session, actor.county_id)}
    rows = dose_summary.lot_days(session, lot.id, actor.county_id, only)
    uses, days = _doses_by_site_and_day(rows, sites)
    total = sum(u.doses for u in uses)
    # A person with two doses of the lot is one: the summary flags each person's first.
    persons = sum(r.persons_site if only is not None else r.persons_county for r in rows)

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


def _doses_by_site_and_day(
    rows: list[dose_summary.DoseDayRow], sites: dict[int, Site]
) -> tuple[list[SiteUse], list[tuple[date, dict[int, int], int]]]:
    """The lot's doses per site (most first) and per local day and site (newest day
    first), from the summary's rows (sites x days, whatever the lot's size)."""
    per_day: dict[date, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    per_site: dict[int, list] = {}
    for r in rows:
        per_day[r.day][r.site_id] += r.n
        use = per_site.setdefault(r.site_id, [0, r.first_at, r.last_at])
        use[0] += r.n
        use[1], use[2] = min(use[1], r.first_at), max(use[2], r.last_at)
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
    if only is not None:
        stmt = stmt.where(Dose.site_id == only)
    # The pager's total from the summary: counting the lot's doses grew with the lot.
    total = sum(r.n for r in dose_summary.lot_days(session, lot.id, actor.county_id, only))
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
