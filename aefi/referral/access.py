"""Who may do what with a referral, and loading referrals in the actor's scope.

Least data (DESIGN.md): a hospital sees the referrals addressed to it and nothing else of
the county; a physician those of the site; the county's CDC and bureau all of the county.
"""

from __future__ import annotations

from sqlmodel import Session, select

from aefi.auth.models import Role
from aefi.auth.permissions import Actor, require_role
from aefi.errors import NotFound
from aefi.referral.models import Referral

# Who may send a referral by hand, and who may re-route or cancel one (the sending side).
REQUESTERS = (Role.reporter, Role.investigator, Role.admin)


SENDERS = (Role.reporter, Role.investigator, Role.bureau, Role.admin)


READERS = (*SENDERS, Role.hospital)


COUNTY_WATCHERS = (Role.bureau, Role.investigator)
# Who is alerted above each page to referrals not acknowledged in time (their site's or
# county's); a hospital is alerted to those awaiting its acknowledgement instead.
ESCALATION_WATCHERS = (Role.reporter, *COUNTY_WATCHERS)


def receives_referrals(actor: Actor) -> bool:
    """The receiving side (a hospital): its pages show the hospital's steps; the others'
    show the sender's re-route, cancel and the trail of legs."""
    return actor.role == Role.hospital


def watches_escalations(actor: Actor) -> bool:
    """Alerted to the referrals of their scope not acknowledged in time."""
    return actor.role in ESCALATION_WATCHERS


def in_scope(actor: Actor, ref: Referral | None) -> bool:
    if ref is None or ref.county_id != actor.county_id:
        return False
    if receives_referrals(actor):
        return actor.hospital_id is not None and ref.hospital_id == actor.hospital_id
    if actor.role == Role.reporter:
        return ref.site_id == actor.site_id
    return actor.is_county_wide


def locked(session: Session, referral_id: int) -> Referral | None:
    """The row, locked for the step (PostgreSQL): the timer and a click may meet."""
    return session.exec(
        select(Referral)
        .where(Referral.id == referral_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def for_hospital(session: Session, actor: Actor, referral_id: int) -> Referral:
    require_role(actor, Role.hospital)
    ref = locked(session, referral_id)
    if not in_scope(actor, ref):
        raise NotFound("Not found.")
    return ref


def for_sender(session: Session, actor: Actor, referral_id: int) -> Referral:
    require_role(actor, *SENDERS)
    ref = locked(session, referral_id)
    if not in_scope(actor, ref):
        raise NotFound("Not found.")
    return ref


def scope_stmt(actor: Actor):
    require_role(actor, *READERS)
    stmt = select(Referral).where(Referral.county_id == actor.county_id)
    if receives_referrals(actor):
        stmt = stmt.where(Referral.hospital_id == (actor.hospital_id or -1))
    elif actor.role == Role.reporter:
        stmt = stmt.where(Referral.site_id == (actor.site_id or -1))
    return stmt
