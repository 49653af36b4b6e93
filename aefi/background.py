"""Background work in-process on a timer: outbox delivery, deadline and referral timers,
signal scans. The jobs are listed in one place, ``aefi.flow.JOBS``.

Every process of an installation runs this loop (``aefi serve --workers N``), and each job
still runs exactly once per interval across all of them: a ``job_lease`` row per job keeps
its last run time, and a process runs the job only if it moves that time forward itself,
atomically (``UPDATE ... WHERE last_run_at <= now - every_s``, one row changed or none).
The claim commits before the job runs, so a job that fails waits for its next interval
(the error is logged). On PostgreSQL the run also holds an advisory lock, so a run that
outlasts its interval never overlaps the next one (DESIGN.md, "Beyond one machine")."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Column, select, text, update
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel

from aefi import clock
from aefi.db import UTCDateTime, get_engine

log = logging.getLogger("aefi.background")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class JobLease(SQLModel, table=True):
    """When each background job last ran, in any process, and which process ran it."""

    __tablename__ = "job_lease"

    name: str = Field(primary_key=True, max_length=100)
    last_run_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    run_by: str = Field(default="", max_length=200)


@dataclass
class Job:
    name: str
    run: Callable[[Session], object]
    every_s: int
    # This process's next look at the lease (epoch seconds); 0: at the first tick.
    next_at: float = 0.0


WHO = f"{socket.gethostname()}:{os.getpid()}"


def claim(engine: Engine, job: Job, now: datetime, who: str = WHO) -> tuple[bool, datetime]:
    """Take this interval of ``job`` if nobody has: (True, now), else (False, the time of
    its last run). One short transaction of its own, committed before the job runs."""
    table = JobLease.__table__
    due = (
        update(table)
        .where(
            table.c.name == job.name, table.c.last_run_at <= now - timedelta(seconds=job.every_s)
        )
        .values(last_run_at=now, run_by=who)
    )
    with engine.begin() as conn:
        if conn.execute(due).rowcount == 1:
            return True, now
        last = conn.execute(select(table.c.last_run_at).where(table.c.name == job.name)).scalar()
    if last is not None:
        return False, last
    _create_lease(engine, job.name)
    with engine.begin() as conn:  # the lease is new (or another process just made it)
        if conn.execute(due).rowcount == 1:
            return True, now
        last = conn.execute(select(table.c.last_run_at).where(table.c.name == job.name)).scalar()
    return False, last or now


def _create_lease(engine: Engine, name: str) -> None:
    table = JobLease.__table__
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table).values(name=name, last_run_at=EPOCH, run_by="")
    with engine.begin() as conn:
        conn.execute(stmt.on_conflict_do_nothing(index_elements=["name"]))


def run_job(job: Job, engine: Engine | None = None) -> bool:
    """Run one job now, unless another process is still running it. True if it ran."""
    engine = engine or get_engine()
    with Session(engine, expire_on_commit=False) as session:
        if engine.dialect.name == "postgresql":
            key = zlib.crc32(job.name.encode())
            got = session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar()
            if not got:
                return False
        job.run(session)
        session.commit()
    return True


def run_due(
    now: datetime | float | None = None,
    *,
    engine: Engine | None = None,
    jobs: Iterable[Job] | None = None,
    who: str = WHO,
) -> list[str]:
    """Run every job (of ``aefi.flow.JOBS`` unless given) whose interval has come and
    that this process claims. Returns the names of the jobs it ran."""
    if now is None:
        now = clock.now()
    elif not isinstance(now, datetime):
        now = datetime.fromtimestamp(now, UTC)
    engine = engine or get_engine()
    ran = []
    if jobs is None:
        from aefi.flow import JOBS  # the jobs' modules import this one

        jobs = JOBS
    for job in jobs:
        if now.timestamp() < job.next_at:
            continue
        try:
            mine, last = claim(engine, job, now, who)
            job.next_at = last.timestamp() + job.every_s
            if mine:
                run_job(job, engine)
                ran.append(job.name)
        except Exception:  # a failing job must not stop the others
            log.exception("background job %s failed", job.name)
    return ran


def tick() -> None:
    """One look of the loop: the timers that are due, then the queued jobs that are."""
    from aefi.jobs import worker  # the jobs' modules import this one

    run_due()
    try:
        worker.work()
    except Exception:  # the database away for a moment: the next tick tries again
        log.exception("job queue: could not claim")


async def loop(tick_s: float | None = None) -> None:
    """Every process's background loop: timers, and the job queue every ``jobs_poll_s``
    (the poll interval of the delay bound in ``aefi/flow.py``)."""
    from aefi.settings import get_settings

    tick_s = tick_s if tick_s is not None else get_settings().jobs_poll_s
    while True:
        await asyncio.to_thread(tick)
        await asyncio.sleep(tick_s)
