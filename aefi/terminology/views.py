"""Admin page of reported terms: counts, unmapped filter, the mapping edited in its row."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from aefi import i18n, listing
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.forms import parse_form
from aefi.i18n import N_
from aefi.intake.symptoms import BY_CODE, EVENT_GROUPS
from aefi.terminology import access, body_systems, service
from aefi.terminology.models import SYSTEMS
from aefi.web import flash, is_htmx, render, verify_csrf

router = APIRouter(prefix="/admin/terminology", dependencies=[Depends(verify_csrf)])

SYSTEM_LABELS = {
    "vaers": N_("VAERS term"),
    "meddra_llt": N_("MedDRA lowest level term"),
    "meddra_pt": N_("MedDRA preferred term"),
    "verbatim": N_("Verbatim"),
}


def _labels() -> dict:
    loc = i18n.get_locale()
    return {
        "systems": [(s, i18n.gettext(SYSTEM_LABELS[s])) for s in SYSTEMS],
        "system_label": lambda s: i18n.gettext(SYSTEM_LABELS.get(s, s)) if s else "",
        "code_label": lambda c: i18n.pick(BY_CODE[c].zh, BY_CODE[c].en) if c in BY_CODE else "",
        "group_label": lambda g: i18n.pick(*EVENT_GROUPS[g]) if g in EVENT_GROUPS else "",
        "body_label": lambda b: body_systems.label(b, loc),
        "choices": service.choices(loc),
    }


@dataclass(frozen=True)
class TermQuery:
    """The term list's filters, as the query string carries them."""

    q: str = listing.labelled("", N_("Search"))
    system: str = listing.choice(SYSTEMS, label=N_("Coding system"))
    unmapped: bool = listing.labelled(False, N_("Unmapped only"))


@router.get("")
def terms_page(request: Request, session: SessionDep, actor: WebActor):
    flt = listing.read(TermQuery, request.query_params)
    wanted = service.TermFilter(q=flt.q, system=flt.system, unmapped=flt.unmapped)
    page = listing.fetch(
        lambda n, size: service.list_terms(session, actor, wanted, page=n, per_page=size),
        listing.paging(request.query_params, per_page=50),
    )
    return render(
        request,
        "terminology/terms.html",
        {
            **listing.context("/admin/terminology", flt, page),
            "can_edit": access.can_map(actor),
            "edit_id": None,
            **_labels(),
        },
        block="results",
    )


def _row(request: Request, row, *, edit: bool, errors=None, values=None, status: int = 200):
    return render(
        request,
        "terminology/_row.html",
        {
            "r": row,
            "edit": edit,
            "errors": errors or {},
            "values": values or {},
            "can_edit": True,
            **_labels(),
        },
        status_code=status,
    )


@router.get("/{term_id}/edit")
def edit_row(request: Request, session: SessionDep, actor: WebActor, term_id: int):
    row = service.get_term(session, actor, term_id)
    can_edit = access.can_map(actor)
    if not is_htmx(request):  # without JavaScript: the page with this one row to edit
        return render(
            request,
            "terminology/terms.html",
            {
                **listing.context(
                    "/admin/terminology",
                    TermQuery(q=row.term.text, system=row.term.system),
                    listing.Page.whole([row]),
                ),
                "can_edit": can_edit,
                "edit_id": term_id if can_edit else None,
                **_labels(),
            },
        )
    return _row(request, row, edit=can_edit)


@router.get("/{term_id}")
def show_row(request: Request, session: SessionDep, actor: WebActor, term_id: int):
    row = service.get_term(session, actor, term_id)
    if not is_htmx(request):
        return RedirectResponse(f"/admin/terminology?q={quote(row.term.text)}", status_code=303)
    return _row(request, row, edit=False)


class MappingForm(BaseModel):
    """A term's mapping as typed; the service checks the codes against the dictionary."""

    symptom_code: str = ""
    event_group: str = ""
    body_system: str = ""


@router.post("/{term_id}")
async def save_mapping(request: Request, session: SessionDep, actor: WebActor, term_id: int):
    form = await parse_form(request, MappingForm)
    values = (form if isinstance(form, MappingForm) else MappingForm()).model_dump()
    try:
        row = service.update_mapping(session, actor, term_id, **values)
    except Invalid as exc:
        session.rollback()
        row = service.get_term(session, actor, term_id)
        errors = {k: i18n.gettext(v) for k, v in exc.fields.items()}
        if not is_htmx(request):
            flash(request, i18n.gettext(exc.message), "error")
            return RedirectResponse(f"/admin/terminology/{term_id}/edit", status_code=303)
        return _row(request, row, edit=True, errors=errors, values=values, status=422)
    message = i18n.gettext("Mapping of {term} saved.", term=row.term.text)
    if not is_htmx(request):
        flash(request, message, "success")
        return RedirectResponse("/admin/terminology", status_code=303)
    return _row(request, row, edit=False)
