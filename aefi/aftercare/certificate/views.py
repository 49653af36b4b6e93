"""The certificate: a printable page and its PDF, from a person's page or the board."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from aefi import clock
from aefi.aftercare.certificate import service
from aefi.deps import SessionDep, WebActor
from aefi.pdf import render_pdf
from aefi.settings import get_settings
from aefi.types import Id
from aefi.web import render

router = APIRouter()


def _certificate(request: Request, session, actor, person_id: int, dose: int | None):
    return service.certificate(
        session,
        actor,
        person_id,
        settings=get_settings(),
        base_url=str(request.base_url),
        dose_id=dose,
    )


@router.get("/persons/{person_id:int}/certificate")
def certificate_page(
    request: Request, person_id: Id, session: SessionDep, actor: WebActor, dose: Id | None = None
):
    cert = _certificate(request, session, actor, person_id, dose)
    return render(request, "aftercare/certificate.html", {"cert": cert})


@router.get("/persons/{person_id:int}/certificate.pdf")
def certificate_pdf(
    request: Request, person_id: Id, session: SessionDep, actor: WebActor, dose: Id | None = None
):
    cert = _certificate(request, session, actor, person_id, dose)
    pdf = render_pdf("pdf/certificate.html", {"cert": cert, "issued_at": clock.now()})
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="certificate-{person_id}.pdf"'},
    )
