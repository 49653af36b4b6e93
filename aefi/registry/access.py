"""Who may do what in the registry, and loading its records in the actor's scope: the role
sets, the lookups other domains use (a vaccine by code, a site or hospital of the actor's
county, a lot by number) and the check that a site is the actor's."""

from __future__ import annotations

from sqlmodel import Session, select

from aefi.auth.models import Role
from aefi.auth.permissions import Actor, require_site
from aefi.errors import NotFound
from aefi.registry.models import Hospital, Lot, Site, Vaccine

READERS = (Role.admin, Role.investigator, Role.bureau, Role.province)
LOT_WRITERS = (Role.admin, Role.api_client)
# Lots and vaccine products are shared reference data (a manufacturer's lot number is the
# same in every county). A county's admin (or its information system, for lots) creates
# them and corrects those no other county has used; the province corrects any of them.
SHARED_EDITORS = (Role.province,)
DOSE_WRITERS = (Role.admin, Role.api_client, Role.reporter)

# Who records a recall notice (the manufacturer's or the regulator's): the bureau and the
# admin for a lot only their county has used, the province for any.
RECALLERS = (Role.admin, Role.bureau, Role.province)


def can_record_recall(actor: Actor) -> bool:
    return actor.role in RECALLERS


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


def get_lot(session: Session, actor: Actor, lot_number: str) -> tuple[Lot, Vaccine]:
    if actor.role == Role.hospital:
        raise NotFound("Not found.")
    lot = lot_by_number(session, actor, lot_number)
    return lot, session.get(Vaccine, lot.vaccine_id)


def require_site_scope(session: Session, actor: Actor, site_id: int) -> Site:
    site = session.get(Site, site_id)
    if site is None:
        raise NotFound("Not found.")
    require_site(actor, site.id, site.county_id)
    return site


def sites_of_county(session: Session, county_id: int) -> list[Site]:
    return list(session.exec(select(Site).where(Site.county_id == county_id).order_by(Site.code)))
