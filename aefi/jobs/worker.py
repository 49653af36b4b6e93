"""Running jobs: claim, run, mark done (or record the failure), until none is due.

``work`` is what every server process's background loop calls each poll, and what
``aefi worker`` (aefi/cli/worker.py) runs in a loop. A job's work runs in a transaction of
its own, with the job marked done in the same transaction; what the work does is
``aefi.flow.run_queued``."""

from __future__ import annotations

import logging
import threading
import traceback
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from aefi.db import get_engine, serialized_writes
from aefi.jobs.queue import RECORDED, WHO, Claimed, claim_batch, complete, fail
from aefi.settings import get_settings

log = logging.getLogger("aefi.jobs")

# Jobs claimed together (each still runs in a transaction of its own): a claim cost the
# worker 4-6 ms, more than the small jobs of a filing (the observation mark, the
# follow-up link) themselves. Twenty keep the lease at stake small: jobs of milliseconds.
CLAIM_BATCH = 20


def run_one(engine: Engine, job: Claimed, *, who: str = WHO) -> str:
    """Run a claimed job: "done", "lost" (its lease passed to another worker: the work is
    rolled back), "retry" or "abandoned" (it failed; see ``queue.fail``)."""
    from aefi import flow  # the subscribers' modules import the queue

    try:
        with Session(engine, expire_on_commit=False) as session, serialized_writes(session):
            flow.run_queued(session, job.kind, job.payload, job.payloads)
            if not complete(session, job, who=who):
                session.rollback()
                log.warning("job %s (%s): lease lost, left to its new owner", job.id, job.kind)
                return "lost"
            session.commit()
    except Exception as exc:  # whatever the job did wrong, the worker goes on
        log.exception("job %s (%s) failed (attempt %s)", job.id, job.kind, job.attempts)
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return fail(engine, job, detail, who=who)
    return "done"


def work(
    engine: Engine | None = None,
    *,
    who: str = WHO,
    now: datetime | None = None,
    limit: int = 200,
    fresh_only: bool = False,
    kinds: tuple[str, ...] | None = None,
) -> int:
    """Claim and run due jobs until none is left (or ``limit`` ran), each at most once.
    Returns how many ran (done or not). ``now``: the time the claims compare with (tests
    move it forward)."""
    engine = engine or get_engine()
    ran: list[int] = []
    while len(ran) < limit:
        batch = claim_batch(
            engine,
            who=who,
            now=now,
            fresh_only=fresh_only,
            kinds=kinds,
            skip=tuple(ran),
            limit=min(CLAIM_BATCH, limit - len(ran)),
        )
        if not batch:
            break
        for job in batch:
            run_one(engine, job, who=who)
            ran.append(job.id)
    return len(ran)


# --- eager mode (tests): new jobs run right after the commit that recorded them ------------

_local = threading.local()


@event.listens_for(Session, "after_commit")
def _run_eagerly(session: Session) -> None:
    if not session.info.pop(RECORDED, False):
        return
    if getattr(_local, "draining", False) or not get_settings().jobs_eager:
        return
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    _local.draining = True
    try:
        work(engine, fresh_only=True)
    finally:
        _local.draining = False


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(RECORDED, None)
