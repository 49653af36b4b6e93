"""Lots as other domains ask for them: a recall recorded, lots looked up as they are typed."""

from __future__ import annotations

from sqlmodel import Session, col, select

from aefi.auth.models import Role
from aefi.auth.permissions import (
    Actor,
    require_role,
)
from aefi.errors import Conflict, Forbidden
from aefi.registry import access, lot_states
from aefi.registry.models import (
    Lot,
    LotStatus,
    Vaccine,
)
from aefi.registry.records import service as records


def record_recall(session: Session, actor: Actor, lot_number: str, *, notice: str) -> Lot:
    """Record a lot's recall: it is withdrawn in every county, for good (audited)."""
    require_role(actor, *access.RECALLERS)
    lot = access.lot_by_number(session, actor, lot_number)
    if lot.status == LotStatus.recalled:
        raise Conflict("Lot {lot} is already recalled.", lot=lot.lot_number)
    if actor.role not in access.SHARED_EDITORS and records.used_elsewhere(
        session, records.KINDS["lots"], lot, actor.county_id
    ):
        raise Forbidden(
            "Lot {lot} is used in other counties too; its recall is recorded by the province.",
            lot=lot.lot_number,
        )
    lot_states.recall_lot(session, actor, lot, notice=notice)
    session.commit()
    return lot


def search_lots(
    session: Session, actor: Actor, prefix: str, limit: int = 10
) -> list[tuple[Lot, Vaccine]]:
    """Lots whose number starts with what was typed (the intake form looks them up as you type)."""
    if actor.role == Role.hospital or not prefix.strip():
        return []
    stmt = (
        select(Lot, Vaccine)
        .join(Vaccine, Vaccine.id == Lot.vaccine_id)
        .where(col(Lot.lot_number).ilike(f"{prefix.strip()}%"))
        .order_by(Lot.lot_number)
        .limit(limit)
    )
    return list(session.exec(stmt))
