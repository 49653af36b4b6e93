"""Reporting tables: the sites' daily reports (日报), kept in every submitted version, and
the contacts made with vaccinees of a halted or recalled lot."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from aefi.db import UTCDateTime
from aefi.i18n import N_
from aefi.registry.models import Dose

# The indicators count a period's doses by site and lot (hence by township and vaccine) in
# one pass over this index alone, without reading the dose rows: 200,000 doses of a
# quarter in a few tens of milliseconds instead of a few hundred (bench/bench_reporting.py).
# Declared here, on the registry's table, because reporting is the reader that needs it
# (migration 0008 creates it).
DOSE_SITE_TIME_LOT_INDEX = Index(
    "ix_dose_site_time_lot",
    Dose.__table__.c.site_id,
    Dose.__table__.c.administered_at,
    Dose.__table__.c.lot_id,
)

# The figures of a daily report, in the order forms and tables show them.
FIGURES: tuple[tuple[str, str], ...] = (
    ("doses", N_("Doses given")),
    ("observed", N_("Persons observed")),
    ("released", N_("Persons released")),
    ("left_early", N_("Left early")),
    ("reports", N_("Reports filed")),
    ("serious", N_("Serious reports")),
    ("referrals", N_("Referrals")),
)


class DailyReport(SQLModel, table=True):
    """One submitted version of a site's report for one day. A correction after submission
    is a new row with the next version; the old one stays as it was."""

    __tablename__ = "daily_report"
    __table_args__ = (
        UniqueConstraint("site_id", "report_on", "version"),
        Index("ix_daily_report_county_day", "county_id", "report_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    county_id: int = Field(foreign_key="region.id")
    site_id: int = Field(foreign_key="site.id")
    report_on: date
    version: int = 1
    # Doses per vaccine and dose number: [{vaccine_id, vaccine_code, dose_number, count}].
    dose_lines: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    doses: int = 0
    observed: int = 0
    released: int = 0
    left_early: int = 0
    reports: int = 0
    serious: int = 0
    referrals: int = 0
    # What the records said when it was submitted, and which figures the site corrected.
    computed: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    corrected: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    remark: str = Field(default="", max_length=2000)
    submitted_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    submitted_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    submitted_by_name: str = Field(default="", max_length=100)
    deadline_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    late: bool = False


class ContactOutcome(enum.StrEnum):
    not_reached = "not_reached"
    well = "well"
    reaction = "reaction"


CONTACT_LABELS: dict[str, str] = {
    ContactOutcome.not_reached: N_("Not reached"),
    ContactOutcome.well: N_("Reached, well"),
    ContactOutcome.reaction: N_("Reached, reaction"),
}


class FollowUpContact(SQLModel, table=True):
    """One attempt to reach a person vaccinated with a halted or recalled lot."""

    __tablename__ = "follow_up_contact"
    __table_args__ = (Index("ix_follow_up_contact_lot_person", "lot_id", "person_id"),)

    id: int | None = Field(default=None, primary_key=True)
    county_id: int = Field(foreign_key="region.id")
    lot_id: int = Field(foreign_key="lot.id")
    person_id: int = Field(foreign_key="person.id")
    dose_id: int = Field(foreign_key="dose.id")
    site_id: int = Field(foreign_key="site.id")
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    outcome: str = Field(max_length=16)
    note: str = Field(default="", max_length=1000)
    by_id: int | None = Field(default=None, foreign_key="app_user.id")
    by_name: str = Field(default="", max_length=100)
    # The report filed after a contact found a reaction (set when it is filed).
    report_id: int | None = Field(default=None, foreign_key="report.id")


# Audit actions of reporting, as timelines show them.
ACTION_LABELS = (N_("submit"), N_("contact"), N_("export"))
