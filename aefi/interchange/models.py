"""What aefi keeps of the ICSRs it received: which case each report came from, so a
follow-up finds its report, a repeated message changes nothing, and a re-export keeps the
worldwide case number and what the sender said that aefi has no column for."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from aefi import clock
from aefi.db import UTCDateTime


class IcsrLink(SQLModel, table=True):
    __tablename__ = "icsr_link"
    __table_args__ = (UniqueConstraint("county_id", "worldwide_case_id"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", unique=True)
    county_id: int = Field(foreign_key="region.id", index=True)
    worldwide_case_id: str = Field(max_length=100)  # C.1.8.1, kept on every re-export
    safety_report_id: str = Field(max_length=100)  # the sender's C.1.1
    sender_identifier: str = Field(default="", max_length=60)  # N.1.3 of the batch
    last_message_id: str = Field(default="", max_length=100)  # N.2.r.1 last applied
    received_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    # As received: [{product_name, product_code, manufacturer, lot_number, dose_number,
    # route, administered_at}] for vaccines whose lot is not in the registry, and
    # [{reported_term, meddra_code, meddra_version}] for every reaction.
    unlinked_vaccines: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    reactions: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )


class UpstreamStatus(enum.StrEnum):
    pending = "pending"  # waiting for its (next) attempt
    sent = "sent"  # the upstream took the batch; its acknowledgement named no verdict yet
    acknowledged = "acknowledged"  # CA: the upstream filed the case
    rejected = "rejected"  # CR / AR, or gave up after the last retry: ``reason`` says why


class UpstreamMessage(SQLModel, table=True):
    """An ICSR to send upward (the province's aefi, or any E2B endpoint): queued in the
    transaction of the change, sent later by the ``interchange_upstream`` job, retried
    with back-off, acknowledged per case. The XML is built when sent (the case as it is
    then); ``message_id`` is the ICSR's N.2.r.1, so a retried send is one message."""

    __tablename__ = "upstream_message"
    __table_args__ = (Index("ix_upstream_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True)
    county_id: int = Field(foreign_key="region.id", index=True)
    message_id: str = Field(max_length=100, unique=True)
    reason_queued: str = Field(default="", max_length=40)  # filed, follow_up, case_changed
    status: str = Field(default=UpstreamStatus.pending, max_length=16)
    attempts: int = 0
    created_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    next_attempt_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    acked_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    batch_ack: str = Field(default="", max_length=2)  # AA / AE / AR
    case_ack: str = Field(default="", max_length=2)  # CA / CR
    remote_number: str = Field(default="", max_length=64)  # the upstream's report number
    reason: str = Field(default="", max_length=1000)  # the receiver's reason, or the error
