"""Case files of the county CDC's investigations: the file itself, the investigation form
saved section by section, WHO causality assessments (every one kept), evidence (files and
notes).

A case file belongs to one report, or to one cluster of reports (group AEFI). The cluster
is triage's record; it is referred to by a plain indexed id, without a foreign key, so that
the investigation tables do not depend on the order of the triage migration."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from aefi import clock
from aefi.db import UTCDateTime
from aefi.i18n import N_
from aefi.investigation.workflow import CASE_STATUS_LABELS, CaseStatus  # noqa: F401


class CaseKind(enum.StrEnum):
    report = "report"
    cluster = "cluster"


class AppraisalStatus(enum.StrEnum):
    """Appraisal (鉴定) by the medical association, asked for when the patient or guardian
    disputes the panel's diagnosis (Regulations on handling AEFI, 预防接种异常反应鉴定办法)."""

    none = "none"
    requested = "requested"
    accepted = "accepted"
    concluded = "concluded"
    withdrawn = "withdrawn"


class CompensationStatus(enum.StrEnum):
    """Compensation (补偿) follows a rare adverse reaction (异常反应) — Vaccine Administration
    Law of the PRC, art. 56."""

    not_applicable = "not_applicable"
    pending = "pending"
    applied = "applied"
    approved = "approved"
    paid = "paid"
    refused = "refused"


# Labels for people. Capitalised msgids, so that they do not collide with other domains'
# lower-case status words in the merged catalog.
CASE_KIND_LABELS: dict[str, str] = {
    CaseKind.report: N_("Single report"),
    CaseKind.cluster: N_("Group AEFI (cluster)"),
}
APPRAISAL_LABELS: dict[str, str] = {
    AppraisalStatus.none: N_("No appraisal requested"),
    AppraisalStatus.requested: N_("Appraisal requested"),
    AppraisalStatus.accepted: N_("Accepted by the medical association"),
    AppraisalStatus.concluded: N_("Appraisal concluded"),
    AppraisalStatus.withdrawn: N_("Request withdrawn"),
}
COMPENSATION_LABELS: dict[str, str] = {
    CompensationStatus.not_applicable: N_("Not applicable"),
    CompensationStatus.pending: N_("To be decided"),
    CompensationStatus.applied: N_("Applied for"),
    CompensationStatus.approved: N_("Approved"),
    CompensationStatus.paid: N_("Paid"),
    CompensationStatus.refused: N_("Refused"),
}


class CaseFile(SQLModel, table=True):
    __tablename__ = "case_file"
    __table_args__ = (
        UniqueConstraint("report_id"),
        UniqueConstraint("cluster_id"),
        Index("ix_case_file_county_status_due", "county_id", "status", "next_due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=40, index=True)
    county_id: int = Field(foreign_key="region.id", index=True)
    kind: str = Field(default=CaseKind.report, max_length=16)
    report_id: int | None = Field(default=None, foreign_key="report.id")
    # Triage's cluster (aefi.triage.models.Cluster): no foreign key, see the module doc.
    cluster_id: int | None = Field(default=None)  # unique (below), so indexed
    cluster_kind: str = Field(default="", max_length=32)
    # The reports the case covers: the one report, or the members of the cluster.
    report_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    event_groups: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    title: str = Field(default="", max_length=300)
    status: str = Field(default=CaseStatus.open, max_length=16, index=True)
    assignee_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    assignee_name: str = Field(default="", max_length=100)
    # Death, serious or group AEFI: the 7-day preliminary report is due (triage decides).
    serious: bool = False
    preliminary_report_required: bool = False
    # Clocks (DOMAIN.md deadlines): start from receipt, form and preliminary report from start.
    opened_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    start_due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    started_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    form_due_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    form_completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    preliminary_due_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    preliminary_report_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # The earliest deadline not yet met (None when none is running): the list sorts by it.
    next_due_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Deadline names already notified as overdue, so the reminder goes out once.
    overdue_notified: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # The latest WHO causality assessment (history in causality_assessment).
    who_category: str = Field(default="", max_length=4)
    who_assessed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Brighton Collaboration anaphylaxis: the recorded criteria and the level they give.
    brighton: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    brighton_level: int | None = None
    # Expert panel (调查诊断专家组) and China's final classification.
    panel_diagnosis: str = Field(default="", max_length=1000)
    panel_on: date | None = None
    panel_members: str = Field(default="", max_length=500)
    china_classification: str = Field(default="", max_length=32)
    classification_note: str = Field(default="", max_length=2000)
    # Set when the Chinese classification disagrees with the WHO category.
    classification_warning: str = Field(default="", max_length=500)
    classification_warning_zh: str = Field(default="", max_length=500)
    classified_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Appraisal (鉴定) by the medical association, and compensation.
    appraisal_status: str = Field(default=AppraisalStatus.none, max_length=16)
    appraisal_requested_on: date | None = None
    appraisal_body: str = Field(default="", max_length=200)
    appraisal_result: str = Field(default="", max_length=1000)
    appraisal_on: date | None = None
    compensation_status: str = Field(default=CompensationStatus.not_applicable, max_length=16)
    compensation_amount: float | None = None
    compensation_note: str = Field(default="", max_length=1000)
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    close_note: str = Field(default="", max_length=1000)
    # Closed with parts of the form missing: why (closing.CloseReason), the words for
    # "other", and the sections still missing when it closed (they are printed).
    close_reason: str = Field(default="", max_length=32)
    close_reason_text: str = Field(default="", max_length=1000)
    close_missing: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reopen_count: int = 0
    updated_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))


class CaseFormSection(SQLModel, table=True):
    """One section of the investigation form (个案调查表), saved on its own so that two
    people working on different sections never overwrite each other."""

    __tablename__ = "case_form_section"
    __table_args__ = (UniqueConstraint("case_id", "section"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    section: str = Field(max_length=32)
    values: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    version: int = 0
    saved_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    saved_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    saved_by_name: str = Field(default="", max_length=100)


class CausalityAssessment(SQLModel, table=True):
    """One run of the WHO causality assessment; every run is kept."""

    __tablename__ = "causality_assessment"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    assessor_id: int | None = Field(default=None, foreign_key="app_user.id")
    assessor_name: str = Field(default="", max_length=100)
    vaccine: str = Field(default="", max_length=200)
    diagnosis: str = Field(default="", max_length=500)
    eligibility: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    checklist: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    eligible: bool = False
    category: str = Field(default="", max_length=4)
    applicable: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reasons_zh: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    missing: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    missing_zh: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    path: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    note: str = Field(default="", max_length=2000)


class CaseAttachment(SQLModel, table=True):
    """A file of evidence. Stored under ``settings.upload_dir`` by a random name; the
    original name is kept here and given back only on download."""

    __tablename__ = "case_attachment"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    filename: str = Field(max_length=255)
    stored_name: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=8)  # pdf, jpg, png, docx, xlsx, txt
    size: int = 0
    sha256: str = Field(default="", max_length=64)
    description: str = Field(default="", max_length=500)
    uploaded_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    uploaded_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    uploaded_by_name: str = Field(default="", max_length=100)
    removed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class CaseNote(SQLModel, table=True):
    __tablename__ = "case_note"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case_file.id", index=True)
    at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    author_id: int | None = Field(default=None, foreign_key="app_user.id")
    author_name: str = Field(default="", max_length=100)
    text: str = Field(max_length=4000)
