"""Sessions, account pages, throttling and headers through the web layer."""

from __future__ import annotations

import json
import re
from base64 import b64encode

import itsdangerous
import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from aefi import clock
from aefi.audit import AuditEvent
from aefi.auth.models import LoginSession, User
from aefi.demo import DEMO_PASSWORDS
from aefi.settings import get_settings
from tests.conftest import csrf_of, login

EN = {"Accept-Language": "en"}
OLD_DEFAULT = "dev-only-change-me"  # the key aefi used to ship as its default


def _csrf(page_text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_text).group(1)


def test_a_cookie_and_a_token_forged_with_the_old_default_key_are_refused(client, county):
    signer = itsdangerous.TimestampSigner(OLD_DEFAULT)
    for uid in range(1, 4):
        payload = b64encode(json.dumps({"uid": uid, "cv": 1}).encode())
        forged = signer.sign(payload).decode()
        for name in ("aefi_session", "aefi_state"):
            client.cookies.clear()
            client.cookies.set(name, forged)
            r = client.get("/admin/users", follow_redirects=False)
            assert r.status_code == 303 and r.headers["location"].startswith("/login")
    client.cookies.clear()
    token = itsdangerous.URLSafeTimedSerializer(OLD_DEFAULT, salt="aefi-api-token")
    for uid in range(1, 4):
        r = client.get(
            "/api/v1/reports",
            headers={"Authorization": f"Bearer {token.dumps({'u': uid, 'v': 1})}"},
        )
        assert r.status_code == 401


def test_the_session_cookie_holds_only_a_random_id(client, county, session):
    login(client, "bureau")
    sid = client.cookies.get("aefi_session")
    assert sid and len(sid) >= 40 and "." not in sid  # no signed payload, just the id
    rows = session.exec(select(LoginSession)).all()
    assert len(rows) == 1 and rows[0].token_hash != sid and rows[0].ended_at is None


@pytest.fixture
def other_process(app, db_url):
    """aefi served by another operating-system process (uvicorn) on the same database: what
    another worker sees. Yields an HTTP client for it."""
    import os
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "AEFI_DATABASE_URL": db_url, "AEFI_BACKGROUND_ENABLED": "false"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "aefi.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):  # until it answers (or the process died)
            if proc.poll() is not None:
                pytest.fail("the second aefi process did not start")
            try:
                httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        with httpx.Client(base_url=base, timeout=30) as c:
            yield c
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _share_login(client, other) -> None:
    other.cookies.set("aefi_session", client.cookies.get("aefi_session"))


def test_logout_ends_the_session_everywhere_at_once(client, county, other_process):
    token = login(client, "bureau")
    _share_login(client, other_process)
    stolen = client.cookies.get("aefi_session")
    assert other_process.get("/", follow_redirects=False).status_code == 200
    r = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303
    assert other_process.get("/", follow_redirects=False).status_code == 303
    # The old cookie replayed on the first process does not work either.
    client.cookies.set("aefi_session", stolen)
    assert client.get("/", follow_redirects=False).status_code == 303


def test_changing_ones_password_ends_the_other_sessions(client, county, other_process, session):
    login(client, "investigator")
    elsewhere = TestClient(client.app)
    login(elsewhere, "investigator")
    _share_login(elsewhere, other_process)
    page = client.get("/account/password", headers=EN)
    assert page.status_code == 200 and "Change password" in page.text
    old = DEMO_PASSWORDS["investigator"][1]
    wrong = client.post(
        "/account/password",
        data={
            "csrf_token": _csrf(page.text),
            "old_password": "not-it",
            "new_password": "brand-new-pass-1",
            "new_password2": "brand-new-pass-1",
        },
        headers=EN,
    )
    assert wrong.status_code == 422 and "The current password is wrong." in wrong.text
    differ = client.post(
        "/account/password",
        data={
            "csrf_token": _csrf(page.text),
            "old_password": old,
            "new_password": "brand-new-pass-1",
            "new_password2": "brand-new-pass-2",
        },
        headers=EN,
    )
    assert differ.status_code == 422 and "differ" in differ.text
    ok = client.post(
        "/account/password",
        data={
            "csrf_token": _csrf(page.text),
            "old_password": old,
            "new_password": "brand-new-pass-1",
            "new_password2": "brand-new-pass-1",
        },
        headers=EN,
    )
    assert ok.status_code == 200 and "Password changed." in ok.text
    assert client.get("/", follow_redirects=False).status_code == 200  # this one stays
    assert other_process.get("/", follow_redirects=False).status_code == 303
    fresh = TestClient(client.app)
    login(fresh, "investigator", "brand-new-pass-1")


def test_admin_resets_a_password_and_deactivates_a_user(client, county, session):
    bureau = TestClient(client.app)
    login(bureau, "bureau")
    token = login(client, "admin")
    target = session.exec(select(User).where(User.username == "bureau")).one()
    page = client.get("/admin/users", headers=EN)
    assert f"/admin/users/{target.id}/deactivate" in page.text
    r = client.post(
        f"/admin/users/{target.id}/password",
        data={"csrf_token": token, "password": "reset-by-admin-1", "password2": "reset-by-admin-1"},
        headers=EN,
    )
    assert r.status_code == 200 and "Password of bureau reset" in r.text
    assert bureau.get("/", follow_redirects=False).status_code == 303
    login(bureau, "bureau", "reset-by-admin-1")
    r = client.post(f"/admin/users/{target.id}/deactivate", data={"csrf_token": token}, headers=EN)
    assert r.status_code == 200 and "User bureau deactivated" in r.text
    assert bureau.get("/", follow_redirects=False).status_code == 303
    page = bureau.get("/login")
    refused = bureau.post(
        "/login",
        data={"username": "bureau", "password": "reset-by-admin-1", "csrf_token": _csrf(page.text)},
    )
    assert refused.status_code == 401
    r = client.post(f"/admin/users/{target.id}/reactivate", data={"csrf_token": token}, headers=EN)
    assert "can log in again" in r.text
    login(bureau, "bureau", "reset-by-admin-1")
    # No form may deactivate the administrator themself, nor reach a user id that is not
    # in the county.
    me = session.exec(select(User).where(User.username == "admin")).one()
    r = client.post(f"/admin/users/{me.id}/deactivate", data={"csrf_token": token}, headers=EN)
    assert "cannot deactivate your own account" in r.text
    r = client.post("/admin/users/999999/deactivate", data={"csrf_token": token}, headers=EN)
    assert "No such user in your county." in r.text
    # Not an administrator: refused.
    assert bureau.get("/admin/logins").status_code == 403


def test_api_client_accounts_cannot_log_in_to_the_web_pages(client, county, session):
    page = client.get("/login")
    r = client.post(
        "/login",
        data={
            "username": "iis",
            "password": DEMO_PASSWORDS["iis"][1],
            "csrf_token": _csrf(page.text),
        },
        headers=EN,
        follow_redirects=False,
    )
    assert r.status_code == 403 and "cannot use the web pages" in r.text
    assert not client.cookies.get("aefi_session")
    assert not session.exec(select(LoginSession)).all()
    iis = session.exec(select(User).where(User.username == "iis")).one()
    logins = session.exec(
        select(AuditEvent).where(AuditEvent.action == "login", AuditEvent.actor_id == iis.id)
    ).all()
    assert logins == []  # refused: not recorded as a login
    tok = client.post(
        "/api/v1/auth/token", data={"username": "iis", "password": DEMO_PASSWORDS["iis"][1]}
    )
    assert tok.status_code == 200


def test_spraying_user_names_from_one_address_gets_429_and_others_pass(app, county):
    # The throttle's clock stands still: on a loaded machine the first one-second wait
    # could otherwise run out between two requests and let a guess through.
    clock.freeze(clock.now())
    sprayer = TestClient(app, client=("203.0.113.50", 40000))
    token = csrf_of(sprayer)
    codes = [
        sprayer.post(
            "/login", data={"username": f"user{i}", "password": "123456", "csrf_token": token}
        ).status_code
        for i in range(32)
    ]
    assert set(codes[:20]) == {401} and codes.count(429) >= 10
    api = sprayer.post("/api/v1/auth/token", data={"username": "admin", "password": "x"})
    assert api.status_code == 429 and int(api.headers["Retry-After"]) >= 1
    page = sprayer.post("/login", data={"username": "admin", "password": "x", "csrf_token": token})
    assert page.status_code == 429 and int(page.headers["Retry-After"]) >= 1
    # Another address is not blocked by the first.
    other = TestClient(app, client=("198.51.100.60", 40000))
    login(other, "admin")
    page = other.get("/admin/logins", headers=EN)
    assert page.status_code == 200
    assert "user0" in page.text and "203.0.113.50" in page.text and "no such user" in page.text


SECURITY_HEADERS = ("Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options")


def test_security_headers_on_pages_fragments_api_and_errors(client, county):
    login(client, "admin")
    responses = [
        client.get("/"),
        client.get("/login"),
        client.get("/admin/audit", headers={"HX-Request": "true"}),
        client.get("/api/v1/reports"),
        client.get("/no-such-page"),
        client.get("/static/css/aefi.css"),
    ]
    for r in responses:
        for name in SECURITY_HEADERS:
            assert name in r.headers, (r.url, name)
        csp = r.headers["Content-Security-Policy"]
        assert (
            "frame-ancestors 'none'" in csp
            and "'unsafe-inline'" not in csp.split("style-src-attr")[0]
        )
        assert "script-src 'self'" in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"]
        assert "Strict-Transport-Security" not in r.headers
    set_cookie = responses[1].headers.get("set-cookie", "")
    assert "secure" not in set_cookie.lower()


def test_https_turns_on_hsts_and_secure_cookies(db_url, county, monkeypatch):
    from aefi.app import create_app

    monkeypatch.setenv("AEFI_HTTPS", "true")
    get_settings.cache_clear()
    with TestClient(create_app(get_settings()), base_url="https://testserver") as c:
        page = c.get("/login")
        assert page.headers["Strict-Transport-Security"].startswith("max-age=")
        assert "secure" in page.headers["set-cookie"].lower()
        r = c.post(
            "/login",
            data={
                "username": "bureau",
                "password": DEMO_PASSWORDS["bureau"][1],
                "csrf_token": _csrf(page.text),
            },
            follow_redirects=False,
        )
        assert r.status_code == 303
        cookies = r.headers.get_list("set-cookie")
        session_cookie = next(h for h in cookies if h.startswith("aefi_session="))
        assert "secure" in session_cookie.lower() and "httponly" in session_cookie.lower()


def test_no_template_has_inline_script_or_handlers():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    # Inline script, handlers, htmx's eval-based attributes (hx-on, js: values) and
    # javascript: links would all be refused by the CSP ...
    bad = re.compile(r"<script(?![^>]*\bsrc=)|\son[a-z]+\s*=|hx-on|javascript:|['\"]js:", re.I)
    trigger = re.compile(r'hx-trigger="([^"]*)"')
    offenders = []
    for p in root.rglob("*.html"):
        text = p.read_text(encoding="utf-8")
        offenders += [f"{p.relative_to(root)}: {m.group(0)}" for m in bad.finditer(text)]
        # ... and so would an event filter (click[ctrlKey]); "from:input[type=x]" is a
        # CSS selector, not a filter.
        for m in trigger.finditer(text):
            if "[" in re.sub(r"from:[^\s,]+", "", m.group(1)):
                offenders.append(f"{p.relative_to(root)}: {m.group(0)}")
    assert not offenders
