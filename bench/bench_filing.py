"""Report filing through HTTP (``POST /api/v1/reports``) beside a bare one-row insert
endpoint on the same server, interleaved, three repetitions (issue 18's table).

The server is real: ``uvicorn --workers N`` in a process of its own, with each worker's
background loop running the job queue (what the filing defers: scans, case files,
notices, outboxes), as in production. The clients are threads in another process
(``bench_intake._drive``). SQLite: one server process, 1 and 16 clients. PostgreSQL (a
throwaway cluster, tests/pg.py, when its binaries are installed): 1 and 16 clients on one
worker process, 16 clients on 2 and 4. Printed per phase: throughput, p50/p99, and the
ratio to the bare insert of the same repetition.

Environment: AEFI_BENCH_FILING_S (seconds a phase, default 6), AEFI_BENCH_REPS (3),
AEFI_BENCH_DOSES (demo county size, 5000),
AEFI_BENCH_FILING_DBS (sqlite,postgresql),
AEFI_BENCH_FILING_JOBS (``server``: each server process's background loop runs the jobs, the
default; ``worker``: the servers' loops off and one ``aefi worker`` process beside them,
the deployment that keeps the jobs off the web processes' GIL)."""

# No ``from __future__ import annotations``: FastAPI must see the bare endpoint's
# dependency annotation as an object.
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from bench.bench_intake import _drive
from bench.common import filing_bodies, fmt, fresh_sqlite, percentiles, throwaway_key

SECONDS = float(os.environ.get("AEFI_BENCH_FILING_S", "6"))
REPS = int(os.environ.get("AEFI_BENCH_REPS", "3"))
DOSES = int(os.environ.get("AEFI_BENCH_DOSES", "5000"))
DBS = os.environ.get("AEFI_BENCH_FILING_DBS", "sqlite,postgresql").split(",")
JOBS_BY = os.environ.get("AEFI_BENCH_FILING_JOBS", "server")
ROOT = Path(__file__).resolve().parents[1]


def _bench_row():
    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table

    return Table(
        "bench_row",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("note", String(200), nullable=False),
    )


def make_app():
    """The uvicorn factory: the aefi app plus ``POST /bench/bare`` (one INSERT, a commit)."""
    from fastapi import Body
    from sqlalchemy import insert

    from aefi import clock
    from aefi.app import create_app
    from aefi.deps import SessionDep

    bench_row = _bench_row()
    app = create_app()

    def bare(session: SessionDep, body: dict = Body(default_factory=dict)) -> dict:  # noqa: B008
        row = session.execute(
            insert(bench_row).values(at=clock.now(), note=str(body.get("description", ""))[:200])
        )
        session.commit()
        return {"id": row.inserted_primary_key[0]}

    app.add_api_route("/bench/bare", bare, methods=["POST"], status_code=201)
    return app


def _build(url: str) -> list[dict]:
    """The demo county in ``url`` (migrated), the bench table, and the report bodies."""
    from sqlmodel import select

    from aefi import clock, db, demo
    from aefi.auth.models import User
    from aefi.registry.models import Dose

    db._engine_for.cache_clear()
    db.upgrade(url)
    engine = db.make_engine(url)
    _bench_row().create(engine, checkfirst=True)
    t0 = time.perf_counter()
    with db.Session(engine, expire_on_commit=False) as session:
        demo.build(session, doses=DOSES)
        reporter = session.exec(select(User).where(User.username == "reporter")).one()
        doses = session.exec(
            select(Dose).where(Dose.site_id == reporter.site_id).order_by(Dose.id)
        ).all()
    engine.dispose()
    print(f"demo county ({DOSES} doses) built in {time.perf_counter() - t0:.1f} s", flush=True)
    now = clock.now()
    return filing_bodies(doses, now)


class Uvicorn:
    """``uvicorn --workers N`` on a free port, background loops (the job queue) on, or
    (``JOBS_BY == "worker"``) off with one ``aefi worker`` process beside them."""

    def __init__(self, url: str, workers: int) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = {
            **os.environ,
            "AEFI_DATABASE_URL": url,
            "AEFI_BACKGROUND_ENABLED": "true" if JOBS_BY == "server" else "false",
            "AEFI_LOGIN_GLOBAL_FREE_FAILURES": "100000",
        }
        self.worker = None
        if JOBS_BY == "worker":
            self.worker = subprocess.Popen(
                [sys.executable, "-m", "aefi", "worker"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
            )
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "bench.bench_filing:make_app", "--factory",
                "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers),
                "--log-level", "warning",
            ],
            cwd=ROOT,
            env=env,
        )  # fmt: skip

    def __enter__(self) -> str:
        import httpx

        base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 600  # a loaded machine starts slowly
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{base}/login", timeout=2)
                return base
            except httpx.HTTPError:
                time.sleep(0.3)
        self.__exit__()  # (the job worker, if any, does not outlive a server that never came up)
        raise RuntimeError("the bench server did not start")

    def __exit__(self, *exc) -> None:
        for proc in (self.proc, self.worker):
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)


def _phase(pool, base, path, bodies, headers, clients) -> dict:
    latencies, statuses, wall = pool.submit(
        _drive, base, path, bodies, headers, SECONDS, clients
    ).result()
    out = {"ok": len(latencies), "req_s": len(latencies) / wall if wall else 0.0}
    out |= {k: v for k, v in percentiles(latencies).items() if k != "n"}
    bad = {k: v for k, v in statuses.items() if not 200 <= k < 300}
    if bad:
        out["errors"] = ",".join(f"{k}:{v}" for k, v in sorted(bad.items()))
    return out


def _run(label: str, url: str, bodies: list[dict], pool, plan: list[tuple[int, int]]) -> list:
    """``plan``: (server processes, clients) pairs. Each pair: REPS times bare then filing."""
    import httpx

    from aefi.demo import DEMO_PASSWORDS

    rows = []
    for workers, clients_list in _group(plan):
        with Uvicorn(url, workers) as base:
            token = httpx.post(
                f"{base}/api/v1/auth/token",
                data={"username": "reporter", "password": DEMO_PASSWORDS["reporter"][1]},
                timeout=30,
            ).json()["access_token"]
            auth = {"Authorization": f"Bearer {token}"}
            # Warm-up, not measured: the first background tick runs every timer (the full
            # signal scan of the county among them); then a few requests of each kind.
            _wait_for_first_tick(url)
            _phase(pool, base, "/bench/bare", bodies[:50], {}, 1)
            _phase(pool, base, "/api/v1/reports", bodies, auth, 1)
            for rep in range(1, REPS + 1):
                for clients in clients_list:
                    _drain(url)  # the bare insert never shares the server with a backlog
                    bare = _phase(pool, base, "/bench/bare", bodies[:50], {}, clients)
                    filing = _phase(pool, base, "/api/v1/reports", bodies, auth, clients)
                    ratio = filing["req_s"] / bare["req_s"] if bare["req_s"] else 0.0
                    jobs, drain_s = _drain(url)
                    print(
                        f"{label} workers={workers} clients={clients:2d} rep={rep}\n"
                        f"    bare   {fmt(bare)}\n    filing {fmt(filing)}\n"
                        f"    ratio filing/bare throughput {ratio:.3f}\n"
                        f"    the jobs the filings deferred: {jobs} ran, the last "
                        f"{drain_s:.1f} s after the phase ended",
                        flush=True,
                    )
                    filing["drain_s"] = drain_s
                    rows.append((label, workers, clients, rep, bare, filing, ratio))
    return rows


def _drain(url: str, timeout_s: float = 600) -> tuple[int, float]:
    """Wait until the job queue is empty (every job done, merged or abandoned): the
    server's background loop runs them. Returns (jobs done since the last drain, seconds
    waited)."""
    from sqlalchemy import func, select

    from aefi import db
    from aefi.jobs.models import QueuedJob

    t = QueuedJob.__table__
    engine = db.make_engine(url)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < timeout_s:
            with engine.connect() as conn:
                left = conn.execute(
                    select(func.count()).select_from(t).where(t.c.done_at.is_(None))
                ).scalar()
                if not left:
                    ran = conn.execute(
                        select(func.count()).select_from(t).where(t.c.outcome == "done")
                    ).scalar()
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"the job queue did not drain in {timeout_s:.0f} s")
    finally:
        engine.dispose()
    done_before = _DRAINED.get(url, 0)
    _DRAINED[url] = ran
    return ran - done_before, time.monotonic() - t0


_DRAINED: dict[str, int] = {}


def _wait_for_first_tick(url: str, timeout_s: float = 300) -> None:
    """Until every timer of ``aefi.flow.JOBS`` has run once (its ``job_lease`` row)."""
    from sqlalchemy import func, select

    from aefi import db
    from aefi.background import JobLease
    from aefi.flow import JOBS

    engine = db.make_engine(url)
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                n = conn.execute(select(func.count()).select_from(JobLease.__table__)).scalar()
            if n >= len(JOBS):
                time.sleep(2)  # the last one's run
                return
            time.sleep(0.5)
    finally:
        engine.dispose()


def _group(plan: list[tuple[int, int]]) -> list[tuple[int, list[int]]]:
    out: dict[int, list[int]] = {}
    for workers, clients in plan:
        out.setdefault(workers, []).append(clients)
    return list(out.items())


def _summary(rows: list) -> None:
    print("\nsummary (min-max over repetitions):")
    keys = sorted({(r[0], r[1], r[2]) for r in rows})
    by_key = {k: [r for r in rows if (r[0], r[1], r[2]) == k] for k in keys}
    for (label, workers, clients), rs in by_key.items():
        f = [r[5]["req_s"] for r in rs]
        p99 = [r[5].get("p99_ms", 0.0) for r in rs]
        p50 = [r[5].get("p50_ms", 0.0) for r in rs]
        b = [r[4]["req_s"] for r in rs]
        ratio = [r[6] for r in rs]
        drain = [r[5].get("drain_s", 0.0) for r in rs]
        print(
            f"  {label:10s} workers={workers} clients={clients:2d}: filing "
            f"{min(f):.1f}-{max(f):.1f}/s p50 {min(p50):.0f}-{max(p50):.0f} ms "
            f"p99 {min(p99):.0f}-{max(p99):.0f} ms | bare {min(b):.0f}-{max(b):.0f}/s | "
            f"ratio {min(ratio):.3f}-{max(ratio):.3f} | jobs drained "
            f"{min(drain):.1f}-{max(drain):.1f} s after"
        )
    pg = {w: [r[5]["req_s"] for r in rows if r[0] == "postgresql" and r[1] == w and r[2] == 16]
          for w in (1, 2, 4)}  # fmt: skip
    if pg[1] and pg[2]:
        one = sum(pg[1]) / len(pg[1])
        for w in (2, 4):
            if pg[w]:
                print(f"  postgresql 16 clients: {w} workers / 1 worker = "
                      f"{sum(pg[w]) / len(pg[w]) / one:.2f}x")  # fmt: skip


def main() -> None:
    ctx = multiprocessing.get_context("spawn")
    rows = []
    where = "an aefi worker process" if JOBS_BY == "worker" else "the server processes"
    print(f"the deferred jobs run in: {where}", flush=True)
    throwaway_key()  # (also for a PostgreSQL-only run)
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        pool.submit(time.sleep, 0).result()  # start the client process before timing
        if "sqlite" in DBS:
            url = fresh_sqlite("filing")
            bodies = _build(url)
            rows += _run("sqlite", url, bodies, pool, [(1, 1), (1, 16)])
        sys.path.insert(0, str(ROOT))
        from tests.pg import ThrowawayPostgres

        pg = ThrowawayPostgres()
        if "postgresql" not in DBS:
            pass
        elif not pg.available:
            print("PostgreSQL binaries not found: the PostgreSQL part is skipped")
        else:
            pg_url = pg.start()
            try:
                bodies = _build(pg_url)
                plan = [(1, 1), (1, 16), (2, 16), (4, 16)]
                rows += _run("postgresql", pg_url, bodies, pool, plan)
            finally:
                pg.stop()
    _summary(rows)


if __name__ == "__main__":
    main()
