"""Server-side web sessions, password changes, deactivation and login throttling, on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from aefi import clock
from aefi.audit import AuditEvent
from aefi.auth.login import service as auth_login
from aefi.auth.models import LoginSession, Role, User
from aefi.auth.permissions import Actor
from aefi.auth.sessions import service as auth_sessions
from aefi.auth.users import service as auth_users
from aefi.errors import Invalid, NotFound
from aefi.registry.models import Region, RegionLevel
from aefi.settings import get_settings

PASSWORD = "a-good-password-1"


@pytest.fixture
def two_counties(session: Session) -> dict[str, User]:
    """Two counties, an admin and a bureau user in the first, an admin in the second and
    an API client account."""
    users = {}
    for code in ("330001", "330002"):
        session.add(Region(code=code, name=f"县{code}", level=RegionLevel.county.value))
    session.commit()
    c1, c2 = (
        session.exec(select(Region).where(Region.code == c)).one().id for c in ("330001", "330002")
    )
    for name, role, county in (
        ("admin1", Role.admin, c1),
        ("bureau1", Role.bureau, c1),
        ("admin2", Role.admin, c2),
        ("iis1", Role.api_client, c1),
    ):
        users[name] = auth_users.create_user(
            session,
            Actor.system(county, reason="test"),
            username=name,
            password=PASSWORD,
            role=role,
            county_id=county,
        )
    return users


def _actor(user: User) -> Actor:
    return Actor.of(user)


def test_a_session_lives_until_logout_and_then_never_again(session, two_counties):
    settings = get_settings()
    token = auth_sessions.start_session(session, settings, two_counties["bureau1"], ip="10.0.0.1")
    row = session.exec(select(LoginSession)).one()
    assert row.token_hash != token and len(row.token_hash) == 64  # only the hash is kept
    assert auth_sessions.user_for_session(session, settings, token).username == "bureau1"
    auth_sessions.end_session(session, token, "logout")
    session.commit()
    assert auth_sessions.user_for_session(session, settings, token) is None
    assert session.get(LoginSession, row.id).end_reason == "logout"
    assert auth_sessions.user_for_session(session, settings, "not-a-session") is None
    assert auth_sessions.user_for_session(session, settings, None) is None


class _WallClock:
    """Stands in for the real time sessions age by."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, delta: timedelta) -> None:
        self.at += delta


def test_idle_and_absolute_timeouts_end_sessions(session, two_counties, monkeypatch):
    settings = get_settings()
    wall = _WallClock(datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    monkeypatch.setattr(auth_sessions, "session_now", wall)
    user = two_counties["bureau1"]
    idle = auth_sessions.start_session(session, settings, user)
    busy = auth_sessions.start_session(session, settings, user)
    # The busy session is used every 20 minutes, the idle one not at all.
    for _ in range(3):
        wall.advance(timedelta(minutes=20))
        assert auth_sessions.user_for_session(session, settings, busy) is not None
    assert auth_sessions.user_for_session(session, settings, idle) is None
    ended = session.exec(select(LoginSession).where(LoginSession.end_reason == "idle")).all()
    assert len(ended) == 1
    # However busy, no session outlives the absolute lifetime.
    while wall() < datetime(2026, 3, 1, 8, 0, tzinfo=UTC) + timedelta(
        seconds=settings.session_max_age_s
    ):
        wall.advance(timedelta(minutes=20))
        auth_sessions.user_for_session(session, settings, busy)
    assert auth_sessions.user_for_session(session, settings, busy) is None
    assert session.exec(select(LoginSession).where(LoginSession.end_reason == "expired")).one()


def test_moving_the_application_clock_does_not_end_sessions(session, two_counties):
    settings = get_settings()
    token = auth_sessions.start_session(session, settings, two_counties["bureau1"])
    clock.freeze(clock.now() + timedelta(days=50))
    assert auth_sessions.user_for_session(session, settings, token) is not None


def test_changing_ones_password_ends_the_other_sessions_and_tokens(session, two_counties):
    settings = get_settings()
    user = two_counties["bureau1"]
    here = auth_sessions.start_session(session, settings, user)
    elsewhere = auth_sessions.start_session(session, settings, user)
    api = auth_login.issue_token(settings, user)
    here_id = auth_sessions.session_for_token(session, settings, here)[0].id
    with pytest.raises(Invalid):
        auth_users.change_own_password(session, settings, _actor(user), "wrong", "new-password-22")
    with pytest.raises(Invalid):
        auth_users.change_own_password(session, settings, _actor(user), PASSWORD, "short")
    session.rollback()
    auth_users.change_own_password(
        session, settings, _actor(user), PASSWORD, "new-password-22", keep_session_id=here_id
    )
    assert auth_sessions.user_for_session(session, settings, here) is not None
    assert auth_sessions.user_for_session(session, settings, elsewhere) is None
    assert auth_login.user_for_token(session, settings, api) is None
    assert auth_login.authenticate(session, settings, "bureau1", "new-password-22").id == user.id
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "change_password")).one()
    assert event.changes["sessions_ended"] == 1


def test_admin_reset_and_deactivation_end_sessions_in_the_county_only(session, two_counties):
    settings = get_settings()
    admin1, bureau1, admin2 = (two_counties[n] for n in ("admin1", "bureau1", "admin2"))
    token = auth_sessions.start_session(session, settings, bureau1)
    # Another county's administrator cannot touch the account.
    for call in (
        lambda: auth_users.reset_password(session, _actor(admin2), bureau1.id, "other-pass-33"),
        lambda: auth_users.set_active(session, _actor(admin2), bureau1.id, False),
    ):
        with pytest.raises(NotFound):
            call()
    with pytest.raises(Invalid):
        auth_users.set_active(session, _actor(admin1), admin1.id, False)
    auth_users.reset_password(session, _actor(admin1), bureau1.id, "reset-pass-44")
    assert auth_sessions.user_for_session(session, settings, token) is None
    token = auth_sessions.start_session(session, settings, bureau1)
    api = auth_login.issue_token(settings, bureau1)
    auth_users.set_active(session, _actor(admin1), bureau1.id, False)
    assert auth_sessions.user_for_session(session, settings, token) is None
    assert auth_login.user_for_token(session, settings, api) is None
    with pytest.raises(auth_login.LoginFailed):
        auth_login.authenticate(session, settings, "bureau1", "reset-pass-44")
    auth_users.set_active(session, _actor(admin1), bureau1.id, True)
    assert auth_login.authenticate(session, settings, "bureau1", "reset-pass-44")
    actions = [
        e.action
        for e in session.exec(
            select(AuditEvent).where(AuditEvent.entity_id == bureau1.id).order_by(AuditEvent.id)
        )
    ]
    assert {"set_password", "deactivate", "reactivate"} <= set(actions)


def test_api_client_accounts_get_no_web_session(session, two_counties):
    with pytest.raises(auth_sessions.WebLoginRefused):
        auth_sessions.start_session(session, get_settings(), two_counties["iis1"])


def test_spraying_user_names_from_one_address_is_throttled(session, two_counties):
    settings = get_settings()
    outcomes = []
    for i in range(32):
        try:
            auth_login.authenticate(session, settings, f"guess{i}", "password1", ip="203.0.113.9")
        except auth_login.LoginThrottled:
            outcomes.append(429)
        except auth_login.LoginFailed:
            outcomes.append(401)
    assert outcomes[: settings.login_ip_free_failures] == [401] * settings.login_ip_free_failures
    assert 429 in outcomes[settings.login_ip_free_failures :]
    # Even the right password waits from that address; another address logs in.
    with pytest.raises(auth_login.LoginThrottled):
        auth_login.authenticate(session, settings, "bureau1", PASSWORD, ip="203.0.113.9")
    assert auth_login.authenticate(session, settings, "bureau1", PASSWORD, ip="198.51.100.4")
    # The county's admin sees the guesses for names that exist nowhere, with the address;
    # failures on another county's accounts stay out of the list.
    with pytest.raises(auth_login.LoginFailed):
        auth_login.authenticate(session, settings, "admin2", "wrong-one", ip="198.51.100.7")
    failures = auth_login.recent_failures(session, _actor(two_counties["admin1"]))
    assert {f.username for f in failures} >= {"guess0", f"guess{outcomes.index(429) - 1}"}
    assert all(f.ip == "203.0.113.9" and f.reason == "unknown_user" for f in failures)
    assert "admin2" in {
        f.username for f in auth_login.recent_failures(session, _actor(two_counties["admin2"]))
    }


def test_the_global_ceiling_slows_every_login(session, two_counties, monkeypatch):
    monkeypatch.setenv("AEFI_LOGIN_GLOBAL_FREE_FAILURES", "10")
    get_settings.cache_clear()
    settings = get_settings()
    clock.freeze(datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    for i in range(10):  # ten addresses, one guess each: no address is over its limit
        with pytest.raises(auth_login.LoginFailed):
            auth_login.authenticate(session, settings, f"u{i}", "x-password", ip=f"192.0.2.{i}")
    with pytest.raises(auth_login.LoginThrottled):
        auth_login.authenticate(session, settings, "bureau1", PASSWORD, ip="198.51.100.1")
    clock.advance(timedelta(seconds=settings.login_global_max_delay_s + 1))
    assert auth_login.authenticate(session, settings, "bureau1", PASSWORD, ip="198.51.100.1")


def test_failure_counts_expire_after_the_window(session, two_counties):
    settings = get_settings()
    clock.freeze(datetime(2026, 3, 1, 8, 0, tzinfo=UTC))
    for _ in range(settings.login_free_failures):
        with pytest.raises(auth_login.LoginFailed):
            auth_login.authenticate(session, settings, "bureau1", "wrong-pass", ip="192.0.2.50")
    clock.advance(timedelta(seconds=settings.login_window_s + settings.login_max_delay_s + 1))
    # A new window: the next wrong passwords count from nothing, plain failures, no wait
    # (without the window the count would be past the free failures: the second would wait).
    for _ in range(2):
        with pytest.raises(auth_login.LoginFailed):
            auth_login.authenticate(session, settings, "bureau1", "wrong-pass", ip="192.0.2.50")


def test_concurrent_failures_from_a_new_address_are_all_counted(engine, two_counties):
    """Many first failures at once from one address: no collision on the new throttle row
    (no 500), and every failure is counted."""
    from concurrent.futures import ThreadPoolExecutor

    from aefi.auth.models import LoginThrottle

    settings = get_settings()

    def attempt(i: int) -> str:
        with Session(engine, expire_on_commit=False) as s:
            try:
                auth_login.authenticate(s, settings, f"race{i}", "guess-pass", ip="192.0.2.99")
            except auth_login.LoginFailed:
                return "failed"
            except auth_login.LoginThrottled:
                return "throttled"
        return "ok"

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(attempt, range(16)))
    assert set(outcomes) <= {"failed", "throttled"}
    with Session(engine) as s:
        row = s.get(LoginThrottle, "ip:192.0.2.99")
        assert row.failures == outcomes.count("failed")
        assert s.get(LoginThrottle, "global").failures == outcomes.count("failed")
