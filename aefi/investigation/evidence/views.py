"""Files of evidence and notes on a case."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse
from pydantic import BaseModel

from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.forms import parse_form
from aefi.investigation.evidence import checks as evidence
from aefi.investigation.evidence import service as case_evidence
from aefi.investigation.labels import (
    error_text,
    part_ctx,
)
from aefi.types import Id
from aefi.web import flash, is_htmx, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])


class NoteForm(BaseModel):
    text: str = ""


# --- evidence ----------------------------------------------------------------------------


def _evidence_response(request, session, actor, case_id, status_code=200, **extra):
    if is_htmx(request):
        return render(
            request,
            "investigation/_evidence.html",
            part_ctx(case_evidence.evidence_part(session, actor, case_id), **extra),
            status_code=status_code,
        )
    for msg in extra.values():
        if isinstance(msg, str) and msg:
            flash(request, msg, "error")
    return RedirectResponse(f"/cases/{case_id}#evidence", status_code=303)


@router.post("/cases/{case_id:int}/attachments")
def upload(
    request: Request,
    case_id: Id,
    session: SessionDep,
    actor: WebActor,
    file: UploadFile | None = File(None),
    description: str = Form(""),
):
    try:
        if file is None:
            raise Invalid("Choose a file.", fields={"file": "Choose a file."})
        case_evidence.add_attachment(
            session, actor, case_id, file.filename or "", file.file, description
        )
    except Invalid as exc:
        session.rollback()
        return _evidence_response(
            request,
            session,
            actor,
            case_id,
            status_code=422,
            upload_error=error_text(exc),
            typed_description=description,
        )
    return _evidence_response(request, session, actor, case_id)


@router.get("/cases/{case_id:int}/attachments/{attachment_id:int}")
def download(case_id: Id, attachment_id: Id, session: SessionDep, actor: WebActor):
    attachment, path = case_evidence.open_attachment(session, actor, case_id, attachment_id)
    inline = attachment.kind in ("pdf", "jpg", "png")
    disposition = "inline" if inline else "attachment"
    name = quote(attachment.filename)
    headers = {
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{name}",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-store",
    }
    if attachment.kind != "pdf":
        # A file is evidence, never a page: nothing in it may run. (Not for PDF, which the
        # browser's own viewer shows.)
        headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'"
    return FileResponse(path, media_type=evidence.mime_type(attachment.kind), headers=headers)


@router.post("/cases/{case_id:int}/attachments/{attachment_id:int}/remove")
def remove(request: Request, case_id: Id, attachment_id: Id, session: SessionDep, actor: WebActor):
    case_evidence.remove_attachment(session, actor, case_id, attachment_id)
    return _evidence_response(request, session, actor, case_id)


@router.post("/cases/{case_id:int}/notes")
async def note(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    data = await parse_form(request, NoteForm)
    text = data.text if isinstance(data, NoteForm) else ""
    try:
        case_evidence.add_note(session, actor, case_id, text)
    except Invalid as exc:
        session.rollback()
        return _evidence_response(
            request,
            session,
            actor,
            case_id,
            status_code=422,
            note_error=error_text(exc),
            typed_note=text,
        )
    return _evidence_response(request, session, actor, case_id)
