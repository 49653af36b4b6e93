"""Engine, sessions and migrations.

SQLite is the embedded default (WAL mode, foreign keys on); PostgreSQL is the real
deployment. The same Alembic migrations build both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.pool import QueuePool
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine

from aefi.settings import Settings, get_settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC, returns timezone-aware UTC, on SQLite (no zones) and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _pool_args(url: str) -> dict[str, object]:
    """A bounded pool, the same on both databases (settings db_pool_*): a checkout waits
    at most db_pool_timeout_s and then raises sqlalchemy.exc.TimeoutError, which the app
    answers with 503 (aefi/overload.py)."""
    if url.startswith("sqlite") and (":memory:" in url or url.rstrip("/") == "sqlite:"):
        return {}  # in-memory SQLite: one connection per thread, SQLAlchemy's default
    s = get_settings()
    return {
        "poolclass": QueuePool,
        "pool_size": s.db_pool_size,
        "max_overflow": s.db_max_overflow,
        "pool_timeout": s.db_pool_timeout_s,
    }


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **_pool_args(url)
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    engine = create_engine(url, **_pool_args(url))
    _ping_when_idle(engine)
    return engine


# A pooled PostgreSQL connection idle longer than this is pinged before it is handed out.
PING_AFTER_IDLE_S = 5.0
_CHECKED_IN = "aefi_checked_in"  # the DBAPI connection's info: when it went back to the pool


def _ping_when_idle(engine: Engine) -> None:
    """Hand out no connection the server has dropped (a restart, an idle timeout on the way),
    pinging only those that sat idle in the pool for ``PING_AFTER_IDLE_S``. SQLAlchemy's
    ``pool_pre_ping`` pings at every checkout: a round trip before each request and each
    job, a tenth of a filing's time on PostgreSQL (``bench.profile_filing``). A connection
    used a moment ago is alive or its server has just gone, and then the error of that one
    statement invalidates the whole pool. A connection that fails its ping is replaced
    (``DisconnectionError``: the pool connects anew)."""

    @event.listens_for(engine, "checkin")
    def _note_checkin(dbapi_conn, record) -> None:
        if dbapi_conn is not None:
            record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn, record, _proxy) -> None:
        since = record.info.get(_CHECKED_IN)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_S:
            return  # just connected, or just used
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError("the pooled connection failed its ping") from exc


@lru_cache
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine(settings: Settings | None = None) -> Engine:
    return _engine_for((settings or get_settings()).database_url)


def session_scope(engine: Engine | None = None) -> Session:
    return Session(engine or get_engine(), expire_on_commit=False)


def get_session() -> Iterator[Session]:
    """FastAPI dependency: one session a request."""
    with session_scope() as session:
        yield session


_sqlite_writer = threading.RLock()


@contextmanager
def serialized_writes(target: Session | Engine) -> Iterator[None]:
    """On SQLite, let one thread of this process write at a time.

    SQLite has one writer; threads that collide wait in its busy handler, which sleeps
    and retries with growing pauses, so under load a few requests wait seconds while
    others pass. Queuing on a lock in the process hands the writer over at once. Every
    writer of the process takes it: a writer that does not (the job queue's claims used
    not to) can hold SQLite's lock while a filing, holding this one, sleeps in the busy
    handler, and every other filing waits behind it. On PostgreSQL (several writers,
    row locks) this does nothing."""
    bind = target.get_bind() if isinstance(target, Session) else target
    if bind.dialect.name != "sqlite":
        yield
        return
    with _sqlite_writer:
        yield


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str | None = None) -> None:
    """Bring the schema to the newest migration."""
    from alembic import command

    command.upgrade(alembic_config(url or get_settings().database_url), "heads")
