"""Check-in responders as an input to the scans (issue 17): answers given through the
public check-in service for two lots of a product, one with a planted excess of fever."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from aefi import clock
from aefi.aftercare import links
from aefi.aftercare.checkin import service as checkin
from aefi.aftercare.schemas import AnswerIn
from aefi.auth.permissions import Actor, every_county
from aefi.registry.models import Lot
from aefi.settings import get_settings
from aefi.signals.models import Signal, SignalLevel, SignalMethod
from aefi.signals.scans import service as scans
from tests.factories import a_dose


def _answers(session, county, lot_id: int, well: int, fever: int) -> None:
    """``well + fever`` vaccinees of the lot answer day 1 through their personal links."""
    settings = get_settings()
    lot = session.get(Lot, lot_id)
    yesterday = clock.now() - timedelta(hours=26)
    for i in range(well + fever):
        dose = a_dose(session, county, lot=lot, at=yesterday)
        token = links.link_for(session, dose, settings, "http://test").token
        unwell = i < fever
        data = (
            AnswerIn(
                answer="unwell",
                symptoms=["fever"],
                onset_on=links.local_day(dose),
                severity="mild",
            )
            if unwell
            else AnswerIn(answer="well")
        )
        checkin.record_answer(session, token, data, settings)


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
    _answers(session, county, bad, well=25, fever=15)
    _answers(session, county, good, well=57, fever=3)
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

    # More answers: the same signal is updated, not a second one.
    _answers(session, county, bad, well=0, fever=5)
    _scan(session)
    (again,) = _active(session)
    assert again.id == sig.id and again.observed == 20 and again.doses == 45

    # A scan after a report on the lot (lot scan) updates it too.
    _answers(session, county, bad, well=5, fever=0)
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
    _answers(session, county, few, well=0, fever=10)  # every one, but only 10 answered
    _answers(session, county, other, well=40, fever=0)
    _scan(session)
    assert _active(session) == []
