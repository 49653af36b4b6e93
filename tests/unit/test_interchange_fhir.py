"""FHIR builders: IMMZ codes for seriousness, manifestation and outcome; every resource
re-parses with fhir.resources R4B from its JSON."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fhir.resources.R4B.adverseevent import AdverseEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.patient import Patient

from aefi.interchange import fhir

WHEN = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def event(**changes) -> fhir.EventFacts:
    values = dict(
        id="7",
        patient_id="3",
        report_number="110101-2026-00007",
        safety_report_id="CN-AEFI-110101-2026-00007",
        worldwide_case_id="CN-AEFI-110101-2026-00007",
        onset_at=WHEN,
        recorded_at=WHEN,
        event_groups=("fever",),
        terms=("发热",),
        dose_ids=("11",),
    )
    values.update(changes)
    return fhir.EventFacts(**values)


@pytest.mark.parametrize(
    "flags,code",
    [
        ({}, "DE174"),
        ({"hospitalization": True}, "DE111"),
        ({"hospitalization": True, "life_threatening": True}, "DE109"),
        ({"death": True, "disability": True}, "DE108"),
        ({"congenital_anomaly": True}, "DE112"),
    ],
)
def test_the_most_severe_criterion_is_the_seriousness(flags, code):
    ae = fhir.adverse_event(event(seriousness=flags))
    assert ae.seriousness.coding[0].code == code
    assert ae.seriousness.coding[1].code == ("non-serious" if code == "DE174" else "serious")


@pytest.mark.parametrize(
    "groups,code",
    [
        (("fever",), "DE104"),
        (("anaphylaxis", "fever"), "DE103"),
        (("seizure",), "DE98"),
        (("syncope",), "DE105"),
        ((), "DE105"),
    ],
)
def test_manifestation_codes(groups, code):
    assert fhir.adverse_event(event(event_groups=groups)).event.coding[0].code == code


@pytest.mark.parametrize(
    "outcome,immz,hl7",
    [
        ("died", "DE116", "fatal"),
        ("sequelae", "DE118", "resolvedWithSequelae"),
        ("recovering", "DE119", "recovering"),
        ("whatever", "DE121", "unknown"),
    ],
)
def test_outcome_codes(outcome, immz, hl7):
    codes = [c.code for c in fhir.adverse_event(event(outcome=outcome)).outcome.coding]
    assert codes == [immz, hl7]


def test_resources_round_trip_through_json():
    ae = fhir.adverse_event(
        event(
            meddra=(("10016256", "Fever"),),
            causality=(fhir.Causality("WHO AEFI causality", "A1", "panel"),),
            description="<b>fever</b> & rash",
        )
    )
    pat = fhir.patient(fhir.PatientFacts("3", "", "female", date(2025, 1, 5), "1101******1234"))
    imm = fhir.immunization(
        fhir.DoseFacts(
            "11", "3", "DTAP", "百白破", "Wuhan", "L1", WHEN, 2, "im", "左上臂", "S1", "Site 1"
        )
    )
    bundle = fhir.case_bundle(ae, pat, [imm], "CN-AEFI-110101-2026-00007")
    for cls, resource in (
        (AdverseEvent, ae),
        (Patient, pat),
        (Immunization, imm),
        (Bundle, bundle),
    ):
        again = cls.model_validate_json(resource.model_dump_json())
        assert again.model_dump() == resource.model_dump()
    assert "&lt;b&gt;" in ae.text.div
    assert ae.suspectEntity[0].causality[0].assessment.text == "A1"
    assert imm.route.coding[0].code == "IM" and imm.protocolApplied[0].doseNumberString == "2"
    assert pat.name is None  # a reader who may not see identity gets no name
