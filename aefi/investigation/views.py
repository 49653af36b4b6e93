"""Investigators' pages: the case list, the case file with its form sections, evidence,
the guided WHO causality form, Brighton, the panel's classification, appraisal and
compensation, the investigation report PDF; and the small classification fragment that a
report's page includes for its reporter.

Views parse, call one service function, render. Each part of the case page is a partial
template (``investigation/_*.html``) included by the page and returned alone to htmx."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, RedirectResponse, Response
from pydantic import ValidationError

from aefi import clock, i18n, navigation
from aefi.auth.models import Role
from aefi.auth.permissions import mask_id_number
from aefi.db import session_scope
from aefi.deps import SessionDep, WebActor
from aefi.errors import Conflict, Invalid
from aefi.i18n import N_
from aefi.intake.symptoms import BY_CODE, EVENT_GROUPS
from aefi.investigation import access, lifecycle, sections, workflow
from aefi.investigation import brighton as bc
from aefi.investigation import causality as who
from aefi.investigation.assessments import service as case_assessments
from aefi.investigation.cases import service as case_files
from aefi.investigation.evidence import checks as evidence
from aefi.investigation.evidence import service as case_evidence
from aefi.investigation.form import service as case_form
from aefi.investigation.models import (
    APPRAISAL_LABELS,
    CASE_KIND_LABELS,
    CASE_STATUS_LABELS,
    COMPENSATION_LABELS,
    CaseStatus,
)
from aefi.investigation.overview import service as case_overview
from aefi.investigation.panel import service as case_panel
from aefi.investigation.schemas import (
    AppraisalIn,
    AssignIn,
    BrightonIn,
    CausalityIn,
    ClassifyIn,
    CloseIn,
    CompensationIn,
    EligibilityIn,
    ReopenIn,
)
from aefi.settings import get_settings
from aefi.types import Id, PageNo, ascii_int, parse_id, sane_year
from aefi.web import BANNER_PROVIDERS, flash, is_htmx, parse_local, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])

navigation.add((Role.investigator, Role.bureau), "/cases", N_("Cases"), position=1)

STATUS_FILTERS = (
    ("", N_("Active (not closed)")),
    ("open", N_("Not started")),
    ("investigating", N_("Investigating")),
    ("awaiting_panel", N_("Awaiting expert panel")),
    ("classified", N_("Classified")),
    ("closed", N_("Case closed")),
    ("all", N_("All")),
)
ACTION_LABELS = {
    "start": N_("Start the investigation"),
    "to_panel": N_("Send to the expert panel"),
    "back_to_investigation": N_("Back to investigation"),
}
CLUSTER_KIND_LABELS = {
    "site_serious": N_("Serious events at one site"),
    "lot_serious": N_("Serious events after one lot"),
    "site_increase": N_("Marked increase at one site"),
}
STEP_LABELS = {
    who.Step.eligibility: N_("Eligibility"),
    who.Step.other_causes: N_("I. Other causes"),
    who.Step.known_association: N_("II. Known causal association"),
    who.Step.time_window: N_("III. Time window"),
    who.Step.evidence_against: N_("IV. Evidence against"),
    who.Step.qualifying_factors: N_("V. Other qualifying factors"),
}
CHECKLIST_GROUPS = (
    ("I", N_("I. Is there strong evidence for other causes?"), ("other_cause_confirmed",)),
    (
        "II",
        N_("II. Is there a known causal association with the vaccine or vaccination?"),
        (
            "in_published_literature",
            "biologically_plausible",
            "specific_test_confirms_vaccine",
            "quality_defect",
            "immunization_error",
            "immunization_anxiety",
        ),
    ),
    (
        "III",
        N_("III. Was the event within the time window of increased risk?"),
        ("within_time_window",),
    ),
    ("IV", N_("IV. Is there strong evidence against a causal association?"), ("evidence_against",)),
    (
        "V",
        N_("V. Other qualifying factors"),
        (
            "similar_event_after_previous_dose",
            "could_occur_without_vaccination",
            "pre_existing_condition",
            "other_exposure",
        ),
    ),
)
ANSWER_LABELS = {
    "yes": N_("Yes"),
    "no": N_("No"),
    "unknown": N_("Unknown"),
    "na": N_("Not applicable"),
}
DEADLINE_SHORT = {
    "investigation_start_due": N_("Start"),
    "investigation_form_due": N_("Form"),
    "preliminary_report_due": N_("Preliminary report"),
}
SYSTEM_LABELS = {
    bc.OrganSystem.dermatologic: N_("Skin and mucosa"),
    bc.OrganSystem.cardiovascular: N_("Cardiovascular"),
    bc.OrganSystem.respiratory: N_("Respiratory"),
    bc.OrganSystem.gastrointestinal: N_("Gastrointestinal"),
    bc.OrganSystem.laboratory: N_("Laboratory"),
}
SIGN_LABELS = {
    bc.Sign.measured_hypotension: N_("Measured hypotension"),
    bc.Sign.tachycardia: N_("Tachycardia"),
    bc.Sign.capillary_refill_over_3s: N_("Capillary refill over 3 s"),
    bc.Sign.reduced_central_pulse: N_("Reduced central pulse"),
    bc.Sign.decreased_consciousness: N_("Decreased or lost consciousness"),
    bc.Sign.tachypnoea: N_("Tachypnoea"),
    bc.Sign.accessory_muscle_use: N_("Increased use of accessory muscles"),
    bc.Sign.recession: N_("Recession"),
    bc.Sign.cyanosis: N_("Cyanosis"),
    bc.Sign.grunting: N_("Grunting"),
}


# --- presentation helpers ----------------------------------------------------------------


def group_name(group: str) -> str:
    zh, en = EVENT_GROUPS.get(group, (group, group))
    return i18n.pick(zh, en)


def symptom_name(code: str) -> str:
    s = BY_CODE.get(code)
    return i18n.pick(s.zh, s.en) if s else code


def due_in(at: datetime | None, now: datetime | None = None) -> str:
    """'in 5 h 20 min' or '3 h overdue', for people scanning a list."""
    if at is None:
        return ""
    now = now or clock.now()
    delta = at - now
    late = delta.total_seconds() < 0
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        span = i18n.gettext("{d} d {h} h", d=days, h=hours)
    elif hours:
        span = i18n.gettext("{h} h {m} min", h=hours, m=mins)
    else:
        span = i18n.gettext("{m} min", m=mins)
    return (
        i18n.gettext("{span} overdue", span=span) if late else i18n.gettext("in {span}", span=span)
    )


def category_label(category: str | None) -> str:
    if not category:
        return i18n.gettext("Not eligible for assessment")
    labels = who.CATEGORY_LABELS[who.CausalityCategory(category)]
    return i18n.pick(labels["zh"], labels["en"])


def china_label(value: str | None) -> str:
    if not value:
        return ""
    labels = who.CHINA_CLASSIFICATION_LABELS[who.ChinaClassification(value)]
    return i18n.pick(labels["zh"], labels["en"])


def item_words(name: str) -> str:
    return i18n.pick(who.CHECKLIST_ITEMS_ZH[name], who.CHECKLIST_ITEMS[name][1])


def lang() -> str:
    return "zh" if i18n.get_locale().startswith("zh") else "en"


def _section_title(key: str) -> str:
    section = sections.BY_KEY.get(key)
    return i18n.gettext(section.title) if section else key


TIMELINE_TITLES = {
    ("case_file", "case_opened"): N_("Case file opened"),
    ("case_file", "assigned"): N_("Assigned"),
    ("case_file", "status"): N_("Status changed"),
    ("case_file", "form_section"): N_("Investigation form section saved"),
    ("case_file", "form_completed"): N_("Investigation form completed"),
    ("case_file", "preliminary_report"): N_("Preliminary report submitted"),
    ("case_file", "note"): N_("Note"),
    ("case_file", "attachment"): N_("Evidence attached"),
    ("case_file", "attachment_removed"): N_("Evidence removed"),
    ("case_file", "causality"): N_("WHO causality assessed"),
    ("case_file", "brighton"): N_("Brighton level recorded"),
    ("case_file", "classified"): N_("Classified by the expert panel"),
    ("case_file", "appraisal"): N_("Appraisal"),
    ("case_file", "compensation"): N_("Compensation"),
    ("case_file", "overdue"): N_("Deadline passed"),
    ("case_file", "cluster_grew"): N_("More reports joined the group"),
    ("case_file", "retriaged"): N_("Triage changed the case"),
    ("report", "create"): N_("Report filed"),
    ("report", "follow_up"): N_("Follow-up added"),
    ("report", "triage"): N_("Triaged"),
    ("cluster", "create"): N_("Cluster (group AEFI) found"),
    ("cluster", "cluster_join"): N_("Report joined the cluster"),
    ("cluster", "evaluation_requested"): N_("Signal evaluation of the lots requested"),
    ("escalation", "acknowledge"): N_("Escalation acknowledged"),
}
ENTITY_LABELS = {
    "case_file": N_("Case file"),
    "report": N_("Report"),
    "cluster": N_("Cluster"),
    "escalation": N_("Escalation"),
    "referral": N_("Referral"),
}


def timeline_items(events: list) -> list[dict[str, Any]]:
    """Audit events as lines a person reads: what, who, and the detail that matters."""
    items = []
    for e in events:
        key = (e.entity_type, e.action)
        title = i18n.gettext(TIMELINE_TITLES[key]) if key in TIMELINE_TITLES else None
        if title is None:
            title = f"{i18n.gettext(ENTITY_LABELS.get(e.entity_type, e.entity_type))}: " + (
                i18n.gettext(e.action)
            )
        ch = e.changes or {}
        detail = ""
        if e.entity_type == "case_file":
            if e.action == "status" and "status" in ch:
                old, new = ch["status"]
                detail = (
                    f"{i18n.gettext(CASE_STATUS_LABELS.get(old, old))} → "
                    f"{i18n.gettext(CASE_STATUS_LABELS.get(new, new))}"
                )
                extra = ch.get("reason") or ch.get("note")
                if extra:
                    detail += f" · {extra}"
            elif e.action == "assigned":
                detail = e.summary
            elif e.action == "form_section":
                detail = _section_title(ch.get("section", e.summary))
            elif e.action == "causality":
                cat = ch.get("category", [None, None])[1]
                detail = f"{cat} · {category_label(cat)}" if cat else category_label(None)
            elif e.action == "classified":
                value = ch.get("china_classification", [None, e.summary])[1] or e.summary
                detail = china_label(value) if value in who.CHINA_CLASSIFICATION_LABELS else ""
                if ch.get("warning"):
                    detail += " · " + i18n.gettext("disagrees with the WHO category")
            elif e.action == "appraisal":
                detail = i18n.gettext(APPRAISAL_LABELS.get(e.summary, e.summary))
            elif e.action == "compensation":
                detail = i18n.gettext(COMPENSATION_LABELS.get(e.summary, e.summary))
            elif e.action == "overdue":
                detail = ", ".join(
                    i18n.gettext(workflow.DEADLINE_LABELS.get(n, n))
                    for n in ch.get("deadlines", [])
                )
            elif e.action == "brighton" and "level" in ch:
                detail = i18n.gettext("Level {n}", n=ch["level"][1])
            elif e.action in ("note", "attachment", "attachment_removed", "cluster_grew"):
                detail = e.summary
        else:
            detail = e.summary
        items.append(
            {
                "at": e.at,
                "who": e.actor_name,
                "who_label": i18n.gettext("aefi (automatic)")
                if e.actor_role == "system"
                else e.actor_name,
                "role": e.actor_role,
                "title": title,
                "detail": detail,
                "entity": e.entity_type,
                "action": e.action,
            }
        )
    return items


def case_steps(page: case_overview.CasePage) -> list[dict[str, Any]]:
    """The path of a case, each step done (with when) or not; the first not done is next."""
    case = page.case
    brighton_at = (case.brighton or {}).get("at")
    rows: list[tuple[str, str, Any, str]] = [
        ("started", N_("Investigation started"), case.started_at, "deadlines"),
        ("form", N_("Investigation form completed"), case.form_completed_at, "form"),
    ]
    if case.preliminary_report_required:
        rows.append(
            ("preliminary", N_("Preliminary report submitted"), case.preliminary_report_at, "form")
        )
    rows.append(("causality", N_("WHO causality assessed"), case.who_assessed_at, "causality"))
    if "anaphylaxis" in (case.event_groups or []) or brighton_at:
        at = datetime.fromisoformat(brighton_at) if brighton_at else None
        rows.append(("brighton", N_("Brighton level recorded"), at, "brighton"))
    rows.append(
        ("classified", N_("Classified by the expert panel"), case.classified_at, "classification")
    )
    rows.append(("closed", N_("Case closed"), case.closed_at, "closing"))
    steps = []
    next_marked = False
    for key, label, at, anchor in rows:
        done = at is not None
        is_next = not done and not next_marked and case.status != CaseStatus.closed
        next_marked = next_marked or is_next
        steps.append(
            {"key": key, "label": label, "at": at, "done": done, "next": is_next, "anchor": anchor}
        )
    return steps


def _page_ctx(page: case_overview.CasePage, **extra: Any) -> dict[str, Any]:
    return {
        "page": page,
        "case": page.case,
        "path_steps": case_steps(page),
        "items": timeline_items(page.events),
        "sections_list": sections.SECTIONS,
        "section_state": {},
        **_helpers(),
        **_brighton_parts(),
        **extra,
    }


def _brighton_parts() -> dict[str, Any]:
    groups = []
    for system in bc.OrganSystem:
        for rank in bc.Rank:
            crit = [
                c for c, spec in bc.CRITERIA.items() if spec.system is system and spec.rank is rank
            ]
            if crit:
                groups.append((system, rank, crit))
    return {
        "criteria_groups": groups,
        "criterion_labels": bc.CRITERION_LABELS,
        "system_labels": SYSTEM_LABELS,
        "signs": list(bc.Sign),
        "sign_labels": SIGN_LABELS,
    }


def _helpers() -> dict[str, Any]:
    return {
        "group_name": group_name,
        "symptom_name": symptom_name,
        "due_in": due_in,
        "category_label": category_label,
        "china_label": china_label,
        "item_words": item_words,
        "lang": lang(),
        "mask_id": mask_id_number,
        "status_labels": CASE_STATUS_LABELS,
        "kind_labels": CASE_KIND_LABELS,
        "cluster_kind_labels": CLUSTER_KIND_LABELS,
        "action_labels": ACTION_LABELS,
        "deadline_short": DEADLINE_SHORT,
        "answer_labels": ANSWER_LABELS,
        "appraisal_labels": APPRAISAL_LABELS,
        "compensation_labels": COMPENSATION_LABELS,
        "china_classes": list(who.ChinaClassification),
        "china_labels": who.CHINA_CLASSIFICATION_LABELS,
        "CaseStatus": CaseStatus,
        "yesno": sections.YESNO_CHOICES,
        "upload_limit_mb": f"{get_settings().upload_max_bytes / (1024 * 1024):g}",
        "now": clock.now(),
    }


def _message(exc: Exception) -> str:
    if isinstance(exc, Invalid | Conflict):
        return i18n.gettext(exc.message, **exc.params)
    return str(exc)


def _field_errors(exc: Invalid) -> dict[str, str]:
    return {k: i18n.gettext(v, **exc.params) for k, v in exc.fields.items()}


# --- the banner --------------------------------------------------------------------------


class _Banner:
    def __init__(self, level: str, text: str) -> None:
        self.level = level
        self.text = text


def overdue_banner(user) -> list:
    """Investigators see how many of their (or nobody's) cases have a deadline past due."""
    if user is None or user.role != Role.investigator.value:
        return []
    from aefi.auth.permissions import Actor

    with session_scope() as session:
        n = case_overview.overdue_count(session, Actor.of(user))
    if not n:
        return []
    return [
        _Banner(
            "warning",
            i18n.gettext("Case files with a deadline past due: {n}", n=n),
        )
    ]


if overdue_banner not in BANNER_PROVIDERS:
    BANNER_PROVIDERS.append(overdue_banner)


# --- the list ----------------------------------------------------------------------------


@router.get("/cases")
def cases_page(
    request: Request,
    session: SessionDep,
    actor: WebActor,
    status: str = "",
    assignee: str = "",
    overdue: str = "",
    kind: str = "",
    q: str = "",
    page: PageNo = 1,
):
    flt = case_overview.CaseFilter(
        status=status if status in dict(STATUS_FILTERS) else "",
        assignee=assignee,
        overdue=bool(overdue),
        kind=kind if kind in ("report", "cluster") else "",
        q=q,
    )
    page = max(page, 1)
    try:
        rows, total = case_overview.list_cases(session, actor, flt, page=page, per_page=50)
    except Invalid:
        flt = case_overview.CaseFilter()
        rows, total = case_overview.list_cases(session, actor, flt, page=page, per_page=50)
    reports = case_overview.reports_by_id(session, rows)
    query = urlencode(
        {
            k: v
            for k, v in {
                "status": flt.status,
                "assignee": flt.assignee,
                "overdue": "1" if flt.overdue else "",
                "kind": flt.kind,
                "q": flt.q,
            }.items()
            if v
        }
    )
    now = clock.now()
    return render(
        request,
        "investigation/list.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "per_page": 50,
            "flt": flt,
            "query": query,
            "reports": reports,
            "overdue_of": {c.id: lifecycle.is_overdue(c, now) for c in rows},
            "counts": case_overview.case_counts(session, actor),
            "investigators": case_files.investigators(session, actor),
            "status_filters": STATUS_FILTERS,
            "can_work": access.can_work(actor),
            "me": actor.user_id,
            **_helpers(),
        },
        block="results",
    )


# --- the case page -----------------------------------------------------------------------


def _case_response(request: Request, session, actor, case_id: Id, **extra: Any):
    page = case_overview.case_page(session, actor, case_id)
    return render(request, "investigation/case.html", _page_ctx(page, **extra))


@router.get("/cases/{case_id:int}")
def case_page(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    return _case_response(request, session, actor, case_id)


def _back(request: Request, case_id: Id, anchor: str = ""):
    """After a change: htmx gets the refreshed part (or a full refresh), a plain form post
    goes back to the case page."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Refresh": "true"})
    return RedirectResponse(f"/cases/{case_id}{'#' + anchor if anchor else ''}", status_code=303)


@router.post("/cases/{case_id:int}/take")
def take(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    case_files.take_case(session, actor, case_id)
    flash(request, i18n.gettext("The case is yours; the investigation has started."), "success")
    if request.query_params.get("from") == "list":
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": f"/cases/{case_id}"})
        return RedirectResponse(f"/cases/{case_id}", status_code=303)
    return _back(request, case_id)


@router.post("/cases/{case_id:int}/assign")
async def assign(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    raw = str(form.get("assignee_id", "")).strip()
    try:
        case_files.assign_case(
            session, actor, case_id, AssignIn(assignee_id=parse_id(raw, "assignee_id"))
        )
        flash(request, i18n.gettext("Assigned."), "success")
    except (Invalid, ValueError) as exc:
        session.rollback()
        flash(request, _message(exc), "error")
    return _back(request, case_id)


@router.post("/cases/{case_id:int}/status/{action}")
def status_action(request: Request, case_id: Id, action: str, session: SessionDep, actor: WebActor):
    case_files.change_status(session, actor, case_id, action)
    return _back(request, case_id)


@router.post("/reports/{report_id:int}/case")
def open_case_of_report(request: Request, report_id: Id, session: SessionDep, actor: WebActor):
    """An investigator opens the case file of a report triage did not send."""
    case = case_files.open_case(session, actor, report_id)
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": f"/cases/{case.id}"})
    return RedirectResponse(f"/cases/{case.id}", status_code=303)


# --- form sections -----------------------------------------------------------------------


def _section_ctx(page: case_overview.CasePage, key: str, **state: Any) -> dict[str, Any]:
    ctx = _page_ctx(page)
    ctx["section"] = sections.BY_KEY[key]
    ctx["section_state"] = {key: state} if state else {}
    return ctx


@router.post("/cases/{case_id:int}/form/{key}")
async def save_section(
    request: Request, case_id: Id, key: str, session: SessionDep, actor: WebActor
):
    form = await request.form()
    section = sections.BY_KEY.get(key)
    raw = {f.name: str(form.get(f.name, "")) for f in section.fields} if section else {}
    version_raw = str(form.get("version", "")).strip()
    version = ascii_int(version_raw)
    state: dict[str, Any] = {}
    status_code = 200
    headers = {"HX-Trigger": "form-changed"}
    before = access.get_case(session, actor, case_id).status
    try:
        row = case_form.save_section(session, actor, case_id, key, raw, version=version)
        state = {"saved": True}
        if access.get_case(session, actor, row.case_id).status != before:
            # The first save started the investigation: the header and clocks change too.
            headers = {"HX-Refresh": "true"}
    except case_form.SectionInvalid as exc:
        session.rollback()
        state = {
            "typed": exc.cleaned.typed,
            "errors": {
                k: i18n.gettext(msg, **params) for k, (msg, params) in exc.cleaned.errors.items()
            },
            "message": i18n.gettext(exc.message),
        }
        status_code = 422
    except case_form.SectionConflict as exc:
        session.rollback()
        state = {"typed": raw, "errors": {}, "message": _message(exc), "conflict": True}
        status_code = 409
    page = case_overview.case_page(session, actor, case_id)
    if is_htmx(request):
        return render(
            request,
            "investigation/_section.html",
            _section_ctx(page, key, **state),
            status_code=status_code,
            headers=headers,
        )
    if status_code == 200:
        return RedirectResponse(f"/cases/{case_id}#section-{key}", status_code=303)
    ctx = _page_ctx(page)
    ctx["section_state"] = {key: state}
    return render(request, "investigation/case.html", ctx, status_code=status_code)


@router.get("/cases/{case_id:int}/deadlines")
def deadlines(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    page = case_overview.case_page(session, actor, case_id)
    return render(request, "investigation/_deadlines.html", _page_ctx(page))


@router.get("/cases/{case_id:int}/form-progress")
def form_progress(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    page = case_overview.case_page(session, actor, case_id)
    return render(request, "investigation/_form_progress.html", _page_ctx(page))


@router.post("/cases/{case_id:int}/form-complete")
def complete_form(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    error = None
    try:
        case_form.complete_form(session, actor, case_id)
    except Invalid as exc:
        session.rollback()
        error = _message(exc)
    page = case_overview.case_page(session, actor, case_id)
    if is_htmx(request):
        return render(
            request,
            "investigation/_form_progress.html",
            _page_ctx(page, progress_error=error),
            status_code=422 if error else 200,
            headers={} if error else {"HX-Trigger": "case-changed"},
        )
    if error:
        flash(request, error, "error")
    return RedirectResponse(f"/cases/{case_id}#form", status_code=303)


@router.post("/cases/{case_id:int}/preliminary-report")
async def preliminary_report(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    try:
        at = parse_local(str(form.get("at", "")) or None)
        case_form.record_preliminary_report(session, actor, case_id, at)
        flash(request, i18n.gettext("Saved."), "success")
    except (Invalid, ValueError) as exc:
        session.rollback()
        flash(request, _message(exc), "error")
    return _back(request, case_id, "form")


# --- evidence ----------------------------------------------------------------------------


def _evidence_response(request, session, actor, case_id, status_code=200, **extra):
    page = case_overview.case_page(session, actor, case_id)
    if is_htmx(request):
        return render(
            request,
            "investigation/_evidence.html",
            _page_ctx(page, **extra),
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
            upload_error=_message(exc),
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
    form = await request.form()
    text = str(form.get("text", ""))
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
            note_error=_message(exc),
            typed_note=text,
        )
    return _evidence_response(request, session, actor, case_id)


# --- WHO causality -----------------------------------------------------------------------


def _tri(value: str) -> bool | None:
    return {"yes": True, "no": False}.get(value)


def _causality_in(form) -> CausalityIn:
    checklist = {
        name: str(form.get(f"c.{name}", "unknown") or "unknown") for name in who.CHECKLIST_ITEMS
    }
    return CausalityIn(
        eligibility=EligibilityIn(
            vaccine_given_before_event=_tri(str(form.get("e.vaccine_given_before_event", ""))),
            valid_diagnosis=_tri(str(form.get("e.valid_diagnosis", ""))),
            clear_event=_tri(str(form.get("e.clear_event", ""))),
            vaccine=str(form.get("e.vaccine", ""))[:200],
            diagnosis=str(form.get("e.diagnosis", ""))[:500],
        ),
        checklist=checklist,
        note=str(form.get("note", ""))[:2000],
    )


def _hints(page: case_overview.CasePage) -> dict[str, list[str]]:
    """What the case file already says about each question, shown beside it."""
    hints: dict[str, list[str]] = {}
    values = {k: v.values for k, v in page.sections.items()}
    errors = [f for s, f in page.concerns if s.key == "practice"]
    if errors:
        hints["immunization_error"] = [
            i18n.gettext("Immunization practice: {n} possible errors", n=len(errors))
            + " ("
            + "; ".join(i18n.gettext(f.label) for f in errors)
            + ")"
        ]
    cold = [f for s, f in page.concerns if s.key == "cold_chain"]
    if cold:
        hints["quality_defect"] = [
            i18n.gettext("Storage and cold chain: {n} problems found", n=len(cold))
            + " ("
            + "; ".join(i18n.gettext(f.label) for f in cold)
            + ")"
        ]
    history = values.get("history", {})
    if history.get("previous_similar_event") == "yes":
        hints["similar_event_after_previous_dose"] = [
            i18n.gettext("History: similar event after an earlier dose")
        ]
    for report in page.reports:
        for d in page.doses.get(report.id, []):
            minutes = (report.onset_at - d.link.administered_at).total_seconds() / 60
            if minutes < 0:
                text = i18n.gettext("Onset recorded before vaccination")
            elif minutes < 120:
                text = i18n.gettext(
                    "Onset {n} min after {vaccine}",
                    n=int(minutes),
                    vaccine=i18n.pick(d.vaccine.name, d.vaccine.name_en),
                )
            elif minutes < 48 * 60:
                text = i18n.gettext(
                    "Onset {n} h after {vaccine}",
                    n=int(minutes // 60),
                    vaccine=i18n.pick(d.vaccine.name, d.vaccine.name_en),
                )
            else:
                text = i18n.gettext(
                    "Onset {n} days after {vaccine}",
                    n=int(minutes // 1440),
                    vaccine=i18n.pick(d.vaccine.name, d.vaccine.name_en),
                )
            hints.setdefault("within_time_window", []).append(text)
    summary = values.get("summary", {})
    if summary.get("suspected_cause") == "psychogenic":
        hints.setdefault("immunization_anxiety", []).append(
            i18n.gettext("Investigator's working hypothesis: psychogenic reaction")
        )
    if summary.get("suspected_cause") == "coincidental":
        hints.setdefault("other_cause_confirmed", []).append(
            i18n.gettext("Investigator's working hypothesis: coincidental event")
        )
    return hints


def _initial_answers(page: case_overview.CasePage) -> dict[str, Any]:
    """The latest assessment's answers, or what the case file suggests for a first one."""
    if page.assessments:
        last = page.assessments[0]
        e = last.eligibility
        return {
            "e": {
                k: {True: "yes", False: "no"}.get(e.get(k), "unknown")
                for k in who.ELIGIBILITY_ITEMS
            }
            | {"vaccine": e.get("vaccine", ""), "diagnosis": e.get("diagnosis", "")},
            "c": dict(last.checklist),
            "note": "",
            "suggested": False,
        }
    values = {k: v.values for k, v in page.sections.items()}
    before = "unknown"
    vaccine = ""
    for report in page.reports:
        for d in page.doses.get(report.id, []):
            before = "yes" if report.onset_at >= d.link.administered_at else "no"
            vaccine = vaccine or i18n.pick(d.vaccine.name, d.vaccine.name_en)
    diagnosis = (
        values.get("examinations", {}).get("clinical_diagnosis")
        or values.get("summary", {}).get("preliminary_diagnosis")
        or (page.reports[0].diagnosis if page.reports else "")
        or ""
    )
    c = {name: "unknown" for name in who.CHECKLIST_ITEMS}
    if any(s.key == "practice" for s, _f in page.concerns):
        c["immunization_error"] = "yes"
    if values.get("history", {}).get("previous_similar_event") in ("yes", "no"):
        c["similar_event_after_previous_dose"] = values["history"]["previous_similar_event"]
    return {
        "e": {
            "vaccine_given_before_event": before,
            "valid_diagnosis": "yes" if diagnosis else "unknown",
            "clear_event": "yes" if page.reports else "unknown",
            "vaccine": vaccine,
            "diagnosis": diagnosis,
        },
        "c": c,
        "note": "",
        "suggested": True,
    }


def _answers_of(data: CausalityIn) -> dict[str, Any]:
    e = data.eligibility
    return {
        "e": {
            k: {True: "yes", False: "no"}.get(getattr(e, k), "unknown")
            for k in who.ELIGIBILITY_ITEMS
        }
        | {"vaccine": e.vaccine, "diagnosis": e.diagnosis},
        "c": {k: v.value for k, v in data.checklist.items()},
        "note": data.note,
        "suggested": False,
    }


def _causality_ctx(page: case_overview.CasePage, answers: dict, result: who.Assessment, **extra):
    vaccines = []
    for report in page.reports:
        for d in page.doses.get(report.id, []):
            name = i18n.pick(d.vaccine.name, d.vaccine.name_en)
            if name not in vaccines:
                vaccines.append(name)
    return _page_ctx(
        page,
        answers=answers,
        result=result,
        hints=_hints(page),
        groups=CHECKLIST_GROUPS,
        items=who.CHECKLIST_ITEMS,
        eligibility_items=who.ELIGIBILITY_ITEMS,
        eligibility_zh=who.ELIGIBILITY_ITEMS_ZH,
        step_labels=STEP_LABELS,
        steps=list(who.Step),
        vaccines=vaccines,
        **extra,
    )


def _assess(answers: dict) -> who.Assessment:
    e = answers["e"]
    eligibility = who.Eligibility(
        vaccine_given_before_event=_tri(e.get("vaccine_given_before_event", "")),
        valid_diagnosis=_tri(e.get("valid_diagnosis", "")),
        clear_event=_tri(e.get("clear_event", "")),
        vaccine=e.get("vaccine") or None,
        diagnosis=e.get("diagnosis") or None,
    )
    checklist = who.Checklist(
        **{k: who.Answer(v) for k, v in answers["c"].items() if k in who.CHECKLIST_ITEMS}
    )
    return who.assess(eligibility, checklist)


@router.get("/cases/{case_id:int}/causality")
def causality_page(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    page = case_overview.case_page(session, actor, case_id)
    answers = _initial_answers(page)
    return render(
        request, "investigation/causality.html", _causality_ctx(page, answers, _assess(answers))
    )


@router.post("/cases/{case_id:int}/causality/preview")
async def causality_preview(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    """The result panel only: the algorithm over the answers as they are (nothing saved)."""
    form = await request.form()
    try:
        data = _causality_in(form)
        result = case_assessments.preview_causality(session, actor, case_id, data)
    except (Invalid, ValidationError):
        return Response(status_code=204)
    return render(
        request,
        "investigation/_causality_result.html",
        {**_helpers(), "result": result, "step_labels": STEP_LABELS, "steps": list(who.Step)},
    )


@router.post("/cases/{case_id:int}/causality")
async def causality_save(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    try:
        data = _causality_in(form)
        row = case_assessments.assess_causality(session, actor, case_id, data)
    except (Invalid, ValidationError) as exc:
        session.rollback()
        page = case_overview.case_page(session, actor, case_id)
        answers = _initial_answers(page)
        return render(
            request,
            "investigation/causality.html",
            _causality_ctx(page, answers, _assess(answers), error=_message(exc)),
            status_code=422,
        )
    flash(
        request,
        i18n.gettext("Assessment saved: {category}.", category=row.category or "—"),
        "success",
    )
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": f"/cases/{case_id}#causality"})
    return RedirectResponse(f"/cases/{case_id}#causality", status_code=303)


# --- Brighton ----------------------------------------------------------------------------


def _brighton_in(form) -> BrightonIn:
    return BrightonIn(
        criteria=[
            bc.Criterion(c) for c in form.getlist("criteria") if c in bc.Criterion.__members__
        ],
        signs=[bc.Sign(s) for s in form.getlist("signs") if s in bc.Sign.__members__],
        sudden_onset_rapid_progression=_tri(str(form.get("sudden", ""))),
        multiple_organ_systems=_tri(str(form.get("multiple", ""))),
        reported_as_anaphylaxis=_tri(str(form.get("reported", ""))),
    )


def _brighton_ctx(page: case_overview.CasePage, **extra) -> dict[str, Any]:
    return _page_ctx(page, **extra)


@router.post("/cases/{case_id:int}/brighton/preview")
async def brighton_preview(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    result = case_assessments.preview_brighton(session, actor, case_id, _brighton_in(form))
    return render(request, "investigation/_brighton_result.html", {**_helpers(), "preview": result})


@router.post("/cases/{case_id:int}/brighton")
async def brighton_save(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    case_assessments.record_brighton(session, actor, case_id, _brighton_in(form))
    page = case_overview.case_page(session, actor, case_id)
    if is_htmx(request):
        return render(request, "investigation/_brighton.html", _brighton_ctx(page, saved=True))
    return RedirectResponse(f"/cases/{case_id}#brighton", status_code=303)


# --- classification, appraisal, compensation, closing ------------------------------------


def _date(raw: Any) -> date | None:
    text = str(raw or "").strip()
    return sane_year(date.fromisoformat(text)) if text else None


def _classify_in(form) -> ClassifyIn:
    return ClassifyIn(
        china_classification=str(form.get("china_classification", "")),
        panel_diagnosis=str(form.get("panel_diagnosis", "")),
        panel_on=_date(form.get("panel_on")),
        panel_members=str(form.get("panel_members", "")),
        note=str(form.get("note", "")),
    )


@router.post("/cases/{case_id:int}/classify/preview")
async def classify_preview(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    case = access.get_case(session, actor, case_id)
    value = str(form.get("china_classification", ""))
    warning = None
    if value in who.ChinaClassification.__members__ and case.who_category:
        warning = who.classification_warning(
            who.CausalityCategory(case.who_category), who.ChinaClassification(value)
        )
    return render(
        request,
        "investigation/_classify_warning.html",
        {"warning": warning, "case": case, **_helpers()},
    )


@router.post("/cases/{case_id:int}/classify")
async def classify(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    typed = {
        k: str(form.get(k, ""))
        for k in ("china_classification", "panel_diagnosis", "panel_on", "panel_members", "note")
    }
    try:
        data = _classify_in(form)
        case_panel.classify_case(session, actor, case_id, data)
    except (Invalid, ValidationError, ValueError) as exc:
        session.rollback()
        errors = {}
        if isinstance(exc, ValidationError):
            for err in exc.errors():
                errors[str(err["loc"][0])] = i18n.gettext("Choose or correct this field.")
            message = i18n.gettext("Some fields need correcting.")
        elif isinstance(exc, Invalid):
            errors = _field_errors(exc)
            message = _message(exc)
        else:
            errors = {"panel_on": i18n.gettext("Enter a date as YYYY-MM-DD.")}
            message = i18n.gettext("Some fields need correcting.")
        page = case_overview.case_page(session, actor, case_id)
        ctx = _page_ctx(page, classify_state={"typed": typed, "errors": errors, "message": message})
        if is_htmx(request):
            return render(request, "investigation/_classify.html", ctx, status_code=422)
        return render(request, "investigation/case.html", ctx, status_code=422)
    flash(request, i18n.gettext("Classification recorded."), "success")
    return _back(request, case_id, "classification")


def _save_and_flash(request: Request, session, save, done: str = "Saved.") -> None:
    """Run one small form's save; say in a flash whether it worked and, if not, why."""
    try:
        save()
        flash(request, i18n.gettext(done), "success")
    except (Invalid, ValidationError, ValueError) as exc:
        session.rollback()
        msg = (
            _message(exc)
            if isinstance(exc, Invalid)
            else i18n.gettext("Some fields need correcting.")
        )
        flash(request, msg, "error")


@router.post("/cases/{case_id:int}/appraisal")
async def appraisal(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()

    def save() -> None:
        data = AppraisalIn(
            status=str(form.get("status", "none")),
            requested_on=_date(form.get("requested_on")),
            body=str(form.get("body", "")),
            result=str(form.get("result", "")),
            result_on=_date(form.get("result_on")),
        )
        case_panel.record_appraisal(session, actor, case_id, data)

    _save_and_flash(request, session, save)
    return _back(request, case_id, "appraisal")


@router.post("/cases/{case_id:int}/compensation")
async def compensation(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()

    def save() -> None:
        amount = str(form.get("amount", "")).strip()
        data = CompensationIn(
            status=str(form.get("status", "not_applicable")),
            amount=float(amount) if amount else None,
            note=str(form.get("note", "")),
        )
        case_panel.record_compensation(session, actor, case_id, data)

    _save_and_flash(request, session, save)
    return _back(request, case_id, "appraisal")


@router.post("/cases/{case_id:int}/close")
async def close(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    _save_and_flash(
        request,
        session,
        lambda: case_panel.close_case(
            session, actor, case_id, CloseIn(note=str(form.get("note", "")))
        ),
        N_("The case is closed."),
    )
    return _back(request, case_id, "closing")


@router.post("/cases/{case_id:int}/reopen")
async def reopen(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    form = await request.form()
    _save_and_flash(
        request,
        session,
        lambda: case_panel.reopen_case(
            session, actor, case_id, ReopenIn(reason=str(form.get("reason", "")))
        ),
        N_("The case is reopened."),
    )
    return _back(request, case_id, "closing")


# --- the investigation report (PDF) ------------------------------------------------------


@router.get("/cases/{case_id:int}/report.pdf")
def report_pdf(case_id: Id, session: SessionDep, actor: WebActor):
    from aefi.pdf import render_pdf

    page = case_overview.case_page(session, actor, case_id)
    ctx = _page_ctx(
        page,
        printed_at=clock.now(),
        sections_values={k: v.values for k, v in page.sections.items()},
    )
    pdf = render_pdf("pdf/investigation_report.html", ctx)
    name = quote(f"{page.case.number}-investigation.pdf")
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f"inline; filename*=UTF-8''{name}"},
    )


# --- what the reporter sees --------------------------------------------------------------


@router.get("/reports/{report_id:int}/classification")
def report_classification(request: Request, report_id: Id, session: SessionDep, actor: WebActor):
    """A fragment for the report page: the investigation's final classification, as the
    reporter may see it (nothing of the investigation itself)."""
    seen = case_files.classification_for_report(session, actor, report_id)
    return render(
        request,
        "investigation/classification_badge.html",
        {"classification": seen, "report_id": report_id},
    )


def report_section(session, actor, report) -> str | None:
    """The investigation block of intake's report page (its REPORT_SECTIONS hook): for the
    county CDC and bureau the case file's state and a link to it (or, for investigators, a
    button to open one); for a reporter only the final classification."""
    from aefi.errors import DomainError
    from aefi.web import templates

    try:
        if actor.role in access.READERS:
            case = case_files.case_of_report(session, actor, report.id)
            ctx = {
                **_helpers(),
                "case": case,
                "report": report,
                "overdue": lifecycle.is_overdue(case) if case else False,
                "can_open": case is None and access.can_work(actor),
            }
            template = "investigation/report_section.html"
        else:
            seen = case_files.classification_for_report(session, actor, report.id)
            if seen is None:
                return None
            ctx = {"classification": seen, "report_id": report.id}
            template = "investigation/classification_badge.html"
    except DomainError:
        return None
    return templates().env.get_template(template).render(ctx)


def _register_report_section() -> None:
    try:
        from aefi.intake import views as intake_views
    except ImportError:  # pragma: no cover - intake pages not installed
        return
    intake_views.REPORT_SECTIONS.setdefault("investigation", report_section)


_register_report_section()
