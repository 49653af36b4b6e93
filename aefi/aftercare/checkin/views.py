"""The public check-in page, opened from the certificate's QR code or a reminder: no
account, the personal link only. Rate-limited per client address and per link; a link that
is not valid shows the same page whatever the reason, and says nothing about any dose."""

from __future__ import annotations

import time as _time
from datetime import date

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from aefi import clock, i18n
from aefi.aftercare import questions
from aefi.aftercare.checkin import service
from aefi.aftercare.checkin.errors import TooManyRequests
from aefi.aftercare.models import Answer
from aefi.aftercare.ratelimit import RateLimiter
from aefi.aftercare.schemas import AnswerIn
from aefi.aftercare.tokens import TokenRejected
from aefi.deps import SessionDep
from aefi.errors import Invalid
from aefi.i18n import N_
from aefi.settings import get_settings
from aefi.web import render, verify_csrf

router = APIRouter()
_limiter: RateLimiter | None = None


def limiter() -> RateLimiter:
    global _limiter
    rate = get_settings().checkin_rate_per_min
    if _limiter is None or _limiter.limit != rate:
        _limiter = RateLimiter(rate, 60.0)
    return _limiter


def rate_limited(request: Request) -> None:
    """Router dependency: too many requests from one address, or on one link, wait."""
    now = _time.monotonic()
    client = request.client.host if request.client else "?"
    token = request.path_params.get("token", "")
    lim = limiter()
    for key in (f"ip:{client}", f"token:{token}"):
        if not lim.allow(key, now):
            raise TooManyRequests(lim.retry_after(key, now))


def _language(request: Request) -> None:
    lang = request.query_params.get("lang")
    if lang in i18n.LOCALES:
        i18n.set_locale(lang)


def _page(request: Request, page, *, values=None, errors=None, recorded=None, status_code=200):
    return render(
        request,
        "aftercare/checkin.html",
        {
            "page": page,
            "token": request.path_params["token"],
            "symptoms": questions.SYMPTOMS,
            "severities": questions.SEVERITIES,
            "values": values or {},
            # Message ids until here; the shared error summary shows them as they read.
            "errors": {k: i18n.gettext(v) for k, v in (errors or {}).items()},
            "recorded": recorded,
            "today": clock.local_today(),
            "public": True,
        },
        status_code=status_code,
    )


def _rejected(request: Request, exc: TokenRejected) -> HTMLResponse:
    return render(
        request,
        "aftercare/checkin_invalid.html",
        {"expired": exc.reason == "expired", "public": True},
        status_code=410 if exc.reason == "expired" else 404,
    )


@router.get("/c/{token}", dependencies=[Depends(rate_limited)])
def checkin_page(request: Request, token: str, session: SessionDep):
    _language(request)
    try:
        page = service.link_page(session, token, get_settings())
    except TokenRejected as exc:
        return _rejected(request, exc)
    return _page(request, page)


def _answer_from_form(form) -> tuple[AnswerIn | None, dict, dict]:
    values = {
        "answer": form.get("answer", ""),
        "symptoms": form.getlist("symptoms"),
        "onset_on": form.get("onset_on", ""),
        "severity": form.get("severity", ""),
        "seen_doctor": form.get("seen_doctor", ""),
        "note": form.get("note", ""),
    }
    errors: dict[str, str] = {}
    if values["answer"] not in (Answer.well, Answer.unwell):
        errors["answer"] = N_("Choose “Well” or “Not well”.")
    onset = None
    if values["onset_on"]:
        try:
            onset = date.fromisoformat(values["onset_on"])
        except ValueError:
            errors["onset_on"] = N_("Give the day it started as a date.")
    if errors:
        return None, values, errors
    try:
        data = AnswerIn(
            answer=values["answer"],
            symptoms=values["symptoms"],
            onset_on=onset,
            severity=values["severity"],
            seen_doctor={"yes": True, "no": False}.get(values["seen_doctor"]),
            note=values["note"][:1000],
        )
    except ValueError:
        return None, values, {"symptoms": N_("Choose the symptoms from the list.")}
    return data, values, {}


@router.post("/c/{token}", dependencies=[Depends(rate_limited), Depends(verify_csrf)])
async def checkin_answer(request: Request, token: str, session: SessionDep):
    _language(request)
    settings = get_settings()
    form = await request.form()
    try:
        page = service.link_page(session, token, settings)
    except TokenRejected as exc:
        return _rejected(request, exc)
    data, values, errors = _answer_from_form(form)
    if data is not None:
        try:
            recorded = service.record_answer(session, token, data, settings)
        except Invalid as exc:
            errors = exc.fields
        else:
            page = service.link_page(session, token, settings)
            return _page(request, page, recorded=recorded)
    return _page(request, page, values=values, errors=errors, status_code=422)
