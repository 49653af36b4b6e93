"""Green-channel referrals: one row per hospital asked to take one patient (a leg).

A decline or re-route ends a leg and opens the next one (``previous_id``), so the trail of
every hospital asked, with its times and reasons, stays in the table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from aefi import clock, i18n
from aefi.db import UTCDateTime
from aefi.i18n import N_
from aefi.referral.states import ReferralStatus, Urgency, minutes_between


class Referral(SQLModel, table=True):
    __table_args__ = (
        Index("ix_referral_hospital_status", "hospital_id", "status"),
        Index("ix_referral_county_sent", "county_id", "sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    county_id: int = Field(foreign_key="region.id")
    site_id: int = Field(foreign_key="site.id", index=True)
    hospital_id: int = Field(foreign_key="hospital.id")
    previous_id: int | None = Field(default=None, foreign_key="referral.id")
    leg: int = 1
    status: str = Field(default=ReferralStatus.sent, max_length=16, index=True)
    # triage, physician, decline (re-routed after a decline), reroute (after escalation)
    origin: str = Field(default="physician", max_length=16)
    urgency: str = Field(default=Urgency.urgent, max_length=16)
    reason: str = Field(default="", max_length=2000)
    # The triage rules that asked for it: [{rule, text_en, text_zh}].
    triage_reasons: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    # What was already given at the site.
    adrenaline_mg: float | None = None
    adrenaline_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    treatment_given: str = Field(default="", max_length=2000)
    # Vital signs at the time of referral (weight: children's doses go by it).
    weight_kg: float | None = None
    vitals_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    bp_systolic: int | None = None
    bp_diastolic: int | None = None
    heart_rate: int | None = None
    resp_rate: int | None = None
    spo2: int | None = None
    temperature_c: float | None = None
    consciousness: str = Field(default="", max_length=16)
    transport: str = Field(default="", max_length=16)
    # Contacts: the sending physician, and the family.
    contact_name: str = Field(default="", max_length=100)
    contact_phone: str = Field(default="", max_length=40)
    family_contact: str = Field(default="", max_length=200)
    # Clocks. Time to acknowledge and time to arrival run from sent_at.
    sent_at: datetime = Field(
        default_factory=clock.now, sa_column=Column(UTCDateTime(), nullable=False)
    )
    escalated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    acknowledged_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    arrived_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    admitted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # Who at the hospital took it, and where the patient went.
    acknowledged_by: str = Field(default="", max_length=100)
    ward: str = Field(default="", max_length=100)
    decline_reason: str = Field(default="", max_length=1000)
    # Why the sender re-routed or cancelled it.
    withdraw_reason: str = Field(default="", max_length=1000)
    # The outcome the hospital records.
    result: str = Field(default="", max_length=16)
    diagnosis: str = Field(default="", max_length=500)
    patient_outcome: str = Field(default="", max_length=16)
    transferred_to: str = Field(default="", max_length=200)
    outcome_note: str = Field(default="", max_length=2000)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")

    @property
    def minutes_to_acknowledge(self) -> float | None:
        return minutes_between(self.sent_at, self.acknowledged_at)

    @property
    def minutes_to_arrival(self) -> float | None:
        return minutes_between(self.sent_at, self.arrived_at)


# How each stored value reads (English msgids; Chinese in the catalog).
LABELS: dict[str, str] = {
    "sent": N_("sent"),
    "escalated": N_("escalated"),
    "acknowledged": N_("acknowledged"),
    "arrived": N_("arrived"),
    "admitted": N_("admitted"),
    "discharged": N_("discharged"),
    "transferred": N_("transferred"),
    "died": N_("died"),
    "declined": N_("declined"),
    "rerouted": N_("re-routed"),
    "cancelled": N_("cancelled"),
    "emergency": N_("emergency"),
    "urgent": N_("urgent"),
    "non_urgent": N_("non-urgent"),
    "ambulance_120": N_("ambulance (120)"),
    "site_vehicle": N_("site vehicle"),
    "family": N_("family's own transport"),
    "alert": N_("alert"),
    "voice": N_("responds to voice"),
    "pain": N_("responds to pain"),
    "unresponsive": N_("unresponsive"),
    "triage": N_("triage"),
    "physician": N_("physician"),
    "decline": N_("after a decline"),
    "reroute": N_("re-routed after escalation"),
    "recovered": N_("recovered"),
    "recovering": N_("recovering"),
    "sequelae": N_("sequelae"),
    "unknown": N_("unknown"),
}

# Audit actions on referrals, as timelines show them.
ACTION_LABELS = (
    N_("acknowledge"),
    N_("arrive"),
    N_("admit"),
    N_("discharge"),
    N_("transfer"),
    N_("die"),
    N_("decline"),
    N_("escalate"),
    N_("reroute"),
    N_("cancel"),
)


def label(value: str) -> str:
    """A stored value (status, urgency, result, ...) in the reader's language."""
    return i18n.gettext(LABELS.get(value, value)) if value else ""


class DeskAlert(SQLModel, table=True):
    """A hospital desk user's arrival alert: when on, the inbox sounds (and shows a banner
    for) each newly arrived referral. Absent row: off. Changed on the inbox, audited."""

    __tablename__ = "desk_alert"

    user_id: int = Field(foreign_key="app_user.id", primary_key=True)
    sound: bool = False
    updated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
