"""Typed dependencies that keep route signatures short."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from aefi.auth.login import service as auth_login
from aefi.auth.models import User
from aefi.auth.permissions import Actor
from aefi.auth.sessions import service as auth_sessions
from aefi.db import get_session
from aefi.errors import DomainError
from aefi.settings import Settings, get_settings

SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


class LoginRequired(Exception):
    """No valid session: the web layer sends the browser to the login page."""


class Unauthenticated(DomainError):
    status_code = 401


SESSION_COOKIE = "aefi_session"


def session_user(request: Request, session: Session) -> User | None:
    """The user of the request's login session (the ``aefi_session`` cookie: a random id
    looked up in ``login_session``), or None; sets request.state.user/login_session."""
    found = auth_sessions.session_for_token(
        session, get_settings(), request.cookies.get(SESSION_COOKIE)
    )
    if found is None:
        return None
    request.state.login_session, request.state.user = found
    return found[1]


def web_user(request: Request, session: SessionDep) -> User:
    user = session_user(request, session)
    if user is None:
        raise LoginRequired()
    return user


def web_actor(user: Annotated[User, Depends(web_user)]) -> Actor:
    return Actor.of(user)


_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def api_actor(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(_bearer)],
) -> Actor:
    if not token:
        raise Unauthenticated("Not authenticated: send Authorization: Bearer <token>.")
    user = auth_login.user_for_token(session, settings, token)
    if user is None:
        raise Unauthenticated("The token is invalid or has expired; request a new one.")
    request.state.user = user
    return Actor.of(user)


WebActor = Annotated[Actor, Depends(web_actor)]
ApiActor = Annotated[Actor, Depends(api_actor)]
