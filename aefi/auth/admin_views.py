"""Admin pages for users and the audit trail."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse

from aefi import audit, i18n, navigation
from aefi.auth import service
from aefi.auth.models import USER_ROLES, Role
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid, NotFound
from aefi.i18n import N_
from aefi.registry import service as registry
from aefi.types import PageNo, parse_id
from aefi.web import flash, parse_local, render, verify_csrf

router = APIRouter(prefix="/admin", dependencies=[Depends(verify_csrf)])
navigation.add((Role.admin,), "/admin/logins", N_("Failed logins"))

FAILURE_REASONS = {
    "unknown_user": N_("no such user"),
    "wrong_password": N_("wrong password"),
    "inactive": N_("account deactivated"),
}


def _user_form(session, actor, values, errors, error=None):
    return {
        "values": values,
        "errors": errors,
        "error": error,
        "roles": list(USER_ROLES),
        "sites": registry.sites_of_county(session, actor.county_id),
        "hospitals": registry.choices(session, actor, "hospitals"),
        "users": service.list_users(session, actor),
    }


@router.get("/users")
def users_page(request: Request, session: SessionDep, actor: WebActor):
    return render(request, "admin/users.html", _user_form(session, actor, {}, {}))


@router.post("/users")
async def create_user(request: Request, session: SessionDep, actor: WebActor):
    form = await request.form()
    values = {
        k: form.get(k, "")
        for k in ("username", "full_name", "role", "site_id", "hospital_id", "email")
    }
    try:
        role = Role(values["role"])
    except ValueError:
        role = None
    try:
        if role is None:
            raise Invalid("Pick a role.", fields={"role": "Pick a role."})
        service.create_user(
            session,
            actor,
            username=values["username"],
            password=form.get("password", ""),
            role=role,
            county_id=actor.county_id,
            full_name=values["full_name"],
            site_id=parse_id(values["site_id"], "site_id"),
            hospital_id=parse_id(values["hospital_id"], "hospital_id"),
            email=values["email"],
        )
    except Invalid as exc:
        session.rollback()
        ctx = _user_form(
            session, actor, values, exc.fields, i18n.gettext(exc.message, **exc.params)
        )
        return render(request, "admin/users.html", ctx, status_code=422)
    flash(request, i18n.gettext("User {name} created.", name=values["username"]), "success")
    return RedirectResponse("/admin/users", status_code=303)


def _user_action(request: Request, session, actor, fn, done: str, user_id: int, *args):
    """Run an admin action on a user; the outcome (or the error) as a flash on the list."""
    try:
        user = fn(session, actor, user_id, *args)
    except (Invalid, NotFound) as exc:
        session.rollback()
        flash(request, i18n.gettext(exc.message, **exc.params), "error")
        return RedirectResponse("/admin/users", status_code=303)
    flash(request, i18n.gettext(done, name=user.username), "success")
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/users/{user_id:int}/password")
async def reset_password(request: Request, user_id: int, session: SessionDep, actor: WebActor):
    form = await request.form()
    password = str(form.get("password", ""))
    if password != str(form.get("password2", "")):
        flash(
            request, i18n.gettext("The two new passwords differ; type the same one twice."), "error"
        )
        return RedirectResponse("/admin/users", status_code=303)
    return _user_action(
        request,
        session,
        actor,
        service.reset_password,
        N_("Password of {name} reset; their sessions and tokens have ended."),
        user_id,
        password,
    )


@router.post("/users/{user_id:int}/deactivate")
def deactivate_user(request: Request, user_id: int, session: SessionDep, actor: WebActor):
    return _user_action(
        request,
        session,
        actor,
        service.set_active,
        N_("User {name} deactivated; their sessions and tokens have ended."),
        user_id,
        False,
    )


@router.post("/users/{user_id:int}/reactivate")
def reactivate_user(request: Request, user_id: int, session: SessionDep, actor: WebActor):
    return _user_action(
        request,
        session,
        actor,
        service.set_active,
        N_("User {name} can log in again."),
        user_id,
        True,
    )


@router.get("/logins")
def failed_logins_page(request: Request, session: SessionDep, actor: WebActor):
    """Recent failed logins: the county's accounts and user names that exist nowhere."""
    rows = service.recent_failures(session, actor)
    return render(request, "admin/logins.html", {"rows": rows, "failure_reasons": FAILURE_REASONS})


@router.get("/audit")
def audit_page(
    request: Request,
    session: SessionDep,
    actor: WebActor,
    q: str = "",
    action: str = "",
    entity_type: str = "",
    since: str = "",
    until: str = "",
    page: PageNo = 1,
):
    since_at: datetime | None = parse_local(since) if since else None
    until_at: datetime | None = parse_local(until) if until else None
    rows, total = audit.search(
        session,
        actor,
        q=q,
        action=action,
        entity_type=entity_type,
        since=since_at,
        until=until_at,
        page=max(page, 1),
    )
    return render(
        request,
        "admin/audit.html",
        {
            "rows": rows,
            "total": total,
            "q": q,
            "action": action,
            "entity_type": entity_type,
            "since": since,
            "until": until,
            "page": max(page, 1),
            "per_page": 50,
        },
        block="results",
    )
