"""The report's emergency block, pure: the API shape refuses implausible values by name,
the form's inputs parse (clock times on the onset's day) and every wrong input gets its own
message in the reader's language."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aefi import clock, i18n
from aefi.intake.emergency import EmergencyIn
from aefi.intake.forms import ReportForm


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
    assert e["em_repeat1_at"] == "请按“10:30”这样的格式（24 小时制）填写时间。"
    assert e["em_spo2"] == "请输入30至100%之间的数值。"
    assert e["em_bp_diastolic"] == "舒张压应低于收缩压。"
    assert e["em_heart_rate"] == "请输入整数。"


def test_an_untouched_block_is_no_block():
    assert _typed(em_adrenaline_route="im").parse().data.emergency is None
