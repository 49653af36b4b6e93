"""One report's page (the card, its triage outcome and what happens next, its history,
the sections higher domains add) and its printed card (PDF)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlmodel import Session

from aefi import clock, i18n
from aefi.auth.permissions import Actor, mask_id_number
from aefi.deps import SessionDep, WebActor
from aefi.i18n import N_, gettext
from aefi.intake import access, emergency, symptoms
from aefi.intake.follow_up import service as follow_up_service
from aefi.intake.models import Outcome, Report
from aefi.intake.pages import (
    FIELD_LABELS,
    ROUTE_LABELS,
    SERIOUS_LABELS,
    SYMPTOM_GROUPS,
    symptom_name,
)
from aefi.intake.report import service
from aefi.interchange import access as interchange_access
from aefi.pdf import render_pdf
from aefi.registry.models import Site
from aefi.types import Id
from aefi.web import render, verify_csrf

pages = APIRouter(dependencies=[Depends(verify_csrf)])


# Where a report came from, as the card prints it.
SOURCE_LABELS = {
    "web": N_("the report form"),
    "api": N_("the immunization information system (API)"),
    "vaers": N_("an imported VAERS file"),
    "hospital": N_("the hospital"),
    "self_report": N_("the vaccinee's own check-in (self-report)"),
}
DEADLINE_LABELS = {
    "report_due": N_("Report card due"),
    "fast_report_due": N_("Fast report to the county health bureau and CDC due"),
    "investigation_start_due": N_("County CDC investigation to start by"),
    "investigation_form_due": N_("Investigation form due"),
    "preliminary_report_due": N_("Preliminary investigation report due"),
}


def _value(key: str, value: Any) -> str:
    """A card value in a history line."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if key == "symptoms" and isinstance(value, list):
        return "、".join(symptom_name(c) for c in value)
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
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=clock.local_zone())


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
    doses = access.report_doses(session, [report.id])[report.id]
    history = follow_up_service.follow_ups(session, report.id)
    original = follow_up_service.original_card(report, history)
    changed = {k for fu in history for k in fu.changes}
    return {
        "report": report,
        "doses": doses,
        "site": session.get(Site, report.site_id),
        "history": history,
        "original": {k: v for k, v in original.items() if k in changed},
        "triage": triage_view(report.triage),
        "symptom_name": symptom_name,
        "group_name": symptoms.group_name,
        "value": _value,
        "field_labels": FIELD_LABELS,
        "serious_labels": SERIOUS_LABELS,
        "routes": ROUTE_LABELS,
        "source_labels": SOURCE_LABELS,
        "mask": mask_id_number,
        "emergency": emergency.read(report.emergency),
        "em_routes": emergency.ROUTE_LABELS,
        "em_consciousness": emergency.CONSCIOUSNESS_LABELS,
    }


def _sections(session: Session, actor: Actor, report: Report) -> dict[str, Markup]:
    """The blocks higher domains add to the report page (``aefi.ui_wiring``, imported here
    at call time: those domains import intake)."""
    from aefi.ui_wiring import REPORT_SECTIONS

    out = {}
    for name, fn in REPORT_SECTIONS:
        html = fn(session, actor, report)
        if html:
            out[name] = Markup(html)
    return out


def render_report(
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
        can_export_icsr=interchange_access.can_export(actor),
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
    report = access.get_report(session, actor, report_id)
    return render_report(request, session, actor, report, filed=bool(filed))


@pages.get("/reports/{report_id:int}.pdf")
def report_pdf(request: Request, report_id: Id, session: SessionDep, actor: WebActor):
    """The report card laid out like the paper 个案报告卡, in the reader's language."""
    report = service.print_card(session, actor, report_id)
    ctx = _report_context(session, actor, report)
    # The card prints as first filed; follow-ups are listed after it, as on paper.
    card = follow_up_service.original_card(report, ctx["history"])
    ctx.update(printed_at=clock.now(), card=card, card_groups=symptoms.groups_of(card["symptoms"]))
    pdf = render_pdf("pdf/report_card.html", ctx)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{report.number}.pdf"'},
    )


router = pages
