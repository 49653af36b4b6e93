"""Triage's API shapes: queue items and their acknowledgements, clusters, the rules in force
(API.md, "Triage")."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from aefi.types import Id


class AcknowledgementOut(BaseModel):
    id: int
    user_name: str
    role: str
    at: datetime
    note: str


class EscalationOut(BaseModel):
    id: int
    kind: str  # report | cluster
    report_id: Id | None
    report_number: str | None
    cluster_id: Id | None
    urgency: int
    urgency_name: str
    escalated_at: datetime
    due_at: datetime
    overdue: bool
    acknowledged: bool
    acknowledgements: list[AcknowledgementOut]


class AcknowledgeIn(BaseModel):
    note: str = ""


class ClusterOut(BaseModel):
    id: int
    kind: str
    kinds: list[str]
    event_group: str
    status: str
    site_id: Id | None
    lot_id: Id | None
    vaccine_id: Id | None
    member_count: int
    report_ids: list[int] = []
    first_onset_at: datetime
    last_onset_at: datetime
    reason_en: str
    reason_zh: str
    observed: int | None
    expected: float | None
    p_value: float | None
    ruleset_version: str
    escalated_at: datetime | None
    evaluation_lot_ids: list[int]
    evaluation_requested_at: datetime | None
    evaluated_at: datetime | None


class RulesOut(BaseModel):
    version: str
    declared_version: str
    path: str
    error: str | None
    text: str
