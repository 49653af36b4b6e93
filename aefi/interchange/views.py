"""E2B(R3) download from the report page."""

from __future__ import annotations

from fastapi import APIRouter, Response

from aefi.deps import SessionDep, WebActor
from aefi.interchange.export import service as export
from aefi.types import Id

router = APIRouter()


@router.get("/reports/{report_id:int}/e2b.xml", include_in_schema=False)
def download_report(report_id: Id, session: SessionDep, actor: WebActor) -> Response:
    xml = export.export_reports(session, actor, [report_id])
    return Response(
        content=xml,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="icsr-report-{report_id}.xml"'},
    )
