"""The durable job queue's table: work the filing (or any publisher) recorded in its own
transaction for a worker to do seconds later (``aefi.jobs.queue``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from aefi import clock
from aefi.db import UTCDateTime


class QueuedJob(SQLModel, table=True):
    """One piece of deferred work: a ``[retried]`` subscriber of an event (aefi/flow.py).

    Pending: ``done_at`` is None. Claimable: pending, ``run_after`` passed and no live lease
    (``lease_until`` None or passed). Jobs of one (kind, key) that are pending when one of
    them is claimed are merged into it (``merged_into``): one run does the work of all."""

    __tablename__ = "queued_job"
    __table_args__ = (
        Index("ix_queued_job_due", "done_at", "run_after"),
        Index("ix_queued_job_kind_key", "kind", "key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=200)
    # Jobs of one kind with the same key do the same work: pending ones merge (None: never).
    key: str | None = Field(default=None, max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime()))
    run_after: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Runs started (a claim counts one, so a worker killed mid-run counts too).
    attempts: int = 0
    lease_owner: str | None = Field(default=None, max_length=200)
    lease_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    done_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    # How it ended: "done", "merged" (into ``merged_into``) or "abandoned".
    outcome: str = Field(default="", max_length=20)
    merged_into: int | None = None
