"""Admin pages of the registry: list, search, create and edit reference data; doses and
persons; the import page."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse

from aefi import audit, i18n, listing
from aefi.auth.permissions import mask_id_number, require_role, sees_identity
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.i18n import N_
from aefi.registry import access, importer
from aefi.registry.doses import service as doses
from aefi.registry.records import service as records
from aefi.registry.records.form import record_values
from aefi.types import Id
from aefi.web import flash, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])


def _form_context(session, actor, kind, values, errors, record=None):
    options = {
        spec.name: records.choices(session, actor, spec.choices)
        for spec in kind.fields
        if spec.choices
    }
    events = audit.timeline(session, kind.model.__tablename__, record.id) if record else []
    state = records.lot_state(session, actor, record) if record and kind.name == "lots" else None
    return {
        "state": state,
        "kind": kind,
        "values": values,
        "errors": errors,
        "options": options,
        "record": record,
        "events": events,
    }


@dataclass(frozen=True)
class RecordQuery:
    """A reference-data list's filter: a code or name."""

    q: str = listing.labelled("", N_("Search"))


@router.get("/registry/{kind_name}")
def list_page(request: Request, kind_name: str, session: SessionDep, actor: WebActor):
    kind = records.get_kind(kind_name)
    flt = listing.read(RecordQuery, request.query_params)
    page = listing.fetch(
        lambda n, size: records.list_records(session, actor, kind, q=flt.q, page=n, per_page=size),
        listing.paging(request.query_params, per_page=50),
    )
    ctx = {"kind": kind, **listing.context(f"/registry/{kind.name}", flt, page)}
    ctx["can_create"] = records.can_create(actor, kind)
    # A select field shows its option's name (a township, a hospital), never the stored id.
    ctx["shown"] = {
        f.name: {v: i18n.pick(zh, en) for v, zh, en in records.choices(session, actor, f.choices)}
        for f in kind.fields
        if f.kind == "select" and f.choices
    }
    if "region_levels" in {f.choices for f in kind.fields}:
        ctx["shown"]["level"] = {
            v: i18n.pick(zh, en) for v, (zh, en) in records.REGION_LEVEL_NAMES.items()
        }
    if kind.name == "lots":
        ctx["states"] = {r.id: records.lot_state(session, actor, r) for r in page.items}
    return render(request, "registry/list.html", ctx, block="results")


@router.get("/registry/{kind_name}/new")
def new_page(request: Request, kind_name: str, session: SessionDep, actor: WebActor):
    kind = records.get_kind(kind_name)
    require_role(actor, *access.READERS)
    return render(request, "registry/form.html", _form_context(session, actor, kind, {}, {}))


@router.get("/registry/{kind_name}/{record_id:int}")
def edit_page(
    request: Request, kind_name: str, record_id: Id, session: SessionDep, actor: WebActor
):
    kind = records.get_kind(kind_name)
    record = records.get_record(session, actor, kind, record_id)
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
    kind = records.get_kind(kind_name)
    # A status (or halt, or county) field sent with the form is refused, not dropped: the
    # record's state changes only through its decisions (registry.lot_states).
    values = record_values(kind, await request.form())
    try:
        obj = records.save_record(session, actor, kind, record_id, values)
    except Invalid as exc:
        session.rollback()
        record = records.get_record(session, actor, kind, record_id) if record_id else None
        ctx = _form_context(session, actor, kind, values, exc.fields, record)
        ctx["error"] = i18n.gettext(exc.message, **exc.params)
        return render(request, "registry/form.html", ctx, status_code=422)
    flash(request, i18n.gettext("Saved."), "success")
    return RedirectResponse(f"/registry/{kind.name}/{obj.id}", status_code=303)


@dataclass(frozen=True)
class DoseQuery:
    """The dose search: an ID number, a name or a phone number."""

    q: str = listing.labelled("", N_("ID number, name or phone"))


@router.get("/doses")
def doses_page(request: Request, session: SessionDep, actor: WebActor):
    flt = listing.read(DoseQuery, request.query_params)
    rows = doses.find_doses(session, actor, q=flt.q, limit=100) if flt.q else []
    return render(
        request,
        "registry/doses.html",
        {**listing.context("/doses", flt, listing.Page.whole(rows)), "mask": mask_id_number},
        block="results",
    )


@router.get("/persons/{person_id:int}")
def person_page(
    request: Request, person_id: Id, session: SessionDep, actor: WebActor, reveal: bool = False
):
    person = doses.get_person(session, actor, person_id, reveal=reveal)
    person_doses = doses.find_doses(session, actor, person_id=person_id, limit=500)
    return render(
        request,
        "registry/person.html",
        {
            "person": person,
            "doses": person_doses,
            "revealed": reveal,
            "can_reveal": sees_identity(actor),
            "mask": mask_id_number,
        },
    )


@router.get("/imports/doses")
def import_page(request: Request, actor: WebActor):
    require_role(actor, *access.DOSE_WRITERS)
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
