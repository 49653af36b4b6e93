"""The guided WHO causality form and the Brighton criteria, previewed as they fill."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, Field, create_model

from aefi import i18n
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.forms import FormErrors, Tri, parse_form, tri
from aefi.investigation import brighton as bc
from aefi.investigation import causality as who
from aefi.investigation.assessments import service as case_assessments
from aefi.investigation.labels import (
    CHECKLIST_GROUPS,
    STEP_LABELS,
    error_text,
    helpers,
    page_ctx,
    part_ctx,
)
from aefi.investigation.overview import service as case_overview
from aefi.investigation.schemas import (
    BrightonIn,
    CausalityIn,
    EligibilityIn,
)
from aefi.types import Id
from aefi.web import flash, is_htmx, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])


# --- WHO causality -----------------------------------------------------------------------


class _EligibilityForm(BaseModel):
    """Step 1 of the WHO form; its inputs are named ``e.<question>``."""

    vaccine_given_before_event: Tri = Field(None, alias="e.vaccine_given_before_event")
    valid_diagnosis: Tri = Field(None, alias="e.valid_diagnosis")
    clear_event: Tri = Field(None, alias="e.clear_event")
    vaccine: str = Field("", alias="e.vaccine")
    diagnosis: str = Field("", alias="e.diagnosis")
    note: str = ""


# Step 2's checklist: one ``c.<item>`` radio group per item, unknown when left out.
CausalityForm = create_model(
    "CausalityForm",
    __base__=_EligibilityForm,
    **{
        name: (who.Answer, Field(who.Answer.unknown, alias=f"c.{name}"))
        for name in who.CHECKLIST_ITEMS
    },
)


def _causality_in(form: _EligibilityForm) -> CausalityIn:
    return CausalityIn(
        eligibility=EligibilityIn(
            vaccine_given_before_event=form.vaccine_given_before_event,
            valid_diagnosis=form.valid_diagnosis,
            clear_event=form.clear_event,
            vaccine=form.vaccine[:200],
            diagnosis=form.diagnosis[:500],
        ),
        checklist={name: getattr(form, name) for name in who.CHECKLIST_ITEMS},
        note=form.note[:2000],
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
    return page_ctx(
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
        vaccine_given_before_event=tri(e.get("vaccine_given_before_event", "")),
        valid_diagnosis=tri(e.get("valid_diagnosis", "")),
        clear_event=tri(e.get("clear_event", "")),
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
    form = await parse_form(request, CausalityForm)
    if isinstance(form, FormErrors):
        return Response(status_code=204)
    try:
        result = case_assessments.preview_causality(session, actor, case_id, _causality_in(form))
    except Invalid:
        return Response(status_code=204)
    return render(
        request,
        "investigation/_causality_result.html",
        {**helpers(), "result": result, "step_labels": STEP_LABELS, "steps": list(who.Step)},
    )


@router.post("/cases/{case_id:int}/causality")
async def causality_save(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    form = await parse_form(request, CausalityForm)
    try:
        if isinstance(form, FormErrors):
            raise Invalid(form.message)
        row = case_assessments.assess_causality(session, actor, case_id, _causality_in(form))
    except Invalid as exc:
        session.rollback()
        page = case_overview.case_page(session, actor, case_id)
        answers = _initial_answers(page)
        return render(
            request,
            "investigation/causality.html",
            _causality_ctx(page, answers, _assess(answers), error=error_text(exc)),
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


class BrightonForm(BaseModel):
    """Ticked criteria and signs (names outside the lists are ignored) and three yes/no."""

    criteria: list[str] = []
    signs: list[str] = []
    sudden: Tri = None
    multiple: Tri = None
    reported: Tri = None

    def brighton_in(self) -> BrightonIn:
        return BrightonIn(
            criteria=[bc.Criterion(c) for c in self.criteria if c in bc.Criterion.__members__],
            signs=[bc.Sign(s) for s in self.signs if s in bc.Sign.__members__],
            sudden_onset_rapid_progression=self.sudden,
            multiple_organ_systems=self.multiple,
            reported_as_anaphylaxis=self.reported,
        )


async def _brighton_in(request: Request) -> BrightonIn:
    form = await parse_form(request, BrightonForm)
    # Every input of the form is optional and lenient: it always parses.
    return form.brighton_in() if isinstance(form, BrightonForm) else BrightonIn()


@router.post("/cases/{case_id:int}/brighton/preview")
async def brighton_preview(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    data = await _brighton_in(request)
    result = case_assessments.preview_brighton(session, actor, case_id, data)
    return render(request, "investigation/_brighton_result.html", {**helpers(), "preview": result})


@router.post("/cases/{case_id:int}/brighton")
async def brighton_save(request: Request, case_id: Id, session: SessionDep, actor: WebActor):
    case_assessments.record_brighton(session, actor, case_id, await _brighton_in(request))
    if is_htmx(request):
        part = case_assessments.brighton_part(session, actor, case_id)
        return render(request, "investigation/_brighton.html", part_ctx(part, saved=True))
    return RedirectResponse(f"/cases/{case_id}#brighton", status_code=303)
