"""Reports of suspected reactions (个案报告卡), their doses, follow-ups, drafts."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from aefi import clock
from aefi.db import UTCDateTime
from aefi.i18n import N_


class ReportStatus(enum.StrEnum):
    submitted = "submitted"  # filed, triaged, nobody working on it yet
    investigating = "investigating"
    classified = "classified"
    closed = "closed"


class Outcome(enum.StrEnum):
    recovered = "recovered"
    recovering = "recovering"
    sequelae = "sequelae"
    died = "died"
    unknown = "unknown"


LABELS = (
    N_("submitted"),
    N_("investigating"),
    N_("classified"),
    N_("closed"),
    N_("recovered"),
    N_("recovering"),
    N_("sequelae"),
    N_("died"),
)


class Report(SQLModel, table=True):
    """The report card as filed. Later facts arrive as follow-ups; the card is not rewritten."""

    __table_args__ = (
        UniqueConstraint("county_id", "number"),
        Index("ix_report_site_filed", "site_id", "reported_at"),
        # The full scan's disproportionality reads the imported (VAERS) reports only.
        Index("ix_report_source", "source"),
    )

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=40)
    county_id: int = Field(foreign_key="region.id", index=True)
    site_id: int = Field(foreign_key="site.id")
    person_id: int = Field(foreign_key="person.id", index=True)
    status: str = Field(default=ReportStatus.submitted, max_length=16, index=True)
    # Patient as written on the card (the registry's person may change later).
    patient_name: str = Field(max_length=100)
    patient_sex: str = Field(default="unknown", max_length=8)
    patient_birth_on: date | None = None
    patient_id_number: str = Field(default="", max_length=32)
    guardian_name: str = Field(default="", max_length=100)
    patient_phone: str = Field(default="", max_length=40)
    patient_address: str = Field(default="", max_length=300)
    # Event.
    onset_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    symptoms: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    event_groups: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    description: str = Field(default="", max_length=4000)
    max_temperature_c: float | None = None
    local_reaction_cm: float | None = None
    death: bool = False
    life_threatening: bool = False
    hospitalization: bool = False
    disability: bool = False
    congenital_anomaly: bool = False
    needs_hospital_care: bool = False
    already_in_hospital: bool = False
    great_public_concern: bool = False
    treatment: str = Field(default="", max_length=2000)
    # What the site gave and measured in an emergency (aefi.intake.emergency.EmergencyIn,
    # stored as JSON); None when nothing was recorded.
    emergency: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    hospital_name: str = Field(default="", max_length=200)
    outcome: str = Field(default=Outcome.unknown, max_length=16)
    diagnosis: str = Field(default="", max_length=500)
    diagnosis_clear: bool = False  # the physician is sure it is a common reaction
    # Reporter.
    reporter_id: int | None = Field(default=None, foreign_key="app_user.id")
    reporter_unit: str = Field(default="", max_length=200)
    reporter_name: str = Field(default="", max_length=100)
    reporter_phone: str = Field(default="", max_length=40)
    # Clocks: the 48 h and 2 h deadlines run from discovery; investigation from receipt.
    discovered_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    reported_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # How the doses were linked, and what was wrong with a lot at the time.
    linked_by_hand: bool = False
    lot_flag: str = Field(default="", max_length=500)
    confirmed_new_event: bool = False
    source: str = Field(default="web", max_length=16)  # web, api, vaers
    external_id: str = Field(default="", max_length=64, index=True)
    # Current triage decision (triage writes it; the history stays in the audit trail).
    serious: bool = Field(default=False, index=True)
    triage: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ReportDose(SQLModel, table=True):
    """A dose the report is linked to: a registry dose, or one entered by hand (given
    elsewhere) whose lot exists in the registry."""

    __tablename__ = "report_dose"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    dose_id: int | None = Field(default=None, foreign_key="dose.id", index=True)
    lot_id: int = Field(foreign_key="lot.id", index=True)
    vaccine_id: int = Field(foreign_key="vaccine.id", index=True)
    administered_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    dose_number: int | None = 1  # None: not known (VAERS imports with a blank or 0 dose)
    route: str = Field(default="", max_length=16)
    body_site: str = Field(default="", max_length=64)
    vaccinating_unit: str = Field(default="", max_length=200)
    lot_as_reported: str = Field(default="", max_length=64)  # the raw lot text, if cleaned


class FollowUp(SQLModel, table=True):
    """Later information on a report, dated; ``changes`` names the facts it updates."""

    __tablename__ = "follow_up"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    author_id: int | None = Field(default=None, foreign_key="app_user.id")
    author_name: str = Field(default="", max_length=100)
    source: str = Field(default="reporter", max_length=32)  # reporter, hospital, investigator
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    note: str = Field(default="", max_length=4000)


class ReportCounter(SQLModel, table=True):
    __tablename__ = "report_counter"

    county_id: int = Field(foreign_key="region.id", primary_key=True)
    year: int = Field(primary_key=True)
    last: int = 0


class IdempotencyKey(SQLModel, table=True):
    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id")
    key: str = Field(max_length=200)
    report_id: int = Field(foreign_key="report.id")
    created_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))


class Draft(SQLModel, table=True):
    """An unfinished report form, saved as it is typed. A draft saved after the session
    expired belongs to the browser (device) until its user logs in again there."""

    __table_args__ = (UniqueConstraint("user_id", "subject_key", name="uq_draft_user_subject"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="app_user.id", index=True)
    device: str = Field(default="", max_length=64, index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    updated_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    report_id: int | None = Field(default=None, foreign_key="report.id")
    # The vaccinee and dose the draft is about (``drafts.keys``): one draft per user and
    # subject, offered only on the form for that dose.
    subject_key: str | None = Field(default=None, max_length=160)
