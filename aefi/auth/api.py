"""Tokens for API clients (OAuth2 password form, API.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from aefi.auth.login import service as auth_login
from aefi.deps import SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1", tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


@router.post("/auth/token", response_model=Token)
def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    ip = request.client.host if request.client else ""
    user = auth_login.authenticate(
        session,
        settings,
        form.username,
        form.password,
        ip=ip,
        user_agent=request.headers.get("user-agent", ""),
    )
    return Token(access_token=auth_login.issue_token(settings, user))
