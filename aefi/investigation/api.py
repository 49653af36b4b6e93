"""Investigation JSON API (API.md, investigation section)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlmodel import Session

from aefi import exporting, i18n, listing
from aefi.auth.permissions import Actor
from aefi.deps import ApiActor, SessionDep
from aefi.investigation import access, lifecycle
from aefi.investigation import causality as who
from aefi.investigation.assessments import service as case_assessments
from aefi.investigation.cases import service as case_files
from aefi.investigation.models import CaseFile, CausalityAssessment
from aefi.investigation.overview import export as case_export
from aefi.investigation.overview import service as case_overview
from aefi.investigation.panel import service as case_panel
from aefi.investigation.schemas import (
    AssessmentOut,
    AssignIn,
    CaseDetailOut,
    CaseList,
    CaseOut,
    CausalityIn,
    CausalityOut,
    ClassifyIn,
    CloseIn,
    DeadlineOut,
    PersonRef,
)
from aefi.types import Id

router = APIRouter(prefix="/api/v1", tags=["investigation"])


def _lang() -> str:
    return "zh" if i18n.get_locale().startswith("zh") else "en"


def _case_fields(case: CaseFile) -> dict:
    """The case file's own columns, and what the API adds or says differently."""
    warning = case.classification_warning_zh if _lang() == "zh" else case.classification_warning
    return {
        **case.model_dump(),
        "assignee": PersonRef(id=case.assignee_id, name=case.assignee_name)
        if case.assignee_id
        else None,
        "deadlines": [
            DeadlineOut.model_validate(s, from_attributes=True)
            for s in lifecycle.deadline_states(case)
        ],
        "overdue": lifecycle.is_overdue(case),
        "next_due_at": case.next_due_at,
        # Not yet assessed, classified or warned: null rather than the columns' empty text.
        "who_category": case.who_category or None,
        "china_classification": case.china_classification or None,
        "classification_warning": warning or None,
        "close_reason": case.close_reason or None,
    }


def _case_out(case: CaseFile) -> CaseOut:
    return CaseOut.model_validate(_case_fields(case))


def _assessment_out(a: CausalityAssessment) -> AssessmentOut:
    zh = _lang() == "zh"
    labels = who.CATEGORY_LABELS.get(who.CausalityCategory(a.category)) if a.category else None
    return AssessmentOut.model_validate(
        {
            **a.model_dump(),
            "category": a.category or None,
            "category_label": (labels["zh"] if zh else labels["en"]) if labels else "",
            "reasons": a.reasons_zh if zh and a.reasons_zh else a.reasons,
            "missing": a.missing_zh if zh and a.missing_zh else a.missing,
        }
    )


def _detail(session: Session, actor: Actor, case_id: Id) -> CaseDetailOut:
    page = case_overview.case_page(session, actor, case_id)
    case = page.case
    return CaseDetailOut.model_validate(
        _case_fields(case)
        | dict(
            form={k: dict(v.values) for k, v in page.sections.items()},
            form_missing=[f"{s.key}.{f.name}" for s, f in page.missing],
            assessments=[_assessment_out(a) for a in page.assessments],
            brighton=dict(case.brighton or {}),
            appraisal={
                "status": case.appraisal_status,
                "requested_on": case.appraisal_requested_on,
                "body": case.appraisal_body,
                "result": case.appraisal_result,
                "result_on": case.appraisal_on,
            },
            compensation={
                "status": case.compensation_status,
                "amount": case.compensation_amount,
                "note": case.compensation_note,
            },
            attachments=[
                {
                    "id": a.id,
                    "filename": a.filename,
                    "kind": a.kind,
                    "size": a.size,
                    "sha256": a.sha256,
                    "uploaded_at": a.uploaded_at,
                    "uploaded_by": a.uploaded_by_name,
                    "url": f"/cases/{case.id}/attachments/{a.id}",
                }
                for a in page.attachments
            ],
            notes=[{"at": n.at, "author": n.author_name, "text": n.text} for n in page.notes],
        )
    )


@dataclass(frozen=True)
class CaseParams:
    """The case list's filters as the API takes them."""

    status: str = ""
    assignee: str = ""
    overdue: bool = False
    kind: str = ""
    q: str = ""
    sort: Annotated[str, Query(pattern=listing.sort_pattern(case_overview.CASE_SORTS))] = "due"


@router.get("/cases", response_model=CaseList, responses=exporting.API_RESPONSES)
def list_cases(
    session: SessionDep,
    actor: ApiActor,
    params: Annotated[CaseParams, Depends()],
    at: Annotated[listing.ApiPaging, Depends()],
    format: exporting.ApiFormat = "json",
) -> CaseList:
    """Case files of the caller's county, the most urgent deadline first. ``status`` empty
    means all but closed; ``all`` includes closed ones. ``assignee``: me, none or a user id.
    ``sort``: due, number, patient, status, assignee, who or opened (``-`` descending)."""
    flt = case_overview.CaseFilter(**asdict(params))
    if format != "json":
        return exporting.export_list(
            session,
            actor,
            case_export.CASES,
            lambda n, size: case_overview.list_cases(session, actor, flt, page=n, per_page=size),
            fmt=format,
            filter_text=exporting.describe(flt),
        )
    rows, total = case_overview.list_cases(session, actor, flt, page=at.page, per_page=at.per_page)
    return CaseList(
        items=[_case_out(c) for c in rows], total=total, page=at.page, per_page=at.per_page
    )


@router.get("/cases/{case_id}", response_model=CaseDetailOut)
def get_case(case_id: Id, session: SessionDep, actor: ApiActor) -> CaseDetailOut:
    return _detail(session, actor, case_id)


@router.post("/cases/{case_id}/assign", response_model=CaseOut)
def assign(
    case_id: Id, session: SessionDep, actor: ApiActor, body: AssignIn | None = None
) -> CaseOut:
    """Assign to ``assignee_id`` or ``username``; an empty body assigns the caller."""
    case = case_files.assign_case(session, actor, case_id, body or AssignIn())
    return _case_out(case)


@router.post(
    "/cases/{case_id}/causality", status_code=status.HTTP_201_CREATED, response_model=CausalityOut
)
def causality(case_id: Id, body: CausalityIn, session: SessionDep, actor: ApiActor) -> CausalityOut:
    """Run and keep a WHO causality assessment. ``checklist`` maps item names or numbers
    (``"I.1"`` … ``"V.4"``) to yes, no, unknown or na; the answer names the category (A1–A4,
    B1, B2, C, D, or null when not eligible), the reasons, and what is missing."""
    row = case_assessments.assess_causality(session, actor, case_id, body)
    case = access.get_case(session, actor, case_id)
    warning = case.classification_warning_zh if _lang() == "zh" else case.classification_warning
    return CausalityOut(
        case_id=case_id, assessment=_assessment_out(row), classification_warning=warning or None
    )


@router.post("/cases/{case_id}/classify", response_model=CaseOut)
def classify(case_id: Id, body: ClassifyIn, session: SessionDep, actor: ApiActor) -> CaseOut:
    """The expert panel's classification (``china_classification``: common_reaction,
    rare_reaction, quality_defect, immunization_error, coincidental, psychogenic);
    ``classification_warning`` says when it disagrees with the WHO category."""
    case = case_panel.classify_case(session, actor, case_id, body)
    return _case_out(case)


@router.post("/cases/{case_id}/close", response_model=CaseOut)
def close(
    case_id: Id, session: SessionDep, actor: ApiActor, body: CloseIn | None = None
) -> CaseOut:
    """Close the case. With required sections of the investigation form empty it is
    refused (422, one ``detail`` entry per section, ``loc`` ``["body", "missing.<key>"]``)
    unless ``reason`` is lost_to_follow_up, refused_by_family or other (with
    ``reason_text``); without a classification a ``note`` or a ``reason`` is required."""
    case = case_panel.close_case(session, actor, case_id, body or CloseIn())
    return _case_out(case)
