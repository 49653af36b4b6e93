"""Logging in, with throttling of failed attempts, and the tokens of API clients."""

from __future__ import annotations

from datetime import timedelta

from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from aefi import audit, clock
from aefi.auth import passwords
from aefi.auth.models import LoginFailure, LoginThrottle, Role, User
from aefi.auth.permissions import Actor, require_role
from aefi.auth.sessions.service import KEEP_RECORDS, refuse_api_client
from aefi.db import serialized_writes
from aefi.errors import DomainError
from aefi.settings import Settings


class LoginFailed(DomainError):
    status_code = 401


class LoginThrottled(DomainError):
    status_code = 429

    def __init__(self, wait_s: int) -> None:
        super().__init__(
            "Too many failed logins. Wait {seconds} seconds and try again.", seconds=wait_s
        )
        self.wait_s = wait_s


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


def count_failure(session: Session, settings: Settings, username: str, ip: str) -> None:
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
        ok = passwords.verify(user.password_hash if user else None, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or not user.active:
        reason = "unknown_user" if user is None else ("inactive" if ok else "wrong_password")
        with serialized_writes(session):
            count_failure(session, settings, key, ip)
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
        refuse_api_client(user)
    with serialized_writes(session):
        throttle = session.get(LoginThrottle, f"user:{key}"[:128])
        if throttle:
            session.delete(throttle)
        if passwords.needs_rehash(user.password_hash):
            user.password_hash = passwords.hash_password(password)
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
