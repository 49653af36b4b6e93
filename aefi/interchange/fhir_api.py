"""FHIR R4 routes (API.md, "Interchange"; OpenAPI tag ``fhir``), JSON as application/fhir+json."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from aefi.deps import ApiActor, SessionDep
from aefi.interchange import fhir, fhir_service
from aefi.types import Id

router = APIRouter(prefix="/api/v1/fhir", tags=["fhir"])

FHIR_JSON = "application/fhir+json"
FhirId = Path(pattern=r"^[A-Za-z0-9\-\.]{1,64}$")
_RESOURCE = {200: {"content": {FHIR_JSON: {}}, "description": "FHIR R4 resource"}}


def _fhir(body: dict[str, Any], status_code: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, media_type=FHIR_JSON)


@router.get("/AdverseEvent/{report_id}", response_class=JSONResponse, responses=_RESOURCE)
def adverse_event(report_id: Id, session: SessionDep, actor: ApiActor) -> JSONResponse:
    """The report as an AdverseEvent (WHO SMART IMMZ.AdverseEvent)."""
    return _fhir(fhir_service.adverse_event(session, actor, report_id))


@router.get("/AdverseEvent/{report_id}/bundle", response_class=JSONResponse, responses=_RESOURCE)
def case_bundle(report_id: Id, session: SessionDep, actor: ApiActor) -> JSONResponse:
    """The case as a collection Bundle: AdverseEvent, Patient, Immunizations."""
    return _fhir(fhir_service.case_bundle(session, actor, report_id))


@router.get("/Immunization/{immunization_id}", response_class=JSONResponse, responses=_RESOURCE)
def immunization(
    session: SessionDep, actor: ApiActor, immunization_id: str = FhirId
) -> JSONResponse:
    """A dose: ``123`` a registry dose, ``rd45`` a dose entered by hand on a report."""
    return _fhir(fhir_service.immunization(session, actor, immunization_id))


@router.get("/Patient/{person_id}", response_class=JSONResponse, responses=_RESOURCE)
def patient(person_id: Id, session: SessionDep, actor: ApiActor) -> JSONResponse:
    return _fhir(fhir_service.patient(session, actor, person_id))


@router.post(
    "",
    response_class=JSONResponse,
    responses={
        200: {"content": {FHIR_JSON: {}}, "description": "transaction-response Bundle"},
        400: {"content": {FHIR_JSON: {}}, "description": "OperationOutcome"},
        409: {"content": {FHIR_JSON: {}}, "description": "OperationOutcome (halted lot)"},
        422: {"content": {FHIR_JSON: {}}, "description": "OperationOutcome"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                FHIR_JSON: {"schema": {"type": "object"}},
                "application/json": {"schema": {"type": "object"}},
            },
        }
    },
)
async def push(request: Request, session: SessionDep, actor: ApiActor) -> JSONResponse:
    """A transaction Bundle of Immunization (and Patient) resources from the immunization
    information system, recorded as doses with the dose API's checks; a halted lot's entry
    (or any refused entry) is answered with an OperationOutcome and nothing is recorded."""
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        return _fhir(
            fhir.outcome([("error", "structure", "the body is not JSON")]).model_dump(mode="json"),
            400,
        )
    if not isinstance(body, dict):
        return _fhir(
            fhir.outcome([("error", "structure", "send a FHIR Bundle object")]).model_dump(
                mode="json"
            ),
            400,
        )
    try:
        return _fhir(fhir_service.push_bundle(session, actor, body))
    except fhir_service.FhirRefused as refused:
        return _fhir(refused.outcome, refused.status_code)
