"""The banners above every page: halts in force and lots on hold that concern the user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from aefi import i18n
from aefi.auth.permissions import Actor
from aefi.i18n import N_
from aefi.registry import lot_states
from aefi.registry.models import Dose, Lot, LotHold
from aefi.signals import access
from aefi.signals.models import (
    HaltDecision,
    HaltScope,
)
from aefi.signals.review import alerts as review_alerts


@dataclass(frozen=True)
class Banner:
    level: str  # danger | warning
    text: str


def banners_for(session: Session, user: Any) -> list[Banner]:
    """Above every page: halts in force (and lots on hold) that concern the user's site;
    for the county roles the halts in force and the recommendations awaiting the bureau."""
    out: list[Banner] = []
    actor = Actor.of(user, session)
    halts = list(
        session.exec(
            select(HaltDecision).where(
                col(HaltDecision.county_id).in_(access.halt_authorities(session, actor)),
                col(HaltDecision.lifted_at).is_(None),
                col(HaltDecision.applied_at).is_not(None),
            )
        )
    )
    if access.sees_site_halts(actor):
        for h in halts:
            if _concerns_site(session, h.scope, h.target_id, user.site_id):
                out.append(Banner("danger", _halt_text(h)))
        held = session.exec(
            select(Lot).where(
                col(Lot.id).in_(select(LotHold.lot_id).where(LotHold.county_id == user.county_id)),
                col(Lot.id).in_(select(Dose.lot_id).where(Dose.site_id == user.site_id)),
            )
        ).all()
        for lot in held:
            out.append(
                Banner(
                    "warning",
                    i18n.gettext(
                        "Lot {lot} is on hold pending the bureau's decision: do not use it.",
                        lot=lot.lot_number,
                    ),
                )
            )
    elif access.sees_county_halts(actor):
        for h in halts:
            out.append(Banner("danger", _halt_text(h)))
        out.extend(recommendation_banners(session, actor))
    return out


MAX_ALERT_BANNERS = 3


def recommendation_banners(session: Session, actor: Actor) -> list[Banner]:
    """One banner per alert whose halt recommendation awaits the bureau, asking the
    target's state now: a halt issued, lifted (its signals settled) or the alert dismissed
    ends it (``review.alerts.awaiting_decision``)."""
    waiting = review_alerts.awaiting_decision(session, actor)
    out = [
        Banner(
            "warning",
            i18n.gettext(
                "Halt recommendation awaiting the bureau's decision: {target} (see Signals).",
                target=review_alerts.target_name(a.lead),
            ),
        )
        for a in waiting[:MAX_ALERT_BANNERS]
    ]
    if len(waiting) > MAX_ALERT_BANNERS:
        more = len(waiting) - MAX_ALERT_BANNERS
        out.append(
            Banner(
                "warning",
                i18n.gettext(
                    "And {n} more alerts awaiting the bureau's decision (see Signals).",
                    n=more,
                ),
            )
        )
    return out


def _halt_text(h: HaltDecision) -> str:
    what = {
        HaltScope.lot: N_("Lot {target} is halted by {number}: do not use it."),
        HaltScope.vaccine: N_("Vaccine {target} is halted by {number}: do not use it."),
        HaltScope.site: N_("Vaccinations at site {target} are halted by {number}."),
    }[HaltScope(h.scope)]
    return i18n.gettext(what, target=h.target_label, number=h.number)


def _concerns_site(session: Session, scope: str, target_id: int, site_id: int) -> bool:
    if scope == HaltScope.site:
        return target_id == site_id
    if scope == HaltScope.lot:
        q = select(Dose.id).where(Dose.lot_id == target_id, Dose.site_id == site_id).limit(1)
    else:
        q = (
            select(Dose.id)
            .where(
                Dose.site_id == site_id,
                col(Dose.lot_id).in_(select(Lot.id).where(Lot.vaccine_id == target_id)),
            )
            .limit(1)
        )
    return session.exec(q).first() is not None


def halts_for_site(session: Session, site_id: int, county_id: int) -> list[HaltDecision]:
    return [
        h
        for h in session.exec(
            select(HaltDecision).where(
                col(HaltDecision.county_id).in_(lot_states.authorities(session, county_id)),
                col(HaltDecision.lifted_at).is_(None),
            )
        )
        if _concerns_site(session, h.scope, h.target_id, site_id)
    ]
