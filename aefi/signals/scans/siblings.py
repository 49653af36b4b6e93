"""A lot's two views for the bureau's lot page: against the expected rate (its fixed
plans) and against its sibling lots (binomial MaxSPRT; conditional Poisson MaxSPRT with the
rate estimated from the siblings). Pure arithmetic in :mod:`aefi.signals.siblings`.

z is taken from the lots' recorded sizes when the lot and every sibling have one (then it
is fixed for the surveillance, as the binomial MaxSPRT assumes), otherwise from the doses
given so far, and the view says which. Counting is pooled across counties, like the scans.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sqlmodel import Session, select

from aefi.auth.permissions import Actor, require_role
from aefi.errors import NotFound
from aefi.registry.models import Lot, Vaccine
from aefi.signals import access, counts, expected, plans, scan, siblings, stats
from aefi.signals.config import get_signal_settings
from aefi.signals.rates.service import current_rates
from aefi.signals.scans.plan_store import active_plans


@dataclass
class GroupView:
    event_group: str
    label: str
    # against the expected rate (the fixed plan)
    observed: int
    expected: float | None
    llr: float | None
    cv: float | None
    upper_limit: float | None
    alpha: float | None
    rate_level: str  # "", "signal", "halt_recommended"
    # against the siblings
    sibling: siblings.SiblingResult | None
    cond: siblings.CondPoissonResult | None


@dataclass
class LotViews:
    lot: Lot
    vaccine: Vaccine
    lot_doses: int
    sibling_doses: int
    sibling_lots: int
    z_from: str  # "sizes" or "doses_given"
    groups: list[GroupView]


def for_page(session: Session, actor: Actor, lot_id: int) -> LotViews | None:
    """The views for the lot page, or None for a role that does not read signals."""
    if actor.role not in access.READERS:
        return None
    return lot_views(session, actor, lot_id)


def lot_views(session: Session, actor: Actor, lot_id: int, locale: str = "zh") -> LotViews:
    require_role(actor, *access.READERS)
    lot = session.get(Lot, lot_id)
    if lot is None:
        raise NotFound("Not found.")
    cfg = get_signal_settings()
    vac = session.get(Vaccine, lot.vaccine_id)
    family = list(session.exec(select(Lot).where(Lot.vaccine_id == lot.vaccine_id)))
    ids = [x.id for x in family]
    dc = counts.dose_counts(session, ids)
    given = {int(i): 0.0 for i in ids}
    for lid, n in zip(dc.lot_id.tolist(), dc.n.tolist(), strict=True):
        given[int(lid)] = given.get(int(lid), 0.0) + float(n)
    sizes = {x.id: x.doses_received for x in family}
    others = [i for i in ids if i != lot.id and given.get(i, 0) > 0]
    use_sizes = all(sizes.get(i) for i in [lot.id, *others])
    dose_of = (lambda i: float(sizes[i])) if use_sizes else (lambda i: given.get(i, 0.0))
    lot_d = dose_of(lot.id)
    sib_d = sum(dose_of(i) for i in others)
    rates = current_rates(session)
    groups = [
        g
        for g in scan.scanned_groups(rates)
        if (r := expected.choose(rates, vac.code, g)) is not None and r.rate_per_dose > 0
    ]
    obs: dict[tuple[int, str], int] = {}
    for t, g, n in counts.observed_counts(session, "lot", ids):
        obs[(t, g)] = n
    plan_of = {p.event_group: p for p in active_plans(session, "lot", lot.id)}
    z = siblings.z_on_grid(lot_d, sib_d) if lot_d > 0 and sib_d > 0 else None
    share = plans.family_shares(np.zeros(max(len(groups), 1), dtype=np.int64), cfg.alpha)[0]
    alpha_g = float(share[0]) if groups else cfg.alpha
    out = []
    for g in groups:
        k = obs.get((lot.id, g), 0)
        c = sum(obs.get((i, g), 0) for i in others)
        p = plan_of.get(g)
        e = p.rate_per_dose * given.get(lot.id, 0.0) if p else None
        llr = float(stats.maxsprt_llr(k, e)) if e else None
        level = ""
        if p is not None and e:
            d = plans.decide(
                np.array([k]),
                np.array([e]),
                np.array([llr]),
                np.array([p.cv_signal]),
                p.signal_min_events,
                p.halt_min_events,
            )
            level = "halt_recommended" if d.halt[0] else ("signal" if d.signal[0] else "")
        sib = cond = None
        if z is not None:
            sib = siblings.sibling_test(
                k, c, z, cfg.sibling_max_events, alpha_g, cfg.halt_min_events
            )
            cond = siblings.cond_poisson_test(
                k, c, lot_d, sib_d, cfg.cond_poisson_max_events, alpha_g, cfg.halt_min_events
            )
        out.append(
            GroupView(
                event_group=g,
                label=expected.group_label(g, locale),
                observed=k,
                expected=e,
                llr=llr,
                cv=p.cv_signal if p else None,
                upper_limit=p.upper_limit if p else None,
                alpha=p.alpha if p else None,
                rate_level=level,
                sibling=sib,
                cond=cond,
            )
        )
    return LotViews(
        lot=lot,
        vaccine=vac,
        lot_doses=int(given.get(lot.id, 0)),
        sibling_doses=int(sum(given.get(i, 0.0) for i in others)),
        sibling_lots=len(others),
        z_from="sizes" if use_sizes else "doses_given",
        groups=out,
    )
