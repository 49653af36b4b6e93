"""The follow-up list of a halted or recalled lot: every person who had a dose of it, the
contacts recorded with them, its export, and the report a contact that found a reaction led
to."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from aefi import audit, clock
from aefi.auth.permissions import Actor, mask_id_number, mask_name, sees_identity
from aefi.errors import Conflict, Invalid, NotFound
from aefi.intake.models import Report, ReportDose
from aefi.registry.models import Dose, Lot, LotStatus, Person, Site, Vaccine
from aefi.reporting.access import get_lot, only_site
from aefi.reporting.models import ContactOutcome, FollowUpContact
from aefi.settings import get_settings

# Lots whose vaccinees are followed up actively (the issue: after a halt or a recall).
FOLLOW_UP_STATUSES = (LotStatus.halted.value, LotStatus.recalled.value)


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
    lot, vaccine = get_lot(session, actor, lot_number)
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
    only = only_site(actor)
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
    only = only_site(actor)
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
