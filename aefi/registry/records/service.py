"""Reference data through one generic shape (the admin pages and the API): vaccines, lots,
sites, hospitals and regions as ``Kind`` records, listed, read in scope, created and
corrected; the fields only a decision writes are refused (``lot_states.PROTECTED``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, SQLModel, col, func, select

from aefi import audit
from aefi.aftercare import schedule
from aefi.auth.models import Role
from aefi.auth.permissions import (
    Actor,
    in_scope,
    require_own_county,
    require_role,
    scope_clause,
)
from aefi.errors import Forbidden, Invalid, NotFound
from aefi.i18n import N_
from aefi.registry import access, lot_states
from aefi.registry.models import (
    Dose,
    Hospital,
    Lot,
    Region,
    RegionLevel,
    Site,
    Vaccine,
)
from aefi.types import MAX_ID, ascii_int

# --- reference data, one generic shape for the admin pages -------------------------------


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str  # English msgid
    kind: str = "text"  # text, int, date, bool, select, days (a check-in schedule)
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
            N_("Vaccination sites"),
            (
                FieldSpec("code", N_("Code"), required=True),
                FieldSpec("name", N_("Name"), required=True),
                FieldSpec("name_en", N_("English name")),
                FieldSpec("township_id", N_("Township"), "select", True, "townships"),
                FieldSpec("phone", N_("Phone")),
                FieldSpec(
                    "primary_hospital_id",
                    N_("Primary green-channel hospital"),
                    "select",
                    False,
                    "hospitals",
                ),
                FieldSpec(
                    "backup_hospital_id",
                    N_("Backup green-channel hospital"),
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
                FieldSpec("checkin_days", N_("Check-in days after the dose"), "days"),
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


# How a region's level is shown (the list shows every level; the form offers townships).
REGION_LEVEL_NAMES = {
    RegionLevel.township.value: ("乡镇", "township"),
    RegionLevel.county.value: ("县（区）", "county"),
    RegionLevel.province.value: ("省", "province"),
}


def choices(session: Session, actor: Actor, name: str) -> list[tuple[Any, str, str]]:
    """(value, Chinese label, English label) for a select."""
    if name == "region_levels":
        # A county's admin keeps its townships; counties and provinces are set up by the
        # operator (they are the frame every scope hangs on).
        return [(lv.value, *REGION_LEVEL_NAMES[lv.value]) for lv in (RegionLevel.township,)]
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
    require_role(actor, *access.READERS)
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
    require_role(actor, *access.READERS)
    obj = session.get(kind.model, record_id)
    if obj is None or not _visible(actor, kind, obj):
        raise NotFound("Not found.")
    return obj


def lot_state(session: Session, actor: Actor, lot: Lot) -> lot_states.State:
    """The lot's state as this actor's county sees it (the form shows it read-only)."""
    return lot_states.state_for_actor(session, actor, lot)


def used_elsewhere(session: Session, kind: Kind, obj: SQLModel, county_id: int) -> bool:
    """Whether sites of another county have given doses of this lot or product."""
    lots = select(Lot.id).where(Lot.vaccine_id == obj.id) if kind.name == "vaccines" else None
    stmt = select(Dose.id).join(Site, Site.id == Dose.site_id).where(Site.county_id != county_id)
    stmt = stmt.where(col(Dose.lot_id).in_(lots) if lots is not None else Dose.lot_id == obj.id)
    return session.exec(stmt.limit(1)).first() is not None


def _record_for_write(session: Session, actor: Actor, kind: Kind, record_id: int) -> SQLModel:
    """The record to edit, if this actor may change it (see access.SHARED_EDITORS)."""
    obj = session.get(kind.model, record_id)
    if obj is None:
        raise NotFound("Not found.")
    if kind.name in ("lots", "vaccines"):
        if actor.role in access.SHARED_EDITORS:
            return obj
        if used_elsewhere(session, kind, obj, actor.county_id):
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
    if spec.kind == "days":
        return schedule.checked_days(str(raw))
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
    allowed = access.LOT_WRITERS if kind.name == "lots" else (Role.admin,)
    if kind.name in ("lots", "vaccines") and editing:
        allowed = (*allowed, *access.SHARED_EDITORS)
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
    checkin_days: str = "",
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
            "checkin_days": checkin_days,
        },
    )


def edit_vaccine(session: Session, actor: Actor, code: str, values: dict[str, Any]) -> Vaccine:
    """Change a product's fields named in ``values`` (the API's PATCH); audited."""
    require_role(actor, *writers(KINDS["vaccines"], editing=True))
    vaccine = session.exec(select(Vaccine).where(Vaccine.code == code)).first()
    if vaccine is None:
        raise NotFound("Unknown vaccine.")
    return save_record(session, actor, KINDS["vaccines"], vaccine.id, values)


def create_lot(
    session: Session,
    actor: Actor,
    *,
    lot_number: str,
    vaccine_code: str,
    expiry_on: date | None,
    doses_received: int | None,
) -> Lot:
    require_role(actor, *access.LOT_WRITERS)
    vaccine = access.vaccine_by_code(session, vaccine_code)
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
        access.hospital_by_code(session, actor, primary_hospital_code)
        if primary_hospital_code
        else None
    )
    backup = (
        access.hospital_by_code(session, actor, backup_hospital_code)
        if backup_hospital_code
        else None
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
