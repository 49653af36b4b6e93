"""Login, logout, one's own password and the language switch."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from aefi import i18n
from aefi.auth.login import service as auth_login
from aefi.auth.permissions import Actor
from aefi.auth.sessions import service as auth_sessions
from aefi.auth.users import service as auth_users
from aefi.deps import SESSION_COOKIE, SessionDep, SettingsDep, web_user
from aefi.errors import DomainError, Invalid
from aefi.settings import Settings, get_settings
from aefi.web import flash, render, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])

# Other domains act on a fresh login, fn(request, session, user): intake hands the drafts
# this browser saved while logged out to the user who logs in.
LOGIN_HOOKS: list = []


def _safe_next(target: str | None) -> str:
    if not target:
        return "/"
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/"):
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, next: str = "/"):
    return render(request, "auth/login.html", {"next": _safe_next(next), "username": ""})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
):
    ip, agent = client_of(request)
    try:
        user = auth_login.authenticate(
            session, settings, username, password, ip=ip, user_agent=agent, for_web=True
        )
        token = auth_sessions.start_session(session, settings, user, ip=ip, user_agent=agent)
    except DomainError as exc:
        session.rollback()
        return render(
            request,
            "auth/login.html",
            {
                "next": _safe_next(next),
                "username": username,
                "error": i18n.gettext(exc.message, **exc.params),
            },
            status_code=exc.status_code,
            headers=_retry_after(exc),
        )
    # The browser's earlier session (if any) ends: one cookie, one live session.
    auth_sessions.end_session(session, request.cookies.get(SESSION_COOKIE), "replaced")
    session.commit()
    csrf = request.session.get("csrf")
    draft_keys = {k: v for k, v in request.session.items() if k.startswith("draft")}
    request.session.clear()
    request.session.update(draft_keys)
    if csrf:
        request.session["csrf"] = csrf
    request.state.user = user
    for hook in LOGIN_HOOKS:
        hook(request, session, user)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_session_cookie(response, settings, token)
    return response


def _retry_after(exc: DomainError) -> dict[str, str] | None:
    wait = getattr(exc, "wait_s", None)
    return {"Retry-After": str(wait)} if wait else None


def client_of(request: Request) -> tuple[str, str]:
    """The client's address (uvicorn puts the proxy's X-Forwarded-For there when the proxy
    is trusted: --forwarded-allow-ips) and user agent."""
    ip = request.client.host if request.client else ""
    return ip[:64], request.headers.get("user-agent", "")[:200]


def set_session_cookie(response: Response, settings: Settings, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_max_age_s,
        httponly=True,
        samesite="lax",
        secure=settings.https,
    )


@router.post("/logout")
def logout(request: Request, session: SessionDep, user=Depends(web_user)):
    from aefi import audit

    auth_sessions.end_session(session, request.cookies.get(SESSION_COOKIE), "logout")
    audit.record(session, Actor.of(user), "logout", "user", user.id, summary=user.username)
    session.commit()
    request.session.clear()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="lax")
    return response


@router.post("/lang")
def switch_language(
    request: Request, locale: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
):
    response = RedirectResponse(_safe_next(next), status_code=303)
    if locale in i18n.LOCALES:
        response.set_cookie(
            "aefi_lang",
            locale,
            max_age=365 * 86400,
            samesite="lax",
            secure=get_settings().https,
        )
    return response


# --- one's own account -------------------------------------------------------------------------


@router.get("/account/password")
def password_page(request: Request, session: SessionDep, user=Depends(web_user)):
    return render(request, "auth/password.html", {"errors": {}})


@router.post("/account/password")
def change_password(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user=Depends(web_user),
    old_password: Annotated[str, Form()] = "",
    new_password: Annotated[str, Form()] = "",
    new_password2: Annotated[str, Form()] = "",
):
    current = getattr(request.state, "login_session", None)
    try:
        if new_password != new_password2:
            raise Invalid(
                "The two new passwords differ; type the same one twice.",
                fields={"new_password2": "The two new passwords differ; type the same one twice."},
            )
        auth_users.change_own_password(
            session,
            settings,
            Actor.of(user),
            old_password,
            new_password,
            keep_session_id=current.id if current else None,
            ip=client_of(request)[0],
        )
    except DomainError as exc:
        session.rollback()
        return render(
            request,
            "auth/password.html",
            {
                "errors": getattr(exc, "fields", {}),
                "error": i18n.gettext(exc.message, **exc.params),
            },
            status_code=exc.status_code,
        )
    flash(
        request,
        i18n.gettext("Password changed. You stay logged in here; other sessions have ended."),
        "success",
    )
    return RedirectResponse("/account/password", status_code=303)
