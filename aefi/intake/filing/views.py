"""The report form: dose search and linking, the field checks as the physician types,
filing (or, for a likely duplicate, a follow-up of the earlier report); a session that
expired mid-form keeps everything as a draft and goes through the login to it."""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from aefi import clock
from aefi.auth.models import User
from aefi.auth.permissions import Actor, mask_id_number, require_role
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid, NotFound
from aefi.i18n import gettext
from aefi.intake import access, emergency, emergency_form
from aefi.intake.drafts import service as drafts_service
from aefi.intake.drafts.device import (
    DEVICE_COOKIE,
    device_of,
    device_ok,
    device_token,
    remember_device,
)
from aefi.intake.drafts.keys import subject_key
from aefi.intake.filing import service
from aefi.intake.follow_up import service as follow_up_service
from aefi.intake.forms import (
    FormMeta,
    ReportForm,
    as_follow_up,
    slot_anchor,
    slot_label,
    slot_of,
)
from aefi.intake.models import Outcome, Report
from aefi.intake.pages import (
    ROUTE_LABELS,
    SERIOUS_LABELS,
    SYMPTOM_GROUPS,
    draft_summary,
    fragment,
    int_id,
    optional_actor,
    symptom_name,
)
from aefi.registry.doses import service as registry_doses
from aefi.registry.lots import service as registry_lots
from aefi.registry.models import Sex, Site
from aefi.types import Id
from aefi.web import flash, iso_local, render, verify_csrf

pages = APIRouter(dependencies=[Depends(verify_csrf)])
# Routes that must keep working after the session expired (they check CSRF themselves).
open_routes = APIRouter()


# Every message slot of the form (see templates/intake/macros.html); hand rows add theirs.
SLOTS = (
    "doses",
    "patient",
    "patient_name",
    "patient_id_number",
    "patient_birth_date",
    "onset_at",
    "discovered_at",
    "symptoms",
    "description",
    "max_temperature_c",
    "local_reaction_cm",
    "outcome",
    "treatment",
    "hospital_name",
    "diagnosis",
    "guardian_name",
    "patient_phone",
    "patient_address",
    "reporter_unit",
    "reporter_name",
    "reporter_phone",
    *emergency_form.SLOTS,
)
HAND_SLOTS = ("lot_number", "administered_at", "dose_number")


def _linked_rows(session: Session, actor: Actor, ids: list[int]) -> list[registry_doses.DoseRow]:
    """The linked doses the actor may link (a reporter: doses given at their site)."""
    try:
        rows = registry_doses.get_doses(session, actor, ids)
    except NotFound:
        rows = []
        for i in ids:
            try:
                rows.extend(registry_doses.get_doses(session, actor, [i]))
            except NotFound:
                continue
    return [r for r in rows if access.may_link_dose_at(actor, r.site.id)]


def _defaults(session: Session, actor: Actor) -> dict[str, str]:
    """A new form: discovered now, reporter and unit from the user and the site."""
    user = session.get(User, actor.user_id)
    site = session.get(Site, actor.site_id) if actor.site_id else None
    return {
        "discovered_at": iso_local(clock.now()),
        "reporter_name": actor.name,
        "reporter_unit": site.name if site else "",
        "reporter_phone": (user.phone if user else "") or (site.phone if site else ""),
    }


def _assess(
    session: Session, actor: Actor, form: ReportForm
) -> tuple[dict[str, str], dict[str, str]]:
    """Every message the form should show: what does not parse, and the service's checks
    (errors and warnings) of the rest — translated, by slot."""
    parsed = form.parse()
    unknown: list[tuple[int, str]] = []
    try:
        _doses, findings = service.check(session, actor, parsed.data, unknown_lots=unknown)
        errors = {k: gettext(v) for k, v in findings.errors.items()}
        warnings = {k: gettext(v) for k, v in findings.warnings.items()}
    except NotFound as exc:  # a dose id outside the actor's scope, typed into the request
        errors, warnings = {"doses": gettext(exc.message, **exc.params)}, {}
    for index, lot in unknown:
        errors[f"hand-{parsed.hand_rows[index]}-lot_number"] = gettext(
            "No lot numbered {lot}.", lot=lot
        )
    errors.update(parsed.errors)
    return errors, {k: v for k, v in warnings.items() if k not in errors}


def _slots(form: ReportForm) -> list[str]:
    hand = [f"hand-{i}-{p}" for i, _v in form.hand_rows() for p in HAND_SLOTS]
    return [*SLOTS, *hand]


def _form_context(
    session: Session,
    actor: Actor,
    form: ReportForm,
    *,
    device: str,
    messages: dict[str, str] | None = None,
    warnings: dict[str, str] | None = None,
    draft_id: Id | None = None,
    touched: str = "",
    duplicates: list[Report] | None = None,
    error: str = "",
    submission_key: str = "",
    open_drafts: list | None = None,
) -> dict[str, Any]:
    messages, warnings = messages or {}, warnings or {}
    linked = _linked_rows(session, actor, form.dose_ids())
    slots = _slots(form)
    # Messages with no place on the form (should not happen) go to the top.
    stray = [m for k, m in messages.items() if k not in slots]
    # The error summary: each message in the order of the form, linked to its field.
    summary_errors = {k: messages[k] for k in slots if messages.get(k)}
    return {
        "summary_errors": summary_errors,
        "slot_labels": {k: slot_label(k) for k in summary_errors},
        "anchors": {k: slot_anchor(k) for k in summary_errors},
        "form": form,
        "messages": messages,
        "warnings": warnings,
        "stray": stray,
        "linked": linked,
        "groups": SYMPTOM_GROUPS,
        "outcomes": list(Outcome),
        "sexes": list(Sex),
        "routes": ROUTE_LABELS,
        "serious_labels": SERIOUS_LABELS,
        "mask": mask_id_number,
        "draft_id": draft_id,
        "device_token": device_token(device),
        "touched": touched,
        "duplicates": duplicates or [],
        "duplicate_doses": access.report_doses(session, [d.id for d in duplicates or []]),
        "symptom_name": symptom_name,
        "error": error,
        "submission_key": submission_key or secrets.token_urlsafe(16),
        "next_hand_index": max([i for i, _v in form.hand_rows()] + [-1]) + 1,
        "late": "onset_at" in warnings,
        "open_drafts": open_drafts or [],
        "draft_summary": draft_summary,
        **_emergency_context(form),
    }


def _emergency_context(form: ReportForm) -> dict[str, Any]:
    """The emergency block's choices, and whether it opens: a designated condition is
    ticked, or something is typed in it (``templates/intake/_emergency.html``)."""
    from aefi.ui_wiring import emergency_groups  # the triage rules: read at call time

    groups = emergency_groups()
    codes = {s.code for _g, _zh, _en, items in SYMPTOM_GROUPS for s in items if s.group in groups}
    return {
        "emergency_codes": codes,
        "emergency_open": bool(codes & set(form.getlist("symptoms")))
        or any(form.get(f) for f in emergency_form.FIELDS if f != "em_adrenaline_route"),
        "em_routes": emergency.ROUTE_LABELS,
        "em_consciousness": emergency.CONSCIOUSNESS_LABELS,
        "em_repeat_rows": range(1, emergency_form.REPEAT_ROWS + 1),
    }


def _form_page(
    request: Request, session: Session, actor: Actor, form: ReportForm, status: int = 200, **kw
) -> HTMLResponse:
    device, new = device_of(request)
    ctx = _form_context(session, actor, form, device=device, **kw)
    response = render(request, "intake/form.html", ctx, status_code=status)
    if new:
        remember_device(response, device)
    return response


@pages.get("/reports/new")
def new_report(
    request: Request,
    session: SessionDep,
    actor: WebActor,
    dose_id: str = "",
    draft: str = "",
):
    require_role(actor, *access.FILERS)
    draft_id = int_id(draft)
    others: list = []
    if draft_id is not None:
        try:
            saved = drafts_service.get_draft(session, actor, draft_id)
        except NotFound:
            # Filed (filing removes its drafts) or discarded since the link was made.
            flash(request, gettext("That draft is no longer kept: it was filed or discarded."))
            return RedirectResponse("/reports/drafts", status_code=303)
        if saved.report_id is not None:
            return RedirectResponse(f"/reports/{saved.report_id}", status_code=303)
        form = ReportForm.from_payload(saved.payload)
    else:
        form = ReportForm(_defaults(session, actor))
        if int_id(dose_id) is not None:
            form.raw["dose_ids"] = [str(int_id(dose_id))]
            # A draft is offered only on the form for its own vaccinee and dose.
            mine = drafts_service.draft_for(session, actor, subject_key(form.raw))
            others = [mine] if mine is not None else []
    return _form_page(request, session, actor, form, draft_id=draft_id, open_drafts=others)


@open_routes.post("/reports/new")
async def submit_report(request: Request, session: SessionDep):
    """File the report; on any problem show the form again with everything typed and each
    message beside its field. Logged out (the session expired mid-form), keep it all as a
    draft of this browser and go through the login to it."""
    form_data = await request.form()
    form, meta = ReportForm.from_form(form_data), FormMeta.from_form(form_data)
    draft_id = meta.draft_id
    actor = optional_actor(request, session)
    if actor is None:
        device = request.cookies.get(DEVICE_COOKIE, "")
        if not device_ok(device, meta.device_token):
            return RedirectResponse("/login?next=/reports/new", status_code=303)
        draft = drafts_service.save_device_draft(session, draft_id, form.payload(), device=device)
        target = f"/reports/new?draft={draft.id}"
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    await verify_csrf(request)
    submission_key = meta.submission_key
    kw: dict[str, Any] = {"draft_id": draft_id, "submission_key": submission_key}

    follow_up_of = meta.follow_up_of
    if follow_up_of is not None:
        return _file_as_follow_up(request, session, actor, form, follow_up_of, kw)

    parsed = form.parse()
    if not parsed.complete:
        messages, warnings = _assess(session, actor, form)
        return _form_page(
            request, session, actor, form, 422, messages=messages, warnings=warnings,
            touched="*", **kw,
        )  # fmt: skip
    try:
        report = service.file_report(
            session,
            actor,
            parsed.data,
            draft_id=draft_id,
            idempotency_key=f"web:{submission_key}" if submission_key else None,
        )
    except service.NeedsCorrection as exc:
        session.rollback()
        return _form_page(
            request, session, actor, form, 422,
            messages={k: gettext(v) for k, v in exc.errors.items()},
            warnings={k: gettext(v) for k, v in exc.warnings.items()},
            touched="*", **kw,
        )  # fmt: skip
    except service.PossibleDuplicate as exc:
        session.rollback()
        return _form_page(
            request, session, actor, form, 409, duplicates=exc.candidates, touched="*", **kw
        )
    except (Invalid, NotFound):
        # An unknown lot typed by hand, or a dose outside the site: name it by its field.
        session.rollback()
        messages, warnings = _assess(session, actor, form)
        return _form_page(
            request, session, actor, form, 422, messages=messages, warnings=warnings,
            touched="*", **kw,
        )  # fmt: skip
    return RedirectResponse(f"/reports/{report.id}?filed=1", status_code=303)


def _file_as_follow_up(
    request: Request,
    session: Session,
    actor: Actor,
    form: ReportForm,
    report_id: Id,
    kw: dict[str, Any],
) -> Response:
    """The physician says the likely duplicate is the same event: what the form adds
    becomes a dated follow-up of that report."""
    parsed = form.parse()
    try:
        follow_up_service.add_follow_up(
            session, actor, report_id, as_follow_up(parsed.data), draft_id=kw["draft_id"]
        )
    except Invalid as exc:
        session.rollback()
        earlier = access.get_report(session, actor, report_id)
        return _form_page(
            request, session, actor, form, 422, duplicates=[earlier],
            error=gettext(exc.message, **exc.params), touched="*", **kw,
        )  # fmt: skip
    report = access.get_report(session, actor, report_id)
    flash(
        request,
        gettext("Added as a follow-up of report {number}.", number=report.number),
        "success",
    )
    return RedirectResponse(f"/reports/{report_id}#history", status_code=303)


@open_routes.post("/reports/check")
async def check_fields(request: Request, session: SessionDep):
    """The field checks as the physician leaves a field: each message slot the physician
    has been through is refreshed (out-of-band), the others stay quiet until submit."""
    actor = optional_actor(request, session)
    if actor is None:
        return HTMLResponse("", status_code=204)  # the autosave tells about the expiry
    await verify_csrf(request)
    form_data = await request.form()
    form, meta = ReportForm.from_form(form_data), FormMeta.from_form(form_data)
    touched = set(meta.touched)
    field = meta.field
    if field:
        touched.add(slot_of(field))
    slots = _slots(form)
    shown = slots if "*" in touched else [s for s in slots if s in touched]
    messages, warnings = _assess(session, actor, form)
    return fragment(
        request,
        "intake/_check.html",
        {
            "shown": shown,
            "messages": messages,
            "warnings": warnings,
            "form": form,
            "touched": ",".join(sorted(touched)),
            "late": "onset_at" in warnings and "onset_at" in shown,
        },
    )


@pages.get("/reports/doses")
def search_doses(request: Request, session: SessionDep, dose_q: str = ""):
    """Doses at the physician's site by ID number, name or phone (as you type)."""
    actor = optional_actor(request, session)
    rows = registry_doses.find_doses(session, actor, q=dose_q, limit=30) if actor else []
    return fragment(
        request,
        "intake/_dose_results.html",
        {"rows": rows, "q": dose_q.strip(), "expired": actor is None, "mask": mask_id_number},
    )


@pages.get("/reports/linked")
def linked_doses(request: Request, session: SessionDep):
    """The linked doses after one more is picked (the form's current ones + ``add``)."""
    actor = optional_actor(request, session)
    if actor is None:
        return HTMLResponse("", status_code=204)
    ids = [int(v) for v in request.query_params.getlist("dose_ids") if v.isdigit()]
    add = int_id(request.query_params.get("add"))
    if add is not None and add not in ids:
        ids.append(add)
    return fragment(
        request,
        "intake/_linked.html",
        {
            "linked": _linked_rows(session, actor, ids),
            "mask": mask_id_number,
            "routes": ROUTE_LABELS,
        },
        headers={"HX-Trigger": '{"aefi:doses-changed": {"field": "dose_ids"}}'},
    )


@pages.get("/reports/lots")
def lookup_lot(request: Request, session: SessionDep, row: int = 0):
    """A hand-entered lot number, looked up as it is typed."""
    actor = optional_actor(request, session)
    typed = (request.query_params.get(f"hand-{row}-lot_number") or "").strip()
    matches = registry_lots.search_lots(session, actor, typed, limit=8) if actor and typed else []
    exact = next((m for m in matches if m[0].lot_number == typed), None)
    return fragment(
        request,
        "intake/_lots.html",
        {"row": row, "typed": typed, "matches": matches, "exact": exact},
    )


@pages.get("/reports/hand-row")
def hand_row(request: Request, i: int = 1):
    """One more dose given elsewhere."""
    i = max(0, min(i, 20))
    return fragment(
        request,
        "intake/_hand_row.html",
        {
            "i": i,
            "values": {},
            "messages": {},
            "warnings": {},
            "routes": ROUTE_LABELS,
            "add_more": True,
        },
    )


router = APIRouter()
router.include_router(pages)
router.include_router(open_routes)
