"""Use cases of accounts: log in (with throttling), tokens for API clients, users."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from aefi import audit, clock
from aefi.auth.models import USER_ROLES, LoginFailure, LoginSession, LoginThrottle, Role, User
from aefi.auth.permissions import Actor, require_own_county, require_role
from aefi.db import serialized_writes
from aefi.errors import DomainError, Invalid, NotFound
from aefi.settings import Settings

_hasher = PasswordHasher()
# A real hash to verify against when the user name is unknown, so timing tells nothing.
_DUMMY_HASH = _hasher.hash("not-a-password")


class LoginFailed(DomainError):
    status_code = 401


class LoginThrottled(DomainError):
    status_code = 429

    def __init__(self, wait_s: int) -> None:
        super().__init__(
            "Too many failed logins. Wait {seconds} seconds and try again.", seconds=wait_s
        )
        self.wait_s = wait_s


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _check_password_rules(password: str) -> None:
    if len(password) < 8:
        raise Invalid(
            "A password needs at least 8 characters.",
            fields={"password": "A password needs at least 8 characters."},
        )


class WebLoginRefused(DomainError):
    status_code = 403


# Failed logins and ended sessions are kept this long.
KEEP_RECORDS = timedelta(days=30)


def _throttle_rows(
    session: Session, keys: list[str], *, lock: bool = False
) -> dict[str, LoginThrottle]:
    rows = {}
    for key in keys:
        # Locking re-reads the row (populate_existing): another process may have counted.
        row = (
            session.get(LoginThrottle, key, with_for_update=True, populate_existing=True)
            if lock
            else session.get(LoginThrottle, key)
        )
        if row is not None:
            rows[key] = row
    return rows


def _throttle_keys(username: str, ip: str) -> list[str]:
    keys = [f"user:{username}"[:128]]
    if ip:
        keys.append(f"ip:{ip}"[:128])
    keys.append("global")
    return keys


def _limits(settings: Settings, key: str) -> tuple[int, int]:
    """(free failures, longest wait) for a throttle key."""
    if key.startswith("ip:"):
        return settings.login_ip_free_failures, settings.login_max_delay_s
    if key == "global":
        return settings.login_global_free_failures, settings.login_global_max_delay_s
    return settings.login_free_failures, settings.login_max_delay_s


def check_throttle(session: Session, username: str, ip: str = "") -> None:
    """Raise LoginThrottled while the user name, the address or all logins wait."""
    now = clock.now()
    waits = [
        row.blocked_until
        for row in _throttle_rows(session, _throttle_keys(username, ip)).values()
        if row.blocked_until and row.blocked_until > now
    ]
    if waits:
        raise LoginThrottled(int((max(waits) - now).total_seconds()) + 1)


def _count_failure(session: Session, settings: Settings, username: str, ip: str) -> None:
    """One more failure for the user name, the address and all logins; a count whose last
    failure is older than the window starts again. Past the free failures each next
    attempt waits twice as long, up to the key's longest wait."""
    now = clock.now()
    window = timedelta(seconds=settings.login_window_s)
    keys = sorted(_throttle_keys(username, ip))  # one lock order: no deadlock between two
    # Concurrent first failures of one address must not collide on the new row: create the
    # rows if missing (no error when another request just did), then lock and count.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(LoginThrottle)
        .values([{"key": k, "failures": 0} for k in keys])
        .on_conflict_do_nothing(index_elements=["key"])
    )
    rows = _throttle_rows(session, keys, lock=True)
    for key in keys:
        row = rows[key]
        if row.last_failure_at is None or now - row.last_failure_at > window:
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        free, longest = _limits(settings, key)
        over = row.failures - free
        if over >= 0:
            row.blocked_until = now + timedelta(seconds=min(2 ** min(over, 30), longest))


def authenticate(
    session: Session,
    settings: Settings,
    username: str,
    password: str,
    *,
    ip: str = "",
    user_agent: str = "",
    for_web: bool = False,
) -> User:
    """The user with these credentials. Failures slow down further attempts exponentially,
    per user name, per client address and over all logins (a ceiling), and are kept for
    the administrator (``recent_failures``). ``for_web``: API client accounts are refused
    (after the password check, so the refusal tells nothing to someone without it)."""
    key = username.strip().lower()[:64]
    ip = (ip or "")[:64]
    check_throttle(session, key, ip)
    user = session.exec(select(User).where(User.username == key)).first()
    ok = False
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or not user.active:
        reason = "unknown_user" if user is None else ("inactive" if ok else "wrong_password")
        with serialized_writes(session):
            _count_failure(session, settings, key, ip)
            session.execute(
                delete(LoginFailure).where(col(LoginFailure.at) < clock.now() - KEEP_RECORDS)
            )
            session.add(
                LoginFailure(
                    username=key,
                    user_id=user.id if user else None,
                    county_id=user.county_id if user else None,
                    ip=ip,
                    user_agent=(user_agent or "")[:200],
                    reason=reason,
                )
            )
            audit.record(
                session,
                Actor.system([user.county_id] if user else [], reason="login: failed attempt"),
                "login_failed",
                "user",
                user.id if user else None,
                summary=key,
                county_id=user.county_id if user else None,
                changes={"ip": ip, "reason": reason},
            )
            session.commit()
        raise LoginFailed("Wrong user name or password.")
    if for_web:
        _refuse_api_client(user)
    with serialized_writes(session):
        throttle = session.get(LoginThrottle, f"user:{key}"[:128])
        if throttle:
            session.delete(throttle)
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
            session.add(user)
        audit.record(
            session,
            Actor.of(user),
            "login",
            "user",
            user.id,
            summary=user.username,
            changes={"ip": ip} if ip else None,
        )
        session.commit()
    return user


def recent_failures(
    session: Session, actor: Actor, *, days: int = 7, limit: int = 200
) -> list[LoginFailure]:
    """Failed logins of the last days the administrator should see: those on the county's
    accounts and those for user names that exist nowhere (sprayed guesses)."""
    require_role(actor, Role.admin)
    since = clock.now() - timedelta(days=days)
    stmt = (
        select(LoginFailure)
        .where(
            col(LoginFailure.at) >= since,
            or_(
                LoginFailure.county_id == actor.county_id,
                col(LoginFailure.user_id).is_(None),
            ),
        )
        .order_by(col(LoginFailure.id).desc())
        .limit(limit)
    )
    return list(session.exec(stmt))


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    # Every listed key verifies; the last (the current one) signs.
    return URLSafeTimedSerializer(settings.verification_keys, salt="aefi-api-token")


def issue_token(settings: Settings, user: User) -> str:
    return _serializer(settings).dumps({"u": user.id, "v": user.credential_version})


def user_for_token(session: Session, settings: Settings, token: str) -> User | None:
    try:
        data = _serializer(settings).loads(token, max_age=settings.token_max_age_s)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = session.get(User, data.get("u"))
    if user is None or not user.active or user.credential_version != data.get("v"):
        return None
    return user


# --- web sessions ----------------------------------------------------------------------------

# How stale last_seen_at may get before a request writes it (one write a minute a session).
TOUCH_EVERY = timedelta(seconds=60)


def session_now() -> datetime:
    """Web sessions age in real time, like the signed cookie they replace, not on the
    application clock that tests (and replays) move to reach deadlines."""
    return datetime.now(UTC)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def _refuse_api_client(user: User) -> None:
    if user.role == Role.api_client:
        raise WebLoginRefused(
            "This account is for the immunization information system's API: it gets tokens "
            "at /api/v1/auth/token and cannot use the web pages."
        )


def start_session(
    session: Session, settings: Settings, user: User, *, ip: str = "", user_agent: str = ""
) -> str:
    """A new web session for ``user``; returns the random id for the cookie (only its hash
    is stored). API client accounts use tokens, never the web pages."""
    _refuse_api_client(user)
    token = secrets.token_urlsafe(32)
    now = session_now()
    with serialized_writes(session):
        # The user's sessions that ended long ago go; recent ones stay for the record.
        session.execute(
            delete(LoginSession).where(
                LoginSession.user_id == user.id,
                col(LoginSession.expires_at) < now - KEEP_RECORDS,
            )
        )
        session.add(
            LoginSession(
                token_hash=_token_hash(token),
                user_id=user.id,
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(seconds=settings.session_max_age_s),
                ip=(ip or "")[:64],
                user_agent=(user_agent or "")[:200],
            )
        )
        session.commit()
    return token


def _end(row: LoginSession, reason: str) -> None:
    row.ended_at = session_now()
    row.end_reason = reason


def session_for_token(
    session: Session, settings: Settings, token: str | None
) -> tuple[LoginSession, User] | None:
    """The live session of this cookie and its user, or None. Ends a session found past its
    idle or absolute timeout; refreshes last_seen_at at most once a minute."""
    if not token or len(token) > 128:
        return None
    # One query a request: the session row with its user.
    found = session.exec(
        select(LoginSession, User)
        .join(User, col(User.id) == col(LoginSession.user_id))
        .where(LoginSession.token_hash == _token_hash(token))
    ).first()
    if found is None or found[0].ended_at is not None:
        return None
    row, user = found
    now = session_now()
    reason = None
    if now >= row.expires_at:
        reason = "expired"
    elif now - row.last_seen_at > timedelta(seconds=settings.session_idle_s):
        reason = "idle"
    if reason is None and not user.active:
        reason = "deactivated"
    if reason is None and user.role == Role.api_client:
        reason = "api_client"
    if reason is not None:
        with serialized_writes(session):
            _end(row, reason)
            session.add(row)
            session.commit()
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        with serialized_writes(session):
            row.last_seen_at = now
            session.add(row)
            session.commit()
    return row, user


def user_for_session(session: Session, settings: Settings, token: str | None) -> User | None:
    found = session_for_token(session, settings, token)
    return found[1] if found else None


def end_session(session: Session, token: str | None, reason: str = "logout") -> None:
    """End this cookie's session (logout)."""
    if not token:
        return
    row = session.exec(
        select(LoginSession).where(LoginSession.token_hash == _token_hash(token))
    ).first()
    if row is not None and row.ended_at is None:
        _end(row, reason)
        session.add(row)


def end_sessions_of(
    session: Session, user_id: int, reason: str, *, keep_id: int | None = None
) -> int:
    """End every open session of a user (but ``keep_id``); the caller commits."""
    stmt = select(LoginSession).where(
        LoginSession.user_id == user_id, col(LoginSession.ended_at).is_(None)
    )
    n = 0
    for row in session.exec(stmt):
        if row.id == keep_id:
            continue
        _end(row, reason)
        session.add(row)
        n += 1
    return n


def open_sessions(session: Session, user_id: int) -> list[LoginSession]:
    stmt = (
        select(LoginSession)
        .where(LoginSession.user_id == user_id, col(LoginSession.ended_at).is_(None))
        .order_by(col(LoginSession.id).desc())
    )
    return list(session.exec(stmt))


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
    _check_password_rules(password)
    user = User(
        username=username,
        full_name=full_name,
        role=role.value,
        county_id=county_id,
        site_id=site_id if role == Role.reporter else None,
        hospital_id=hospital_id if role == Role.hospital else None,
        password_hash=hash_password(password),
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
    _check_password_rules(password)
    user.password_hash = hash_password(password)
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
        ok = _hasher.verify(user.password_hash, old_password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        with serialized_writes(session):
            _count_failure(session, settings, user.username, ip)
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
    """Active users whose role and scope concern an event."""
    users = session.exec(
        select(User).where(User.county_id == county_id, User.active == True)  # noqa: E712
    ).all()
    out = []
    for u in users:
        if u.role not in roles:
            continue
        if u.role == Role.reporter and site_id is not None and u.site_id != site_id:
            continue
        if u.role == Role.hospital and u.hospital_id != hospital_id:
            continue
        out.append(u)
    return out
