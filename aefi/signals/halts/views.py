"""Halt decision pages: the list, the form, one decision with its notice, lifting it."""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from aefi import audit, i18n
from aefi.auth.models import User
from aefi.auth.permissions import require_role
from aefi.db import session_scope
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid
from aefi.forms import ReasonForm, parse_form
from aefi.signals import access, plain, presenters
from aefi.signals.halts import banners, service
from aefi.signals.models import HaltScope
from aefi.types import Id, parse_id
from aefi.web import csrf_token, flash, parse_local, render, verify_csrf

log = logging.getLogger("aefi.signals")
router = APIRouter(dependencies=[Depends(verify_csrf)])


def halt_banners(user: User) -> list[banners.Banner]:
    """Above every page (``aefi.ui_wiring.BANNER_PROVIDERS``): the halts in force and lots on
    hold that concern the user."""
    try:
        with session_scope() as session:
            return banners.banners_for(session, user)
    except Exception:  # a banner must never break a page
        log.exception("halt banners failed")
        return []


@router.get("/halts")
def halts_page(request: Request, session: SessionDep, actor: WebActor):
    halts = service.list_halts(session, actor)
    return render(
        request,
        "signals/halts.html",
        {
            **presenters.common(actor),
            "can_decide": access.can_decide(actor),
            "active": [h for h in halts if h.lifted_at is None],
            "lifted": [h for h in halts if h.lifted_at is not None],
        },
        block="results",
    )


def _halt_form(request, actor, values, errors, status_code=200, error=""):
    return render(
        request,
        "signals/halt_form.html",
        {
            **presenters.common(actor),
            "values": values,
            "errors": errors,
            "error": error,
            "halt_scopes": [s.value for s in HaltScope],
        },
        status_code=status_code,
    )


@router.get("/halts/new")
def new_halt(
    request: Request,
    session: SessionDep,
    actor: WebActor,
    scope: str = "lot",
    target: str = "",
    signal_ids: str = "",
    reason: str = "",
):
    require_role(actor, *access.DECIDERS)
    values = {"scope": scope, "target": target, "signal_ids": signal_ids, "reason": reason}
    return _halt_form(request, actor, values, {})


def _ids(raw: str) -> list[int]:
    out = []
    for part in str(raw or "").replace("，", ",").replace(" ", ",").split(","):
        part = part.strip().lstrip("#")
        if part:
            out.append(parse_id(part, "ids"))
    return out


class LiftForm(ReasonForm):
    confirm: str = ""  # the token of the confirmation step


class HaltForm(BaseModel):
    """The halt form as typed: the ids and the time are parsed below, with their messages."""

    scope: str = ""
    target: str = ""
    reason: str = ""
    signal_ids: str = ""
    cluster_ids: str = ""
    report_ids: str = ""
    effective_at: str = ""
    confirm: str = ""  # the token of the confirmation step


def confirm_token(request: Request, kind: str, key: str) -> str:
    """The token the confirmation page carries: bound to the session (its CSRF secret), to
    the kind of decision and to its target, so a confirmation counts for that one only."""
    secret = csrf_token(request).encode()
    return hmac.new(secret, f"{kind}:{key}".encode(), hashlib.sha256).hexdigest()[:40]


def _confirmed(request: Request, kind: str, key: str, sent: str) -> bool:
    return bool(sent) and hmac.compare_digest(sent, confirm_token(request, kind, key))


def _halt_key(values: dict) -> str:
    return f"{values['scope'].strip()}:{values['target'].strip()}"


def _confirm_page(request, actor, *, preview, title, text, button, action, back, values, kind, key):
    return render(
        request,
        "signals/halt_confirm.html",
        {
            **presenters.common(actor),
            "preview": preview,
            "title": title,
            "text": text,
            "remaining": preview.remaining_text(),
            "button": button,
            "action": action,
            "back": back,
            "values": values,
            "confirm_token": confirm_token(request, kind, key),
            "plain": plain,
        },
    )


@router.post("/halts/new")
async def issue_halt(request: Request, session: SessionDep, actor: WebActor):
    form = await parse_form(request, HaltForm)
    values = (form if isinstance(form, HaltForm) else HaltForm()).model_dump()
    errors: dict[str, str] = {}
    ids: dict[str, list[int]] = {}
    for k in ("signal_ids", "cluster_ids", "report_ids"):
        try:
            ids[k] = _ids(values[k])
        except ValueError:
            errors[k] = i18n.gettext("Enter numbers separated by commas.")
    effective: datetime | None = None
    if values["effective_at"].strip():
        try:
            effective = parse_local(values["effective_at"])
        except ValueError:
            errors["effective_at"] = i18n.gettext("Enter a date and time.")
    if errors:
        return _halt_form(
            request, actor, values, errors, 422, i18n.gettext("Some fields need correcting.")
        )
    try:
        halt = service.issue_halt(
            session,
            actor,
            scope=values["scope"],
            target=values["target"],
            reason=values["reason"],
            effective_at=effective,
            confirmed=_confirmed(request, "halt", _halt_key(values), values["confirm"]),
            **ids,
        )
    except Invalid as exc:
        session.rollback()
        if set(exc.fields) == {"confirm"}:
            preview = service.halt_preview(session, actor, values["scope"], values["target"])
            back = "/halts/new?" + urlencode(
                {k: values[k] for k in ("scope", "target", "signal_ids", "reason")}
            )
            return _confirm_page(
                request,
                actor,
                preview=preview,
                title=i18n.gettext("Confirm the halt"),
                text=preview.halt_text(),
                button=i18n.gettext("Confirm: halt {target}", target=preview.label),
                action="/halts/new",
                back=back,
                values=values,
                kind="halt",
                key=_halt_key(values),
            )
        errs = {k: i18n.gettext(v) for k, v in exc.fields.items()}
        return _halt_form(
            request, actor, values, errs, 422, i18n.gettext(exc.message, **exc.params)
        )
    flash(request, i18n.gettext("Halt decision {number} issued.", number=halt.number), "success")
    return RedirectResponse(f"/halts/{halt.id}", status_code=303)


@router.get("/halts/{halt_id:int}")
def halt_page(request: Request, halt_id: Id, session: SessionDep, actor: WebActor):
    view = service.halt_view(session, actor, halt_id)
    return render(
        request,
        "signals/halt.html",
        {
            **presenters.common(actor),
            "v": view,
            "h": view.halt,
            "can_lift": access.can_lift(actor, view.halt),
            "events": audit.timeline(session, "halt_decision", halt_id),
            "lift_errors": {},
        },
    )


@router.post("/halts/{halt_id:int}/lift")
async def lift(request: Request, halt_id: Id, session: SessionDep, actor: WebActor):
    form = await parse_form(request, LiftForm)
    reason = form.reason if isinstance(form, LiftForm) else ""
    sent = form.confirm if isinstance(form, LiftForm) else ""
    try:
        halt = service.lift_halt(
            session,
            actor,
            halt_id,
            reason,
            confirmed=_confirmed(request, "lift", str(halt_id), sent),
        )
    except Invalid as exc:
        session.rollback()
        if set(exc.fields) == {"confirm"}:
            h = service.get_halt(session, actor, halt_id)
            preview = service.lift_preview(session, actor, h)
            return _confirm_page(
                request,
                actor,
                preview=preview,
                title=i18n.gettext("Confirm lifting {number}", number=h.number),
                text=preview.lift_text(h.number),
                button=i18n.gettext("Confirm: lift the halt of {target}", target=preview.label),
                action=f"/halts/{halt_id}/lift",
                back=f"/halts/{halt_id}",
                values={"reason": reason},
                kind="lift",
                key=str(halt_id),
            )
        view = service.halt_view(session, actor, halt_id)
        return render(
            request,
            "signals/halt.html",
            {
                **presenters.common(actor),
                "v": view,
                "h": view.halt,
                "can_lift": access.can_lift(actor, view.halt),
                "events": audit.timeline(session, "halt_decision", halt_id),
                "lift_errors": {k: i18n.gettext(v) for k, v in exc.fields.items()},
                "lift_reason": reason,
            },
            status_code=422,
        )
    flash(request, i18n.gettext("{number} is lifted.", number=halt.number), "success")
    return RedirectResponse(f"/halts/{halt_id}", status_code=303)


@router.get("/halts/{halt_id:int}/notice.pdf")
def halt_notice(halt_id: Id, session: SessionDep, actor: WebActor):
    halt, pdf = service.halt_notice_pdf(session, actor, halt_id)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="halt-{halt.id}.pdf"'},
    )
