"""Use cases of accounts: log in (with throttling), tokens for API clients, users."""

from __future__ import annotations

from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlmodel import Session, select

from aefi import audit, clock
from aefi.auth.models import LoginThrottle, Role, User
from aefi.auth.permissions import Actor, require_role
from aefi.errors import DomainError, Invalid
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


def authenticate(session: Session, settings: Settings, username: str, password: str) -> User:
    """The user with these credentials; failures slow down further attempts exponentially."""
    key = username.strip().lower()
    throttle = session.get(LoginThrottle, key)
    now = clock.now()
    if throttle and throttle.blocked_until and throttle.blocked_until > now:
        raise LoginThrottled(int((throttle.blocked_until - now).total_seconds()) + 1)
    user = session.exec(select(User).where(User.username == key)).first()
    ok = False
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or not user.active:
        throttle = throttle or LoginThrottle(key=key)
        throttle.failures += 1
        over = throttle.failures - settings.login_free_failures
        if over >= 0:
            wait = min(2**over, settings.login_max_delay_s)
            throttle.blocked_until = now + timedelta(seconds=wait)
        session.add(throttle)
        audit.record(
            session,
            None,
            "login_failed",
            "user",
            user.id if user else None,
            summary=key,
            county_id=user.county_id if user else None,
        )
        session.commit()
        raise LoginFailed("Wrong user name or password.")
    if throttle:
        session.delete(throttle)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
    audit.record(session, Actor.of(user), "login", "user", user.id, summary=user.username)
    session.commit()
    return user


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="aefi-api-token")


def issue_token(settings: Settings, user: User) -> str:
    return _serializer(settings).dumps({"u": user.id, "v": user.credential_version})


def user_for_token(session: Session, settings: Settings, token: str) -> User | None:
    try:
        data = _serializer(settings).loads(token, max_age=settings.token_max_age_s)
    except BadSignature:
        return None
    user = session.get(User, data.get("u"))
    if user is None or not user.active or user.credential_version != data.get("v"):
        return None
    return user


def user_for_session(session: Session, user_id: int | None, version: int | None) -> User | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    if user is None or not user.active or user.credential_version != version:
        return None
    return user


def create_user(
    session: Session,
    actor: Actor | None,
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
    """Create an account; ``actor`` None means the command line (an operator on the host)."""
    if actor is not None:
        require_role(actor, Role.admin)
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


def set_password(session: Session, actor: Actor | None, username: str, password: str) -> User:
    if actor is not None:
        require_role(actor, Role.admin)
    user = session.exec(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        raise Invalid("No user named {name}.", fields={"username": "unknown"}, name=username)
    _check_password_rules(password)
    user.password_hash = hash_password(password)
    user.credential_version += 1
    session.add(user)
    audit.record(
        session,
        actor,
        "set_password",
        "user",
        user.id,
        county_id=user.county_id,
        summary=user.username,
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
