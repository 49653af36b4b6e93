"""The check-in responders as an input to the scans (issue 17): each lot with answers
against the product's other lots, per event group (:mod:`aefi.signals.responders` decides),
stored as lot signals of method ``active_surveillance``. Review only: the level never goes
past a signal for review, so these never hold a lot.

The scan calls :func:`evaluate` once (the full scan: every lot with answers; a lot scan: the
lots named) and passes each stored or new signal to its own ``_advance`` (levels only go up,
dismissed ones come back with more events, audit, the review alert)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from aefi.aftercare import active
from aefi.aftercare.figures.service import LotAnswers, answers_by_lot
from aefi.registry.models import Lot
from aefi.signals import responders
from aefi.signals.config import SignalSettings
from aefi.signals.models import Signal, SignalLevel, SignalMethod, SignalScope


def rules(cfg: SignalSettings) -> responders.Rules:
    return responders.Rules(
        alpha=cfg.alpha,
        family_size=len(active.ANSWER_GROUPS),
        min_responders=cfg.active_min_responders,
        min_events=cfg.active_min_events,
    )


def _decisions(
    lots: dict[int, LotAnswers], tested: list[int], r: responders.Rules
) -> dict[int, list[responders.Decision]]:
    by_vaccine: dict[int, list[int]] = {}
    for lot_id, a in lots.items():
        by_vaccine.setdefault(a.vaccine_id, []).append(lot_id)
    out = {}
    for lot_id in tested:
        lot = lots.get(lot_id)
        if lot is None:
            continue
        others = [lots[i] for i in by_vaccine[lot.vaccine_id] if i != lot_id]
        n_other = sum(o.responders for o in others)
        counts = [
            responders.GroupCounts(
                event_group=g,
                events=len(lot.by_group.get(g, ())),
                responders=lot.responders,
                sibling_events=sum(len(o.by_group.get(g, ())) for o in others),
                sibling_responders=n_other,
            )
            for g in active.ANSWER_GROUPS
        ]
        out[lot_id] = responders.decide(counts, r)
    return out


def _fill(sig: Signal, d: responders.Decision, sibling_lots: int, now: datetime) -> None:
    c = d.counts
    lot, sib = d.lot, d.siblings
    sig.observed = c.events
    sig.doses = c.responders  # the denominator: responders, not doses
    # What the lot's count would be at the siblings' share.
    sig.expected = sib.share * c.responders
    sig.statistic = d.ratio if d.ratio is not None else 0.0
    sig.threshold = d.alpha
    sig.p_value = d.p_value
    sig.strength = min(d.strength, 300.0)
    sig.oe_ratio = d.ratio
    sig.oe_lower = sig.oe_upper = None
    sig.details = {
        **(sig.details or {}),
        "responders": c.responders,
        "events": c.events,
        "share": lot.share,
        "share_low": lot.low,
        "share_high": lot.high,
        "sibling_lots": sibling_lots,
        "sibling_responders": c.sibling_responders,
        "sibling_events": c.sibling_events,
        "sibling_share": sib.share,
        "sibling_low": sib.low,
        "sibling_high": sib.high,
        "alpha_group": d.alpha,
        "test": "fisher_one_sided",
    }
    sig.last_scanned_at = now


def evaluate(
    session: Session, cfg: SignalSettings, now: datetime, *, lot_ids: list[int] | None
) -> list[tuple[Signal, SignalLevel | None, SignalLevel | None]]:
    """(signal, level reached now or None, level stored before or None) for each lot and
    event group that signals now or has a stored signal: ``lot_ids`` None is every lot with
    answers (the full scan). New signals are not yet added to the session."""
    if not cfg.active_surveillance or (lot_ids is not None and not lot_ids):
        return []
    r = rules(cfg)
    family = cfg.alpha
    if lot_ids is None:
        lots = answers_by_lot(session)
        tested = sorted(lots)
    else:
        vaccines = sorted(
            {int(v) for v in session.exec(select(Lot.vaccine_id).where(col(Lot.id).in_(lot_ids)))}
        )
        lots = answers_by_lot(session, vaccines)
        tested = sorted(set(lot_ids) & set(lots))
    if not tested:
        return []
    stored = {
        (s.target_id, s.event_group): s
        for s in session.exec(
            select(Signal).where(
                Signal.method == SignalMethod.active_surveillance,
                Signal.scope == SignalScope.lot,
                col(Signal.target_id).in_(tested),
            )
        )
    }
    lots_of: dict[int, int] = {}
    for a in lots.values():
        lots_of[a.vaccine_id] = lots_of.get(a.vaccine_id, 0) + 1
    out = []
    for lot_id, decisions in _decisions(lots, tested, r).items():
        vaccine_id = lots[lot_id].vaccine_id
        sibling_lots = lots_of[vaccine_id] - 1  # the product's other lots with answers
        for d in decisions:
            sig = stored.get((lot_id, d.counts.event_group))
            if sig is None and not d.signal:
                continue
            was = None if sig is None else SignalLevel(sig.level)
            if sig is None:
                sig = Signal.detected(
                    now,
                    scope=SignalScope.lot,
                    target_id=lot_id,
                    event_group=d.counts.event_group,
                    method=SignalMethod.active_surveillance,
                    lot_id=lot_id,
                    vaccine_id=vaccine_id,
                )
            _fill(sig, d, sibling_lots, now)
            sig.details = {
                **sig.details,
                "alpha_family": family,
                "family_size": r.family_size,
                "min_responders": r.min_responders,
                "min_events": r.min_events,
            }
            out.append((sig, SignalLevel.signal if d.signal else None, was))
    return out
