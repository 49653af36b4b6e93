"""Web sessions: started at login, touched as they are used, ended at logout, by expiry or
when the account changes."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select

from aefi.auth.models import LoginSession, Role, User
from aefi.db import serialized_writes
from aefi.errors import DomainError
from aefi.settings import Settings


class WebLoginRefused(DomainError):
    status_code = 403


# Failed logins and ended sessions are kept this long.
KEEP_RECORDS = timedelta(days=30)


# How stale last_seen_at may get before a request writes it (one write a minute a session).
TOUCH_EVERY = timedelta(seconds=60)


def session_now() -> datetime:
    """Web sessions age in real time, like the signed cookie they replace, not on the
    application clock that tests (and replays) move to reach deadlines."""
    return datetime.now(UTC)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def refuse_api_client(user: User) -> None:
    if user.role == Role.api_client:
        raise WebLoginRefused(
            "This account is for the immunization information system's API: it gets tokens "
            "at /api/v1/auth/token and cannot use the web pages."
        )


def start_session(
    session: Session, settings: Settings, user: User, *, ip: str = "", user_agent: str = ""
) -> str:
    """A new web session for ``user``; returns the random id for the cookie (only its hash
    is stored). API client accounts use tokens, never the web pages."""
    refuse_api_client(user)
    token = secrets.token_urlsafe(32)
    now = session_now()
    with serialized_writes(session):
        # The user's sessions that ended long ago go; recent ones stay for the record.
        session.execute(
            delete(LoginSession).where(
                LoginSession.user_id == user.id,
                col(LoginSession.expires_at) < now - KEEP_RECORDS,
            )
        )
        session.add(
            LoginSession(
                token_hash=_token_hash(token),
                user_id=user.id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(seconds=settings.session_max_age_s),
                ip=(ip or "")[:64],
                user_agent=(user_agent or "")[:200],
            )
        )
        session.commit()
    return token


def _end(row: LoginSession, reason: str) -> None:
    row.ended_at = session_now()
    row.end_reason = reason


def session_for_token(
    session: Session, settings: Settings, token: str | None
) -> tuple[LoginSession, User] | None:
    """The live session of this cookie and its user, or None. Ends a session found past its
    idle or absolute timeout; refreshes last_seen_at at most once a minute."""
    if not token or len(token) > 128:
        return None
    # One query a request: the session row with its user.
    found = session.exec(
        select(LoginSession, User)
        .join(User, col(User.id) == col(LoginSession.user_id))
        .where(LoginSession.token_hash == _token_hash(token))
    ).first()
    if found is None or found[0].ended_at is not None:
        return None
    row, user = found
    now = session_now()
    reason = None
    if now >= row.expires_at:
        reason = "expired"
    elif now - row.last_seen_at > timedelta(seconds=settings.session_idle_s):
        reason = "idle"
    if reason is None and not user.active:
        reason = "deactivated"
    if reason is None and user.role == Role.api_client:
        reason = "api_client"
    if reason is not None:
        with serialized_writes(session):
            _end(row, reason)
            session.add(row)
            session.commit()
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        with serialized_writes(session):
            row.last_seen_at = now
            session.add(row)
            session.commit()
    return row, user


def user_for_session(session: Session, settings: Settings, token: str | None) -> User | None:
    found = session_for_token(session, settings, token)
    return found[1] if found else None


def end_session(session: Session, token: str | None, reason: str = "logout") -> None:
    """End this cookie's session (logout)."""
    if not token:
        return
    row = session.exec(
        select(LoginSession).where(LoginSession.token_hash == _token_hash(token))
    ).first()
    if row is not None and row.ended_at is None:
        _end(row, reason)
        session.add(row)


def end_sessions_of(
    session: Session, user_id: int, reason: str, *, keep_id: int | None = None
) -> int:
    """End every open session of a user (but ``keep_id``); the caller commits."""
    stmt = select(LoginSession).where(
        LoginSession.user_id == user_id, col(LoginSession.ended_at).is_(None)
    )
    n = 0
    for row in session.exec(stmt):
        if row.id == keep_id:
            continue
        _end(row, reason)
        session.add(row)
        n += 1
    return n


def open_sessions(session: Session, user_id: int) -> list[LoginSession]:
    stmt = (
        select(LoginSession)
        .where(LoginSession.user_id == user_id, col(LoginSession.ended_at).is_(None))
        .order_by(col(LoginSession.id).desc())
    )
    return list(session.exec(stmt))
