"""The emergency path on SQLite and PostgreSQL: the report's emergency block is stored,
refused out of range with messages that say what to type, carried into the green-channel
referral (and its hand-over sheet); the desk's alert setting is stored and audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import ValidationError
from sqlmodel import select

from aefi import clock, i18n
from aefi.audit import AuditEvent
from aefi.errors import Forbidden
from aefi.intake import emergency
from aefi.intake.emergency import EmergencyIn
from aefi.intake.forms import ReportForm
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


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"weight_kg": 900}, "weight_kg"),
        ({"vitals": {"spo2": 120}}, "spo2"),
        ({"vitals": {"heart_rate": 5}}, "heart_rate"),
        ({"vitals": {"bp_systolic": 60, "bp_diastolic": 80}}, "diastolic"),
        ({"adrenaline": {"dose_mg": 150, "at": "2026-11-25T09:30:00+08:00"}}, "dose_mg"),
        ({"adrenaline": {"dose_mg": 0.15, "at": "2026-11-25T09:30:00"}}, "UTC offset"),
    ],
)
def test_out_of_range_values_are_refused_by_name(change, field):
    with pytest.raises(ValidationError) as err:
        EmergencyIn.model_validate(change)
    assert field in str(err.value)


def test_a_repeat_before_the_first_dose_is_refused():
    with pytest.raises(ValidationError, match="before the first dose"):
        EmergencyIn.model_validate(
            {
                "adrenaline": {
                    "dose_mg": 0.15,
                    "at": "2026-11-25T09:30:00+08:00",
                    "repeats": [{"at": "2026-11-25T09:20:00+08:00"}],
                }
            }
        )


def _typed(**values) -> ReportForm:
    return ReportForm({"onset_at": "2026-11-25T09:20", "outcome": "recovering", **values})


def test_the_form_block_parses_clock_times_on_the_onset_day():
    parsed = _typed(
        em_adrenaline_mg="0,15",
        em_adrenaline_at="09:25",
        em_repeat1_at="09:35",
        em_bp_systolic="70",
        em_bp_diastolic="40",
        em_spo2="90",
        em_weight_kg="16",
        em_oxygen_at="09:24",
    ).parse()
    assert parsed.errors == {}
    block = parsed.data.emergency
    local = clock.to_local(block.adrenaline.at)
    assert (local.date().isoformat(), local.strftime("%H:%M")) == ("2026-11-25", "09:25")
    assert block.adrenaline.dose_mg == 0.15 and len(block.adrenaline.repeats) == 1
    assert block.vitals.spo2 == 90 and block.weight_kg == 16
    assert block.treatment.oxygen_at is not None


def test_the_form_block_names_each_wrong_input_in_chinese():
    token = i18n.set_locale("zh_CN")
    try:
        parsed = _typed(
            em_adrenaline_mg="15",
            em_repeat1_at="9:1x",
            em_spo2="130",
            em_bp_systolic="60",
            em_bp_diastolic="90",
            em_heart_rate="fast",
        ).parse()
    finally:
        i18n._current.reset(token)
    e = parsed.errors
    assert e["em_adrenaline_mg"] == "请输入0至5mg之间的数值。"
    assert e["em_adrenaline_at"] == "请填写肾上腺素的给药时间。"
    assert e["em_repeat1_at"] == "请按“时:分”（HH:MM）填写时间。"
    assert e["em_spo2"] == "请输入30至100%之间的数值。"
    assert e["em_bp_diastolic"] == "舒张压应低于收缩压。"
    assert e["em_heart_rate"] == "请输入整数。"


def test_an_untouched_block_is_no_block():
    assert _typed(em_adrenaline_route="im").parse().data.emergency is None


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
