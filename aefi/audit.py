"""Append-only audit trail: who did what to which record, when, and what changed.

Rows are only ever inserted; database triggers (see the first migration) refuse UPDATE and
DELETE on the table, so not even a bug in aefi can rewrite history.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Index
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
    actor: Actor | None,
    action: str,
    entity_type: str,
    entity_id: int | None,
    *,
    changes: dict[str, Any] | None = None,
    summary: str = "",
    county_id: int | None = None,
) -> AuditEvent:
    """Append one event; the caller's transaction commits it with the change it records."""
    event = AuditEvent(
        actor_id=actor.user_id if actor else None,
        actor_name=actor.name if actor else "system",
        actor_role=actor.role.value if actor else "system",
        county_id=county_id if county_id is not None else (actor.county_id if actor else None),
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
