"""In-app notifications and the e-mail outbox."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from aefi import clock
from aefi.db import UTCDateTime


class OutboxStatus(enum.StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"  # gave up after the last retry


class Notification(SQLModel, table=True):
    __table_args__ = (Index("ix_notification_user_unread", "user_id", "read_at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id")
    kind: str = Field(max_length=32)  # escalation, cluster, referral, halt, signal, deadline
    title: str = Field(max_length=300)
    body: str = Field(default="", max_length=4000)
    link: str = Field(default="", max_length=300)
    urgent: bool = False
    created_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    read_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class OutboxMessage(SQLModel, table=True):
    """A mail to send. Written in the transaction of the event, sent later, retried until
    the server takes it, so a mail server being down loses nothing."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    to_address: str = Field(max_length=200)
    subject: str = Field(max_length=300)
    body: str = Field(default="", max_length=8000)
    status: str = Field(default=OutboxStatus.pending, max_length=16)
    attempts: int = 0
    created_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    next_attempt_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str = Field(default="", max_length=500)
