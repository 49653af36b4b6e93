"""Triage tables: clusters (group AEFI) and their members, the escalation queue and its
acknowledgements, and every rule-set text a decision was made with.

The decision itself lives on the report (``Report.triage``, API.md's triage object); the
history of decisions is in the audit trail (action "triage")."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from aefi import clock
from aefi.db import UTCDateTime
from aefi.i18n import N_
from aefi.intake.models import Report, ReportDose

# Cluster detection and the queue look up a site's (and a lot's) recent reports by onset:
# the composite index keeps that one range scan per report filed (intake's table, declared
# here because triage is the one that needs it; migration 0004 creates it).
Index("ix_report_site_onset", Report.__table__.c.site_id, Report.__table__.c.onset_at)
# The lot rule's window: the county's reports by onset, each checked for the lots by
# report_dose(report_id, lot_id), so neither the county's nor the lot's history is read
# (migration 0031).
Index("ix_report_county_onset", Report.__table__.c.county_id, Report.__table__.c.onset_at)
Index(
    "ix_report_dose_report_lot",
    ReportDose.__table__.c.report_id,
    ReportDose.__table__.c.lot_id,
)


class ClusterStatus(enum.StrEnum):
    open = "open"  # escalated, under review; new members join it
    closed = "closed"  # reviewed; a later finding opens a new cluster


class Urgency(enum.IntEnum):
    """Order of the escalation queue: death first, then life-threatening events and
    designated conditions, then clusters, then other serious reports, then public concern."""

    death = 0
    life_threatening = 1
    cluster = 2
    serious = 3
    public_concern = 4


URGENCY_LABELS = {
    Urgency.death: N_("Death"),
    Urgency.life_threatening: N_("Life-threatening or designated condition"),
    Urgency.cluster: N_("Cluster (group AEFI)"),
    Urgency.serious: N_("Serious"),
    Urgency.public_concern: N_("Great public concern"),
}

# The cluster rules (clusters.ClusterKind) as people read them.
KIND_LABELS = {
    "site_serious": N_("Serious reports at one site"),
    "lot_serious": N_("Serious reports of one lot"),
    "site_increase": N_("Marked increase at one site"),
}

# Statuses and audit actions shown through the catalog.
LABELS = (
    N_("open"),
    N_("closed"),
    N_("triage"),
    N_("acknowledge"),
    N_("grow"),
    N_("evaluate"),
)


class Cluster(SQLModel, table=True):
    """A possible group AEFI (群体性AEFI): reports of one event group related in place,
    lot or vaccine and time. One record per group of reports: a later finding that shares a
    member with an open cluster of the same event group joins it instead of duplicating it.
    """

    id: int | None = Field(default=None, primary_key=True)
    county_id: int = Field(foreign_key="region.id", index=True)
    # The rule that formed it (clusters.ClusterKind) and every rule that matched since.
    kind: str = Field(max_length=16)
    kinds: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    event_group: str = Field(max_length=32)
    # Where it was found: the site of a site rule, the lot of the lot rule, the vaccine of
    # the increase rule (None when that rule did not match).
    site_id: int | None = Field(default=None, foreign_key="site.id", index=True)
    lot_id: int | None = Field(default=None, foreign_key="lot.id", index=True)
    vaccine_id: int | None = Field(default=None, foreign_key="vaccine.id")
    status: str = Field(default=ClusterStatus.open, max_length=16, index=True)
    member_count: int = 0
    first_onset_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_onset_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Why, for people: the latest finding of each rule that matched ({kind: {en, zh}}),
    # and all of them as one text per language.
    findings: dict[str, dict[str, str]] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )
    reason_en: str = Field(default="", max_length=4000)
    reason_zh: str = Field(default="", max_length=4000)
    # Marked-increase findings: the exact Poisson test.
    observed: int | None = None
    expected: float | None = None
    p_value: float | None = None
    ruleset_version: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    updated_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    escalated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Signals is asked to evaluate these lots (the lot of a lot cluster, else the lots of the
    # members' doses) whenever the cluster forms or grows; signals records when it did.
    evaluation_lot_ids: list[int] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    evaluation_requested_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    evaluated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class ClusterMember(SQLModel, table=True):
    __tablename__ = "cluster_member"
    __table_args__ = (UniqueConstraint("cluster_id", "report_id"),)

    id: int | None = Field(default=None, primary_key=True)
    cluster_id: int = Field(foreign_key="cluster.id", index=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    joined_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))


class Escalation(SQLModel, table=True):
    """One item of the escalation queue: an escalated report or a cluster.

    ``raised_at`` moves when the item becomes more urgent (a follow-up reports a death);
    acknowledgements older than it no longer count, so the item comes back to the queue."""

    __table_args__ = (Index("ix_escalation_queue", "county_id", "closed_at", "urgency", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    county_id: int = Field(foreign_key="region.id")
    report_id: int | None = Field(default=None, foreign_key="report.id", unique=True)
    cluster_id: int | None = Field(default=None, foreign_key="cluster.id", unique=True)
    site_id: int | None = Field(default=None, foreign_key="site.id")
    urgency: int = Field(default=Urgency.serious)
    # The first deadline that the county must meet (the 2 h fast report, else the start of
    # the investigation).
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    escalated_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    raised_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    overdue_notified_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class Acknowledgement(SQLModel, table=True):
    """Who took charge of a queue item, and when: one row each time someone acknowledges."""

    id: int | None = Field(default=None, primary_key=True)
    escalation_id: int = Field(foreign_key="escalation.id", index=True)
    user_id: int = Field(foreign_key="app_user.id")
    user_name: str = Field(default="", max_length=100)
    role: str = Field(max_length=16)
    at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    note: str = Field(default="", max_length=500)


class RulesetVersion(SQLModel, table=True):
    """Every rule-set text a decision was made with, so an old decision shows its rules."""

    __tablename__ = "ruleset_version"

    version: str = Field(primary_key=True, max_length=64)
    declared_version: str = Field(max_length=32)
    text: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(default="", max_length=500)
    first_used_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
