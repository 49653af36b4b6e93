"""The subject of a report form's draft: the vaccinee and dose it is about."""

from __future__ import annotations

import pytest

from aefi.intake.drafts.keys import filed_keys, subject_key


@pytest.mark.parametrize(
    ("payload", "key"),
    [
        ({}, None),
        ({"description": "未完成"}, None),
        ({"dose_ids": ["12"]}, "dose:12"),
        ({"dose_ids": ["30", "12", "x"]}, "dose:12"),  # given together: the first by id
        ({"dose_ids": ["12"], "patient_id_number": "330782X"}, "dose:12"),
        ({"patient_id_number": " 330782201901010011 "}, "person:330782201901010011|lot:"),
        (
            {
                "patient_id_number": "33078220190101001x",
                "hand-1-lot_number": "B2",
                "hand-0-lot_number": "A1",
            },
            "person:33078220190101001X|lot:A1",
        ),
        ({"hand-0-lot_number": "A1"}, None),  # a lot but no person yet
    ],
)
def test_subject_key(payload, key):
    assert subject_key(payload) == key


def test_a_filed_report_settles_each_of_its_doses():
    assert filed_keys([3, 5], "330782x", ["A1"]) == {
        "dose:3",
        "dose:5",
        "person:330782X|lot:A1",
    }
    assert filed_keys([], None, ["A1"]) == set()
    # The key a draft of the same hand-entered dose had is among them.
    draft = {"patient_id_number": "330782x", "hand-0-lot_number": "A1"}
    assert subject_key(draft) in filed_keys([], "330782X", ["A1"])
