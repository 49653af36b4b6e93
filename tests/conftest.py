"""Shared fixtures: a fresh database per test on SQLite and (for service tests) PostgreSQL,
the app, logged-in clients, and the small demo county as the standard test data."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlmodel import Session

os.environ.setdefault("AEFI_BACKGROUND_ENABLED", "false")
os.environ.setdefault("AEFI_SECRET_KEY", "test-secret-key-for-the-suite-only-0123456789abcdef")

from aefi import clock, db, wiring  # noqa: E402
from aefi.auth import passwords  # noqa: E402
from aefi.settings import get_settings  # noqa: E402
from tests.pg import ThrowawayPostgres  # noqa: E402

wiring.wire()

# Argon2 at its real cost would make every test that creates users take seconds.
passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
passwords._DUMMY_HASH = passwords._hasher.hash("x")

_tmp = Path(tempfile.mkdtemp(prefix="aefi-test-"))
_sqlite_template: Path | None = None
_pg: ThrowawayPostgres | None = None
_pg_url: str | None = None


def _sqlite_url() -> str:
    """A fresh, migrated SQLite file: migrated once, copied per test."""
    global _sqlite_template
    if _sqlite_template is None:
        _sqlite_template = _tmp / "template.db"
        db.upgrade(f"sqlite:///{_sqlite_template}")
    target = Path(tempfile.mkstemp(suffix=".db", dir=_tmp)[1])
    shutil.copy(_sqlite_template, target)
    return f"sqlite:///{target}"


def _postgres_url() -> str:
    global _pg, _pg_url
    if _pg_url is None:
        _pg = ThrowawayPostgres()
        if not _pg.available:
            pytest.fail("PostgreSQL binaries are missing: `make test` installs them")
        _pg_url = _pg.start()
        db.upgrade(_pg_url)
    engine = db._engine_for(_pg_url)
    with engine.begin() as conn:
        tables = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname='public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
        ]
        if tables:
            names = ", ".join(f'"{t}"' for t in tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    return _pg_url


def pytest_sessionfinish(session, exitstatus) -> None:
    if _pg is not None:
        _pg.stop()
    shutil.rmtree(_tmp, ignore_errors=True)


def _use(url: str, monkeypatch) -> None:
    monkeypatch.setenv("AEFI_DATABASE_URL", url)
    monkeypatch.setenv("AEFI_UPLOAD_DIR", str(_tmp / "uploads"))
    get_settings.cache_clear()


def pytest_generate_tests(metafunc) -> None:
    # Service tests run on both databases; everything else on SQLite.
    if "db_url" in metafunc.fixturenames:
        backends = (
            ["sqlite", "postgres"] if "/service/" in str(metafunc.definition.path) else ["sqlite"]
        )
        if os.environ.get("AEFI_TEST_BACKENDS"):
            backends = [b for b in backends if b in os.environ["AEFI_TEST_BACKENDS"].split(",")]
        metafunc.parametrize("db_url", backends, indirect=True)


@pytest.fixture
def db_url(request, monkeypatch) -> Iterator[str]:
    url = _postgres_url() if request.param == "postgres" else _sqlite_url()
    _use(url, monkeypatch)
    yield url
    if url.startswith("sqlite"):
        db._engine_for(url).dispose()


@pytest.fixture
def engine(db_url):
    return db.get_engine()


@pytest.fixture
def session(engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture(autouse=True)
def _clock() -> Iterator[None]:
    yield
    clock.unfreeze()


@dataclass
class County:
    """The small demo county: ids and users of each role (passwords in DEMO_PASSWORDS)."""

    county_id: int
    site_ids: list[int]
    hospital_ids: list[int]

    def actor(self, session: Session, username: str):
        from sqlmodel import select

        from aefi.auth.models import User
        from aefi.auth.permissions import Actor

        return Actor.of(session.exec(select(User).where(User.username == username)).one())


@pytest.fixture
def county(session) -> County:
    from aefi import demo

    built = demo.build(session, doses=400, days=30, seed=7)
    return County(built.county_id, built.site_ids, built.hospital_ids)


@pytest.fixture
def app(db_url):
    from aefi.app import create_app

    return create_app(get_settings())


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


def login(client, username: str, password: str | None = None):
    """Log a TestClient in through the real form (CSRF token included)."""
    import re

    from aefi.demo import DEMO_PASSWORDS

    password = password or DEMO_PASSWORDS[username][1]
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return token


def csrf_of(client) -> str:
    import re

    page = client.get("/login")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def api_token(client, username: str, password: str | None = None) -> dict[str, str]:
    from aefi.demo import DEMO_PASSWORDS

    password = password or DEMO_PASSWORDS[username][1]
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
