"""E2B(R3) JSON-API routes (API.md, "Interchange"; OpenAPI tag ``e2b``): XML in and out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from aefi.deps import ApiActor, SessionDep
from aefi.errors import Invalid
from aefi.intake.listing.service import ReportFilter
from aefi.interchange.export import service as export
from aefi.interchange.receive import service as receive
from aefi.types import Id, When

router = APIRouter(prefix="/api/v1", tags=["e2b"])

XML = "application/xml"
MAX_UPLOAD = 20 * 1024 * 1024  # 500 two-vaccine cases measured 10 MB; FDA mega instance 2 MB
_XML_RESPONSE = {200: {"content": {XML: {}}, "description": "E2B(R3) XML"}}


def _xml(body: bytes, filename: str) -> Response:
    return Response(
        content=body,
        media_type=XML,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/reports/{report_id}/e2b", response_class=Response, responses=_XML_RESPONSE)
def export_report(
    report_id: Id, session: SessionDep, actor: ApiActor, receiver: str = ""
) -> Response:
    """One case as an ICH E2B(R3) ICSR batch (MCCI_IN200100UV01) at its current version."""
    xml = export.export_reports(session, actor, [report_id], receiver=receiver[:60])
    return _xml(xml, f"icsr-report-{report_id}.xml")


@router.get("/e2b/reports", response_class=Response, responses=_XML_RESPONSE)
def export_batch(
    session: SessionDep,
    actor: ApiActor,
    ids: Annotated[list[Id], Query(max_length=export.MAX_BATCH)] = [],  # noqa: B006
    lot_number: str = "",
    site_code: str = "",
    vaccine_code: str = "",
    serious: bool | None = None,
    since: When | None = None,
    until: When | None = None,
    receiver: str = "",
) -> Response:
    """A batch of cases: the listed ``ids``, or else every report matching the filter
    (the filters of ``GET /api/v1/reports``), at most 500."""
    if ids:
        xml = export.export_reports(session, actor, list(ids), receiver=receiver[:60])
    else:
        flt = ReportFilter(
            since=since,
            until=until,
            site_code=site_code,
            vaccine_code=vaccine_code,
            lot_number=lot_number,
            serious=serious,
        )
        xml = export.export_filtered(session, actor, flt, receiver=receiver[:60])
    return _xml(xml, "icsr-batch.xml")


@router.post(
    "/e2b",
    response_class=Response,
    responses=_XML_RESPONSE,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {XML: {"schema": {"type": "string"}}},
        }
    },
)
async def receive_batch(
    request: Request, session: SessionDep, actor: ApiActor, site_code: str = ""
) -> Response:
    """Receive an ICSR batch: each case is filed as a report (or a follow-up of the one
    filed before under the same worldwide case number); the answer is the acknowledgement
    (MCCI_IN200101UV01), also when the batch is refused (AR, with the reason)."""
    body = await request.body()
    if len(body) > MAX_UPLOAD:
        raise Invalid("The batch is larger than 20 MB; split it.", fields={"body": "too large"})
    result = receive.import_batch(session, actor, body, site_code=site_code[:32])
    return _xml(result.ack_xml, f"ack-{result.ack.ack_number}.xml")
