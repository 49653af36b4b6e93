"""The browser's device id, which lets the report form keep a draft after the session expired.

Drafts outlive the login session: the form autosaves to ``/reports/draft``, which also
works without a session. Its CSRF protection then rests on the browser's long-lived
``aefi_device`` cookie and a token that is an HMAC of that cookie's value under the
server's secret, rendered into the form (a signed double-submit token). Another site can
neither read the token nor, with SameSite=Lax, send the cookie with its POST; and all an
unauthenticated POST can do is keep a draft that belongs to that browser until a user
logs in there again (``claim_device_drafts``, run from the login view)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session

from aefi.auth import views as auth_views
from aefi.auth.models import User
from aefi.auth.permissions import Actor
from aefi.intake.drafts import service
from aefi.settings import get_settings

DEVICE_COOKIE = "aefi_device"
DEVICE_MAX_AGE_S = 400 * 86400  # browsers cap cookie lifetimes at 400 days


def device_token(device: str, key: str | None = None) -> str:
    """The form's proof that a logged-out draft save comes from aefi's own page."""
    secret = (key or get_settings().secret_key).encode()
    return hmac.new(secret, f"aefi-draft-device:{device}".encode(), hashlib.sha256).hexdigest()


def device_ok(device: str, token: str | None) -> bool:
    """Signed with the current key or an old one still listed (key rotation)."""
    if not (device and token):
        return False
    return any(
        hmac.compare_digest(str(token), device_token(device, key))
        for key in get_settings().verification_keys
    )


def device_of(request: Request) -> tuple[str, bool]:
    """The browser's device id, and whether it is new (the response must set it)."""
    device = request.cookies.get(DEVICE_COOKIE, "")
    if 16 <= len(device) <= 64:
        return device, False
    return secrets.token_urlsafe(24), True


def remember_device(response: Response, device: str) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        device,
        max_age=DEVICE_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=get_settings().https,
    )


def _claim_drafts(request: Request, session: Session, user: User) -> None:
    """Login hook: drafts this browser kept while logged out become the user's."""
    device = request.cookies.get(DEVICE_COOKIE, "")
    if device:
        service.claim_device_drafts(session, Actor.of(user), device)


if _claim_drafts not in auth_views.LOGIN_HOOKS:
    auth_views.LOGIN_HOOKS.append(_claim_drafts)
