"""Bounded concurrency: admit at most ``Settings.inflight_limit`` requests at once and
answer the rest fast with 503 and ``Retry-After`` instead of queueing them without end.

Why (issue 12): endpoints and dependencies are sync, so each runs on a worker thread, and
the request's database session (one pool connection) stays open from the first query in
a dependency until the response has been sent. Between those steps the request gives its
thread back and waits for another one (for the next dependency, the endpoint, response
validation) while it still holds its connection. With more requests than connections,
new requests take every thread and block in the pool's checkout while the connections
are held by requests waiting for a thread: nothing moves until the checkout times out.

The cycle is broken here, not papered over: no more requests are admitted than the pool
has connections (less a reserve for a second session a request may open, and for the
background loop), and there are more worker threads than admitted requests. An admitted
request therefore always finds a connection and a thread; a pool checkout that still
times out (a leak, a long lock) answers 503, not 500. Static files are not counted (no
database)."""

from __future__ import annotations

import asyncio
import logging

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Receive, Scope, Send

from aefi import i18n
from aefi.i18n import N_
from aefi.settings import Settings

log = logging.getLogger("aefi.overload")

BUSY = N_("The server is busy; try again in {seconds} seconds. Nothing was saved.")
# A pool checkout or a SQLite lock that timed out mid-request: a commit may have happened.
BUSY_MIDWAY = N_("The server is busy; try again in {seconds} seconds.")
BUSY_TITLE = N_("Server busy")


class _Gate:
    """A semaphore whose waiters give up after ``wait_s`` (or at once past ``queue``)."""

    def __init__(self, limit: int, queue: int, wait_s: float) -> None:
        self.limit = limit
        self.queue = queue
        self.wait_s = wait_s
        self.inflight = 0
        self.waiting = 0
        self._sem: asyncio.Semaphore | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        if self._sem is None:  # created in the running loop
            self._sem = asyncio.Semaphore(self.limit)
        return self._sem

    async def acquire(self, wait_s: float) -> bool:
        sem = self._semaphore()
        if not sem.locked() and self.waiting == 0:
            await sem.acquire()
        else:
            if self.waiting >= self.queue or wait_s <= 0:
                return False
            self.waiting += 1
            try:
                await asyncio.wait_for(sem.acquire(), wait_s)
            except TimeoutError:
                return False
            finally:
                self.waiting -= 1
        self.inflight += 1
        return True

    def release(self) -> None:
        self.inflight -= 1
        self._semaphore().release()


class Admission:
    """The in-flight bound of one process (one event loop). Writes (any method but GET,
    HEAD, OPTIONS) also pass a smaller gate of their own: on SQLite they take turns at
    the one writer, and a slot held by a write waiting for its turn is a slot a read
    cannot use, so without it a burst of writes would stall every read."""

    def __init__(self, limit: int, write_limit: int, queue: int, wait_s: float) -> None:
        self.wait_s = wait_s
        self.all = _Gate(limit, queue, wait_s)
        self.writes = _Gate(min(write_limit, limit), queue, wait_s)
        self.refused = 0

    async def acquire(self, write: bool) -> bool:
        """True once admitted; False if the wait is over (or the queue is full)."""
        deadline = asyncio.get_running_loop().time() + self.wait_s
        if write and not await self.writes.acquire(self.wait_s):
            self.refused += 1
            return False
        left = deadline - asyncio.get_running_loop().time()
        if not await self.all.acquire(max(left, 0.0) if write else self.wait_s):
            if write:
                self.writes.release()
            self.refused += 1
            return False
        return True

    def retry_after(self, base_s: int) -> int:
        """Seconds to tell a refused client: longer the longer the queue, so that retries
        spread out instead of arriving together (at most 30 s)."""
        backlog = max(
            self.all.waiting / max(self.all.limit, 1),
            self.writes.waiting / max(self.writes.limit, 1),
        )
        return int(min(30, base_s * (1 + backlog)))

    def release(self, write: bool) -> None:
        self.all.release()
        if write:
            self.writes.release()


READS = frozenset({"GET", "HEAD", "OPTIONS"})


class OverloadMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware task per request): the bound costs a counter."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.admission = Admission(
            settings.inflight_limit,
            settings.write_limit,
            settings.overload_queue,
            settings.overload_wait_s,
        )
        self._threads_set = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/static/"):
            await self.app(scope, receive, send)
            return
        if not self._threads_set:
            # The default thread limiter lives in the running loop: size it on first use.
            anyio.to_thread.current_default_thread_limiter().total_tokens = (
                self.settings.thread_limit
            )
            self._threads_set = True
        write = scope["method"] not in READS
        if not await self.admission.acquire(write):
            seconds = self.admission.retry_after(self.settings.retry_after_s)
            response = busy_response(Request(scope, receive), self.settings, seconds=seconds)
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.admission.release(write)


def busy_response(
    request: Request, settings: Settings, msgid: str = BUSY, seconds: int | None = None
):
    """503 with Retry-After: JSON under /api/, else the error page, in the user's language."""
    seconds = seconds or settings.retry_after_s
    headers = {"Retry-After": str(seconds)}
    message = i18n.gettext(msgid, seconds=seconds)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": message}, status_code=503, headers=headers)
    try:
        from aefi.web import render

        return render(
            request,
            "errors.html",
            {"status": 503, "title": i18n.gettext(BUSY_TITLE), "message": message},
            status_code=503,
            headers=headers,
        )
    except Exception:  # the page needs the session middleware; never fail a 503
        log.exception("could not render the busy page")
        from fastapi.responses import HTMLResponse

        body = f"<!doctype html><title>503</title><p>{message}</p>"
        return HTMLResponse(body, status_code=503, headers=headers)


def install(app: FastAPI, settings: Settings) -> None:
    """The in-flight bound and the 503 for a pool checkout that timed out. Call before the
    other middleware is added, so that this one is the innermost: the locale, the session
    and the security headers are in place when it answers."""
    app.add_middleware(OverloadMiddleware, settings=settings)
    app.state.admission_settings = settings

    @app.exception_handler(PoolTimeout)
    async def _pool_timeout(request: Request, exc: PoolTimeout):
        log.warning("connection pool checkout timed out on %s", request.url.path)
        return busy_response(request, settings, BUSY_MIDWAY)

    @app.exception_handler(OperationalError)
    async def _db_busy(request: Request, exc: OperationalError):
        # SQLite's one writer: a lock not granted within its busy timeout is overload too.
        if "database is locked" in str(exc.orig):
            log.warning("SQLite stayed locked on %s", request.url.path)
            return busy_response(request, settings, BUSY_MIDWAY)
        return await request.app.exception_handlers[Exception](request, exc)
