"""Login, logout and the language switch."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlparse

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from aefi import i18n
from aefi.auth import service
from aefi.auth.permissions import Actor
from aefi.deps import SessionDep, SettingsDep, web_user
from aefi.errors import DomainError
from aefi.web import render, verify_csrf

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
    try:
        user = service.authenticate(session, settings, username, password)
    except DomainError as exc:
        return render(
            request,
            "auth/login.html",
            {
                "next": _safe_next(next),
                "username": username,
                "error": i18n.gettext(exc.message, **exc.params),
            },
            status_code=exc.status_code,
        )
    csrf = request.session.get("csrf")
    draft_keys = {k: v for k, v in request.session.items() if k.startswith("draft")}
    request.session.clear()
    request.session.update({"uid": user.id, "cv": user.credential_version, **draft_keys})
    if csrf:
        request.session["csrf"] = csrf
    for hook in LOGIN_HOOKS:
        hook(request, session, user)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, session: SessionDep, user=Depends(web_user)):
    from aefi import audit

    audit.record(session, Actor.of(user), "logout", "user", user.id, summary=user.username)
    session.commit()
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.post("/lang")
def switch_language(
    request: Request, locale: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
):
    response = RedirectResponse(_safe_next(next), status_code=303)
    if locale in i18n.LOCALES:
        response.set_cookie("aefi_lang", locale, max_age=365 * 86400, samesite="lax")
    return response
