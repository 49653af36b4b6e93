"""PostgreSQL's pool hands out no connection the server has dropped: a connection idle for
``db.PING_AFTER_IDLE_S`` is pinged at checkout and replaced when the ping fails; one used a
moment ago is not pinged (the round trip a request and a job no longer pay)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from aefi import db


def _drop_from_the_server(url: str, pid: int) -> None:
    other = db.make_engine(url)
    try:
        with other.connect() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar()
    finally:
        other.dispose()


def _pooled_backend(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar()


@pytest.fixture
def pg_url(db_url: str) -> str:
    if not db_url.startswith("postgresql"):
        pytest.skip("a server that drops connections: PostgreSQL (SQLite has none)")
    return db_url


def test_an_idle_connection_the_server_dropped_is_replaced(pg_url, monkeypatch):
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.0)  # every pooled connection counts as idle
    engine = db.make_engine(pg_url)
    try:
        pid = _pooled_backend(engine)
        _drop_from_the_server(pg_url, pid)
        assert _pooled_backend(engine) != pid  # pinged, found dead, connected anew
    finally:
        engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged(pg_url, monkeypatch):
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 3600.0)
    engine = db.make_engine(pg_url)
    try:
        pid = _pooled_backend(engine)
        _drop_from_the_server(pg_url, pid)
        # No ping: the dead connection is handed out, and its first statement fails (and
        # invalidates it); the next checkout connects anew.
        with pytest.raises(DBAPIError) as failed:
            _pooled_backend(engine)
        assert failed.value.connection_invalidated
        assert _pooled_backend(engine) != pid
    finally:
        engine.dispose()
