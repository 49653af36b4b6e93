"""FHIR R4 resources of a case, built and checked with ``fhir.resources`` (its R4B models,
the nearest to R4 it ships; Immunization, AdverseEvent, Patient and Bundle did not change).

AdverseEvent follows WHO SMART Immunizations IMMZ.AdverseEvent (IMMZ.D17 "Report AEFI":
event bound to DE95, date, seriousness bound to DE107, outcome after DE115, the
otherMedicalEvent extension); where IMMZ says nothing (the suspect vaccines, causality,
identifiers) it follows the HL7 ICSR vaccination-AE IG's FHIR↔ICSR mapping
(shared/standards/fhir). Plain values in, resources out: no database here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from fhir.resources.R4B.adverseevent import AdverseEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient

IMMZ = "http://smart.who.int/immunizations"
IMMZ_CODES = f"{IMMZ}/CodeSystem/IMMZ.D"
IMMZ_AE_PROFILE = f"{IMMZ}/StructureDefinition/IMMZ.AdverseEvent"
IMMZ_OTHER_EVENT = f"{IMMZ}/StructureDefinition/IMMZOtherMedicalEvent"
MEDDRA = "http://terminology.hl7.org/CodeSystem/mdr"
HL7_SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
HL7_OUTCOME = "http://terminology.hl7.org/CodeSystem/adverse-event-outcome"
V3_ROUTE = "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration"
# aefi's own identifier and code systems (no national URI is published for them).
AEFI_VACCINE = "urn:aefi:vaccine-code"
AEFI_REPORT = "urn:aefi:report-number"
ICSR_SAFETY_REPORT_ID = "urn:oid:2.16.840.1.113883.3.989.2.1.3.1"  # C.1.1
ICSR_WORLDWIDE_ID = "urn:oid:2.16.840.1.113883.3.989.2.1.3.2"  # C.1.8.1
CN_RESIDENT_ID = "urn:oid:1.2.156.112604.1.2.1"  # resident identity card number (GB 11643)

# IMMZ.D.DE95 reaction manifestation, from aefi's event groups (first match wins, in the
# order of the value set; everything else is DE105 "Other").
MANIFESTATION: dict[str, tuple[str, str]] = {
    "local_reaction": ("DE96", "Severe local reaction"),
    "seizure": ("DE98", "Seizures"),
    "encephalitis": ("DE101", "Encephalopathy"),
    "anaphylaxis": ("DE103", "Anaphylaxis"),
    "fever": ("DE104", "Fever"),
}
OTHER_MANIFESTATION = ("DE105", "Other")
# IMMZ.D.DE107 type of reaction: the most severe criterion is the one coded.
SERIOUSNESS: tuple[tuple[str, str, str], ...] = (
    ("death", "DE108", "Death"),
    ("life_threatening", "DE109", "Life threatening"),
    ("hospitalization", "DE111", "Hospitalization"),
    ("disability", "DE110", "Disability"),
    ("congenital_anomaly", "DE112", "Congenital anomaly"),
)
NON_SERIOUS = ("DE174", "Non serious")
# IMMZ.D.DE115 outcome and the R4 adverse-event-outcome code beside it.
OUTCOME: dict[str, tuple[str, str, str]] = {
    "died": ("DE116", "Died", "fatal"),
    "recovered": ("DE117", "Recovered", "resolved"),
    "sequelae": ("DE118", "Recovered with sequelae", "resolvedWithSequelae"),
    "recovering": ("DE119", "Recovering", "recovering"),
    "not_recovered": ("DE120", "Not recovered", "ongoing"),
    "unknown": ("DE121", "Unknown", "unknown"),
}
ROUTES: dict[str, tuple[str, str]] = {
    "im": ("IM", "Injection, intramuscular"),
    "sc": ("SQ", "Injection, subcutaneous"),
    "id": ("IDINJ", "Injection, intradermal"),
    "oral": ("PO", "Swallow, oral"),
    "intranasal": ("NASINHLC", "Inhalation, nasal"),
}
ROUTES_BY_CODE = {code: name for name, (code, _d) in ROUTES.items()} | {"SC": "sc"}


@dataclass(frozen=True)
class PatientFacts:
    id: str
    name: str  # "" when the reader may not see it
    sex: str
    birth_on: date | None
    id_number: str = ""  # "" or masked when the reader may not see it


@dataclass(frozen=True)
class DoseFacts:
    id: str
    patient_id: str
    vaccine_code: str
    vaccine_name: str
    manufacturer: str
    lot_number: str
    administered_at: datetime
    dose_number: int | None
    route: str
    body_site: str = ""
    site_code: str = ""
    site_name: str = ""


@dataclass(frozen=True)
class Causality:
    method: str
    result: str
    author: str


@dataclass(frozen=True)
class EventFacts:
    id: str
    patient_id: str
    report_number: str
    safety_report_id: str
    worldwide_case_id: str
    onset_at: datetime
    recorded_at: datetime
    event_groups: tuple[str, ...]
    terms: tuple[str, ...]  # reported terms (the card's symptom labels)
    meddra: tuple[tuple[str, str], ...] = ()  # (code, term) where the county coded them
    seriousness: dict[str, bool] = field(default_factory=dict)
    other_important: bool = False
    outcome: str = "unknown"
    dose_ids: tuple[str, ...] = ()
    causality: tuple[Causality, ...] = ()
    description: str = ""


def _instant(at: datetime) -> str:
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return at.isoformat()


def patient(p: PatientFacts) -> Patient:
    body: dict[str, Any] = {"resourceType": "Patient", "id": p.id}
    if p.name:
        body["name"] = [{"text": p.name}]
    if p.id_number:
        body["identifier"] = [{"system": CN_RESIDENT_ID, "value": p.id_number}]
    body["gender"] = p.sex if p.sex in ("male", "female") else "unknown"
    if p.birth_on:
        body["birthDate"] = p.birth_on.isoformat()
    return Patient.model_validate(body)


def immunization(d: DoseFacts) -> Immunization:
    body: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": d.id,
        "status": "completed",
        "vaccineCode": {
            "coding": [{"system": AEFI_VACCINE, "code": d.vaccine_code, "display": d.vaccine_name}],
            "text": d.vaccine_name,
        },
        "patient": {"reference": f"Patient/{d.patient_id}"},
        "occurrenceDateTime": _instant(d.administered_at),
        "lotNumber": d.lot_number,
    }
    if d.manufacturer:
        body["manufacturer"] = {"display": d.manufacturer}
    if d.route in ROUTES:
        code, display = ROUTES[d.route]
        body["route"] = {"coding": [{"system": V3_ROUTE, "code": code, "display": display}]}
    elif d.route:
        body["route"] = {"text": d.route}
    if d.body_site:
        body["site"] = {"text": d.body_site}
    if d.site_code or d.site_name:
        location: dict[str, Any] = {"display": d.site_name or d.site_code}
        if d.site_code:
            location["identifier"] = {"system": "urn:aefi:site-code", "value": d.site_code}
        body["location"] = location
    if d.dose_number:
        # IMMZ.Immunization carries the dose number as a string (protocolApplied).
        body["protocolApplied"] = [{"doseNumberString": str(d.dose_number)}]
    return Immunization.model_validate(body)


def adverse_event(e: EventFacts) -> AdverseEvent:
    group = next((g for g in MANIFESTATION if g in e.event_groups), None)
    code, display = MANIFESTATION[group] if group else OTHER_MANIFESTATION
    codings = [{"system": IMMZ_CODES, "code": code, "display": display}]
    codings += [{"system": MEDDRA, "code": c, "display": t} for c, t in e.meddra]
    serious = next(((c, d) for attr, c, d in SERIOUSNESS if e.seriousness.get(attr)), None)
    s_code, s_display = serious or NON_SERIOUS
    o_code, o_display, hl7_outcome = OUTCOME.get(e.outcome, OUTCOME["unknown"])
    body: dict[str, Any] = {
        "resourceType": "AdverseEvent",
        "id": e.id,
        "meta": {"profile": [IMMZ_AE_PROFILE]},
        "identifier": {"system": ICSR_SAFETY_REPORT_ID, "value": e.safety_report_id},
        "actuality": "actual",
        "event": {"coding": codings, "text": "; ".join(e.terms) or display},
        "subject": {"reference": f"Patient/{e.patient_id}"},
        "date": _instant(e.onset_at),
        "recordedDate": _instant(e.recorded_at),
        "seriousness": {
            "coding": [
                {"system": IMMZ_CODES, "code": s_code, "display": s_display},
                {"system": HL7_SERIOUSNESS, "code": "serious" if serious else "non-serious"},
            ]
        },
        "outcome": {
            "coding": [
                {"system": IMMZ_CODES, "code": o_code, "display": o_display},
                {"system": HL7_OUTCOME, "code": hl7_outcome},
            ]
        },
        "extension": [{"url": IMMZ_OTHER_EVENT, "valueBoolean": e.other_important}],
        "suspectEntity": [
            {
                "instance": {"reference": f"Immunization/{dose_id}"},
                **(
                    {
                        "causality": [
                            {
                                "assessment": {"text": c.result},
                                "method": {"text": c.method},
                                "author": {"display": c.author},
                            }
                            for c in e.causality
                        ]
                    }
                    if e.causality
                    else {}
                ),
            }
            for dose_id in e.dose_ids
        ],
    }
    if e.description:
        body["text"] = {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml">' + _escape(e.description) + "</div>",
        }
    return AdverseEvent.model_validate(body)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def case_bundle(
    event: AdverseEvent, pat: Patient, doses: list[Immunization], worldwide_case_id: str
) -> Bundle:
    """The case as one collection: the AdverseEvent with its Patient and Immunizations."""
    entries = [event, pat, *doses]
    return Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "identifier": {"system": ICSR_WORLDWIDE_ID, "value": worldwide_case_id},
            "timestamp": datetime.now(UTC).isoformat(),
            "entry": [
                {"fullUrl": f"{r.get_resource_type()}/{r.id}", "resource": r.model_dump()}
                for r in entries
            ],
        }
    )


def outcome(issues: list[tuple[str, str, str]]) -> OperationOutcome:
    """(severity, code, text, ...) issues; ``expression`` is the entry they concern."""
    return OperationOutcome.model_validate(
        {
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": sev, "code": code, "diagnostics": text} for sev, code, text in issues
            ],
        }
    )
