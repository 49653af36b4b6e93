"""The closing rule as data: what of the form is missing, and when a reason is needed."""

from __future__ import annotations

import pytest

from aefi.investigation import closing, sections
from aefi.investigation.closing import CloseReason, check_close, what_is_missing
from tests.factories import complete_values


def test_a_complete_form_misses_nothing():
    assert what_is_missing(complete_values()) == []


def test_an_empty_form_misses_every_section_with_required_fields_in_order():
    missing = what_is_missing({})
    assert [m.key for m in missing] == [
        s.key for s in sections.SECTIONS if any(f.required for f in s.fields)
    ]
    assert all(m.empty for m in missing)
    assert missing[0].anchor == "section-history"


def test_a_half_filled_section_names_its_empty_required_fields():
    saved = complete_values()
    saved["history"] = {"past_history": "无", "treatment": "肾上腺素"}
    (m,) = what_is_missing(saved)
    assert m.key == "history" and not m.empty
    assert m.fields == (
        "Similar event after an earlier dose",
        "Clinical course: onset, signs and symptoms, progression",
    )


def test_optional_fields_alone_do_not_complete_a_section():
    saved = complete_values()
    saved["others"] = {"others_notes": "无"}
    assert [m.key for m in what_is_missing(saved)] == ["others"]


@pytest.mark.parametrize(
    ("complete", "reason", "text", "ok", "field"),
    [
        (True, "", "", True, ""),
        (False, "", "", False, "reason"),
        (False, "lost_to_follow_up", "", True, ""),
        (False, "refused_by_family", "", True, ""),
        (False, "other", "", False, "reason_text"),
        (False, "other", "  ", False, "reason_text"),
        (False, "other", "患儿随家庭迁往外省", True, ""),
        (False, "moved_away", "", False, "reason"),
        (True, "other", "", False, "reason_text"),
    ],
)
def test_when_a_reason_is_needed(complete, reason, text, ok, field):
    missing = [] if complete else what_is_missing({})
    check = check_close(missing, reason, text)
    assert check.ok is ok
    assert check.field == field


def test_the_reason_is_kept_as_given():
    check = check_close(what_is_missing({}), "other", " 患儿随家庭迁往外省 ")
    assert (check.reason, check.reason_text) == ("other", "患儿随家庭迁往外省")
    assert check_close([], "", "ignored").reason_text == ""


def test_every_reason_has_a_label():
    assert set(closing.CLOSE_REASON_LABELS) == set(CloseReason)


def test_section_empty():
    assert closing.section_empty(None) and closing.section_empty({"a": None, "b": ""})
    assert not closing.section_empty({"a": "x"})
