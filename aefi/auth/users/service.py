"""Users: created and listed by a county's admin, passwords set and reset, accounts
(de)activated; whom to notify."""

from __future__ import annotations

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from aefi import audit
from aefi.auth import passwords
from aefi.auth.login.service import check_throttle, count_failure
from aefi.auth.models import USER_ROLES, Role, User
from aefi.auth.permissions import Actor, require_own_county, require_role
from aefi.auth.sessions.service import end_sessions_of
from aefi.db import serialized_writes
from aefi.errors import Invalid, NotFound
from aefi.settings import Settings


def create_user(
    session: Session,
    actor: Actor,
    *,
    username: str,
    password: str,
    role: Role,
    county_id: int,
    full_name: str = "",
    site_id: int | None = None,
    hospital_id: int | None = None,
    email: str = "",
) -> User:
    """Create an account: the county's administrator, or the system actor of the county
    (the command line: an operator on the host; the demo)."""
    require_role(actor, Role.admin, Role.system)
    require_own_county(actor, county_id)
    if role not in USER_ROLES:
        raise Invalid("Some fields need correcting.", fields={"role": role.value})
    username = username.strip().lower()
    if session.exec(select(User).where(User.username == username)).first():
        raise Invalid("The user name {name} is taken.", fields={"username": "taken"}, name=username)
    if role == Role.reporter and site_id is None:
        raise Invalid(
            "A reporter must be bound to a vaccination site.", fields={"site": "required"}
        )
    if role == Role.hospital and hospital_id is None:
        raise Invalid(
            "A hospital user must be bound to a hospital.", fields={"hospital": "required"}
        )
    passwords.check_password_rules(password)
    user = User(
        username=username,
        full_name=full_name,
        role=role.value,
        county_id=county_id,
        site_id=site_id if role == Role.reporter else None,
        hospital_id=hospital_id if role == Role.hospital else None,
        password_hash=passwords.hash_password(password),
        email=email,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "create",
        "user",
        user.id,
        county_id=county_id,
        changes=audit.snapshot(user, exclude=("password_hash",)),
        summary=username,
    )
    session.commit()
    return user


def _new_password(user: User, password: str) -> None:
    """Store a new password: every API token of the user stops working."""
    passwords.check_password_rules(password)
    user.password_hash = passwords.hash_password(password)
    user.credential_version += 1


def operator_for(session: Session, username: str) -> Actor:
    """The command line acting on an account: the system actor of the account's county
    (of no county when there is no such account: it finds nothing)."""
    user = session.exec(select(User).where(User.username == username.strip().lower())).first()
    return Actor.system([user.county_id] if user else [], reason="command line")


def set_password(session: Session, actor: Actor, username: str, password: str) -> User:
    """Set a user's password by name (the command line: the system actor of the user's
    county, ``operator_for``); ends their sessions and tokens."""
    require_role(actor, Role.admin, Role.system)
    user = session.exec(select(User).where(User.username == username.strip().lower())).first()
    if user is None or user.county_id != actor.county_id:
        raise Invalid("No user named {name}.", fields={"username": "unknown"}, name=username)
    return _reset(session, actor, user, password)


def _reset(session: Session, actor: Actor, user: User, password: str) -> User:
    _new_password(user, password)
    session.add(user)
    ended = end_sessions_of(session, user.id, "password_reset")
    audit.record(
        session,
        actor,
        "set_password",
        "user",
        user.id,
        county_id=user.county_id,
        summary=user.username,
        changes={"sessions_ended": ended},
    )
    session.commit()
    return user


def user_in_county(session: Session, actor: Actor, user_id: int) -> User:
    """An account the administrator manages (their county), else NotFound."""
    require_role(actor, Role.admin)
    user = session.get(User, user_id)
    if user is None or user.county_id != actor.county_id:
        raise NotFound("No such user in your county.")
    return user


def reset_password(session: Session, actor: Actor, user_id: int, password: str) -> User:
    """The administrator sets a new password for an account of the county; the account's
    sessions and tokens end."""
    return _reset(session, actor, user_in_county(session, actor, user_id), password)


def set_active(session: Session, actor: Actor, user_id: int, active: bool) -> User:
    """Deactivate (ends sessions and tokens at once) or reactivate an account of the
    county. Administrators cannot deactivate themselves."""
    return _set_active(session, actor, user_in_county(session, actor, user_id), active)


def set_active_by_name(session: Session, actor: Actor, username: str, active: bool) -> User:
    """The command line's way (the system actor of the user's county, ``operator_for``)
    to deactivate or reactivate an account."""
    require_role(actor, Role.admin, Role.system)
    user = session.exec(select(User).where(User.username == username.strip().lower())).first()
    if user is None or user.county_id != actor.county_id:
        raise Invalid("No user named {name}.", fields={"username": "unknown"}, name=username)
    return _set_active(session, actor, user, active)


def _set_active(session: Session, actor: Actor, user: User, active: bool) -> User:
    if not active and user.id == actor.user_id:
        raise Invalid("You cannot deactivate your own account; ask another administrator.")
    if user.active == active:
        return user
    user.active = active
    ended = 0
    if not active:
        user.credential_version += 1
        ended = end_sessions_of(session, user.id, "deactivated")
    session.add(user)
    audit.record(
        session,
        actor,
        "reactivate" if active else "deactivate",
        "user",
        user.id,
        county_id=user.county_id,
        summary=user.username,
        changes={"active": [not active, active], "sessions_ended": ended},
    )
    session.commit()
    return user


def change_own_password(
    session: Session,
    settings: Settings,
    actor: Actor,
    old_password: str,
    new_password: str,
    *,
    keep_session_id: int | None = None,
    ip: str = "",
) -> User:
    """The user changes their own password: the old one is required (a wrong one counts as
    a failed login); every other session and every token ends, this session stays."""
    user = session.get(User, actor.user_id)
    if user is None or not user.active:
        raise NotFound("No such user.")
    check_throttle(session, user.username, ip)
    try:
        ok = passwords.verify(user.password_hash, old_password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        with serialized_writes(session):
            count_failure(session, settings, user.username, ip)
            session.commit()
        raise Invalid(
            "The current password is wrong.",
            fields={"old_password": "The current password is wrong."},
        )
    if new_password == old_password:
        raise Invalid(
            "The new password must differ from the current one.",
            fields={"new_password": "The new password must differ from the current one."},
        )
    _new_password(user, new_password)
    session.add(user)
    ended = end_sessions_of(session, user.id, "password_changed", keep_id=keep_session_id)
    audit.record(
        session,
        actor,
        "change_password",
        "user",
        user.id,
        county_id=user.county_id,
        summary=user.username,
        changes={"sessions_ended": ended},
    )
    session.commit()
    return user


def list_users(session: Session, actor: Actor) -> list[User]:
    require_role(actor, Role.admin)
    stmt = select(User).where(User.county_id == actor.county_id).order_by(User.role, User.username)
    return list(session.exec(stmt))


def users_to_notify(
    session: Session,
    county_id: int,
    roles: tuple[Role, ...],
    *,
    site_id: int | None = None,
    hospital_id: int | None = None,
) -> list[User]:
    """Active users whose role and scope concern an event: chosen by the database (one
    indexed read of the few concerned), not every account of the county loaded and
    filtered here; a county's accounts grow with its sites and hospitals."""
    if not roles:
        return []
    in_scope = [col(User.role).not_in([Role.reporter, Role.hospital])]
    if Role.reporter in roles:
        in_scope.append(
            and_(User.role == Role.reporter, User.site_id == site_id)
            if site_id is not None
            else User.role == Role.reporter
        )
    if Role.hospital in roles:
        in_scope.append(and_(User.role == Role.hospital, User.hospital_id == hospital_id))
    stmt = (
        select(User)
        .where(
            User.county_id == county_id,
            User.active == True,  # noqa: E712
            col(User.role).in_(list(roles)),
            or_(*in_scope),
        )
        .order_by(col(User.id))
    )
    return list(session.exec(stmt))
