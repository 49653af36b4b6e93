"""Admin pages of the registry: list, search, create and edit reference data; doses and
persons; the import page."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse

from aefi import audit, i18n
from aefi.auth.permissions import mask_id_number, sees_identity
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.registry import importer, service
from aefi.types import Id, PageNo
from aefi.web import flash, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])


def _form_context(session, actor, kind, values, errors, record=None):
    options = {
        spec.name: service.choices(session, actor, spec.choices)
        for spec in kind.fields
        if spec.choices
    }
    events = audit.timeline(session, kind.model.__tablename__, record.id) if record else []
    state = service.lot_state(session, actor, record) if record and kind.name == "lots" else None
    return {
        "state": state,
        "kind": kind,
        "values": values,
        "errors": errors,
        "options": options,
        "record": record,
        "events": events,
    }


@router.get("/registry/{kind_name}")
def list_page(
    request: Request,
    kind_name: str,
    session: SessionDep,
    actor: WebActor,
    q: str = "",
    page: PageNo = 1,
):
    kind = service.get_kind(kind_name)
    rows, total = service.list_records(session, actor, kind, q=q, page=max(page, 1))
    ctx = {"kind": kind, "rows": rows, "total": total, "q": q, "page": max(page, 1), "per_page": 50}
    ctx["can_create"] = service.can_create(actor, kind)
    if kind.name == "lots":
        ctx["states"] = {r.id: service.lot_state(session, actor, r) for r in rows}
    return render(request, "registry/list.html", ctx, block="results")


@router.get("/registry/{kind_name}/new")
def new_page(request: Request, kind_name: str, session: SessionDep, actor: WebActor):
    kind = service.get_kind(kind_name)
    service.require_role(actor, *service.READERS)
    return render(request, "registry/form.html", _form_context(session, actor, kind, {}, {}))


@router.get("/registry/{kind_name}/{record_id:int}")
def edit_page(
    request: Request, kind_name: str, record_id: Id, session: SessionDep, actor: WebActor
):
    kind = service.get_kind(kind_name)
    record = service.get_record(session, actor, kind, record_id)
    values = {f.name: getattr(record, f.name) for f in kind.fields}
    return render(
        request, "registry/form.html", _form_context(session, actor, kind, values, {}, record)
    )


@router.post("/registry/{kind_name}/new")
@router.post("/registry/{kind_name}/{record_id:int}")
async def save(
    request: Request,
    kind_name: str,
    session: SessionDep,
    actor: WebActor,
    record_id: Id | None = None,
):
    kind = service.get_kind(kind_name)
    form = await request.form()
    values = {f.name: form.get(f.name) for f in kind.fields}
    # A status (or halt, or county) field sent with the form is refused, not dropped: the
    # record's state changes only through its decisions (registry.lot_states).
    values.update({f: form.get(f) for f in service.protected_fields(kind) if f in form})
    try:
        obj = service.save_record(session, actor, kind, record_id, values)
    except Invalid as exc:
        session.rollback()
        record = service.get_record(session, actor, kind, record_id) if record_id else None
        ctx = _form_context(session, actor, kind, values, exc.fields, record)
        ctx["error"] = i18n.gettext(exc.message, **exc.params)
        return render(request, "registry/form.html", ctx, status_code=422)
    flash(request, i18n.gettext("Saved."), "success")
    return RedirectResponse(f"/registry/{kind.name}/{obj.id}", status_code=303)


@router.get("/doses")
def doses_page(request: Request, session: SessionDep, actor: WebActor, q: str = ""):
    rows = service.find_doses(session, actor, q=q, limit=100)
    return render(
        request,
        "registry/doses.html",
        {"rows": rows, "q": q, "mask": mask_id_number},
        block="results",
    )


@router.get("/persons/{person_id:int}")
def person_page(
    request: Request, person_id: Id, session: SessionDep, actor: WebActor, reveal: bool = False
):
    person = service.get_person(session, actor, person_id, reveal=reveal)
    doses = service.find_doses(session, actor, person_id=person_id, limit=500)
    return render(
        request,
        "registry/person.html",
        {
            "person": person,
            "doses": doses,
            "revealed": reveal,
            "can_reveal": sees_identity(actor),
            "mask": mask_id_number,
        },
    )


@router.get("/imports/doses")
def import_page(request: Request, actor: WebActor):
    service.require_role(actor, *service.DOSE_WRITERS)
    return render(request, "registry/import.html", {"columns": importer.COLUMNS})


@router.post("/imports/doses")
def import_upload(
    request: Request,
    session: SessionDep,
    actor: WebActor,
    file: UploadFile = File(...),
    all_or_nothing: bool = Form(False),
):
    report = importer.import_doses(
        session, actor, file.file, all_or_nothing=all_or_nothing, filename=file.filename or ""
    )
    return render(
        request,
        "registry/import.html",
        {"columns": importer.COLUMNS, "report": report, "all_or_nothing": all_or_nothing},
    )
