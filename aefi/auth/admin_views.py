"""Admin pages for users and the audit trail."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from aefi import audit, i18n, listing
from aefi.auth.login import service as auth_login
from aefi.auth.models import USER_ROLES, Role
from aefi.auth.users import service as auth_users
from aefi.deps import SessionDep, WebActor
from aefi.errors import Invalid, NotFound
from aefi.forms import parse_form
from aefi.i18n import N_
from aefi.registry import access as registry_access
from aefi.registry.records import service as registry_records
from aefi.types import parse_id
from aefi.web import flash, render, verify_csrf

router = APIRouter(prefix="/admin", dependencies=[Depends(verify_csrf)])

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
        "sites": registry_access.sites_of_county(session, actor.county_id),
        "hospitals": registry_records.choices(session, actor, "hospitals"),
        "users": auth_users.list_users(session, actor),
    }


@router.get("/users")
def users_page(request: Request, session: SessionDep, actor: WebActor):
    return render(request, "admin/users.html", _user_form(session, actor, {}, {}))


class UserForm(BaseModel):
    """The new-user form as typed: the role and ids are checked below, with their messages,
    and the rest by ``auth_users.create_user``."""

    username: str = ""
    full_name: str = ""
    role: str = ""
    site_id: str = ""
    hospital_id: str = ""
    email: str = ""
    password: str = ""


class PasswordForm(BaseModel):
    password: str = ""
    password2: str = ""


@router.post("/users")
async def create_user(request: Request, session: SessionDep, actor: WebActor):
    form = await parse_form(request, UserForm)
    if not isinstance(form, UserForm):
        form = UserForm()
    values = form.model_dump(exclude={"password"})
    try:
        role = Role(form.role) if form.role in set(Role) else None
        if role is None:
            raise Invalid("Pick a role.", fields={"role": "Pick a role."})
        auth_users.create_user(
            session,
            actor,
            username=form.username,
            password=form.password,
            role=role,
            county_id=actor.county_id,
            full_name=form.full_name,
            site_id=parse_id(form.site_id, "site_id"),
            hospital_id=parse_id(form.hospital_id, "hospital_id"),
            email=form.email,
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
    form = await parse_form(request, PasswordForm)
    if not isinstance(form, PasswordForm):
        form = PasswordForm()
    password = form.password
    if password != form.password2:
        flash(
            request, i18n.gettext("The two new passwords differ; type the same one twice."), "error"
        )
        return RedirectResponse("/admin/users", status_code=303)
    return _user_action(
        request,
        session,
        actor,
        auth_users.reset_password,
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
        auth_users.set_active,
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
        auth_users.set_active,
        N_("User {name} can log in again."),
        user_id,
        True,
    )


@router.get("/logins")
def failed_logins_page(request: Request, session: SessionDep, actor: WebActor):
    """Recent failed logins: the county's accounts and user names that exist nowhere."""
    rows = auth_login.recent_failures(session, actor)
    return render(request, "admin/logins.html", {"rows": rows, "failure_reasons": FAILURE_REASONS})


@dataclass(frozen=True)
class AuditQuery:
    """The audit trail's filters, as the query string carries them."""

    q: str = listing.labelled("", N_("Who or what"))
    action: str = listing.labelled("", N_("Action"))
    entity_type: str = listing.labelled("", N_("Record type"))
    since: datetime | None = listing.labelled(None, N_("From"))
    until: datetime | None = listing.labelled(None, N_("Until"))


@router.get("/audit")
def audit_page(request: Request, session: SessionDep, actor: WebActor):
    flt = listing.read(AuditQuery, request.query_params)
    page = listing.fetch(
        lambda n, size: audit.search(
            session, actor, **dataclasses.asdict(flt), page=n, per_page=size
        ),
        listing.paging(request.query_params, per_page=50),
    )
    return render(
        request, "admin/audit.html", listing.context("/admin/audit", flt, page), block="results"
    )
