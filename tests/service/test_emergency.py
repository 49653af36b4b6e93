"""The emergency path on SQLite and PostgreSQL: the report's emergency block is stored,
refused out of range with messages that say what to type, carried into the green-channel
referral (and its hand-over sheet); the desk's alert setting is stored and audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from aefi import clock
from aefi.audit import AuditEvent
from aefi.errors import Forbidden
from aefi.intake import emergency
from aefi.intake.emergency import EmergencyIn
from aefi.referral.desk import service as desk
from aefi.referral.inbox import service as inbox
from tests.factories import ANAPHYLAXIS, REFERRAL_T0, a_dose, file_report, referral_of


def _block(given_at, **kw) -> EmergencyIn:
    base = {
        "adrenaline": {
            "dose_mg": 0.15,
            "route": "im",
            "at": given_at.isoformat(),
            "repeats": [{"at": (given_at + timedelta(minutes=10)).isoformat()}],
        },
        "vitals": {
            "at": (given_at + timedelta(minutes=2)).isoformat(),
            "bp_systolic": 72,
            "bp_diastolic": 40,
            "heart_rate": 168,
            "resp_rate": 38,
            "spo2": 91,
            "temperature_c": 37.2,
            "consciousness": "voice",
        },
        "weight_kg": 15.5,
        "treatment": {"oxygen_at": (given_at + timedelta(minutes=1)).isoformat()},
    }
    base.update(kw)
    return EmergencyIn.model_validate(base)


def _file(session, county, block):
    actor = county.actor(session, "reporter")
    clock.freeze(REFERRAL_T0)
    site = county.site_ids.index(actor.site_id)
    dose = a_dose(session, county, site=site, at=REFERRAL_T0 - timedelta(minutes=20))
    return file_report(session, actor, dose, **ANAPHYLAXIS, emergency=block)


def test_block_is_stored_with_the_report_and_fills_the_referral(session, county):
    given = REFERRAL_T0 - timedelta(minutes=3)
    report = _file(session, county, _block(given))
    stored = emergency.read(report.emergency)
    assert stored.adrenaline.dose_mg == 0.15 and stored.adrenaline.route == "im"
    assert [r.at for r in stored.adrenaline.repeats] == [given + timedelta(minutes=10)]
    assert stored.vitals.spo2 == 91 and stored.weight_kg == 15.5
    # The referral triage opened carries the first dose, the weight and the vital signs.
    ref = referral_of(session, report)
    assert ref.adrenaline_mg == 0.15 and ref.adrenaline_at == given
    assert (ref.bp_systolic, ref.bp_diastolic, ref.heart_rate, ref.resp_rate) == (72, 40, 168, 38)
    assert ref.spo2 == 91 and ref.temperature_c == 37.2 and ref.consciousness == "voice"
    assert ref.weight_kg == 15.5 and ref.vitals_at == given + timedelta(minutes=2)
    # The hospital's view reads the repeats and treatment times from the report.
    view = inbox.get_referral(session, county.actor(session, "hospital"), ref.id)
    assert len(view.emergency.adrenaline.repeats) == 1
    assert view.emergency.treatment.oxygen_at == given + timedelta(minutes=1)
    rows, _total = inbox.list_referrals(session, county.actor(session, "hospital"))
    assert rows[0].emergency.adrenaline.dose_mg == 0.15


def test_a_report_without_the_block_leaves_the_referral_as_before(session, county):
    report = _file(session, county, None)
    assert report.emergency is None
    ref = referral_of(session, report)
    assert ref.adrenaline_mg is None and ref.bp_systolic is None and ref.weight_kg is None


def test_desk_alert_is_stored_per_user_and_audited(session, county):
    hospital = county.actor(session, "hospital")
    assert desk.sound_on(session, hospital) is False
    desk.set_sound(session, hospital, True)
    assert desk.sound_on(session, hospital) is True
    assert desk.sound_on(session, county.actor(session, "hospital2")) is False
    desk.set_sound(session, hospital, True)  # no change: no second audit row
    desk.set_sound(session, hospital, False)
    events = session.exec(select(AuditEvent).where(AuditEvent.entity_type == "desk_alert")).all()
    assert [e.changes for e in events] == [{"sound": [False, True]}, {"sound": [True, False]}]
    with pytest.raises(Forbidden):
        desk.set_sound(session, county.actor(session, "reporter"), True)
