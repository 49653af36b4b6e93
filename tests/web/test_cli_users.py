"""The ``aefi users`` and ``aefi serve`` commands (typer's CliRunner)."""

from __future__ import annotations

from sqlmodel import select
from typer.testing import CliRunner

from aefi.auth.login import service as auth_login
from aefi.auth.models import LoginSession, User
from aefi.auth.sessions import service as auth_sessions
from aefi.cli import app
from aefi.registry.models import Region
from aefi.settings import get_settings

runner = CliRunner()


def _county_code(session, county) -> str:
    return session.get(Region, county.county_id).code


def test_users_create_set_password_deactivate_reactivate(county, session):
    code = _county_code(session, county)
    r = runner.invoke(
        app,
        ["users", "create", "nurse9", "--role", "bureau", "--county", code],
        input="first-pass-123\nfirst-pass-123\n",
    )
    assert r.exit_code == 0, r.output
    assert "user nurse9 created" in r.output
    user = session.exec(select(User).where(User.username == "nurse9")).one()
    token = auth_sessions.start_session(session, get_settings(), user)

    r = runner.invoke(
        app, ["users", "set-password", "nurse9"], input="second-pass-456\nsecond-pass-456\n"
    )
    assert r.exit_code == 0, r.output
    assert "password of nurse9 changed" in r.output
    session.expire_all()
    assert auth_login.authenticate(session, get_settings(), "nurse9", "second-pass-456")
    assert auth_sessions.user_for_session(session, get_settings(), token) is None
    ended = session.exec(select(LoginSession).where(LoginSession.user_id == user.id)).one()
    assert ended.end_reason == "password_reset"

    r = runner.invoke(app, ["users", "deactivate", "nurse9"])
    assert r.exit_code == 0 and "deactivated" in r.output
    session.expire_all()
    assert session.get(User, user.id).active is False
    r = runner.invoke(app, ["users", "reactivate", "nurse9"])
    assert r.exit_code == 0 and "reactivated" in r.output
    r = runner.invoke(app, ["users", "list"])
    assert r.exit_code == 0 and "nurse9" in r.output and "active" in r.output


def test_users_commands_explain_what_is_wrong(county, session):
    r = runner.invoke(
        app, ["users", "set-password", "nobody"], input="long-enough-1\nlong-enough-1\n"
    )
    assert r.exit_code == 2 and "No user named nobody" in r.output
    r = runner.invoke(app, ["users", "set-password", "bureau"], input="short\nshort\n")
    assert r.exit_code == 2 and "at least 8 characters" in r.output
    r = runner.invoke(app, ["users", "deactivate", "nobody"])
    assert r.exit_code == 2
    r = runner.invoke(
        app,
        ["users", "create", "x1", "--role", "bureau", "--county", "no-such"],
        input="long-enough-1\nlong-enough-1\n",
    )
    assert r.exit_code == 2 and "no county" in r.output


def test_serve_refuses_to_start_without_a_real_key(db_url, monkeypatch):
    monkeypatch.setenv("AEFI_SECRET_KEY", "")
    get_settings.cache_clear()
    r = runner.invoke(app, ["serve"])
    assert r.exit_code == 2
    assert "AEFI_SECRET_KEY is not set" in r.output
    assert "secrets.token_urlsafe(48)" in r.output
    monkeypatch.setenv("AEFI_SECRET_KEY", "dev-only-change-me")
    get_settings.cache_clear()
    r = runner.invoke(app, ["serve"])
    assert r.exit_code == 2 and "known public default" in r.output


def test_set_password_works_in_a_fresh_process(county, session, db_url):
    """The command imports only what it needs: every table must be known (it crashed with
    NoReferencedTableError: app_user.site_id)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "AEFI_DATABASE_URL": db_url}
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "aefi",
            "users",
            "set-password",
            "bureau",
            "--password",
            "from-a-shell-77",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    session.expire_all()
    assert auth_login.authenticate(session, get_settings(), "bureau", "from-a-shell-77")


def test_serve_demo_makes_a_private_key_once_and_reuses_it(db_url, county, monkeypatch, tmp_path):
    import stat

    import uvicorn

    from aefi.auth import keys

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.append(app))
    monkeypatch.setenv("AEFI_SECRET_KEY", "")
    monkeypatch.setenv("AEFI_VAR_DIR", str(tmp_path / "var"))
    seen = []
    for _ in range(2):
        get_settings.cache_clear()
        r = runner.invoke(app, ["serve", "--demo"])
        assert r.exit_code == 0, r.output
        path = tmp_path / "var" / keys.KEY_FILE
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        seen.append(path.read_text().strip())
        assert served[-1].state.settings.secret_key == seen[-1]
    assert seen[0] == seen[1] and keys.problem(seen[0]) is None
