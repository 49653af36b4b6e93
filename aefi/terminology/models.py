"""Reported terms and the reports they were reported on.

A term is what a report said, in its own coding system: ``vaers`` (the terms of VAERS's
SYMPTOM1..5 columns), ``meddra_llt`` / ``meddra_pt`` (loaded from a county's licensed MedDRA
files), ``verbatim`` (free text). Its mapping - aefi symptom code, event group, body
system - is edited by an administrator; a term without a symptom code is still a term, and
every report keeps every term it carried (``report_term``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from aefi import clock
from aefi.db import UTCDateTime

SYSTEMS = ("vaers", "meddra_llt", "meddra_pt", "verbatim")


class ReportedTerm(SQLModel, table=True):
    __tablename__ = "reported_term"
    __table_args__ = (
        UniqueConstraint("system", "normalised", name="uq_reported_term_system_normalised"),
        Index("ix_reported_term_system_code", "system", "code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    system: str = Field(max_length=16)
    code: str = Field(default="", max_length=32)  # MedDRA code; blank for VAERS/verbatim
    text: str = Field(max_length=200)  # as first reported
    normalised: str = Field(max_length=200)
    parent_code: str = Field(default="", max_length=32)  # an LLT's PT
    soc: str = Field(default="", max_length=16)  # MedDRA primary SOC abbreviation
    symptom_code: str | None = Field(default=None, max_length=16, index=True)
    event_group: str | None = Field(default=None, max_length=32)
    body_system: str | None = Field(default=None, max_length=32)
    origin: str = Field(default="import", max_length=16)  # seed, import, meddra
    edited_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    edited_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))


class ReportTerm(SQLModel, table=True):
    """A term a report carried; ``occurrences`` counts repeats on the same report."""

    __tablename__ = "report_term"
    __table_args__ = (UniqueConstraint("report_id", "term_id", name="uq_report_term"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    term_id: int = Field(foreign_key="reported_term.id", index=True)
    occurrences: int = 1
