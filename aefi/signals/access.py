"""Who may do what in signals, and which records are in the actor's scope.

The role sets the services require and the predicates the pages ask (``can_decide``,
``can_review``, ...) instead of repeating role sets in templates."""

from __future__ import annotations

from sqlalchemy import and_, or_, true
from sqlmodel import Session, col, func, select

from aefi.auth.models import Role
from aefi.auth.permissions import Actor
from aefi.registry import lot_states
from aefi.registry.models import Dose, Lot, Region, Site
from aefi.signals.models import (
    HaltDecision,
    HaltScope,
    Signal,
    SignalMethod,
    SignalScope,
)

SCANNERS = (Role.investigator, Role.bureau, Role.admin, Role.api_client)
# (The system actor: the command line's scan prints the strongest signals of its counties.)
READERS = (
    Role.investigator,
    Role.bureau,
    Role.admin,
    Role.api_client,
    Role.province,
    Role.system,
)
REVIEWERS = (Role.investigator, Role.bureau)
# A county's bureau halts for its county's sites; the province for every county below it.
DECIDERS = (Role.bureau, Role.province)
HALT_READERS = (
    Role.reporter,
    Role.investigator,
    Role.bureau,
    Role.admin,
    Role.api_client,
    Role.province,
)
RATE_EDITORS = (Role.admin,)
ALERTED = (Role.bureau, Role.investigator)


def can_scan(actor: Actor) -> bool:
    return actor.role in SCANNERS


def can_review(actor: Actor) -> bool:
    """Set a signal's review status (new, under review, dismissed, escalated)."""
    return actor.role in REVIEWERS


def can_decide(actor: Actor) -> bool:
    """Issue a halt decision."""
    return actor.role in DECIDERS


def can_release_hold(actor: Actor) -> bool:
    """Dismiss a halt recommendation and release its lot's provisional hold."""
    return can_review(actor) and can_decide(actor)


def can_lift(actor: Actor, halt: HaltDecision) -> bool:
    """Only the authority that issued a decision lifts it, once."""
    return can_decide(actor) and halt.county_id == actor.county_id and halt.lifted_at is None


# Who sees every halt in force of their counties above each page (a site's reporter sees
# those that concern the site), and who the halt recommendations awaiting a decision.
COUNTY_HALT_WATCHERS = (Role.investigator, Role.bureau, Role.admin, Role.province)
RECOMMENDATION_WATCHERS = (Role.bureau, Role.investigator, Role.province)


def sees_county_halts(actor: Actor) -> bool:
    """Every halt in force in the actor's counties, not only those at a site."""
    return actor.role in COUNTY_HALT_WATCHERS


def sees_site_halts(actor: Actor) -> bool:
    """The halts and holds that concern the actor's own vaccination site."""
    return actor.role == Role.reporter and actor.site_id is not None


def sees_halt_recommendations(actor: Actor) -> bool:
    """The count of halt recommendations awaiting the bureau's decision."""
    return actor.role in RECOMMENDATION_WATCHERS


def can_edit_rates(actor: Actor) -> bool:
    return actor.role in RATE_EDITORS


def visible_signals(session: Session, actor: Actor):
    """Signals that concern the actor's counties: a lot or a vaccine product given at
    their sites, one of their sites. Disproportionality signals come from imported
    reports of no county (reference data): every reader sees them."""
    counties = sorted(actor.county_ids)
    all_counties = session.exec(
        select(func.count()).select_from(Region).where(Region.level == "county")
    ).one()
    if counties and len(counties) >= all_counties:
        return true()  # the only county (or all of them): nothing to filter
    in_sites = select(Site.id).where(col(Site.county_id).in_(counties))
    lot_used = (
        select(Dose.id)
        .where(Dose.lot_id == Signal.target_id, col(Dose.site_id).in_(in_sites))
        .limit(1)
        .exists()
    )
    vaccine_used = (
        select(Dose.id)
        .join(Lot, Lot.id == Dose.lot_id)
        .where(Lot.vaccine_id == Signal.target_id, col(Dose.site_id).in_(in_sites))
        .limit(1)
        .exists()
    )
    return or_(
        Signal.method == SignalMethod.disproportionality,  # imported: no county
        and_(Signal.scope == SignalScope.lot, lot_used),
        and_(Signal.scope == SignalScope.vaccine, vaccine_used),
        and_(Signal.scope == SignalScope.site, col(Signal.target_id).in_(in_sites)),
    )


def counties_of_lot(session: Session, lot_id: int) -> list[int]:
    return [
        int(c)
        for (c,) in session.execute(
            select(Site.county_id)
            .where(col(Site.id).in_(select(Dose.site_id).where(Dose.lot_id == lot_id).distinct()))
            .distinct()
        )
    ]


def counties_of_vaccine(session: Session, vaccine_id: int) -> list[int]:
    """The counties whose sites gave doses of the product (its signal concerns them)."""
    lots = select(Lot.id).where(Lot.vaccine_id == vaccine_id)
    return [
        int(c)
        for (c,) in session.execute(
            select(Site.county_id)
            .where(
                col(Site.id).in_(select(Dose.site_id).where(col(Dose.lot_id).in_(lots)).distinct())
            )
            .distinct()
        )
    ]


def sites_holding(session: Session, scope: str, target_id: int) -> list[Site]:
    """The sites that have given doses of the lot (or of the vaccine), or the site itself."""
    if scope == HaltScope.site:
        site = session.get(Site, target_id)
        return [site] if site else []
    if scope == HaltScope.lot:
        ids = select(Dose.site_id).where(Dose.lot_id == target_id).distinct()
    else:
        ids = (
            select(Dose.site_id)
            .where(col(Dose.lot_id).in_(select(Lot.id).where(Lot.vaccine_id == target_id)))
            .distinct()
        )
    return list(session.exec(select(Site).where(col(Site.id).in_(ids)).order_by(Site.code)))


def halt_authorities(session: Session, actor: Actor) -> list[int]:
    """The regions whose decisions concern the actor: their counties and their province."""
    out = set(actor.county_ids) | {actor.county_id}
    for c in actor.county_ids:
        out.update(lot_states.authorities(session, c))
    return sorted(out)
