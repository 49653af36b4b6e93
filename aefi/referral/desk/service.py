"""The hospital desk's arrival alert: a setting per hospital user, stored server-side (so
it follows the user to another computer at the desk) and audited when it changes."""

from __future__ import annotations

from sqlmodel import Session

from aefi import audit, clock
from aefi.auth.models import Role
from aefi.auth.permissions import Actor, require_role
from aefi.referral.models import DeskAlert


def sound_on(session: Session, actor: Actor) -> bool:
    """Whether the actor's inbox sounds for a new referral (off until turned on)."""
    if actor.user_id is None:
        return False
    row = session.get(DeskAlert, actor.user_id)
    return bool(row and row.sound)


def set_sound(session: Session, actor: Actor, on: bool) -> DeskAlert:
    """Turn the actor's arrival sound on or off. Only a hospital user has an inbox to
    sound; the change is audited as the user's own."""
    require_role(actor, Role.hospital)
    row = session.get(DeskAlert, actor.user_id) or DeskAlert(user_id=actor.user_id)
    before = bool(row.sound)
    row.sound = on
    row.updated_at = clock.now()
    session.add(row)
    session.flush()
    if before != on:
        audit.record(
            session,
            actor,
            "update",
            "desk_alert",
            actor.user_id,
            changes={"sound": [before, on]},
            summary="sound on" if on else "sound off",
        )
    session.commit()
    return row
