"""Interchange over HTTP: E2B(R3) export and import (XML), FHIR R4 resources parsed with
fhir.resources R4B, an IIS transaction Bundle recorded as doses and refused for a halted lot."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fhir.resources.R4B.adverseevent import AdverseEvent
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.immunization import Immunization
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient
from sqlmodel import select

from aefi.audit import AuditEvent
from aefi.auth.models import User
from aefi.interchange.ack import read_ack
from aefi.interchange.e2b_reader import read_batch
from aefi.interchange.validation import schema_errors
from aefi.registry.models import Dose, Lot, Site
from aefi.settings import get_settings
from tests.conftest import api_token, login
from tests.factories import nth_dose_at

# Not converted to the small county yet: the cases are filed on the demo county's doses.
pytestmark = pytest.mark.demo_county

STANDARDS = get_settings().standards_dir


def _report(client, session) -> dict:
    """A report filed by the reporter on the first dose of its own site (made when the
    small county has none)."""
    me = session.exec(select(User).where(User.username == "reporter")).one()
    dose = nth_dose_at(session, me.site_id)
    body = {
        "dose_ids": [dose.id],
        "onset_at": (dose.administered_at + timedelta(minutes=20)).isoformat(),
        "symptoms": ["FEVER"],
        "outcome": "recovering",
        "reporter_name": "刘医生",
        "reporter_phone": "13800000000",
        "confirm_new_event": True,
    }
    r = client.post("/api/v1/reports", headers=api_token(client, "reporter"), json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_e2b_export_of_one_case_and_a_batch(client, county, session):
    report = _report(client, session)
    inv = api_token(client, "investigator")
    r = client.get(f"/api/v1/reports/{report['id']}/e2b", headers=inv)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/xml")
    assert schema_errors(r.content, STANDARDS) == []
    assert read_batch(r.content).batch.messages[0].safety_report_id.endswith(report["number"])
    r = client.get("/api/v1/e2b/reports", headers=inv, params={"ids": [report["id"]]})
    assert r.status_code == 200 and schema_errors(r.content, STANDARDS) == []
    assert (
        client.get(
            f"/api/v1/reports/{report['id']}/e2b", headers=api_token(client, "reporter")
        ).status_code
        == 403
    )
    assert client.get("/api/v1/reports/999999/e2b", headers=inv).status_code == 404
    assert (
        client.get(
            "/api/v1/e2b/reports", headers=inv, params={"lot_number": "NO-SUCH-LOT"}
        ).status_code
        == 404
    )


def test_e2b_import_answers_with_a_valid_acknowledgement(client, county, session):
    inv = api_token(client, "investigator")
    xml = (STANDARDS / "e2br3/examples/VAERS_EXAMPLE.xml").read_bytes()
    r = client.post("/api/v1/e2b", headers={**inv, "Content-Type": "application/xml"}, content=xml)
    assert r.status_code == 200, r.text
    assert schema_errors(r.content, STANDARDS, ack=True) == []
    ack = read_ack(r.content)
    assert ack.code == "AA" and ack.messages[0].local_id
    r = client.post("/api/v1/e2b", headers=inv, content=b"garbage")
    assert r.status_code == 200 and read_ack(r.content).code == "AR"
    assert (
        client.post("/api/v1/e2b", headers=api_token(client, "reporter"), content=xml).status_code
        == 403
    )


def test_report_page_links_the_download(client, county, session):
    report = _report(client, session)
    # The reporter reads the report but may not export it: no link (interchange.access).
    login(client, "reporter")
    page = client.get(f"/reports/{report['id']}")
    assert page.status_code == 200 and "e2b.xml" not in page.text
    login(client, "investigator")
    page = client.get(f"/reports/{report['id']}")
    assert f"/reports/{report['id']}/e2b.xml" in page.text
    r = client.get(f"/reports/{report['id']}/e2b.xml")
    assert r.status_code == 200 and schema_errors(r.content, STANDARDS) == []


def test_fhir_resources_parse_with_r4b(client, county, session):
    report = _report(client, session)
    inv = api_token(client, "investigator")
    r = client.get(f"/api/v1/fhir/AdverseEvent/{report['id']}", headers=inv)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    event = AdverseEvent.model_validate(r.json())
    assert event.seriousness.coding[0].code == "DE174"  # non serious (IMMZ.D.DE107)
    assert event.event.coding[0].code == "DE104"  # fever (IMMZ.D.DE95)
    assert event.outcome.coding[0].code == "DE119"  # recovering (IMMZ.D.DE115)
    dose_ref = event.suspectEntity[0].instance.reference
    imm = client.get(f"/api/v1/fhir/{dose_ref}", headers=inv)
    immunization = Immunization.model_validate(imm.json())
    assert immunization.lotNumber and immunization.status == "completed"
    pat = client.get(f"/api/v1/fhir/{event.subject.reference}", headers=inv)
    assert Patient.model_validate(pat.json()).gender in ("male", "female", "unknown")
    bundle = client.get(f"/api/v1/fhir/AdverseEvent/{report['id']}/bundle", headers=inv)
    parsed = Bundle.model_validate(bundle.json())
    assert [e.resource.get_resource_type() for e in parsed.entry] == [
        "AdverseEvent",
        "Patient",
        "Immunization",
    ]
    assert client.get("/api/v1/fhir/Immunization/bad$id", headers=inv).status_code in (404, 422)
    assert client.get("/api/v1/fhir/AdverseEvent/999999", headers=inv).status_code == 404


def _bundle(lot: str, site: str, id_number: str = "330782201501010027") -> dict:
    return {
        "resourceType": "Bundle",
        "id": "iis-push-1",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:7f0b8d2e-0000-4000-8000-000000000001",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"value": id_number}],
                    "name": [{"text": "王小明"}],
                    "gender": "male",
                    "birthDate": "2025-01-02",
                },
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": "urn:uuid:7f0b8d2e-0000-4000-8000-000000000002",
                "resource": {
                    "resourceType": "Immunization",
                    "status": "completed",
                    "vaccineCode": {"text": "vaccine"},
                    "patient": {"reference": "urn:uuid:7f0b8d2e-0000-4000-8000-000000000001"},
                    "occurrenceDateTime": "2026-01-05T09:30:00+08:00",
                    "lotNumber": lot,
                    "location": {"identifier": {"value": site}},
                    "route": {"coding": [{"code": "IM"}]},
                    "protocolApplied": [{"doseNumberPositiveInt": 2}],
                },
                "request": {"method": "POST", "url": "Immunization"},
            },
        ],
    }


def test_an_iis_bundle_posts_doses_and_a_halted_lot_is_refused(client, county, session):
    iis = api_token(client, "iis")
    lot = session.exec(select(Lot).where(Lot.status == "active").order_by(Lot.id)).first()
    site = session.exec(select(Site).where(Site.halted == False).order_by(Site.id)).first()  # noqa: E712
    r = client.post("/api/v1/fhir", headers=iis, json=_bundle(lot.lot_number, site.code))
    assert r.status_code == 200, r.text
    reply = Bundle.model_validate(r.json())
    assert reply.type == "transaction-response"
    location = reply.entry[0].response.location
    dose = session.get(Dose, int(location.split("/")[1]))
    session.refresh(dose)
    assert dose.dose_number == 2 and dose.route == "im" and dose.lot_id == lot.id
    push = session.exec(select(AuditEvent).where(AuditEvent.action == "fhir_push")).one()
    assert push.changes["doses"] == [dose.id] and push.changes["bundle"] == "iis-push-1"

    r = client.post(
        "/api/v1/halts",
        headers=api_token(client, "bureau"),
        json={"scope": "lot", "target": lot.lot_number, "reason": "叫停决定 2026-009"},
    )
    assert r.status_code == 201, r.text
    before = len(session.exec(select(Dose)).all())
    r = client.post(
        "/api/v1/fhir", headers=iis, json=_bundle(lot.lot_number, site.code, "330782201501010035")
    )
    assert r.status_code == 409
    outcome = OperationOutcome.model_validate(r.json())
    assert "entry[1]" in outcome.issue[0].diagnostics
    assert "2026-009" in outcome.issue[0].diagnostics
    assert len(session.exec(select(Dose)).all()) == before  # nothing recorded


def test_a_bad_bundle_gets_an_operation_outcome(client, county):
    iis = api_token(client, "iis")
    for body in (
        {"resourceType": "Patient"},
        {"resourceType": "Bundle", "type": "searchset"},
        _bundle("NO-SUCH-LOT", "NO-SITE"),
    ):
        r = client.post("/api/v1/fhir", headers=iis, json=body)
        assert r.status_code in (400, 422), r.text
        OperationOutcome.model_validate(r.json())
    r = client.post(
        "/api/v1/fhir",
        headers={**iis, "Content-Type": "application/fhir+json"},
        content=b"{not json",
    )
    assert r.status_code == 400
    assert (
        client.post(
            "/api/v1/fhir", headers=api_token(client, "bureau"), json=_bundle("X", "Y")
        ).status_code
        == 403
    )
