"""The observation area (留观): one entry per dose watched for its observation time.

An entry is made when a dose recorded at a site is first seen on the site's board (or by
the background sync), or when the physician checks a vaccinee in by hand. It stays open
until the physician releases the person or records an early departure: nobody leaves the
list silently (DOMAIN.md, "Observation")."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from aefi.db import UTCDateTime
from aefi.i18n import N_


class EntrySource(enum.StrEnum):
    dose = "dose"  # the dose record put the person on the board
    hand = "hand"  # checked in by hand


class EntryState(enum.StrEnum):
    observing = "observing"
    ready = "ready"  # observation time is over; waiting for the physician to release
    # A report was filed for the vaccinee: not "ready", whatever the clock says; the
    # physician closes the row with a decision and a reason.
    reported = "reported"
    # ... and a referral is open: the board shows the hospital and the referral's status.
    referred = "referred"
    released = "released"
    left_early = "left_early"
    # Closed by the referral: the receiving hospital recorded the child's arrival.
    handed_over = "handed_over"
    # Closed by the physician's explicit decision (with a reason) after a report.
    decided = "decided"


STATE_LABELS: dict[str, str] = {
    EntryState.observing: N_("Observing"),
    EntryState.ready: N_("Ready to leave"),
    EntryState.released: N_("Released"),
    EntryState.left_early: N_("Left early"),
    EntryState.reported: N_("Report filed: the physician decides"),
    EntryState.referred: N_("Referred to hospital"),
    EntryState.handed_over: N_("Handed over to the hospital"),
    EntryState.decided: N_("Closed by the physician's decision"),
}
# The states in which a row is still in the observation area.
OPEN_STATES = frozenset(
    {EntryState.observing, EntryState.ready, EntryState.reported, EntryState.referred}
)


class ObservationEntry(SQLModel, table=True):
    __tablename__ = "observation_entry"
    __table_args__ = (
        UniqueConstraint("dose_id"),
        Index("ix_observation_site_checked_in", "site_id", "checked_in_at"),
        # The board's "left today" (and the day's counts): by site and the time each way
        # of leaving happened, so a site's years of closed rows are not read each refresh.
        Index("ix_observation_site_released", "site_id", "released_at"),
        Index("ix_observation_site_left_early", "site_id", "left_early_at"),
        Index("ix_observation_site_handed_over", "site_id", "handed_over_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    county_id: int = Field(foreign_key="region.id")
    site_id: int = Field(foreign_key="site.id")
    dose_id: int = Field(foreign_key="dose.id")
    person_id: int = Field(foreign_key="person.id", index=True)
    vaccine_id: int = Field(foreign_key="vaccine.id")
    source: str = Field(default=EntrySource.dose, max_length=8)
    # The observation runs from the vaccination (or from a hand check-in) for ``minutes``.
    checked_in_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    minutes: int = 30
    checked_in_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    checked_in_by_name: str = Field(default="", max_length=100)
    # How it ended: released, or left before the time was over (kept and counted).
    released_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    left_early_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    closed_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    closed_by_name: str = Field(default="", max_length=100)
    note: str = Field(default="", max_length=500)
    # Closed by the referral: when the hospital recorded the arrival, and which leg.
    handed_over_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    referral_id: int | None = Field(default=None, foreign_key="referral.id")
    # The physician's reason for closing a row that has a report (with released_at).
    decision_reason: str = Field(default="", max_length=500)
    # A suspected reaction filed while the person was under observation.
    report_id: int | None = Field(default=None, foreign_key="report.id")
    reaction_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))

    @property
    def is_open(self) -> bool:
        return (
            self.released_at is None and self.left_early_at is None and self.handed_over_at is None
        )


# Audit actions of the board, as timelines show them.
ACTION_LABELS = (
    N_("check_in"),
    N_("release"),
    N_("left_early"),
    N_("close_by_decision"),
    N_("handed_over"),
)
