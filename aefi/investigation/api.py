"""Investigation JSON API (API.md, investigation section)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlmodel import Session

from aefi import i18n
from aefi.auth.permissions import Actor
from aefi.deps import ApiActor, SessionDep
from aefi.investigation import access, lifecycle
from aefi.investigation import causality as who
from aefi.investigation.assessments import service as case_assessments
from aefi.investigation.cases import service as case_files
from aefi.investigation.models import CaseFile, CausalityAssessment
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
from aefi.types import Id, PageNo

router = APIRouter(prefix="/api/v1", tags=["investigation"])


def _lang() -> str:
    return "zh" if i18n.get_locale().startswith("zh") else "en"


def _case_out(case: CaseFile) -> dict:
    states = lifecycle.deadline_states(case)
    warning = case.classification_warning_zh if _lang() == "zh" else case.classification_warning
    return dict(
        id=case.id,
        number=case.number,
        kind=case.kind,
        status=case.status,
        report_id=case.report_id,
        cluster_id=case.cluster_id,
        report_ids=list(case.report_ids),
        event_groups=list(case.event_groups),
        assignee=PersonRef(id=case.assignee_id, name=case.assignee_name)
        if case.assignee_id
        else None,
        serious=case.serious,
        preliminary_report_required=case.preliminary_report_required,
        opened_at=case.opened_at,
        received_at=case.received_at,
        started_at=case.started_at,
        form_completed_at=case.form_completed_at,
        preliminary_report_at=case.preliminary_report_at,
        classified_at=case.classified_at,
        closed_at=case.closed_at,
        deadlines=[
            DeadlineOut(name=s.name, due_at=s.due_at, done_at=s.done_at, overdue=s.overdue)
            for s in states
        ],
        overdue=lifecycle.is_overdue(case),
        next_due_at=case.next_due_at,
        who_category=case.who_category or None,
        china_classification=case.china_classification or None,
        classification_warning=warning or None,
        panel_diagnosis=case.panel_diagnosis,
        panel_on=case.panel_on,
        brighton_level=case.brighton_level,
        appraisal_status=case.appraisal_status,
        compensation_status=case.compensation_status,
    )


def _assessment_out(a: CausalityAssessment) -> AssessmentOut:
    zh = _lang() == "zh"
    labels = who.CATEGORY_LABELS.get(who.CausalityCategory(a.category)) if a.category else None
    return AssessmentOut(
        id=a.id,
        at=a.at,
        assessor_name=a.assessor_name,
        eligible=a.eligible,
        category=a.category or None,
        category_label=(labels["zh"] if zh else labels["en"]) if labels else "",
        applicable=list(a.applicable),
        reasons=list(a.reasons_zh if zh and a.reasons_zh else a.reasons),
        missing=list(a.missing_zh if zh and a.missing_zh else a.missing),
        path=list(a.path),
        eligibility=dict(a.eligibility),
        checklist=dict(a.checklist),
        note=a.note,
    )


def _detail(session: Session, actor: Actor, case_id: Id) -> CaseDetailOut:
    page = case_overview.case_page(session, actor, case_id)
    case = page.case
    return CaseDetailOut(
        **_case_out(case),
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


@router.get("/cases", response_model=CaseList)
def list_cases(
    session: SessionDep,
    actor: ApiActor,
    status_: Annotated[str, Query(alias="status")] = "",
    assignee: str = "",
    overdue: bool = False,
    kind: str = "",
    q: str = "",
    page: Annotated[PageNo, Query()] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CaseList:
    """Case files of the caller's county, the most urgent deadline first. ``status`` empty
    means all but closed; ``all`` includes closed ones. ``assignee``: me, none or a user id."""
    flt = case_overview.CaseFilter(
        status=status_, assignee=assignee, overdue=overdue, kind=kind, q=q
    )
    rows, total = case_overview.list_cases(session, actor, flt, page=page, per_page=per_page)
    return CaseList(
        items=[CaseOut(**_case_out(c)) for c in rows], total=total, page=page, per_page=per_page
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
    return CaseOut(**_case_out(case))


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
    return CaseOut(**_case_out(case))


@router.post("/cases/{case_id}/close", response_model=CaseOut)
def close(
    case_id: Id, session: SessionDep, actor: ApiActor, body: CloseIn | None = None
) -> CaseOut:
    """Close the case; without a classification a ``note`` saying why is required."""
    case = case_panel.close_case(session, actor, case_id, body or CloseIn())
    return CaseOut(**_case_out(case))
