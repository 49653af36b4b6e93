"""Check-in responders as an input to the scans (issue 17): answers given through the
public check-in service for two lots of a product, one with a planted excess of fever."""

from __future__ import annotations

from sqlmodel import select

from aefi.auth.permissions import Actor, every_county
from aefi.notifications.models import Notification
from aefi.registry.models import Lot
from aefi.signals.models import Signal, SignalLevel, SignalMethod
from aefi.signals.scans import service as scans
from tests.factories import answer_checkins


def _system(session) -> Actor:
    return Actor.system(every_county(session), reason="test: signal scan")


def _scan(session):
    return scans.run_scan(session, _system(session), trigger="timer")


def _active(session) -> list[Signal]:
    return list(
        session.exec(
            select(Signal)
            .where(Signal.method == SignalMethod.active_surveillance)
            .order_by(Signal.id)
        )
    )


def test_a_lot_with_an_excess_among_responders_gets_a_review_signal(session, county):
    bad, good = county.lot_ids["HEPB"]
    answer_checkins(session, county, bad, well=25, fever=15)
    answer_checkins(session, county, good, well=57, fever=3)
    _scan(session)
    (sig,) = _active(session)
    assert (sig.lot_id, sig.event_group) == (bad, "fever")
    assert sig.level == SignalLevel.signal and sig.status == "new"
    d = sig.details
    assert (d["events"], d["responders"]) == (15, 40)
    assert (d["sibling_events"], d["sibling_responders"]) == (3, 60)
    assert d["share_low"] < 15 / 40 < d["share_high"]
    assert sig.p_value < d["alpha_group"] == 0.05 / d["family_size"]
    assert not sig.held_lot and session.get(Lot, bad).status == "active"
    # The bureau hears of it as a signal for review, never as a halt recommendation.
    kinds = set(session.exec(select(Notification.kind)))
    assert "signal" in kinds and "halt_recommended" not in kinds

    # More answers: the same signal is updated, not a second one.
    answer_checkins(session, county, bad, well=0, fever=5)
    _scan(session)
    (again,) = _active(session)
    assert again.id == sig.id and again.observed == 20 and again.doses == 45

    # A scan after a report on the lot (lot scan) updates it too.
    answer_checkins(session, county, bad, well=5, fever=0)
    scans.run_scan(
        session,
        _system(session),
        trigger="report",
        lot_ids=[bad],
        vaccine_ids=[],
        site_ids=[],
    )
    (again,) = _active(session)
    assert again.id == sig.id and again.doses == 50


def test_too_few_answers_raise_nothing(session, county):
    few, other = county.lot_ids["HEPB"]
    answer_checkins(session, county, few, well=0, fever=10)  # every one, but only 10 answered
    answer_checkins(session, county, other, well=40, fever=0)
    _scan(session)
    assert _active(session) == []
