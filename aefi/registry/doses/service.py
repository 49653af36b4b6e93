"""Persons and dose records: a person found or created by ID number, a dose recorded (refused
for an unusable lot, ``lot_states.refuse_if_halted``) or corrected, doses found for the
intake form and the person page."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from aefi import audit, clock
from aefi.auth.models import Role
from aefi.auth.permissions import (
    Actor,
    require_role,
    sees_identity,
    site_filter,
)
from aefi.errors import Conflict, Invalid, NotFound
from aefi.registry import access, lot_states
from aefi.registry.models import (
    Dose,
    Lot,
    Person,
    Site,
    Vaccine,
)
from aefi.registry.schemas import DoseCreate, PersonIn

# --- persons and doses --------------------------------------------------------------------


def upsert_person(session: Session, county_id: int, p: PersonIn) -> Person:
    """The county's person with this ID number, created if new."""
    person = session.exec(
        select(Person).where(Person.county_id == county_id, Person.id_number == p.id_number)
    ).first()
    if person is None:
        person = Person(
            county_id=county_id,
            name=p.name.strip(),
            id_number=p.id_number,
            sex=p.sex.value,
            birth_on=p.birth_date,
            phone=p.phone,
            guardian_name=p.guardian_name,
            address=p.address,
        )
        session.add(person)
        session.flush()
    return person


def _refuse_duplicate_dose(session: Session, dose: Dose) -> None:
    """The natural key (person, lot, dose number, time) is unique (ux_dose_natural_key):
    say so in words instead of failing at the insert."""
    with session.no_autoflush:
        same = session.exec(
            select(Dose.id).where(
                Dose.person_id == dose.person_id,
                Dose.lot_id == dose.lot_id,
                Dose.dose_number == dose.dose_number,
                Dose.administered_at == dose.administered_at,
                Dose.id != (dose.id or 0),
            )
        ).first()
    if same is not None:
        raise Conflict("This dose is already recorded (dose {id}).", id=same)


def record_dose(session: Session, actor: Actor, data: DoseCreate) -> Dose:
    require_role(actor, *access.DOSE_WRITERS)
    site = access.site_by_code(session, actor, data.site_code)
    if actor.role == Role.reporter and actor.site_id != site.id:
        raise NotFound("No vaccination site with code {code}.", code=data.site_code)
    lot = access.lot_by_number(session, actor, data.lot_number)
    lot_states.refuse_if_halted(session, lot, site)
    if data.administered_at > clock.now():
        raise Invalid(
            "The vaccination time lies in the future.", fields={"administered_at": "in the future"}
        )
    person = upsert_person(session, actor.county_id, data.person)
    dose = Dose(
        person_id=person.id,
        lot_id=lot.id,
        site_id=site.id,
        dose_number=data.dose_number,
        route=data.route.value if data.route else "",
        body_site=data.body_site,
        administered_at=data.administered_at,
        vaccinator=data.vaccinator,
    )
    _refuse_duplicate_dose(session, dose)
    key = (dose.person_id, dose.lot_id, dose.dose_number, dose.administered_at)
    try:
        session.add(dose)
        session.flush()
        audit.record(
            session,
            actor,
            "create",
            "dose",
            dose.id,
            changes=audit.snapshot(dose),
            summary=f"{lot.lot_number} @ {site.code}",
        )
        session.commit()
    except IntegrityError:
        # The same dose posted twice at once: the twin that lost the race at the unique
        # index is told the dose is recorded, as a sequential retry would be.
        session.rollback()
        same = session.exec(
            select(Dose.id).where(
                Dose.person_id == key[0],
                Dose.lot_id == key[1],
                Dose.dose_number == key[2],
                Dose.administered_at == key[3],
            )
        ).first()
        if same is None:
            raise Conflict("The record changed at the same time; send it again.") from None
        raise Conflict("This dose is already recorded (dose {id}).", id=same) from None
    return dose


def update_dose(session: Session, actor: Actor, dose_id: int, values: dict[str, Any]) -> Dose:
    require_role(actor, Role.admin)
    dose = session.get(Dose, dose_id)
    site = session.get(Site, dose.site_id) if dose else None
    if dose is None or site is None or site.county_id != actor.county_id:
        raise NotFound("Not found.")
    before = audit.snapshot(dose)
    for key in ("dose_number", "route", "body_site", "vaccinator", "administered_at"):
        if key in values:
            setattr(dose, key, values[key])
    _refuse_duplicate_dose(session, dose)
    session.add(dose)
    session.flush()
    audit.record(
        session, actor, "update", "dose", dose.id, changes=audit.diff(before, audit.snapshot(dose))
    )
    session.commit()
    return dose


@dataclass(frozen=True)
class DoseRow:
    """A dose with everything a list or a form shows about it."""

    dose: Dose
    person: Person
    lot: Lot
    vaccine: Vaccine
    site: Site


def _dose_rows_stmt():
    return (
        select(Dose, Person, Lot, Vaccine, Site)
        .join(Person, Person.id == Dose.person_id)
        .join(Lot, Lot.id == Dose.lot_id)
        .join(Vaccine, Vaccine.id == Lot.vaccine_id)
        .join(Site, Site.id == Dose.site_id)
    )


def find_doses(
    session: Session,
    actor: Actor,
    *,
    q: str = "",
    person_id: int | None = None,
    lot_id: int | None = None,
    limit: int = 50,
) -> list[DoseRow]:
    """Doses by ID number, name or phone — a reporter sees only those given at their site."""
    stmt = _dose_rows_stmt().where(Site.county_id == actor.county_id)
    only_site = site_filter(actor)
    if only_site is not None:
        stmt = stmt.where(Dose.site_id == only_site)
    if q.strip():
        term = q.strip()
        stmt = stmt.where(
            or_(
                Person.id_number == term.upper(),
                col(Person.name).ilike(f"%{term}%"),
                Person.phone == term,
            )
        )
    elif person_id is None and lot_id is None:
        return []
    if person_id is not None:
        stmt = stmt.where(Dose.person_id == person_id)
    if lot_id is not None:
        stmt = stmt.where(Dose.lot_id == lot_id)
    stmt = stmt.order_by(col(Dose.administered_at).desc()).limit(limit)
    return [DoseRow(*row) for row in session.exec(stmt)]


def get_doses(session: Session, actor: Actor, dose_ids: Iterable[int]) -> list[DoseRow]:
    """The doses by id, each checked against the actor's scope (hand-linked doses of other
    sites are allowed for reporters: the caller decides by reading the row)."""
    ids = list(dict.fromkeys(dose_ids))
    if not ids:
        return []
    rows = [DoseRow(*r) for r in session.exec(_dose_rows_stmt().where(col(Dose.id).in_(ids)))]
    found = {r.dose.id for r in rows}
    missing = [i for i in ids if i not in found]
    if missing or any(r.site.county_id != actor.county_id for r in rows):
        raise NotFound("No dose with id {ids}.", ids=", ".join(map(str, missing or ids)))
    rows.sort(key=lambda r: ids.index(r.dose.id))
    return rows


def search_persons(session: Session, actor: Actor, q: str, limit: int = 50) -> list[Person]:
    if actor.role in (Role.hospital, Role.api_client):
        raise NotFound("Not found.")
    if not q.strip():
        return []
    term = q.strip()
    stmt = (
        select(Person)
        .where(Person.county_id == actor.county_id)
        .where(
            or_(
                Person.id_number == term.upper(),
                col(Person.name).ilike(f"%{term}%"),
                Person.phone == term,
            )
        )
    )
    only_site = site_filter(actor)
    if only_site is not None:
        stmt = stmt.where(
            col(Person.id).in_(select(Dose.person_id).where(Dose.site_id == only_site))
        )
    return list(session.exec(stmt.order_by(Person.name).limit(limit)))


def get_person(session: Session, actor: Actor, person_id: int, *, reveal: bool = False) -> Person:
    """A person in the actor's scope. ``reveal`` asks for the full identity, which is recorded."""
    person = session.get(Person, person_id)
    if person is None or person.county_id != actor.county_id:
        raise NotFound("Not found.")
    only_site = site_filter(actor) if actor.role not in (Role.hospital, Role.api_client) else -1
    if only_site is not None:
        seen = session.exec(
            select(Dose.id).where(Dose.person_id == person_id, Dose.site_id == only_site).limit(1)
        ).first()
        if seen is None:
            raise NotFound("Not found.")
    if reveal:
        if not sees_identity(actor):
            raise NotFound("Not found.")
        audit.record(session, actor, "view_identity", "person", person.id, summary=person.name)
        session.commit()
    return person
