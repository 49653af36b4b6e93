"""Drafts of the report form: kept as typed, even logged out (then owned by the browser's
device until its user logs in there), claimed at login, resumed or discarded."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from aefi import clock
from aefi.auth.permissions import Actor
from aefi.errors import NotFound
from aefi.intake.models import Draft

CONTINUES = "_continues"


def save_draft(
    session: Session,
    actor: Actor,
    draft_id: int | None,
    payload: dict[str, Any],
    *,
    device: str = "",
) -> Draft:
    """Keep what was typed, as the user's draft."""
    return _save_draft(session, actor.user_id, draft_id, payload, device=device)


def save_device_draft(
    session: Session, draft_id: int | None, payload: dict[str, Any], *, device: str
) -> Draft:
    """Keep what was typed when nobody is logged in (the session expired): the draft
    belongs to the browser's device id until its user logs in there again."""
    return _save_draft(session, None, draft_id, payload, device=device)


def _save_draft(
    session: Session,
    user_id: int | None,
    draft_id: int | None,
    payload: dict[str, Any],
    *,
    device: str,
) -> Draft:
    draft = session.get(Draft, draft_id) if draft_id else None
    continues = None
    if draft is not None:
        owner_ok = (user_id is not None and draft.user_id == user_id) or (
            draft.user_id is None and device and draft.device == device
        )
        if not owner_ok or draft.report_id is not None:
            # Logged out, the browser carries on a user's draft: the new copy names it, so
            # that claiming the copy at login retires the older one (one draft, not two).
            if user_id is None and draft.user_id is not None and draft.report_id is None:
                continues = draft.id
            draft = None
        else:
            continues = draft.payload.get(CONTINUES)
    if draft is None:
        draft = Draft(user_id=user_id, device=device)
    draft.payload = {**payload, CONTINUES: continues} if continues else payload
    draft.updated_at = clock.now()
    session.add(draft)
    session.commit()
    return draft


def claim_device_drafts(session: Session, actor: Actor, device: str) -> int:
    """After a login, the drafts this browser saved while logged out become the user's."""
    if not device:
        return 0
    drafts = session.exec(
        select(Draft).where(col(Draft.user_id).is_(None), Draft.device == device)
    ).all()
    for d in drafts:
        d.user_id = actor.user_id
        older_id = d.payload.get(CONTINUES)
        if older_id:
            older = session.get(Draft, older_id)
            if older is not None and older.user_id == actor.user_id and older.report_id is None:
                session.delete(older)
            d.payload = {k: v for k, v in d.payload.items() if k != CONTINUES}
        session.add(d)
    session.commit()
    return len(drafts)


def open_drafts(session: Session, actor: Actor) -> list[Draft]:
    return list(
        session.exec(
            select(Draft)
            .where(Draft.user_id == actor.user_id, col(Draft.report_id).is_(None))
            .order_by(col(Draft.updated_at).desc())
        )
    )


def get_draft(session: Session, actor: Actor, draft_id: int) -> Draft:
    draft = session.get(Draft, draft_id)
    if draft is None or draft.user_id != actor.user_id:
        raise NotFound("Not found.")
    return draft


def discard_draft(session: Session, actor: Actor, draft_id: int) -> None:
    draft = get_draft(session, actor, draft_id)
    session.delete(draft)
    session.commit()
