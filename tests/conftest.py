"""Shared fixtures: a fresh database per test on SQLite and (for service tests) PostgreSQL,
the app, logged-in clients, and a small county (tests/factories.py) as the standard test
data; the demo county only for tests marked ``demo_county``."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlmodel import Session, select

os.environ.setdefault("AEFI_BACKGROUND_ENABLED", "false")
# The jobs a commit recorded run right after it (aefi/jobs/worker.py); the queue tests
# turn it off (the `deferred_jobs` fixture) to drive the worker themselves.
os.environ.setdefault("AEFI_JOBS_EAGER", "true")
# The public check-in pages' rate limit is per client address: every TestClient is one
# address, so the suite lifts it (tests/web/test_aftercare_web.py sets its own).
os.environ.setdefault("AEFI_CHECKIN_RATE_PER_MIN", "1000000")
os.environ.setdefault("AEFI_SECRET_KEY", "test-secret-key-for-the-suite-only-0123456789abcdef")

from aefi import clock, db, wiring  # noqa: E402
from aefi.auth import passwords  # noqa: E402
from aefi.settings import get_settings  # noqa: E402
from tests.factories import County, a_county  # noqa: E402
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


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        "demo_county: the `county` fixture builds the whole demo county (400 doses, 12 sites)"
        " instead of a small one; for tests that need its size",
    )


# Where the `county` fixture is still the whole demo county, and why (a path prefix under
# tests/); everything else gets a small county per test.
DEMO_COUNTY: dict[str, str] = {
    "browser/": "pages are looked at and screenshotted with a believable county's data",
    "service/test_fuzz_openapi_postgres.py": "the fuzz run's known-good baseline data",
    "service/test_reporting_trace.py": "traces the busiest lot of a site to its persons",
    "service/test_signals.py": "scans find a planted lot among many lots' doses",
    "web/test_burst.py": "a live server under a burst, with a believable county behind it",
    "web/test_fuzz_openapi.py": "the fuzz run's known-good baseline data",
}


def _wants_demo_county(node) -> bool:
    if node.get_closest_marker("demo_county") is not None:
        return True
    where = Path(str(node.path)).resolve().relative_to(Path(__file__).parent).as_posix()
    return any(where.startswith(prefix) for prefix in DEMO_COUNTY)


@pytest.fixture
def county(request, session) -> County:
    """A small county (tests/factories.py: a_county) per test; the demo county for tests
    marked ``demo_county`` or listed in DEMO_COUNTY."""
    if not _wants_demo_county(request.node):
        return a_county(session)
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


def dose_via_api(client, session, county, i: int, at: datetime | None = None) -> int:
    """Record dose ``i`` at the county's first site through the API (as the IIS does);
    its id."""
    from aefi.registry.models import Lot, LotStatus, Site

    site = session.get(Site, county.site_ids[0])
    lot = session.exec(select(Lot).where(Lot.status == LotStatus.active)).first()
    r = client.post(
        "/api/v1/doses",
        headers=api_token(client, "iis"),
        json={
            "person": {"name": f"李小{i}", "id_number": f"3307822020020{i:05d}", "sex": "female"},
            "lot_number": lot.lot_number,
            "site_code": site.code,
            "dose_number": 1,
            "administered_at": (at or clock.now()).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture
def deferred_jobs(monkeypatch) -> None:
    """Jobs wait in the queue for a worker, as in production (not run after the commit)."""
    monkeypatch.setenv("AEFI_JOBS_EAGER", "false")
    get_settings.cache_clear()
