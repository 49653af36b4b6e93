"""One report filing end to end, profiled: ``POST /api/v1/reports`` through FastAPI's
TestClient on a demo county (SQLite, or ``AEFI_PROFILE_URL``), after a few warm-up filings.
Prints the SQL statements the filing issued (an engine event listener), their count, and
the top of a cProfile of the request.

``.venv/bin/python -m bench.profile_filing`` (env AEFI_PROFILE_DOSES, default 600;
AEFI_PROFILE_N filings profiled, default 1; AEFI_PROFILE_SQL=1 prints every statement;
AEFI_PROFILE_CPU_N filings timed unprofiled after them, default 100; AEFI_PROFILE_SORT,
``cumulative`` or ``tottime``)."""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import time

from bench.common import filing_bodies, fresh_sqlite

DOSES = int(os.environ.get("AEFI_PROFILE_DOSES", "600"))
N = int(os.environ.get("AEFI_PROFILE_N", "1"))


def main() -> None:
    from sqlalchemy import event
    from sqlmodel import select
    from starlette.testclient import TestClient

    from aefi import clock, db, demo
    from aefi.app import create_app
    from aefi.auth.models import User
    from aefi.demo import DEMO_PASSWORDS
    from aefi.registry.models import Dose

    url = os.environ.get("AEFI_PROFILE_URL") or fresh_sqlite("profile_filing")
    os.environ["AEFI_DATABASE_URL"] = url
    os.environ["AEFI_BACKGROUND_ENABLED"] = "false"
    if not os.environ.get("AEFI_SECRET_KEY"):  # a throwaway database, a throwaway key
        import secrets

        os.environ["AEFI_SECRET_KEY"] = secrets.token_urlsafe(48)
    from aefi.settings import get_settings

    get_settings.cache_clear()
    db._engine_for.cache_clear()
    db.upgrade(url)
    engine = db.get_engine()
    with db.Session(engine, expire_on_commit=False) as session:
        demo.build(session, doses=DOSES)
        reporter = session.exec(select(User).where(User.username == "reporter")).one()
        doses = session.exec(
            select(Dose).where(Dose.site_id == reporter.site_id).order_by(Dose.id)
        ).all()
    now = clock.now()
    bodies = filing_bodies(doses, now)
    statements: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _count(conn, cursor, statement, params, context, executemany) -> None:
        statements.append(statement)

    # The endpoint and its sync dependencies run in anyio's worker threads: a profiler
    # is per thread, so each function sent there runs under the one profiler (one
    # client, one request at a time: never two threads in it at once).
    import anyio.to_thread

    prof = cProfile.Profile()
    profiling = {"on": False}
    real_run_sync = anyio.to_thread.run_sync

    async def run_sync(func, *args, **kwargs):
        if not profiling["on"]:
            return await real_run_sync(func, *args, **kwargs)

        def profiled(*a):
            prof.enable()
            try:
                return func(*a)
            finally:
                prof.disable()

        return await real_run_sync(profiled, *args, **kwargs)

    anyio.to_thread.run_sync = run_sync
    app = create_app()
    with TestClient(app) as client:
        token = client.post(
            "/api/v1/auth/token",
            data={"username": "reporter", "password": DEMO_PASSWORDS["reporter"][1]},
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        for body in bodies[:5]:  # warm-up: caches, first-of-year counter rows
            r = client.post("/api/v1/reports", json=body, headers=auth)
            assert r.status_code == 201, r.text
        counts = []
        profiling["on"] = True
        t0 = time.perf_counter()
        for body in bodies[5 : 5 + N]:
            statements.clear()
            r = client.post("/api/v1/reports", json=body, headers=auth)
            assert r.status_code == 201, r.text
            counts.append(len(statements))
        wall = (time.perf_counter() - t0) / N
        # CPU per filing, unprofiled: the process's CPU time (every thread: the event
        # loop's middleware and the endpoint's worker thread) over AEFI_PROFILE_CPU_N
        # filings. Steadier than wall time on a shared, loaded machine.
        profiling["on"] = False
        n_cpu = int(os.environ.get("AEFI_PROFILE_CPU_N", "100"))
        cpu_bodies = bodies[5 + N : 5 + N + n_cpu]
        c0, w0 = time.process_time(), time.perf_counter()
        for body in cpu_bodies:
            r = client.post("/api/v1/reports", json=body, headers=auth)
            assert r.status_code == 201, r.text
        cpu_ms = (time.process_time() - c0) / max(len(cpu_bodies), 1) * 1000
        wall_ms = (time.perf_counter() - w0) / max(len(cpu_bodies), 1) * 1000
    # What the filings deferred, run the way a worker does (the coalescing delay passed):
    # in the bench server this runs in the same process, beside the filings.
    from datetime import timedelta

    from aefi.jobs import queue, worker

    with db.Session(engine) as session:
        pending = queue.pending(session)
        kinds = sorted({j.kind for j in pending})
        recorded = len(pending)
    filings = len(cpu_bodies) + N + 5
    ran, by_kind = 0, {}
    job_prof = cProfile.Profile()
    profiled_kind = os.environ.get("AEFI_PROFILE_JOB", "")  # e.g. "signals.flows.on_report_filed"
    for kind in kinds:  # one kind at a time: where the deferred CPU goes
        c0 = time.process_time()
        if kind == profiled_kind:
            job_prof.enable()
        n = worker.work(engine, now=clock.now() + timedelta(minutes=5), limit=10**6, kinds=(kind,))
        if kind == profiled_kind:
            job_prof.disable()
        by_kind[kind] = (n, (time.process_time() - c0) / filings * 1000)
        ran += n
    jobs_cpu_ms = sum(ms for _, ms in by_kind.values())
    if os.environ.get("AEFI_PROFILE_SQL"):
        for s in statements:
            print("  ", " ".join(s.split())[:200])
    print(f"SQL statements per filing: {counts} (last listed above with AEFI_PROFILE_SQL=1)")
    print(f"wall per filing (profiled): {wall * 1000:.1f} ms")
    print(
        f"CPU per filing (unprofiled, {len(cpu_bodies)} filings, all threads, jobs not run): "
        f"{cpu_ms:.1f} ms, wall {wall_ms:.1f} ms"
    )
    print(
        f"jobs: {recorded} pending after {filings} filings ({recorded / filings:.1f} a filing), "
        f"{ran} claimed (after merging twins); their CPU {jobs_cpu_ms:.1f} ms a filing"
    )
    for kind, (n, ms) in by_kind.items():
        print(f"  {kind}: {n} runs, {ms:.1f} ms CPU a filing")
    out = io.StringIO()
    sort = os.environ.get("AEFI_PROFILE_SORT", "cumulative")  # or "tottime"
    pstats.Stats(prof, stream=out).sort_stats(sort).print_stats(
        int(os.environ.get("AEFI_PROFILE_TOP", "60"))
    )
    if profiled_kind:
        print(f"--- the jobs of {profiled_kind}, profiled ---")
        pstats.Stats(job_prof, stream=out).sort_stats("cumulative").print_stats(
            int(os.environ.get("AEFI_PROFILE_TOP", "60"))
        )
    if callees := os.environ.get("AEFI_PROFILE_CALLEES"):  # e.g. "report_doses"
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_callees(callees)
    print(out.getvalue())


if __name__ == "__main__":
    main()
