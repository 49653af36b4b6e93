"""Background work in-process on a timer: outbox delivery, deadline and referral timers,
signal scans. Domains register jobs from their ``flows.py``.

Where several app processes share one PostgreSQL, each job runs under an advisory lock, so
exactly one process does it each round (DESIGN.md, "Beyond one machine")."""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import Session

from aefi import clock
from aefi.db import get_engine

log = logging.getLogger("aefi.background")


@dataclass
class Job:
    name: str
    run: Callable[[Session], object]
    every_s: int
    last_at: float = 0.0


JOBS: dict[str, Job] = {}


def register(name: str, run: Callable[[Session], object], every_s: int = 60) -> None:
    JOBS.setdefault(name, Job(name, run, every_s))


def run_job(job: Job) -> bool:
    """Run one job now, unless another process holds its lock. True if it ran."""
    engine = get_engine()
    with Session(engine, expire_on_commit=False) as session:
        if engine.dialect.name == "postgresql":
            key = zlib.crc32(job.name.encode())
            got = session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar()
            if not got:
                return False
        job.run(session)
        session.commit()
    return True


def run_due(now_s: float) -> None:
    for job in JOBS.values():
        if now_s - job.last_at >= job.every_s:
            job.last_at = now_s
            try:
                run_job(job)
            except Exception:  # a failing job must not stop the others
                log.exception("background job %s failed", job.name)


async def loop(tick_s: float = 5.0) -> None:
    while True:
        await asyncio.to_thread(run_due, clock.now().timestamp())
        await asyncio.sleep(tick_s)
