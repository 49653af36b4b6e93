"""Intake pages: the report form (dose search, field checks, drafts, duplicates), the
report page with its triage outcome and history, the list, and the printed card (PDF).

Drafts outlive the login session: the form autosaves to ``/reports/draft``, which also
works without a session. Its CSRF protection then rests on the browser's long-lived
``aefi_device`` cookie and a token that is an HMAC of that cookie's value under the
server's secret, rendered into the form (a signed double-submit token). Another site can
neither read the token nor, with SameSite=Lax, send the cookie with its POST; and all an
unauthenticated POST can do is keep a draft that belongs to that browser until a user
logs in there again (``claim_device_drafts``, run from the login view)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlmodel import Session, select

from aefi import clock, i18n, navigation
from aefi.auth import views as auth_views
from aefi.auth.models import Role, User
from aefi.auth.permissions import Actor, mask_id_number
from aefi.deps import SessionDep, WebActor, session_user
from aefi.errors import Invalid, NotFound
from aefi.i18n import N_, gettext
from aefi.intake import access, service, symptoms
from aefi.intake.forms import ReportForm, as_follow_up, slot_of
from aefi.intake.models import Outcome, Report, ReportStatus
from aefi.intake.schemas import FollowUpIn
from aefi.pdf import render_pdf
from aefi.registry import service as registry
from aefi.registry.models import Route, Sex, Site, Vaccine
from aefi.settings import get_settings
from aefi.types import MAX_ID, Id, ascii_int, page_number
from aefi.web import (
    KEEP_PAGE_ON_EXPIRY,
    flash,
    iso_local,
    local_zone,
    parse_local,
    render,
    templates,
    verify_csrf,
)

pages = APIRouter(dependencies=[Depends(verify_csrf)])
# Routes that must keep working after the session expired (they check CSRF themselves).
open_routes = APIRouter()

DEVICE_COOKIE = "aefi_device"
DEVICE_MAX_AGE_S = 400 * 86400  # browsers cap cookie lifetimes at 400 days
PER_PAGE = 25

# The report form autosaves and survives an expired session (see the docstring above).
KEEP_PAGE_ON_EXPIRY.add("/reports/new")
navigation.add((Role.reporter,), "/reports/new", N_("File a report"), position=1)
navigation.add(
    (Role.reporter, Role.investigator, Role.bureau, Role.admin), "/reports", N_("Reports")
)

# Sections that higher domains add to the report page: name → fn(session, actor, report)
# returning HTML (or None). "referral" is shown in <div id="referral-status">, the others
# after the triage outcome, in the order registered. Intake imports none of them.
REPORT_SECTIONS: dict[str, Callable[[Session, Actor, Report], Any]] = {}

ACTION_LABELS = (N_("follow_up"), N_("print"))
ROUTE_LABELS = {
    Route.im: N_("intramuscular"),
    Route.sc: N_("subcutaneous"),
    Route.id: N_("intradermal"),
    Route.oral: N_("oral"),
    Route.intranasal: N_("intranasal"),
}
SERIOUS_LABELS = {
    "death": N_("Death"),
    "life_threatening": N_("Life-threatening"),
    "hospitalization": N_("Hospitalisation, or a longer stay"),
    "disability": N_("Persistent or significant disability"),
    "congenital_anomaly": N_("Congenital anomaly"),
}
FIELD_LABELS = {
    **SERIOUS_LABELS,
    "outcome": N_("Outcome"),
    "already_in_hospital": N_("In hospital"),
    "hospital_name": N_("Hospital"),
    "diagnosis": N_("Initial diagnosis"),
    "diagnosis_clear": N_("Clearly a common reaction"),
    "treatment": N_("Treatment"),
    "symptoms": N_("Symptoms"),
}
DEADLINE_LABELS = {
    "report_due": N_("Report card due"),
    "fast_report_due": N_("Fast report to the county health bureau and CDC due"),
    "investigation_start_due": N_("County CDC investigation to start by"),
    "investigation_form_due": N_("Investigation form due"),
    "preliminary_report_due": N_("Preliminary investigation report due"),
}
SYMPTOM_GROUPS = [
    (group, zh, en, [s for s in symptoms.SYMPTOMS if s.group == group])
    for group, (zh, en) in symptoms.EVENT_GROUPS.items()
    if any(s.group == group for s in symptoms.SYMPTOMS)
]
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
)
HAND_SLOTS = ("lot_number", "administered_at", "dose_number")


# --- small helpers -------------------------------------------------------------------------


def device_token(device: str, key: str | None = None) -> str:
    """The form's proof that a logged-out draft save comes from aefi's own page."""
    secret = (key or get_settings().secret_key).encode()
    return hmac.new(secret, f"aefi-draft-device:{device}".encode(), hashlib.sha256).hexdigest()


def _device_ok(device: str, token: str | None) -> bool:
    """Signed with the current key or an old one still listed (key rotation)."""
    if not (device and token):
        return False
    return any(
        hmac.compare_digest(str(token), device_token(device, key))
        for key in get_settings().verification_keys
    )


def _device_of(request: Request) -> tuple[str, bool]:
    """The browser's device id, and whether it is new (the response must set it)."""
    device = request.cookies.get(DEVICE_COOKIE, "")
    if 16 <= len(device) <= 64:
        return device, False
    return secrets.token_urlsafe(24), True


def _remember_device(response: Response, device: str) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        device,
        max_age=DEVICE_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=get_settings().https,
    )


def optional_actor(request: Request, session: Session) -> Actor | None:
    """The logged-in user, or None (the form's own requests must not bounce to the login
    page mid-form: that would throw away what is on the screen)."""
    user = session_user(request, session)
    if user is None:
        return None
    return Actor.of(user)


def _int(value: Any) -> int | None:
    """A hand-parsed id: ASCII digits within the id range, else None."""
    number = ascii_int(value)
    return number if number is not None and 1 <= number <= MAX_ID else None


def _fragment(request: Request, name: str, ctx: dict[str, Any], **kw: Any) -> HTMLResponse:
    """A piece of a page for htmx (the form's lookups and checks)."""
    html = templates().env.get_template(name).render({"request": request, **ctx})
    return HTMLResponse(html, **kw)


def _claim_drafts(request: Request, session: Session, user: User) -> None:
    """Login hook: drafts this browser kept while logged out become the user's."""
    device = request.cookies.get(DEVICE_COOKIE, "")
    if device:
        service.claim_device_drafts(session, Actor.of(user), device)


if _claim_drafts not in auth_views.LOGIN_HOOKS:
    auth_views.LOGIN_HOOKS.append(_claim_drafts)


# --- the form ------------------------------------------------------------------------------


def _linked_rows(session: Session, actor: Actor, ids: list[int]) -> list[registry.DoseRow]:
    """The linked doses the actor may link (a reporter: doses given at their site)."""
    try:
        rows = registry.get_doses(session, actor, ids)
    except NotFound:
        rows = []
        for i in ids:
            try:
                rows.extend(registry.get_doses(session, actor, [i]))
            except NotFound:
                continue
    if actor.role == Role.reporter:
        rows = [r for r in rows if r.site.id == actor.site_id]
    return rows


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
    return {
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
        "duplicate_doses": service.report_doses(session, [d.id for d in duplicates or []]),
        "symptom_name": _symptom_name,
        "error": error,
        "submission_key": submission_key or secrets.token_urlsafe(16),
        "next_hand_index": max([i for i, _v in form.hand_rows()] + [-1]) + 1,
        "late": "onset_at" in warnings,
        "open_drafts": open_drafts or [],
        "draft_summary": _draft_summary,
    }


def _form_page(
    request: Request, session: Session, actor: Actor, form: ReportForm, status: int = 200, **kw
) -> HTMLResponse:
    device, new = _device_of(request)
    ctx = _form_context(session, actor, form, device=device, **kw)
    response = render(request, "intake/form.html", ctx, status_code=status)
    if new:
        _remember_device(response, device)
    return response


@pages.get("/reports/new")
def new_report(
    request: Request,
    session: SessionDep,
    actor: WebActor,
    dose_id: str = "",
    draft: str = "",
):
    service.require_role(actor, *access.FILERS)
    draft_id = _int(draft)
    if draft_id is not None:
        saved = service.get_draft(session, actor, draft_id)
        if saved.report_id is not None:
            return RedirectResponse(f"/reports/{saved.report_id}", status_code=303)
        form = ReportForm.from_payload(saved.payload)
        others = []
    else:
        form = ReportForm(_defaults(session, actor))
        if _int(dose_id) is not None:
            form.raw["dose_ids"] = [str(_int(dose_id))]
        # Unfinished drafts (one kept while the session had expired, say) are offered first.
        others = service.open_drafts(session, actor)
    return _form_page(request, session, actor, form, draft_id=draft_id, open_drafts=others)


@open_routes.post("/reports/new")
async def submit_report(request: Request, session: SessionDep):
    """File the report; on any problem show the form again with everything typed and each
    message beside its field. Logged out (the session expired mid-form), keep it all as a
    draft of this browser and go through the login to it."""
    form_data = await request.form()
    form = ReportForm.from_form(form_data)
    draft_id = _int(form_data.get("draft_id"))
    actor = optional_actor(request, session)
    if actor is None:
        device = request.cookies.get(DEVICE_COOKIE, "")
        if not _device_ok(device, form_data.get("device_token")):
            return RedirectResponse("/login?next=/reports/new", status_code=303)
        draft = service.save_device_draft(session, draft_id, form.payload(), device=device)
        target = f"/reports/new?draft={draft.id}"
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
    await verify_csrf(request)
    submission_key = str(form_data.get("submission_key") or "")[:100]
    kw: dict[str, Any] = {"draft_id": draft_id, "submission_key": submission_key}

    follow_up_of = _int(form_data.get("follow_up_of"))
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
        service.add_follow_up(
            session, actor, report_id, as_follow_up(parsed.data), draft_id=kw["draft_id"]
        )
    except Invalid as exc:
        session.rollback()
        earlier = service.get_report(session, actor, report_id)
        return _form_page(
            request, session, actor, form, 422, duplicates=[earlier],
            error=gettext(exc.message, **exc.params), touched="*", **kw,
        )  # fmt: skip
    report = service.get_report(session, actor, report_id)
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
    form = ReportForm.from_form(form_data)
    touched = {t for t in str(form_data.get("touched") or "").split(",") if t}
    field = str(form_data.get("_field") or "")
    if field:
        touched.add(slot_of(field))
    slots = _slots(form)
    shown = slots if "*" in touched else [s for s in slots if s in touched]
    messages, warnings = _assess(session, actor, form)
    return _fragment(
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


@open_routes.post("/reports/draft")
async def autosave(request: Request, session: SessionDep):
    """Keep what was typed. Works logged out too (see the module's docstring)."""
    form_data = await request.form()
    actor = optional_actor(request, session)
    device = request.cookies.get(DEVICE_COOKIE, "")
    if actor is not None:
        await verify_csrf(request)
    elif not _device_ok(device, form_data.get("device_token")):
        from aefi.errors import Forbidden

        raise Forbidden(
            "The form has expired or did not come from aefi. Reload the page and submit again."
        )
    form = ReportForm.from_form(form_data)
    draft_id = _int(form_data.get("draft_id"))
    if actor is None:
        draft = service.save_device_draft(session, draft_id, form.payload(), device=device)
    else:
        draft = service.save_draft(session, actor, draft_id, form.payload(), device=device)
    resume = f"/reports/new?draft={draft.id}"
    return _fragment(
        request,
        "intake/_draft_status.html",
        {
            "draft_id": draft.id,
            "saved_at": draft.updated_at,
            "expired": actor is None,
            "login_url": f"/login?next={quote(resume, safe='')}",
            "oob": True,
        },
    )


@pages.get("/reports/doses")
def search_doses(request: Request, session: SessionDep, dose_q: str = ""):
    """Doses at the physician's site by ID number, name or phone (as you type)."""
    actor = optional_actor(request, session)
    rows = registry.find_doses(session, actor, q=dose_q, limit=30) if actor else []
    return _fragment(
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
    add = _int(request.query_params.get("add"))
    if add is not None and add not in ids:
        ids.append(add)
    return _fragment(
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
    matches = registry.search_lots(session, actor, typed, limit=8) if actor and typed else []
    exact = next((m for m in matches if m[0].lot_number == typed), None)
    return _fragment(
        request,
        "intake/_lots.html",
        {"row": row, "typed": typed, "matches": matches, "exact": exact},
    )


@pages.get("/reports/hand-row")
def hand_row(request: Request, i: int = 1):
    """One more dose given elsewhere."""
    i = max(0, min(i, 20))
    return _fragment(
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


# --- drafts --------------------------------------------------------------------------------


@pages.post("/reports/drafts/{draft_id:int}/discard")
def discard_draft(request: Request, draft_id: Id, session: SessionDep, actor: WebActor):
    service.discard_draft(session, actor, draft_id)
    flash(request, gettext("Draft discarded."), "success")
    return RedirectResponse("/reports", status_code=303)


# --- one report ----------------------------------------------------------------------------


def _symptom_name(code: str) -> str:
    s = symptoms.BY_CODE.get(code)
    return i18n.pick(s.zh, s.en) if s else code


def _group_name(group: str) -> str:
    names = symptoms.EVENT_GROUPS.get(group)
    return i18n.pick(*names) if names else group


def _value(key: str, value: Any) -> str:
    """A card value in a history line."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if key == "symptoms" and isinstance(value, list):
        return "、".join(_symptom_name(c) for c in value)
    if key == "outcome":
        return gettext(str(value))
    return str(value)


def _when(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=local_zone())


def triage_view(triage: dict[str, Any] | None) -> dict[str, Any]:
    """The triage outcome as "what happens next and why", in the reader's language.
    Triage writes ``report.triage``; whatever it holds is shown, nothing is required."""
    t = triage or {}
    zh = i18n.get_locale() == "zh_CN"
    reasons = []
    for r in t.get("reasons") or []:
        if isinstance(r, dict):
            text = (r.get("text_zh") if zh else r.get("text_en")) or r.get("text") or ""
            reasons.append({"rule": r.get("rule", ""), "text": text or r.get("rule", "")})
        else:
            reasons.append({"rule": "", "text": str(r)})
    deadlines = []
    for name, due in (t.get("deadlines") or {}).items():
        deadlines.append(
            {"label": gettext(DEADLINE_LABELS.get(name, name)), "due": _when(due), "raw": due}
        )
    deadlines.sort(key=lambda d: (d["due"] is None, d["due"] or clock.now()))
    steps = []
    if t.get("escalated"):
        steps.append(
            gettext(
                "Escalated: the county health bureau and CDC are told at once, "
                "by the fastest means."
            )
        )
    if t.get("referral_required"):
        steps.append(
            gettext("Green-channel referral: the patient goes to the site's assigned hospital.")
        )
    if t.get("investigation_required"):
        steps.append(gettext("The county CDC will investigate this report."))
    elif t:
        steps.append(gettext("No investigation is needed: a clearly diagnosed common reaction."))
    if t.get("cluster_id"):
        steps.append(gettext("Part of a possible cluster (#{id}).", id=t["cluster_id"]))
    return {
        "present": bool(t),
        "serious": bool(t.get("serious")),
        "steps": steps,
        "reasons": reasons,
        "deadlines": deadlines,
        "version": t.get("ruleset_version") or "",
    }


def _report_context(session: Session, actor: Actor, report: Report) -> dict[str, Any]:
    doses = service.report_doses(session, [report.id])[report.id]
    history = service.follow_ups(session, report.id)
    original = service.original_card(report, history)
    changed = {k for fu in history for k in fu.changes}
    return {
        "report": report,
        "doses": doses,
        "site": session.get(Site, report.site_id),
        "history": history,
        "original": {k: v for k, v in original.items() if k in changed},
        "triage": triage_view(report.triage),
        "symptom_name": _symptom_name,
        "group_name": _group_name,
        "value": _value,
        "field_labels": FIELD_LABELS,
        "serious_labels": SERIOUS_LABELS,
        "routes": ROUTE_LABELS,
        "mask": mask_id_number,
    }


def _sections(session: Session, actor: Actor, report: Report) -> dict[str, Markup]:
    out = {}
    for name, fn in REPORT_SECTIONS.items():
        html = fn(session, actor, report)
        if html:
            out[name] = Markup(html)
    return out


def _report_page(
    request: Request,
    session: Session,
    actor: Actor,
    report: Report,
    *,
    status: int = 200,
    filed: bool = False,
    fu_values: dict[str, Any] | None = None,
    fu_errors: dict[str, str] | None = None,
) -> HTMLResponse:
    ctx = _report_context(session, actor, report)
    ctx.update(
        filed=filed,
        sections=_sections(session, actor, report),
        can_follow_up=access.can_follow_up(actor, report),
        fu=fu_values or {},
        fu_errors=fu_errors or {},
        outcomes=list(Outcome),
        groups=SYMPTOM_GROUPS,
    )
    return render(request, "intake/report.html", ctx, status_code=status)


@pages.get("/reports/{report_id:int}")
def report_page(
    request: Request, report_id: Id, session: SessionDep, actor: WebActor, filed: str = ""
):
    report = service.get_report(session, actor, report_id)
    return _report_page(request, session, actor, report, filed=bool(filed))


@pages.post("/reports/{report_id:int}/follow-ups")
async def add_follow_up(request: Request, report_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    values = {k: str(form.get(k) or "") for k in ("outcome", "hospital_name", "diagnosis")}
    values.update({k: str(form.get(k) or "") for k in ("treatment", "note", "at")})
    flags = ("death", "life_threatening", "hospitalization", "disability")
    flags += ("already_in_hospital", "diagnosis_clear")
    for k in flags:
        values[k] = "1" if form.get(k) else ""
    values["symptoms_added"] = [str(v) for v in form.getlist("symptoms_added")]
    errors: dict[str, str] = {}
    at = None
    try:
        at = parse_local(values["at"]) if values["at"].strip() else None
    except ValueError:
        errors["at"] = gettext("Enter a date and time.")
    if at is not None and at > clock.now() + timedelta(minutes=5):
        errors["at"] = gettext("The time of the follow-up lies in the future.")
    fields: dict[str, Any] = {k: True for k in flags if values[k]}
    if values["outcome"] in Outcome.__members__:
        fields["outcome"] = values["outcome"]
    for k in ("hospital_name", "diagnosis", "treatment"):
        if values[k].strip():
            fields[k] = values[k].strip()
    report = service.get_report(session, actor, report_id)
    if not errors:
        try:
            service.add_follow_up(
                session,
                actor,
                report_id,
                FollowUpIn(
                    **fields,
                    symptoms_added=values["symptoms_added"],
                    note=values["note"][:4000],
                    at=at,
                ),
            )
        except Invalid as exc:
            session.rollback()
            message = gettext(exc.message, **exc.params)
            errors = {k: message for k in exc.fields} or {"note": message}
    if errors:
        return _report_page(
            request, session, actor, report, status=422, fu_values=values, fu_errors=errors
        )
    flash(request, gettext("Follow-up added."), "success")
    return RedirectResponse(f"/reports/{report_id}#history", status_code=303)


@pages.get("/reports/{report_id:int}.pdf")
def report_pdf(request: Request, report_id: Id, session: SessionDep, actor: WebActor):
    """The report card laid out like the paper 个案报告卡, in the reader's language."""
    report = service.print_card(session, actor, report_id)
    ctx = _report_context(session, actor, report)
    # The card prints as first filed; follow-ups are listed after it, as on paper.
    card = service.original_card(report, ctx["history"])
    ctx.update(printed_at=clock.now(), card=card, card_groups=symptoms.groups_of(card["symptoms"]))
    pdf = render_pdf("pdf/report_card.html", ctx)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{report.number}.pdf"'},
    )


# --- the list ------------------------------------------------------------------------------


def _day(text: str) -> datetime | None:
    """A ``<input type=date>`` value as the start of that day in the local zone."""
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        return None
    return datetime.combine(day, time(), tzinfo=local_zone())


@pages.get("/reports")
def list_page(
    request: Request,
    session: SessionDep,
    actor: WebActor,
    since: str = "",
    until: str = "",
    site: str = "",
    vaccine: str = "",
    lot: str = "",
    serious: str = "",
    status: str = "",
    q: str = "",
    page: str = "1",
):
    until_day = _day(until)
    flt = service.ReportFilter(
        since=_day(since),
        until=until_day + timedelta(days=1) if until_day else None,
        site_id=_int(site),
        vaccine_code=vaccine.strip(),
        lot_number=lot.strip(),
        serious={"yes": True, "no": False}.get(serious),
        status=status if status in ReportStatus.__members__ else "",
        q=q.strip(),
    )
    page_no = page_number(page)
    rows, total = service.list_reports(session, actor, flt, page=page_no, per_page=PER_PAGE)
    filters = {
        "since": since,
        "until": until,
        "site": site,
        "vaccine": vaccine,
        "lot": lot,
        "serious": serious,
        "status": status,
        "q": q,
    }
    county_wide = actor.is_county_wide
    sites = (
        registry.list_records(session, actor, registry.KINDS["sites"], per_page=500)[0]
        if county_wide
        else []
    )
    return render(
        request,
        "intake/list.html",
        {
            "rows": rows,
            "total": total,
            "page": page_no,
            "per_page": PER_PAGE,
            "filters": filters,
            "base": "/reports?" + urlencode({k: v for k, v in filters.items() if v}) + "&",
            "doses": service.report_doses(session, [r.id for r in rows]),
            "sites": sites,
            "site_names": {s.id: i18n.pick(s.name, s.name_en) for s in sites},
            "vaccines": session.exec(select(Vaccine).order_by(Vaccine.code)).all(),
            "statuses": list(ReportStatus),
            "drafts": service.open_drafts(session, actor) if access.can_file(actor) else [],
            "can_file": access.can_file(actor),
            "county_wide": county_wide,
            "group_name": _group_name,
            "symptom_name": _symptom_name,
            "draft_summary": _draft_summary,
        },
        block="results",
    )


def _draft_summary(payload: dict[str, Any]) -> str:
    """A line that tells drafts apart: who, what, when typed."""
    parts = [payload.get("patient_name") or payload.get("dose_q") or ""]
    codes = payload.get("symptoms") or []
    if codes:
        parts.append("、".join(_symptom_name(c) for c in codes[:3]))
    if payload.get("onset_at"):
        parts.append(str(payload["onset_at"]).replace("T", " "))
    return " · ".join(p for p in parts if p) or gettext("(nothing typed yet)")


router = APIRouter()
router.include_router(pages)
router.include_router(open_routes)
