"""What a vaccinee or guardian sent through the personal link, and the site's queue of
self-reports waiting for a physician."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from aefi import clock
from aefi.db import UTCDateTime
from aefi.i18n import N_


class Answer(enum.StrEnum):
    well = "well"
    unwell = "unwell"


class SelfReportStatus(enum.StrEnum):
    pending = "pending"
    confirmed = "confirmed"
    dismissed = "dismissed"


class CheckIn(SQLModel, table=True):
    """One answer to "how are you?". Every answer is kept (two the same day are two rows)."""

    __tablename__ = "checkin"

    id: int | None = Field(default=None, primary_key=True)
    dose_id: int = Field(foreign_key="dose.id", index=True)
    county_id: int = Field(foreign_key="region.id", index=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    day: int  # the scheduled day this answer counts for (days after the dose)
    answer: str = Field(max_length=16)
    symptoms: str = Field(default="", max_length=300)  # aftercare.questions codes, comma separated
    onset_on: date | None = None
    severity: str = Field(default="", max_length=16)
    seen_doctor: bool | None = None
    note: str = Field(default="", max_length=1000)
    red_flags: str = Field(default="", max_length=200)
    answered_at: datetime = Field(
        default_factory=clock.now, sa_column=Column(UTCDateTime(), nullable=False)
    )


class SelfReport(SQLModel, table=True):
    """An unwell answer waiting for the site's physician: confirmed into a report (source
    self_report, linked to the dose) or dismissed with a reason."""

    __tablename__ = "self_report"

    id: int | None = Field(default=None, primary_key=True)
    checkin_id: int = Field(foreign_key="checkin.id", unique=True)
    dose_id: int = Field(foreign_key="dose.id", index=True)
    county_id: int = Field(foreign_key="region.id", index=True)
    site_id: int = Field(foreign_key="site.id", index=True)
    urgent: bool = False
    status: str = Field(default=SelfReportStatus.pending, max_length=16, index=True)
    report_id: int | None = Field(default=None, foreign_key="report.id")
    reason: str = Field(default="", max_length=500)
    decided_by: int | None = Field(default=None, foreign_key="app_user.id")
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(
        default_factory=clock.now, sa_column=Column(UTCDateTime(), nullable=False)
    )


LABELS = (
    N_("well"),
    N_("unwell"),
    N_("pending"),
    N_("confirmed"),
    N_("dismissed"),
    N_("sent"),
    N_("failed"),
)


class SmsStatus(enum.StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"


class SmsMessage(SQLModel, table=True):
    """A text message waiting to go out through the SMS gateway (``aftercare.sms``): a
    check-in reminder, or the check-in a halt or recall sends the lot's vaccinees. One per
    dose and check-in day and kind: queuing it again changes nothing."""

    __tablename__ = "sms_message"
    __table_args__ = (UniqueConstraint("dose_id", "day", "kind"),)

    id: int | None = Field(default=None, primary_key=True)
    dose_id: int = Field(foreign_key="dose.id", index=True)
    county_id: int = Field(foreign_key="region.id", index=True)
    kind: str = Field(max_length=16)  # reminder, halt
    day: int
    to_number: str = Field(max_length=40)
    body: str = Field(max_length=500)
    status: str = Field(default=SmsStatus.pending, max_length=16, index=True)
    attempts: int = 0
    next_attempt_at: datetime = Field(
        default_factory=clock.now, sa_column=Column(UTCDateTime(), nullable=False)
    )
    last_error: str = Field(default="", max_length=500)
    gateway_id: str = Field(default="", max_length=64)
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(
        default_factory=clock.now, sa_column=Column(UTCDateTime(), nullable=False)
    )


class CheckinInvite(SQLModel, table=True):
    """A dose whose vaccinee was given the personal link (the denominator of the
    active-surveillance figures): printed on a certificate, or sent by SMS; the first way
    counts."""

    __tablename__ = "checkin_invite"

    id: int | None = Field(default=None, primary_key=True)
    dose_id: int = Field(foreign_key="dose.id", unique=True)
    via: str = Field(max_length=16)  # certificate, sms
    at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime(), nullable=False))
