"""Drafts of the report form: kept as typed, even logged out (then owned by the browser's
device until its user logs in there), claimed at login, resumed or discarded.

One draft per user and subject (the vaccinee and dose, ``keys.subject_key``): a save that
names a dose the user already has a draft for updates that draft (the newer copy wins),
and filing a report for the dose removes its drafts in the filing transaction."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from aefi import audit, clock
from aefi.auth.permissions import Actor
from aefi.errors import NotFound
from aefi.intake.drafts.keys import subject_key
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
    key = subject_key(payload)
    if user_id is not None and key is not None:
        same = _draft_about(session, user_id, key)
        if same is not None and (draft is None or same.id != draft.id):
            # The user already keeps a draft for this dose: it takes what was typed now.
            if draft is not None and draft.id is not None:
                session.delete(draft)
                session.flush()
            draft, continues = same, None
    if draft is None:
        draft = Draft(user_id=user_id, device=device)
    draft.payload = {**payload, CONTINUES: continues} if continues else payload
    draft.subject_key = key
    draft.updated_at = clock.now()
    session.add(draft)
    session.commit()
    return draft


def _draft_about(session: Session, user_id: int, key: str) -> Draft | None:
    return session.exec(
        select(Draft).where(Draft.user_id == user_id, Draft.subject_key == key)
    ).first()


def draft_for(session: Session, actor: Actor, key: str | None) -> Draft | None:
    """The actor's open draft about this vaccinee and dose, if any."""
    if key is None:
        return None
    draft = _draft_about(session, actor.user_id, key)
    return draft if draft is not None and draft.report_id is None else None


def retire_for_report(session: Session, actor: Actor, keys: set[str], draft_id: int | None) -> int:
    """Filing a report: the draft it was typed in and the filer's drafts about its doses
    are done. Part of the filing transaction (the caller commits)."""
    drafts: dict[int, Draft] = {}
    if keys:
        for d in session.exec(
            select(Draft).where(
                Draft.user_id == actor.user_id, col(Draft.subject_key).in_(sorted(keys))
            )
        ):
            drafts[d.id] = d
    if draft_id is not None:
        d = session.get(Draft, draft_id)
        if d is not None and d.user_id == actor.user_id:
            drafts[d.id] = d
    for d in drafts.values():
        session.delete(d)
    return len(drafts)


def claim_device_drafts(session: Session, actor: Actor, device: str) -> int:
    """After a login, the drafts this browser saved while logged out become the user's."""
    if not device:
        return 0
    drafts = session.exec(
        select(Draft)
        .where(col(Draft.user_id).is_(None), Draft.device == device)
        .order_by(col(Draft.updated_at), col(Draft.id))
    ).all()
    for d in drafts:
        if d.subject_key is not None:
            # The copy typed on this browser is newer than the user's draft about that dose.
            older = _draft_about(session, actor.user_id, d.subject_key)
            if older is not None and older.id != d.id:
                session.delete(older)
                session.flush()
        d.user_id = actor.user_id
        older_id = d.payload.get(CONTINUES)
        if older_id:
            older = session.get(Draft, older_id)
            if older is not None and older.user_id == actor.user_id and older.report_id is None:
                session.delete(older)
            d.payload = {k: v for k, v in d.payload.items() if k != CONTINUES}
        session.add(d)
        session.flush()  # the next copy about the same dose finds (and replaces) this one
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
    """The user throws a draft away (audited: what was typed is gone for good)."""
    draft = get_draft(session, actor, draft_id)
    audit.record(
        session,
        actor,
        "discard",
        "draft",
        draft.id,
        summary=draft.subject_key or "",
        changes={"saved_at": draft.updated_at.isoformat() if draft.updated_at else None},
    )
    session.delete(draft)
    session.commit()
