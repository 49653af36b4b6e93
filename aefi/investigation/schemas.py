"""Input and output shapes of investigation, for the service, the pages and the API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field, field_validator

from aefi.investigation.brighton import Criterion, Sign
from aefi.investigation.causality import Answer, ChinaClassification
from aefi.investigation.models import AppraisalStatus, CompensationStatus
from aefi.types import Day, Id


class AssignIn(BaseModel):
    """Whom to assign: by id or user name; neither means the caller takes the case."""

    assignee_id: Id | None = None
    username: str | None = None


class EligibilityIn(BaseModel):
    vaccine_given_before_event: bool | None = None
    valid_diagnosis: bool | None = None
    clear_event: bool | None = None
    vaccine: str = Field(default="", max_length=200)
    diagnosis: str = Field(default="", max_length=500)


class CausalityIn(BaseModel):
    """Step 1 and the checklist of step 2. Checklist keys are the item names of
    ``causality.CHECKLIST_ITEMS`` or their numbers ("I.1" … "V.4"); items left out are
    unknown."""

    eligibility: EligibilityIn = Field(default_factory=EligibilityIn)
    checklist: dict[str, Answer] = Field(default_factory=dict)
    note: str = Field(default="", max_length=2000)


class ClassifyIn(BaseModel):
    """The expert panel's final diagnosis (调查诊断专家组)."""

    china_classification: ChinaClassification
    panel_diagnosis: str = Field(default="", max_length=1000)
    panel_on: Day | None = None
    panel_members: str = Field(default="", max_length=500)
    note: str = Field(default="", max_length=2000)


class CloseIn(BaseModel):
    """``reason`` (closing.CloseReason: lost_to_follow_up, refused_by_family, other) is
    needed when required sections of the investigation form are empty; ``reason_text``
    says what "other" means."""

    note: str = Field(default="", max_length=1000)
    reason: str = Field(default="", max_length=32)
    reason_text: str = Field(default="", max_length=1000)


class ReopenIn(BaseModel):
    reason: str = Field(default="", max_length=1000)


class BrightonIn(BaseModel):
    criteria: list[Criterion] = Field(default_factory=list)
    signs: list[Sign] = Field(default_factory=list)
    sudden_onset_rapid_progression: bool | None = None
    multiple_organ_systems: bool | None = None
    # None: taken from the report (its event groups include anaphylaxis).
    reported_as_anaphylaxis: bool | None = None


class AppraisalIn(BaseModel):
    status: AppraisalStatus
    requested_on: Day | None = None
    body: str = Field(default="", max_length=200)
    result: str = Field(default="", max_length=1000)
    result_on: Day | None = None


class CompensationIn(BaseModel):
    status: CompensationStatus
    amount: float | None = Field(default=None, ge=0)
    note: str = Field(default="", max_length=1000)


class NoteIn(BaseModel):
    text: str = Field(max_length=4000)

    @field_validator("text")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()


# --- out -------------------------------------------------------------------------------


class PersonRef(BaseModel):
    id: int
    name: str


class DeadlineOut(BaseModel):
    name: str
    due_at: datetime | None
    done_at: datetime | None
    overdue: bool


class AssessmentOut(BaseModel):
    id: int
    at: datetime
    assessor_name: str
    eligible: bool
    category: str | None
    category_label: str
    applicable: list[str]
    reasons: list[str]
    missing: list[str]
    path: list[str]
    eligibility: dict[str, Any]
    checklist: dict[str, Any]
    note: str


class CaseOut(BaseModel):
    id: int
    number: str
    kind: str
    status: str
    report_id: int | None
    cluster_id: int | None
    report_ids: list[int]
    event_groups: list[str]
    assignee: PersonRef | None
    serious: bool
    preliminary_report_required: bool
    opened_at: datetime
    received_at: datetime
    started_at: datetime | None
    form_completed_at: datetime | None
    preliminary_report_at: datetime | None
    classified_at: datetime | None
    closed_at: datetime | None
    deadlines: list[DeadlineOut]
    overdue: bool
    next_due_at: datetime | None
    who_category: str | None
    china_classification: str | None
    classification_warning: str | None
    panel_diagnosis: str
    panel_on: date | None
    brighton_level: int | None
    appraisal_status: str
    compensation_status: str
    close_note: str = ""
    close_reason: str | None = None
    close_reason_text: str = ""
    close_missing: list[str] = Field(default_factory=list)


class CaseDetailOut(CaseOut):
    form: dict[str, dict[str, Any]]
    form_missing: list[str]
    assessments: list[AssessmentOut]
    brighton: dict[str, Any]
    appraisal: dict[str, Any]
    compensation: dict[str, Any]
    attachments: list[dict[str, Any]]
    notes: list[dict[str, Any]]


class CaseList(BaseModel):
    items: list[CaseOut]
    total: int
    page: int
    per_page: int


class CausalityOut(BaseModel):
    case_id: int
    assessment: AssessmentOut
    classification_warning: str | None
