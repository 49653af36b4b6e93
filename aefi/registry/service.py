"""Use cases of the registry: reference data, persons and dose records."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, func, select

from aefi import audit, clock
from aefi.auth.models import Role
from aefi.auth.permissions import (
    Actor,
    in_scope,
    require_own_county,
    require_role,
    require_site,
    scope_clause,
    sees_identity,
    site_filter,
)
from aefi.errors import Conflict, Forbidden, Invalid, NotFound
from aefi.i18n import N_
from aefi.registry import lot_states
from aefi.registry.models import (
    Dose,
    Hospital,
    Lot,
    LotStatus,
    Person,
    Region,
    RegionLevel,
    Site,
    Vaccine,
)
from aefi.registry.schemas import DoseCreate, PersonIn
from aefi.types import MAX_ID, ascii_int

READERS = (Role.admin, Role.investigator, Role.bureau, Role.province)
LOT_WRITERS = (Role.admin, Role.api_client)
# Lots and vaccine products are shared reference data (a manufacturer's lot number is the
# same in every county). A county's admin (or its information system, for lots) creates
# them and corrects those no other county has used; the province corrects any of them.
SHARED_EDITORS = (Role.province,)
DOSE_WRITERS = (Role.admin, Role.api_client, Role.reporter)


# --- reference data, one generic shape for the admin pages -------------------------------


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str  # English msgid
    kind: str = "text"  # text, int, date, bool, select
    required: bool = False
    choices: str | None = None  # name of a choice list for selects


@dataclass(frozen=True)
class Kind:
    name: str
    model: type[SQLModel]
    label: str
    fields: tuple[FieldSpec, ...]
    search: tuple[str, ...]
    county_scoped: bool = False


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "regions",
            Region,
            "Regions",
            (
                FieldSpec("code", N_("Code"), required=True),
                FieldSpec("name", N_("Name"), required=True),
                FieldSpec("name_en", N_("English name")),
                FieldSpec("level", N_("Level"), "select", True, "region_levels"),
                FieldSpec("parent_id", N_("Parent region"), "select", False, "counties"),
            ),
            ("code", "name", "name_en"),
        ),
        Kind(
            "sites",
            Site,
            "Vaccination sites",
            (
                FieldSpec("code", N_("Code"), required=True),
                FieldSpec("name", N_("Name"), required=True),
                FieldSpec("name_en", N_("English name")),
                FieldSpec("township_id", N_("Township"), "select", True, "townships"),
                FieldSpec("phone", N_("Phone")),
                FieldSpec(
                    "primary_hospital_id",
                    "Primary green-channel hospital",
                    "select",
                    False,
                    "hospitals",
                ),
                FieldSpec(
                    "backup_hospital_id",
                    "Backup green-channel hospital",
                    "select",
                    False,
                    "hospitals",
                ),
            ),
            ("code", "name", "name_en"),
            county_scoped=True,
        ),
        Kind(
            "hospitals",
            Hospital,
            "Hospitals",
            (
                FieldSpec("code", N_("Code"), required=True),
                FieldSpec("name", N_("Name"), required=True),
                FieldSpec("name_en", N_("English name")),
                FieldSpec("level", N_("Level")),
                FieldSpec("phone", N_("Phone")),
            ),
            ("code", "name", "name_en"),
            county_scoped=True,
        ),
        Kind(
            "vaccines",
            Vaccine,
            "Vaccines",
            (
                FieldSpec("code", N_("Code"), required=True),
                FieldSpec("name", N_("Name"), required=True),
                FieldSpec("name_en", N_("English name")),
                FieldSpec("manufacturer", N_("Manufacturer")),
                FieldSpec("observation_minutes", N_("Observation minutes"), "int", True),
            ),
            ("code", "name", "name_en", "manufacturer"),
        ),
        Kind(
            "lots",
            Lot,
            "Lots",
            (
                FieldSpec("lot_number", N_("Lot number"), required=True),
                FieldSpec("vaccine_id", N_("Vaccine"), "select", True, "vaccines"),
                FieldSpec("expiry_on", N_("Expiry date"), "date"),
                FieldSpec("doses_received", N_("Doses received"), "int"),
            ),
            ("lot_number",),
        ),
    )
}


def get_kind(name: str) -> Kind:
    if name not in KINDS:
        raise NotFound("Not found.")
    return KINDS[name]


def choices(session: Session, actor: Actor, name: str) -> list[tuple[Any, str, str]]:
    """(value, Chinese label, English label) for a select."""
    if name == "region_levels":
        # A county's admin keeps its townships; counties and provinces are set up by the
        # operator (they are the frame every scope hangs on).
        return [(lv.value, lv.value, lv.value) for lv in (RegionLevel.township,)]
    if name == "counties":
        rows = session.exec(
            select(Region)
            .where(Region.level == RegionLevel.county, scope_clause(Region.id, actor))
            .order_by(Region.code)
        )
        return [(r.id, r.name, r.name_en) for r in rows]
    if name == "townships":
        rows = session.exec(
            select(Region)
            .where(Region.level == RegionLevel.township, scope_clause(Region.parent_id, actor))
            .order_by(Region.code)
        )
        return [(r.id, r.name, r.name_en) for r in rows]
    if name == "hospitals":
        rows = session.exec(
            select(Hospital).where(scope_clause(Hospital.county_id, actor)).order_by(Hospital.code)
        )
        return [(h.id, h.name, h.name_en) for h in rows]
    if name == "vaccines":
        return [
            (v.id, v.name, v.name_en) for v in session.exec(select(Vaccine).order_by(Vaccine.code))
        ]
    raise NotFound("Not found.")


def list_records(
    session: Session, actor: Actor, kind: Kind, *, q: str = "", page: int = 1, per_page: int = 50
) -> tuple[list[SQLModel], int]:
    require_role(actor, *READERS)
    model = kind.model
    stmt = select(model)
    if kind.county_scoped:
        stmt = stmt.where(scope_clause(model.county_id, actor))
    elif kind.name == "regions":
        stmt = stmt.where(
            or_(
                scope_clause(Region.id, actor),
                scope_clause(Region.parent_id, actor),
                Region.id == actor.county_id,
            )
        )
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(*(col(getattr(model, f)).ilike(like) for f in kind.search)))
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(stmt.order_by(model.id).offset((page - 1) * per_page).limit(per_page))
    return list(rows), total


def county_of(kind: Kind, obj: SQLModel) -> int | None:
    """The county a region, site or hospital belongs to (None: shared reference data)."""
    if kind.county_scoped:
        return obj.county_id
    if kind.name == "regions":
        return obj.id if obj.level != RegionLevel.township else obj.parent_id
    return None


def _visible(actor: Actor, kind: Kind, obj: SQLModel) -> bool:
    if kind.name == "regions" and obj.id == actor.county_id:
        return True  # a province user's own province
    county = county_of(kind, obj)
    return county is None and kind.name != "regions" or in_scope(actor, county)


def get_record(session: Session, actor: Actor, kind: Kind, record_id: int) -> SQLModel:
    require_role(actor, *READERS)
    obj = session.get(kind.model, record_id)
    if obj is None or not _visible(actor, kind, obj):
        raise NotFound("Not found.")
    return obj


def lot_state(session: Session, actor: Actor, lot: Lot) -> lot_states.State:
    """The lot's state as this actor's county sees it (the form shows it read-only)."""
    return lot_states.state_for_actor(session, actor, lot)


def _used_elsewhere(session: Session, kind: Kind, obj: SQLModel, county_id: int) -> bool:
    """Whether sites of another county have given doses of this lot or product."""
    lots = select(Lot.id).where(Lot.vaccine_id == obj.id) if kind.name == "vaccines" else None
    stmt = select(Dose.id).join(Site, Site.id == Dose.site_id).where(Site.county_id != county_id)
    stmt = stmt.where(col(Dose.lot_id).in_(lots) if lots is not None else Dose.lot_id == obj.id)
    return session.exec(stmt.limit(1)).first() is not None


def _record_for_write(session: Session, actor: Actor, kind: Kind, record_id: int) -> SQLModel:
    """The record to edit, if this actor may change it (see SHARED_EDITORS)."""
    obj = session.get(kind.model, record_id)
    if obj is None:
        raise NotFound("Not found.")
    if kind.name in ("lots", "vaccines"):
        if actor.role in SHARED_EDITORS:
            return obj
        if _used_elsewhere(session, kind, obj, actor.county_id):
            raise Forbidden(
                "{record} is used by other counties too; only the province may correct it.",
                record=str(getattr(obj, kind.fields[0].name)),
            )
        return obj
    require_own_county(actor, county_of(kind, obj))
    return obj


def protected_fields(kind: Kind) -> tuple[str, ...]:
    """Fields of the record a form or body may not set (their decisions own them)."""
    return lot_states.PROTECTED.get(kind.name, ())


def _refuse_protected(kind: Kind, values: dict[str, Any]) -> None:
    named = [f for f in lot_states.PROTECTED.get(kind.name, ()) if f in values]
    if not named:
        return
    if kind.name == "lots":
        msg = N_(
            "A lot's status changes only through its decisions (a signal's hold, the "
            "bureau's halt and lift, a recall, the expiry date); it cannot be set here."
        )
    elif "county_id" in named and len(named) == 1:
        msg = N_("The county follows from the township (sites) or your own county.")
    else:
        msg = N_("A halt is set and lifted only by a halt decision; it cannot be set here.")
    raise Invalid(msg, fields=dict.fromkeys(named, msg))


def _coerce(spec: FieldSpec, raw: Any) -> Any:
    if raw is None or (isinstance(raw, str) and raw.strip() == ""):
        if spec.required:
            raise ValueError(N_("This field is required."))
        return None if spec.kind in ("int", "date", "select") else ""
    if spec.kind == "int" or (spec.kind == "select" and spec.name.endswith("_id")):
        number = ascii_int(raw)
        low = 1 if spec.name.endswith("_id") else -MAX_ID
        if number is None or not low <= number <= MAX_ID:
            raise ValueError(N_("Enter a whole number."))
        return number
    if spec.kind == "date":
        if isinstance(raw, date):
            return raw
        try:
            return date.fromisoformat(str(raw))
        except ValueError:
            raise ValueError(N_("Enter a date as YYYY-MM-DD.")) from None
    return str(raw).strip()


def writers(kind: Kind, *, editing: bool) -> tuple[Role, ...]:
    """Who writes records of this kind: lots also the immunization information system;
    the shared lots and products also the province, editing."""
    allowed = LOT_WRITERS if kind.name == "lots" else (Role.admin,)
    if kind.name in ("lots", "vaccines") and editing:
        allowed = (*allowed, *SHARED_EDITORS)
    return allowed


def can_create(actor: Actor, kind: Kind) -> bool:
    """Whether the list offers "New" (``save_record`` checks the same)."""
    return actor.role in writers(kind, editing=False)


def save_record(
    session: Session, actor: Actor, kind: Kind, record_id: int | None, values: dict[str, Any]
) -> SQLModel:
    """Create (record_id None) or edit one reference record; every change is audited.

    A county's users act only inside their county: its townships, sites and hospitals.
    The states that stop a lot, product or site are not fields here (``lot_states``)."""
    require_role(actor, *writers(kind, editing=record_id is not None))
    _refuse_protected(kind, values)
    existing = _record_for_write(session, actor, kind, record_id) if record_id else None
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for spec in kind.fields:
        if spec.name not in values and record_id is not None:
            continue
        try:
            clean[spec.name] = _coerce(spec, values.get(spec.name))
        except ValueError as exc:
            errors[spec.name] = str(exc)
    if errors:
        raise Invalid("Some fields need correcting.", fields=errors)
    if kind.name == "regions":
        _check_region(session, actor, existing, clean)
    if kind.name == "sites":
        township = (
            session.get(Region, clean.get("township_id")) if clean.get("township_id") else None
        )
        if "township_id" in clean and (
            township is None
            or township.level != RegionLevel.township
            or township.parent_id != actor.county_id
        ):
            raise Invalid(
                "Some fields need correcting.", fields={"township_id": N_("Pick a township.")}
            )
        if township is not None:
            clean["county_id"] = township.parent_id
        for f in ("primary_hospital_id", "backup_hospital_id"):
            if clean.get(f) is not None:
                h = session.get(Hospital, clean[f])
                if h is None or h.county_id != actor.county_id:
                    raise Invalid(
                        "Some fields need correcting.", fields={f: N_("Unknown hospital.")}
                    )
    if kind.name == "hospitals" and record_id is None:
        clean["county_id"] = actor.county_id
    unique = kind.fields[0].name  # code / lot_number
    if unique in clean:
        clash = session.exec(
            select(kind.model).where(getattr(kind.model, unique) == clean[unique])
        ).first()
        if clash is not None and clash.id != record_id:
            raise Invalid(
                "Some fields need correcting.",
                fields={unique: f"{clean[unique]} exists already."},
            )
    if record_id is None:
        obj = kind.model(**clean)
        session.add(obj)
        session.flush()
        audit.record(
            session,
            actor,
            "create",
            kind.model.__tablename__,
            obj.id,
            changes=audit.snapshot(obj),
            summary=str(getattr(obj, unique)),
        )
    else:
        obj = existing
        before = audit.snapshot(obj)
        for k, v in clean.items():
            setattr(obj, k, v)
        session.add(obj)
        session.flush()
        changes = audit.diff(before, audit.snapshot(obj))
        if changes:
            audit.record(
                session,
                actor,
                "update",
                kind.model.__tablename__,
                obj.id,
                changes=changes,
                summary=str(getattr(obj, unique)),
            )
    if kind.name == "lots":
        lot_states.expire_lot(session, actor, obj)
    session.commit()
    return obj


def _check_region(
    session: Session, actor: Actor, existing: Region | None, clean: dict[str, Any]
) -> None:
    """An admin keeps the townships of their own county (and its names): a new region is a
    township of the county; a county keeps its level and its parent."""
    if existing is not None and existing.level != RegionLevel.township:
        for f in ("level", "parent_id"):
            if f in clean and clean[f] != getattr(existing, f):
                raise Invalid(
                    "Some fields need correcting.",
                    fields={f: N_("A county's level and parent are set up by the operator.")},
                )
        return
    if "level" in clean and clean["level"] != RegionLevel.township:
        raise Invalid(
            "Some fields need correcting.",
            fields={"level": N_("Only townships of your county can be added here.")},
        )
    if "parent_id" in clean and clean["parent_id"] != actor.county_id:
        raise Invalid(
            "Some fields need correcting.",
            fields={"parent_id": N_("Pick your own county.")},
        )


def add_frame_region(
    session: Session,
    *,
    code: str,
    name: str,
    level: str,
    parent_code: str = "",
    name_en: str = "",
) -> Region:
    """The operator (command line) adds a province, or a county below its province."""
    if level not in (RegionLevel.province, RegionLevel.county):
        raise Invalid("Some fields need correcting.", fields={"level": "province or county"})
    if session.exec(select(Region).where(Region.code == code.strip())).first() is not None:
        raise Invalid("Some fields need correcting.", fields={"code": f"{code} exists already."})
    parent = None
    if parent_code.strip():
        parent = session.exec(
            select(Region).where(
                Region.code == parent_code.strip(), Region.level == RegionLevel.province
            )
        ).first()
        if parent is None or level != RegionLevel.county:
            raise Invalid(
                "Some fields need correcting.",
                fields={"parent": f"no province with code {parent_code}"},
            )
    region = Region(
        code=code.strip(),
        name=name.strip(),
        name_en=name_en.strip(),
        level=level,
        parent_id=parent.id if parent else None,
    )
    session.add(region)
    session.flush()
    audit.record(
        session,
        Actor.system(region.id, reason="command line: add region"),
        "create",
        "region",
        region.id,
        changes=audit.snapshot(region),
        summary=region.code,
        county_id=region.id,
    )
    session.commit()
    return region


def place_county(session: Session, *, county_code: str, province_code: str) -> Region:
    """The operator puts a county below a province (audited)."""
    county = session.exec(
        select(Region).where(Region.code == county_code, Region.level == RegionLevel.county)
    ).first()
    province = session.exec(
        select(Region).where(Region.code == province_code, Region.level == RegionLevel.province)
    ).first()
    if county is None or province is None:
        raise NotFound("Not found.")
    before = {"parent_id": county.parent_id}
    county.parent_id = province.id
    session.add(county)
    audit.record(
        session,
        Actor.system(county.id, reason="command line: place county"),
        "update",
        "region",
        county.id,
        changes=audit.diff(before, {"parent_id": province.id}),
        summary=f"{county.code} → {province.code}",
        county_id=county.id,
    )
    session.commit()
    return county


# --- lookups used by other domains --------------------------------------------------------


def vaccine_by_code(session: Session, code: str) -> Vaccine:
    v = session.exec(select(Vaccine).where(Vaccine.code == code)).first()
    if v is None:
        raise NotFound("No vaccine with code {code}.", code=code)
    return v


def hospital_by_code(session: Session, actor: Actor, code: str) -> Hospital:
    h = session.exec(
        select(Hospital).where(Hospital.code == code, Hospital.county_id == actor.county_id)
    ).first()
    if h is None:
        raise NotFound("No hospital with code {code}.", code=code)
    return h


def site_by_code(session: Session, actor: Actor, code: str) -> Site:
    s = session.exec(
        select(Site).where(Site.code == code, Site.county_id == actor.county_id)
    ).first()
    if s is None:
        raise NotFound("No vaccination site with code {code}.", code=code)
    return s


def lot_by_number(session: Session, actor: Actor, lot_number: str) -> Lot:
    lot = session.exec(select(Lot).where(Lot.lot_number == lot_number.strip())).first()
    if lot is None:
        raise NotFound("No lot numbered {lot}.", lot=lot_number)
    return lot


# Who records a recall notice (the manufacturer's or the regulator's): the bureau and the
# admin for a lot only their county has used, the province for any.
RECALLERS = (Role.admin, Role.bureau, Role.province)


def can_record_recall(actor: Actor) -> bool:
    return actor.role in RECALLERS


def record_recall(session: Session, actor: Actor, lot_number: str, *, notice: str) -> Lot:
    """Record a lot's recall: it is withdrawn in every county, for good (audited)."""
    require_role(actor, *RECALLERS)
    lot = lot_by_number(session, actor, lot_number)
    if lot.status == LotStatus.recalled:
        raise Conflict("Lot {lot} is already recalled.", lot=lot.lot_number)
    if actor.role not in SHARED_EDITORS and _used_elsewhere(
        session, KINDS["lots"], lot, actor.county_id
    ):
        raise Forbidden(
            "Lot {lot} is used in other counties too; its recall is recorded by the province.",
            lot=lot.lot_number,
        )
    lot_states.recall_lot(session, actor, lot, notice=notice)
    session.commit()
    return lot


def get_lot(session: Session, actor: Actor, lot_number: str) -> tuple[Lot, Vaccine]:
    if actor.role == Role.hospital:
        raise NotFound("Not found.")
    lot = lot_by_number(session, actor, lot_number)
    return lot, session.get(Vaccine, lot.vaccine_id)


def search_lots(
    session: Session, actor: Actor, prefix: str, limit: int = 10
) -> list[tuple[Lot, Vaccine]]:
    """Lots whose number starts with what was typed (the intake form looks them up as you type)."""
    if actor.role == Role.hospital or not prefix.strip():
        return []
    stmt = (
        select(Lot, Vaccine)
        .join(Vaccine, Vaccine.id == Lot.vaccine_id)
        .where(col(Lot.lot_number).ilike(f"{prefix.strip()}%"))
        .order_by(Lot.lot_number)
        .limit(limit)
    )
    return list(session.exec(stmt))


# --- lots, sites, hospitals, vaccines through the API -------------------------------------


def create_vaccine(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    manufacturer: str,
    name_en: str = "",
    observation_minutes: int = 30,
) -> Vaccine:
    return save_record(
        session,
        actor,
        KINDS["vaccines"],
        None,
        {
            "code": code,
            "name": name,
            "name_en": name_en,
            "manufacturer": manufacturer,
            "observation_minutes": observation_minutes,
        },
    )


def create_lot(
    session: Session,
    actor: Actor,
    *,
    lot_number: str,
    vaccine_code: str,
    expiry_on: date | None,
    doses_received: int | None,
) -> Lot:
    require_role(actor, *LOT_WRITERS)
    vaccine = vaccine_by_code(session, vaccine_code)
    return save_record(
        session,
        actor,
        KINDS["lots"],
        None,
        {
            "lot_number": lot_number,
            "vaccine_id": vaccine.id,
            "expiry_on": expiry_on,
            "doses_received": doses_received,
        },
    )


def create_hospital(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    level: str = "",
    name_en: str = "",
    phone: str = "",
) -> Hospital:
    return save_record(
        session,
        actor,
        KINDS["hospitals"],
        None,
        {
            "code": code,
            "name": name,
            "level": level,
            "name_en": name_en,
            "phone": phone,
        },
    )


def create_site(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    township: str,
    primary_hospital_code: str | None = None,
    backup_hospital_code: str | None = None,
    name_en: str = "",
) -> Site:
    require_role(actor, Role.admin)
    town = session.exec(
        select(Region).where(
            Region.level == RegionLevel.township,
            Region.parent_id == actor.county_id,
            or_(Region.code == township, Region.name == township),
        )
    ).first()
    if town is None:
        raise Invalid("No township {t} in your county.", fields={"township": "unknown"}, t=township)
    primary = (
        hospital_by_code(session, actor, primary_hospital_code) if primary_hospital_code else None
    )
    backup = (
        hospital_by_code(session, actor, backup_hospital_code) if backup_hospital_code else None
    )
    return save_record(
        session,
        actor,
        KINDS["sites"],
        None,
        {
            "code": code,
            "name": name,
            "name_en": name_en,
            "township_id": town.id,
            "primary_hospital_id": primary.id if primary else None,
            "backup_hospital_id": backup.id if backup else None,
        },
    )


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


def refuse_if_halted(session: Session, lot: Lot, site: Site) -> None:
    """New doses of a lot held, halted or recalled in the site's county, of a product halted
    there, or at a halted site are refused (``lot_states.refuse_if_halted``)."""
    lot_states.refuse_if_halted(session, lot, site)


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
    require_role(actor, *DOSE_WRITERS)
    site = site_by_code(session, actor, data.site_code)
    if actor.role == Role.reporter and actor.site_id != site.id:
        raise NotFound("No vaccination site with code {code}.", code=data.site_code)
    lot = lot_by_number(session, actor, data.lot_number)
    refuse_if_halted(session, lot, site)
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


def require_site_scope(session: Session, actor: Actor, site_id: int) -> Site:
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound("Not found.")
    require_site(actor, site.id, site.county_id)
    return site


def sites_of_county(session: Session, county_id: int) -> list[Site]:
    return list(session.exec(select(Site).where(Site.county_id == county_id).order_by(Site.code)))
