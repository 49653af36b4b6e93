"""Append-only, tamper-evident audit trail: who did what to which record, when, and what
changed.

Rows are only ever inserted; database triggers (see the first migration) refuse UPDATE and
DELETE on the table, so not even a bug in aefi can rewrite history. On PostgreSQL the app can
run as a role holding only INSERT and SELECT on the trail (README), so not even a stolen app
password can.

Every event is also *sealed*: ``audit_seal`` holds, in one total order (``seq`` 1, 2, 3, ...),
each event's id, the previous seal's hash and a SHA-256 over the previous hash, the position
and the event's stored content. A changed event no longer matches its hash, a removed event
or seal leaves a gap or a broken link, an event slipped in has no seal. ``aefi audit verify``
walks the chain (:func:`verify`).

Why a separate seal row written at commit, not hash columns filled at insert: the chain needs
the previous hash, so whoever appends must hold a lock from reading the chain's head until
commit. Audit events are inserted whenever the session flushes (early in a transaction, so
timelines read in the same transaction see them); taking the lock there would serialise
every writing transaction from its first flush to its commit. Instead the events' ids are
collected after each flush and sealed in ``before_commit``, under a lock held only from then
to COMMIT: ``pg_advisory_xact_lock`` on PostgreSQL (released by the commit itself); SQLite
has a single writer, and a transaction that inserted events already holds the write lock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    String,
    bindparam,
    event,
    insert,
    text,
)
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Field, Session, SQLModel, col, func, select

from aefi import clock
from aefi.auth.models import Role
from aefi.auth.permissions import Actor, require_role
from aefi.db import UTCDateTime
from aefi.i18n import N_

# Actions shown on timelines, through the catalog.
ACTION_LABELS = (
    N_("create"),
    N_("update"),
    N_("status"),
    N_("login"),
    N_("logout"),
    N_("login_failed"),
    N_("view_identity"),
    N_("import"),
    N_("set_password"),
    N_("demo_built"),
    N_("discard"),
)


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_entity", "entity_type", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=clock.now, sa_column=Column(UTCDateTime(), index=True))
    actor_id: int | None = Field(default=None, index=True)
    actor_name: str = Field(default="", max_length=100)
    actor_role: str = Field(default="", max_length=16)
    county_id: int | None = Field(default=None, index=True)
    action: str = Field(max_length=64, index=True)
    entity_type: str = Field(max_length=64)
    entity_id: int | None = None
    summary: str = Field(default="", max_length=500)
    changes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class AuditSeal(SQLModel, table=True):
    """One link of the chain: the ``seq``-th sealed event and its hash (append-only too)."""

    __tablename__ = "audit_seal"

    seq: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    event_id: int = Field(sa_column=Column(BigInteger, nullable=False, unique=True))
    prev_hash: str = Field(sa_column=Column(String(64), nullable=False))
    hash: str = Field(sa_column=Column(String(64), nullable=False))


GENESIS = "0" * 64
_PENDING = "aefi_audit_unsealed"  # session.info key: ids of events flushed, not yet sealed
_PG_LOCK = 0x0AEF1A0D17  # pg_advisory_xact_lock key of the chain's head
_EVENT_COLUMNS = (
    "id",
    "at",
    "actor_id",
    "actor_name",
    "actor_role",
    "county_id",
    "action",
    "entity_type",
    "entity_id",
    "summary",
    "changes",
)


def _statements():
    """The query of every commit, built once (SQLAlchemy then reuses the compiled form):
    the given events that have no seal yet, each with the chain's head (one statement a
    commit, not two: the head is read under the lock all the same)."""
    seal, table = AuditSeal.__table__, AuditEvent.__table__
    last = select(seal.c.seq, seal.c.hash).order_by(seal.c.seq.desc()).limit(1).subquery()
    unsealed = (
        select(
            *(table.c[name] for name in _EVENT_COLUMNS),
            select(last.c.seq).scalar_subquery().label("head_seq"),
            select(last.c.hash).scalar_subquery().label("head_hash"),
        )
        .where(
            table.c.id.in_(bindparam("ids", expanding=True)),
            ~select(seal.c.seq).where(seal.c.event_id == table.c.id).exists(),
        )
        .order_by(table.c.id)
    )
    return unsealed


_UNSEALED_EVENTS = _statements()


def _canonical_at(at: datetime | None) -> str | None:
    if at is None:
        return None
    if at.tzinfo is None:  # SQLite hands back what was stored: UTC without a zone
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def seal_hash(prev_hash: str, seq: int, row: Any) -> str:
    """SHA-256 over the previous hash, the position and the event's content as stored."""
    content = {name: getattr(row, name) for name in _EVENT_COLUMNS}
    content["at"] = _canonical_at(content["at"])
    body = json.dumps(
        content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str
    )
    return hashlib.sha256(f"{prev_hash}|{seq}|{body}".encode()).hexdigest()


def _event_rows(conn, ids: list[int]) -> Iterator[Any]:
    table = AuditEvent.__table__
    for i in range(0, len(ids), 500):
        yield from conn.execute(
            select(*(table.c[name] for name in _EVENT_COLUMNS)).where(
                table.c.id.in_(ids[i : i + 500])
            )
        )


@event.listens_for(OrmSession, "after_flush")
def _collect_unsealed(session: OrmSession, _flush_context: Any) -> None:
    ids = [o.id for o in session.new if isinstance(o, AuditEvent) and o.id is not None]
    if ids:
        session.info.setdefault(_PENDING, set()).update(ids)


@event.listens_for(OrmSession, "before_commit")
def _seal_on_commit(session: OrmSession) -> None:
    if session.in_nested_transaction():
        return  # sealed when the outermost transaction commits
    if any(isinstance(o, AuditEvent) for o in session.new):
        session.flush()
    pending = session.info.get(_PENDING)
    if not pending:
        return
    seal_pending(session.connection(), sorted(pending))
    pending.clear()


@event.listens_for(OrmSession, "after_transaction_end")
def _forget_unsealed(session: OrmSession, transaction: SessionTransaction) -> None:
    if transaction.parent is None and _PENDING in session.info:
        session.info[_PENDING].clear()  # committed (sealed) or rolled back (gone)


def seal_pending(conn, event_ids: list[int]) -> int:
    """Append seals for these events (those that exist and have none) to the chain, in id
    order. Runs inside the caller's transaction; on PostgreSQL it takes the chain's advisory
    lock, which the transaction's end releases. Returns the number of seals written."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
    rows = sorted(
        (
            row
            for i in range(0, len(event_ids), 500)
            for row in conn.execute(_UNSEALED_EVENTS, {"ids": event_ids[i : i + 500]})
        ),
        key=lambda r: r.id,
    )
    if not rows:
        return 0
    head = rows[0]
    seq, prev = (head.head_seq, head.head_hash) if head.head_seq is not None else (0, GENESIS)
    links = []
    for row in rows:
        seq += 1
        digest = seal_hash(prev, seq, row)
        links.append({"seq": seq, "event_id": row.id, "prev_hash": prev, "hash": digest})
        prev = digest
    conn.execute(insert(AuditSeal.__table__), links)
    return len(links)


@dataclass
class Finding:
    kind: str  # altered | deleted | inserted | broken
    seq: int | None
    event_id: int | None
    detail: str


@dataclass
class Verification:
    checked: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def verify(session: Session, *, anchor: tuple[int, str] | None = None) -> Verification:
    """Walk the whole chain in ``seq`` order and report every altered, deleted or inserted
    event (and every broken link). ``anchor`` is a (seq, hash) noted down earlier, e.g. from
    a previous run's head: it catches a chain rewritten from that point on."""
    conn = session.connection()
    seal = AuditSeal.__table__
    out = Verification()
    prev_seq, prev_hash, last = 0, GENESIS, -1
    while True:
        links = list(
            conn.execute(seal.select().where(seal.c.seq > last).order_by(seal.c.seq).limit(2000))
        )
        if not links:
            break
        events = {r.id: r for r in _event_rows(conn, [s.event_id for s in links])}
        for s in links:
            if s.seq != prev_seq + 1:
                out.findings.append(
                    Finding(
                        "deleted",
                        s.seq,
                        None,
                        f"seals {prev_seq + 1}..{s.seq - 1} are missing (records removed)",
                    )
                )
            if s.prev_hash != prev_hash:
                out.findings.append(
                    Finding(
                        "broken",
                        s.seq,
                        s.event_id,
                        "the link to the previous seal does not match (a seal was inserted, "
                        "removed or rewritten before this one)",
                    )
                )
            row = events.get(s.event_id)
            if row is None:
                out.findings.append(
                    Finding("deleted", s.seq, s.event_id, f"audit event {s.event_id} is gone")
                )
            elif seal_hash(s.prev_hash, s.seq, row) != s.hash:
                out.findings.append(
                    Finding(
                        "altered",
                        s.seq,
                        s.event_id,
                        f"audit event {s.event_id} differs from what was sealed",
                    )
                )
            if anchor is not None and s.seq == anchor[0] and s.hash != anchor[1]:
                out.findings.append(
                    Finding("broken", s.seq, s.event_id, "the seal differs from the anchor")
                )
            out.checked += 1
            prev_seq, prev_hash = s.seq, s.hash
        last = links[-1].seq
    out.head_seq, out.head_hash = prev_seq, prev_hash
    if anchor is not None and anchor[0] > prev_seq:
        out.findings.append(
            Finding("deleted", anchor[0], None, f"the chain ends before the anchor {anchor[0]}")
        )
    table = AuditEvent.__table__
    unsealed = conn.execute(
        select(table.c.id)
        .where(~select(seal.c.seq).where(seal.c.event_id == table.c.id).exists())
        .order_by(table.c.id)
    )
    for (eid,) in unsealed:
        out.findings.append(
            Finding("inserted", None, eid, f"audit event {eid} has no seal (added afterwards)")
        )
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """Changed fields as {field: [old, new]}."""
    return {
        k: [_plain(before.get(k)), _plain(after.get(k))]
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k)
    }


def snapshot(obj: SQLModel, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: _plain(v) for k, v in obj.model_dump().items() if k not in exclude}


def record(
    session: Session,
    actor: Actor,
    action: str,
    entity_type: str,
    entity_id: int | None,
    *,
    changes: dict[str, Any] | None = None,
    summary: str = "",
    county_id: int | None = None,
) -> AuditEvent:
    """Append one event; the caller's transaction commits it with the change it records.
    The system actor's events are by "system (its reason)" and belong to the county the
    caller names, else to the actor's one county (a system job for several has none)."""
    if county_id is None:
        county_id = actor.county_id or None
    event = AuditEvent(
        actor_id=actor.user_id,
        actor_name=actor.name,
        actor_role=actor.role.value,
        county_id=county_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        summary=summary[:500],
        changes={k: _plain(v) for k, v in (changes or {}).items()},
    )
    session.add(event)
    return event


def timeline(
    session: Session, entity_type: str, entity_id: int, *, also: list[tuple[str, int]] = ()
) -> list[AuditEvent]:
    """Every event of one record (and related records), oldest first."""
    keys = [(entity_type, entity_id), *also]
    conds = [(col(AuditEvent.entity_type) == t) & (col(AuditEvent.entity_id) == i) for t, i in keys]
    from sqlalchemy import or_

    stmt = select(AuditEvent).where(or_(*conds)).order_by(AuditEvent.at, AuditEvent.id)
    return list(session.exec(stmt))


def search(
    session: Session,
    actor: Actor,
    *,
    q: str = "",
    action: str = "",
    entity_type: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[AuditEvent], int]:
    """The admin's search over the county's trail, newest first."""
    require_role(actor, Role.admin)
    stmt = select(AuditEvent).where(AuditEvent.county_id == actor.county_id)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(
            col(AuditEvent.actor_name).ilike(like) | col(AuditEvent.summary).ilike(like)
        )
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if entity_type:
        stmt = stmt.where(AuditEvent.entity_type == entity_type)
    if since:
        stmt = stmt.where(col(AuditEvent.at) >= since)
    if until:
        stmt = stmt.where(col(AuditEvent.at) < until)
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(
        stmt.order_by(col(AuditEvent.id).desc()).offset((page - 1) * per_page).limit(per_page)
    )
    return list(rows), total
