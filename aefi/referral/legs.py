"""The legs of a referral (a declined or re-routed referral continues as a new leg to the
next hospital) and the acknowledgement limit in force: read by the steps and the inbox."""

from __future__ import annotations

from sqlmodel import Session, col, select

from aefi.referral import states
from aefi.referral.models import Referral
from aefi.registry.models import Site
from aefi.settings import get_settings


def ack_minutes() -> int:
    return get_settings().referral_ack_minutes


def open_of_report(session: Session, report_id: int) -> Referral | None:
    return session.exec(
        select(Referral)
        .where(Referral.report_id == report_id, col(Referral.status).in_(list(states.OPEN)))
        .order_by(col(Referral.id).desc())
    ).first()


def chain(session: Session, ref: Referral) -> list[Referral]:
    """This leg and every earlier leg it continues, oldest first."""
    legs = [ref]
    while legs[0].previous_id is not None:
        prev = session.get(Referral, legs[0].previous_id)
        if prev is None:
            break
        legs.insert(0, prev)
    return legs


def later_legs(session: Session, ref: Referral) -> list[Referral]:
    out = []
    current = ref
    while True:
        nxt = session.exec(select(Referral).where(Referral.previous_id == current.id)).first()
        if nxt is None:
            return out
        out.append(nxt)
        current = nxt


def next_hospital_id(session: Session, ref: Referral) -> int | None:
    site = session.get(Site, ref.site_id)
    tried = [leg.hospital_id for leg in chain(session, ref)]
    return states.next_hospital(site.primary_hospital_id, site.backup_hospital_id, tried)
