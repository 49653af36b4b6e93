"""Traceability (追溯): from a lot to the sites, days, persons and reports, and from a person
to every dose and report; the follow-up list of a halted or recalled lot.

Reporters see their own site's part of everything; the county roles see the county. Names
and ID numbers are masked in lists; the full identity is on the person page, for the roles
that need it, and each viewing is recorded (``registry.doses.service.get_person(reveal=True)``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_
from sqlmodel import Session, col, func, select

from aefi import audit, clock
from aefi.audit import AuditEvent
from aefi.auth.models import Role
from aefi.auth.permissions import Actor, mask_id_number, mask_name, require_role, sees_identity
from aefi.errors import Conflict, Invalid, NotFound
from aefi.intake.models import Report, ReportDose
from aefi.intake.symptoms import EVENT_GROUPS
from aefi.observation import board as periods
from aefi.observation import service as observation
from aefi.observation.models import ObservationEntry
from aefi.registry import access as registry_access
from aefi.registry import lot_states
from aefi.registry.doses import service as registry_doses
from aefi.registry.lots import service as registry_lots
from aefi.registry.models import Dose, Lot, LotStatus, Person, Site, Vaccine
from aefi.reporting.models import ContactOutcome, FollowUpContact
from aefi.settings import get_settings
from aefi.signals.models import HaltDecision, HaltScope, Signal
from aefi.triage.models import Cluster

READERS = (Role.reporter, Role.investigator, Role.bureau, Role.admin)
COUNTY_ROLES = (Role.investigator, Role.bureau, Role.admin)
# Lots whose vaccinees are followed up actively (the issue: after a halt or a recall).
FOLLOW_UP_STATUSES = (LotStatus.halted.value, LotStatus.recalled.value)


def _only_site(actor: Actor) -> int | None:
    """The one site a reporter sees; None for the county roles."""
    require_role(actor, *READERS)
    if actor.role == Role.reporter:
        return actor.site_id if actor.site_id is not None else -1
    return None


def _lot(session: Session, actor: Actor, lot_number: str) -> tuple[Lot, Vaccine]:
    require_role(actor, *READERS)
    return registry_access.get_lot(session, actor, lot_number)


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
    only = _only_site(actor)
    lot, vaccine = _lot(session, actor, lot_number)
    zone = get_settings().timezone

    doses_q = (
        select(Dose.site_id, Dose.administered_at)
        .join(Site, Site.id == Dose.site_id)
        .where(Dose.lot_id == lot.id, Site.county_id == actor.county_id)
    )
    if only is not None:
        doses_q = doses_q.where(Dose.site_id == only)
    per_site: dict[int, list[datetime]] = defaultdict(list)
    per_day: dict[date, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    total = 0
    for site_id, at in session.exec(doses_q):
        per_site[site_id].append(at)
        per_day[periods.local_day(at, zone)][site_id] += 1
        total += 1
    sites = {s.id: s for s in registry_access.sites_of_county(session, actor.county_id)}
    uses = sorted(
        (SiteUse(sites[sid], len(ats), min(ats), max(ats)) for sid, ats in per_site.items()),
        key=lambda u: (-u.doses, u.site.code),
    )
    days = [(d, dict(c), sum(c.values())) for d, c in sorted(per_day.items(), reverse=True)]

    persons_q = (
        select(func.count(func.distinct(Dose.person_id)))
        .join(Site, Site.id == Dose.site_id)
        .where(Dose.lot_id == lot.id, Site.county_id == actor.county_id)
    )
    if only is not None:
        persons_q = persons_q.where(Dose.site_id == only)
    persons = session.exec(persons_q).one()

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
    only = _only_site(actor)
    lot, _vaccine = _lot(session, actor, lot_number)
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
    _only_site(actor)
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
    only = _only_site(actor)
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
        entries=observation.entries_of_person(session, actor, person_id),
        contacts=list(session.exec(contacts_q.order_by(col(FollowUpContact.at).desc()))),
    )


# --- follow-up after a halt or recall --------------------------------------------------------


@dataclass(frozen=True)
class FollowUpRow:
    person: Person
    name: str  # masked
    id_number: str  # masked
    dose: Dose  # the latest dose of the lot
    doses: int  # doses of the lot this person had (in scope)
    site: Site
    last: FollowUpContact | None
    contacts: int

    @property
    def state(self) -> str:
        return self.last.outcome if self.last else "not_contacted"

    @property
    def report_link(self) -> str:
        return f"/reports/new?dose_id={self.dose.id}"


@dataclass(frozen=True)
class Progress:
    total: int = 0
    well: int = 0
    reaction: int = 0
    not_reached: int = 0  # tried, not reached (yet)

    @property
    def reached(self) -> int:
        return self.well + self.reaction

    @property
    def not_contacted(self) -> int:
        return self.total - self.reached - self.not_reached

    @property
    def percent(self) -> float:
        return 100.0 * self.reached / self.total if self.total else 0.0

    def add(self, state: str) -> Progress:
        return Progress(
            self.total + 1,
            self.well + (state == ContactOutcome.well),
            self.reaction + (state == ContactOutcome.reaction),
            self.not_reached + (state == ContactOutcome.not_reached),
        )


@dataclass(frozen=True)
class SiteGroup:
    site: Site
    rows: list[FollowUpRow]
    progress: Progress


@dataclass(frozen=True)
class FollowUpList:
    lot: Lot
    vaccine: Vaccine
    days: int | None
    groups: list[SiteGroup]
    progress: Progress
    can_contact: bool
    can_export: bool

    @property
    def rows(self) -> list[FollowUpRow]:
        return [r for g in self.groups for r in g.rows]


def _follow_up_lot(session: Session, actor: Actor, lot_number: str) -> tuple[Lot, Vaccine]:
    lot, vaccine = _lot(session, actor, lot_number)
    if lot.status not in FOLLOW_UP_STATUSES:
        raise Conflict(
            "Lot {lot} is {status}: active follow-up is for halted or recalled lots.",
            lot=lot.lot_number,
            status=lot.status,
        )
    return lot, vaccine


def follow_up_list(
    session: Session,
    actor: Actor,
    lot_number: str,
    *,
    days: int | None = None,
    site_id: int | None = None,
) -> FollowUpList:
    """Every person vaccinated with a halted or recalled lot (optionally only within the
    last ``days``), grouped by site, with the state of their follow-up. A site's users see
    their site's part."""
    only = _only_site(actor)
    lot, vaccine = _follow_up_lot(session, actor, lot_number)
    if days is not None and days < 1:
        raise Invalid("Enter a number of days of 1 or more.", fields={"days": "min 1"})
    stmt = (
        select(Dose, Person, Site)
        .join(Person, Person.id == Dose.person_id)
        .join(Site, Site.id == Dose.site_id)
        .where(Dose.lot_id == lot.id, Site.county_id == actor.county_id)
    )
    if only is not None:
        stmt = stmt.where(Dose.site_id == only)
    elif site_id is not None:
        stmt = stmt.where(Dose.site_id == site_id)
    if days is not None:
        stmt = stmt.where(col(Dose.administered_at) >= clock.now() - timedelta(days=days))
    latest: dict[int, tuple[Dose, Person, Site]] = {}
    count: dict[int, int] = defaultdict(int)
    for d, p, s in session.exec(stmt.order_by(Dose.administered_at, Dose.id)):
        latest[p.id] = (d, p, s)  # ordered by time: the last one wins
        count[p.id] += 1
    contacts: dict[int, list[FollowUpContact]] = defaultdict(list)
    for c in session.exec(
        select(FollowUpContact)
        .where(FollowUpContact.lot_id == lot.id, FollowUpContact.county_id == actor.county_id)
        .order_by(FollowUpContact.at, FollowUpContact.id)
    ):
        contacts[c.person_id].append(c)
    by_site: dict[int, list[FollowUpRow]] = defaultdict(list)
    sites: dict[int, Site] = {}
    for pid, (d, p, s) in latest.items():
        tried = contacts.get(pid, [])
        sites[s.id] = s
        by_site[s.id].append(
            FollowUpRow(
                p,
                mask_name(p.name),
                mask_id_number(p.id_number),
                d,
                count[pid],
                s,
                tried[-1] if tried else None,
                len(tried),
            )
        )
    groups = []
    total = Progress()
    for sid in sorted(by_site, key=lambda i: sites[i].code):
        rows = sorted(by_site[sid], key=lambda r: (r.dose.administered_at, r.person.id))
        progress = Progress()
        for r in rows:
            progress = progress.add(r.state)
            total = total.add(r.state)
        groups.append(SiteGroup(sites[sid], rows, progress))
    return FollowUpList(
        lot,
        vaccine,
        days,
        groups,
        total,
        can_contact=True,
        can_export=sees_identity(actor),
    )


def record_contact(
    session: Session,
    actor: Actor,
    lot_number: str,
    person_id: int,
    outcome: str,
    note: str = "",
) -> FollowUpContact:
    """Record one attempt to reach a vaccinee of a halted or recalled lot."""
    only = _only_site(actor)
    lot, _vaccine = _follow_up_lot(session, actor, lot_number)
    try:
        result = ContactOutcome(outcome)
    except ValueError:
        raise Invalid("Pick how the contact went.", fields={"outcome": "unknown"}) from None
    stmt = (
        select(Dose)
        .join(Site, Site.id == Dose.site_id)
        .where(
            Dose.lot_id == lot.id,
            Dose.person_id == person_id,
            Site.county_id == actor.county_id,
        )
    )
    if only is not None:
        stmt = stmt.where(Dose.site_id == only)
    dose = session.exec(stmt.order_by(col(Dose.administered_at).desc())).first()
    if dose is None:
        raise NotFound("Not found.")
    contact = FollowUpContact(
        county_id=actor.county_id,
        lot_id=lot.id,
        person_id=person_id,
        dose_id=dose.id,
        site_id=dose.site_id,
        at=clock.now(),
        outcome=result.value,
        note=note.strip()[:1000],
        by_id=actor.user_id,
        by_name=actor.name,
    )
    session.add(contact)
    session.flush()
    audit.record(
        session,
        actor,
        "contact",
        "follow_up_contact",
        contact.id,
        changes={"outcome": result.value, "dose_id": dose.id, "lot": lot.lot_number},
        summary=f"{lot.lot_number} person {person_id}: {result.value}",
    )
    session.commit()
    return contact


CSV_COLUMNS = (
    "site_code",
    "site",
    "name",
    "id_number",
    "sex",
    "birth_date",
    "phone",
    "guardian",
    "address",
    "lot_number",
    "dose_number",
    "vaccinated_at",
    "contacts",
    "last_contact",
    "last_contact_at",
)


def follow_up_export(
    session: Session, actor: Actor, lot_number: str, *, days: int | None = None
) -> list[dict[str, str]]:
    """The follow-up list with names and phone numbers for phoning. It carries the full
    identity, so only roles that see it may export, and each export is recorded."""
    if not sees_identity(actor):
        raise NotFound("Not found.")
    fl = follow_up_list(session, actor, lot_number, days=days)
    zone = get_settings().timezone
    rows = [
        {
            "site_code": r.site.code,
            "site": r.site.name,
            "name": r.person.name,
            "id_number": r.person.id_number,
            "sex": r.person.sex,
            "birth_date": r.person.birth_on.isoformat() if r.person.birth_on else "",
            "phone": r.person.phone,
            "guardian": r.person.guardian_name,
            "address": r.person.address,
            "lot_number": fl.lot.lot_number,
            "dose_number": str(r.dose.dose_number),
            "vaccinated_at": r.dose.administered_at.astimezone(ZoneInfo(zone)).strftime(
                "%Y-%m-%d %H:%M"
            ),
            "contacts": str(r.contacts),
            "last_contact": r.state,
            "last_contact_at": r.last.at.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")
            if r.last
            else "",
        }
        for r in fl.rows
    ]
    audit.record(
        session,
        actor,
        "export",
        "lot",
        fl.lot.id,
        summary=f"follow-up list {fl.lot.lot_number}: {len(rows)} persons",
    )
    session.commit()
    return rows


def note_report(session: Session, report: Report) -> int:
    """A report filed after a contact found a reaction links back to that contact."""
    dose_ids = [
        d
        for d in session.exec(
            select(ReportDose.dose_id).where(
                ReportDose.report_id == report.id, col(ReportDose.dose_id).is_not(None)
            )
        )
    ]
    if not dose_ids:
        return 0
    contacts = session.exec(
        select(FollowUpContact).where(
            col(FollowUpContact.dose_id).in_(dose_ids),
            FollowUpContact.outcome == ContactOutcome.reaction,
            col(FollowUpContact.report_id).is_(None),
        )
    ).all()
    for c in contacts:
        c.report_id = report.id
        session.add(c)
    if contacts:
        session.flush()
    return len(contacts)
