"""Recording, claiming and closing jobs (the table: ``aefi.jobs.models.QueuedJob``).

``enqueue`` runs in the caller's transaction; ``claim`` and ``fail`` run in short
transactions of their own; ``complete`` runs in the job's work transaction, so the work and
its "done" commit together or not at all."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, event, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from aefi import audit, clock
from aefi.auth.permissions import Actor
from aefi.db import serialized_writes
from aefi.jobs.models import QueuedJob
from aefi.settings import get_settings

WHO = f"{socket.gethostname()}:{os.getpid()}"
RECORDED = "aefi_jobs_recorded"  # session.info key: this transaction recorded jobs
_BUFFER = "aefi_jobs_buffered"  # session.info key: the rows of those not written yet
BACKOFF_S = 10  # first retry after 10 s, then doubling...
BACKOFF_MAX_S = 3600  # ...up to an hour
# Twins merged into one run at most: a worker behind takes the backlog of a key in runs of
# this many, not in one transaction (SQLite: one write lock, the filings waiting on it)
# holding every one of them.
MERGE_MAX = 50
_MERGED = "merged"  # a stored payload that holds the payloads of merged jobs

_t = QueuedJob.__table__


@dataclass(frozen=True)
class Claimed:
    """A job this worker holds the lease of."""

    id: int
    kind: str
    key: str | None
    payload: dict[str, Any]
    attempts: int
    # The pending jobs of the same kind and key merged into this one.
    merged: tuple[int, ...] = ()
    # The payloads of this job and of every job merged into it (now or at an earlier,
    # failed run), oldest first: what a subscriber that takes a batch runs on.
    payloads: tuple[dict[str, Any], ...] = ()


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    key: str | None = None,
    delay_s: float = 0.0,
) -> None:
    """Record a job in the caller's transaction. The jobs of one transaction are written
    together when it commits (one statement for all, not one per job); inside a savepoint,
    at once (a savepoint rolled back takes its jobs with it). A keyed job recorded twice in
    one transaction with the same payload is recorded once; twins across transactions are
    merged when claimed. No lock is taken on another filing's job."""
    now = clock.now()
    row = {
        "kind": kind,
        "key": key,
        "payload": payload,
        "created_at": now,
        "run_after": now + timedelta(seconds=delay_s),
        "attempts": 0,
        "lease_owner": None,
        "lease_until": None,
        "last_error": "",
        "done_at": None,
        "outcome": "",
        "merged_into": None,
    }
    session.info[RECORDED] = True
    if session.in_nested_transaction():
        session.execute(insert(_t), [row])
        return
    buffered = session.info.setdefault(_BUFFER, [])
    if key is not None and any(
        b["kind"] == kind and b["key"] == key and b["payload"] == payload for b in buffered
    ):
        return
    buffered.append(row)


def write_recorded(session: Session) -> int:
    """Write the jobs this transaction recorded and has not written yet (one statement);
    the commit does it, and ``pending`` before it reads. Returns how many."""
    rows = session.info.pop(_BUFFER, None)
    if not rows:
        return 0
    session.execute(insert(_t), rows)
    return len(rows)


@event.listens_for(OrmSession, "before_commit")
def _write_on_commit(session: OrmSession) -> None:
    if not session.in_nested_transaction():
        write_recorded(session)


@event.listens_for(OrmSession, "after_transaction_end")
def _forget_recorded(session: OrmSession, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_BUFFER, None)  # written and committed, or rolled back


def _claimable(now: datetime, *, fresh_only: bool):
    free = or_(_t.c.lease_until.is_(None), _t.c.lease_until < now)
    if fresh_only:  # eager mode: the jobs just recorded, whatever their delay
        return and_(_t.c.done_at.is_(None), _t.c.attempts == 0, free)
    return and_(_t.c.done_at.is_(None), _t.c.run_after <= now, free)


def claim(
    engine: Engine,
    *,
    who: str = WHO,
    now: datetime | None = None,
    fresh_only: bool = False,
    kinds: tuple[str, ...] | None = None,
    skip: tuple[int, ...] = (),
) -> Claimed | None:
    """Take the oldest due job (not in ``skip``); see ``claim_batch``. None: nothing is due."""
    got = claim_batch(
        engine, who=who, now=now, fresh_only=fresh_only, kinds=kinds, skip=skip, limit=1
    )
    return got[0] if got else None


def claim_batch(
    engine: Engine,
    *,
    who: str = WHO,
    now: datetime | None = None,
    fresh_only: bool = False,
    kinds: tuple[str, ...] | None = None,
    skip: tuple[int, ...] = (),
    limit: int = 1,
) -> list[Claimed]:
    """Take the ``limit`` oldest due jobs (not in ``skip``) with a lease of ``jobs_lease_s``,
    in one short transaction of its own, oldest first, and merge into each keyed one the
    pending jobs of its kind and key (twins in the batch too: one run does their work).
    Each job still runs, and is marked done, in a transaction of its own; the batch only
    shares the claim, which cost a worker more than the small jobs it claimed. Empty:
    nothing is due."""
    now = now or clock.now()
    lease = now + timedelta(seconds=get_settings().jobs_lease_s)
    cond = _claimable(now, fresh_only=fresh_only)
    if kinds is not None:
        cond = and_(cond, _t.c.kind.in_(kinds))
    if skip:
        cond = and_(cond, _t.c.id.not_in(skip))
    pg = engine.dialect.name == "postgresql"
    took = (
        update(_t)
        .values(lease_owner=who, lease_until=lease, attempts=_t.c.attempts + 1)
        .returning(_t.c.id, _t.c.kind, _t.c.key, _t.c.payload, _t.c.attempts, _t.c.run_after)
    )
    with serialized_writes(engine), engine.begin() as conn:
        for _ in range(20):
            pick = select(_t.c.id).where(cond).order_by(_t.c.run_after, _t.c.id).limit(limit)
            if pg:
                target = pick.with_for_update(skip_locked=True).scalar_subquery()
                rows = conn.execute(took.where(_t.c.id.in_(target), cond)).all()
                break
            ids = conn.execute(pick).scalars().all()
            if not ids:
                return []
            rows = conn.execute(took.where(_t.c.id.in_(ids), cond)).all()
            if rows:
                break
            # SQLite: another process took them between the look and the update; look again.
        else:  # pragma: no cover - twenty batches taken from under us in a row
            return []
        if not rows:
            return []
        rows = sorted(rows, key=lambda r: (r.run_after, r.id))  # RETURNING has no order
        # Twins inside the batch: the later ones go back unleased, so the first one's merge
        # below closes them as it closes those nobody had claimed.
        first: dict[tuple[str, str], int] = {}
        back = []
        for r in rows:
            if r.key is None:
                continue
            if (r.kind, r.key) in first:
                back.append(r.id)
            else:
                first[(r.kind, r.key)] = r.id
        if back:
            conn.execute(
                update(_t)
                .where(_t.c.id.in_(back))
                .values(lease_owner=None, lease_until=None, attempts=_t.c.attempts - 1)
            )
        out = []
        for r in rows:
            if r.id in back:
                continue
            if r.key:
                merged, payloads = _merge_twins(conn, r, now, pg=pg)
            else:
                merged, payloads = (), unpack(r.payload)
            out.append(Claimed(r.id, r.kind, r.key, payloads[-1], r.attempts, merged, payloads))
    return out


def unpack(payload: dict[str, Any]) -> tuple[dict[str, Any], ...]:
    """The payloads a stored payload stands for, oldest first (several once jobs merged)."""
    if set(payload) == {_MERGED}:
        return tuple(payload[_MERGED])
    return (payload,)


def _merge_twins(
    conn: Connection, row: Any, now: datetime, *, pg: bool
) -> tuple[tuple[int, ...], tuple[dict[str, Any], ...]]:
    """Close (at most ``MERGE_MAX`` of) the other pending, unleased jobs of the same kind and
    key as merged into ``row``: its run does their work (whatever their delay: the work
    reads the committed state, theirs included). Returns the merged ids and the payloads
    of them all in the order of their ids (the last is the newest: a grown cluster's).
    The row keeps those payloads, so that a run that fails and is retried still does the
    work of the jobs it took."""
    twins = select(_t.c.id, _t.c.payload).where(
        _t.c.kind == row.kind,
        _t.c.key == row.key,
        _t.c.id != row.id,
        _t.c.done_at.is_(None),
        or_(_t.c.lease_until.is_(None), _t.c.lease_until < now),
    )
    if pg:  # never wait on (nor deadlock with) a twin another worker is claiming
        twins = twins.with_for_update(skip_locked=True)
    found = conn.execute(twins.order_by(_t.c.id).limit(MERGE_MAX)).all()
    if not found:
        return (), unpack(row.payload)
    ids = tuple(r.id for r in found)
    conn.execute(
        update(_t).where(_t.c.id.in_(ids)).values(done_at=now, outcome="merged", merged_into=row.id)
    )
    ordered = sorted([(row.id, row.payload), *((r.id, r.payload) for r in found)])
    payloads = tuple(p for _id, stored in ordered for p in unpack(stored))
    conn.execute(update(_t).where(_t.c.id == row.id).values(payload={_MERGED: list(payloads)}))
    return ids, payloads


def complete(session: Session, job: Claimed, *, who: str = WHO) -> bool:
    """Mark ``job`` done in the work's own transaction. False: the lease was lost (it
    expired and another worker claimed the job): the caller rolls its work back."""
    done = session.execute(
        update(_t)
        .where(_t.c.id == job.id, _t.c.lease_owner == who, _t.c.done_at.is_(None))
        .values(done_at=clock.now(), outcome="done", lease_owner=None, lease_until=None)
    )
    return done.rowcount == 1


def backoff_s(attempts: int) -> float:
    """The wait before the next run after ``attempts`` runs failed: 10 s, 20 s, 40 s..."""
    return float(min(BACKOFF_S * 2 ** max(attempts - 1, 0), BACKOFF_MAX_S))


def fail(engine: Engine, job: Claimed, error: str, *, who: str = WHO) -> str:
    """Record a failed run in its own transaction: retried after ``backoff_s``, or, after
    ``jobs_max_attempts`` runs, abandoned with an audit record. Returns "retry",
    "abandoned" or "lost" (the lease had passed to another worker)."""
    now = clock.now()
    give_up = job.attempts >= get_settings().jobs_max_attempts
    values: dict[str, Any] = {"last_error": error[-4000:], "lease_owner": None, "lease_until": None}
    if give_up:
        values |= {"done_at": now, "outcome": "abandoned"}
    else:
        values |= {"run_after": now + timedelta(seconds=backoff_s(job.attempts))}
    with Session(engine) as session, serialized_writes(session):
        changed = session.execute(
            update(_t)
            .where(_t.c.id == job.id, _t.c.lease_owner == who, _t.c.done_at.is_(None))
            .values(**values)
        ).rowcount
        if changed != 1:
            return "lost"
        if give_up:
            county_id = job.payload.get("payload", {}).get("county_id")
            audit.record(
                session,
                Actor.system([county_id] if county_id else [], reason="job queue"),
                "job_abandoned",
                "queued_job",
                job.id,
                county_id=county_id,
                summary=f"{job.kind} gave up after {job.attempts} attempts",
                changes={"kind": job.kind, "attempts": job.attempts, "error": error[-500:]},
            )
        session.commit()
    return "abandoned" if give_up else "retry"


def pending(session: Session, kind: str | None = None) -> list[QueuedJob]:
    """The jobs not done yet, oldest first."""
    from sqlmodel import col
    from sqlmodel import select as sm_select

    write_recorded(session)
    q = sm_select(QueuedJob).where(col(QueuedJob.done_at).is_(None))
    if kind is not None:
        q = q.where(QueuedJob.kind == kind)
    return list(session.exec(q.order_by(col(QueuedJob.id))))
