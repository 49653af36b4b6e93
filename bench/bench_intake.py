"""Report submission through the API at 16 concurrent clients, beside a bare endpoint that
inserts one row, on the same server in the same run (issue 3's acceptance).

A demo county (50,000 doses) in a fresh SQLite file; the app served by uvicorn in a
thread; the clients are 16 threads with keep-alive httpx clients in a separate process,
so that they do not compete with the server for the interpreter lock. First ~10 s of
``POST /bench/bare`` (one INSERT and a commit, no auth: the floor of a write request),
then ~20 s of ``POST /api/v1/reports`` (token auth, idempotency key, dose lookup in
scope, validation, duplicate check, numbering, audit, whatever subscribes to
"report filed"), each with its own Idempotency-Key and ``confirm_new_event``; then
~10 s of the same with the "report filed" subscribers switched off, to tell intake's own
cost from that of the domains that react to a report inside its transaction."""

# No ``from __future__ import annotations``: FastAPI must see the bare endpoint's
# dependency annotation as an object, not as a name to look up in this module.
import multiprocessing
import os
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor

from bench.common import Server, filing_bodies, fmt, fresh_sqlite, percentiles

CLIENTS = 16
BARE_SECONDS = float(os.environ.get("AEFI_BENCH_BARE_S", "10"))
REPORT_SECONDS = float(os.environ.get("AEFI_BENCH_REPORT_S", "20"))
ALONE_SECONDS = float(os.environ.get("AEFI_BENCH_ALONE_S", "10"))


def _drive(
    base: str, path: str, bodies: list[dict], headers: dict, seconds: float, clients: int
) -> tuple[list[float], dict[int, int], float]:
    """Run in the client process: ``clients`` threads POST for ``seconds``. Returns the
    latencies (s) of successful requests, the count per status code, and the wall time."""
    import httpx

    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    counter = iter(range(10**9))
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        mine: list[float] = []
        codes: dict[int, int] = {}
        with httpx.Client(base_url=base, timeout=60, headers=headers) as client:
            while time.perf_counter() < deadline:
                with lock:
                    i = next(counter)
                body = bodies[i % len(bodies)]
                t0 = time.perf_counter()
                try:
                    r = client.post(path, json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
                    code = r.status_code
                except httpx.HTTPError:
                    code = 0
                took = time.perf_counter() - t0
                codes[code] = codes.get(code, 0) + 1
                if 200 <= code < 300:
                    mine.append(took)
        with lock:
            latencies.extend(mine)
            for k, v in codes.items():
                statuses[k] = statuses.get(k, 0) + v

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, statuses, time.perf_counter() - start


def _build():
    """The demo county, the report bodies (doses of the reporter's site), and the app
    with the bench-only bare endpoint and its table."""
    from fastapi import Body
    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert
    from sqlmodel import select

    from aefi import clock, db, demo
    from aefi.app import create_app
    from aefi.auth.models import User
    from aefi.deps import SessionDep
    from aefi.registry.models import Dose
    from aefi.settings import get_settings

    fresh_sqlite("intake")
    t0 = time.perf_counter()
    with db.session_scope() as session:
        demo.build(session, doses=50_000)
        reporter = session.exec(select(User).where(User.username == "reporter")).one()
        doses = session.exec(
            select(Dose).where(Dose.site_id == reporter.site_id).order_by(Dose.id)
        ).all()
    print(f"demo county with 50000 doses built in {time.perf_counter() - t0:.1f} s")
    now = clock.now()
    bodies = filing_bodies(doses, now)

    bench_row = Table(
        "bench_row",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("note", String(200), nullable=False),
    )
    bench_row.create(db.get_engine())
    app = create_app(get_settings())

    def bare(session: SessionDep, body: dict = Body(default_factory=dict)) -> dict:  # noqa: B008
        row = session.execute(
            insert(bench_row).values(at=clock.now(), note=str(body.get("description", ""))[:200])
        )
        session.commit()
        return {"id": row.inserted_primary_key[0]}

    app.add_api_route("/bench/bare", bare, methods=["POST"], status_code=201)
    return app, bodies


def _phase(pool, base, path, bodies, headers, seconds) -> dict:
    latencies, statuses, wall = pool.submit(
        _drive, base, path, bodies, headers, seconds, CLIENTS
    ).result()
    ok = len(latencies)
    out = {"ok": ok, "req_s": ok / wall if wall else 0.0, **percentiles(latencies)}
    out.pop("n", None)
    out["statuses"] = ",".join(f"{k}:{v}" for k, v in sorted(statuses.items()))
    return out


def main() -> None:
    import httpx

    from aefi import flow
    from aefi.demo import DEMO_PASSWORDS
    from aefi.events import ReportFiled

    app, bodies = _build()
    ctx = multiprocessing.get_context("spawn")
    with Server(app) as base, ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        token = httpx.post(
            f"{base}/api/v1/auth/token",
            data={"username": "reporter", "password": DEMO_PASSWORDS["reporter"][1]},
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        pool.submit(time.sleep, 0).result()  # start the client process before timing
        bare = _phase(pool, base, "/bench/bare", bodies[:50], {}, BARE_SECONDS)
        print(f"bare insert   ({CLIENTS} clients, {BARE_SECONDS:.0f} s): {fmt(bare)}")
        reports = _phase(pool, base, "/api/v1/reports", bodies, auth, REPORT_SECONDS)
        print(f"file a report ({CLIENTS} clients, {REPORT_SECONDS:.0f} s): {fmt(reports)}")
        # Diagnostic: the same requests with nothing subscribed to "report filed" (triage,
        # signals, referral... run inside the filing transaction): intake's own cost.
        subscribers = flow.SUBSCRIBERS[ReportFiled]
        flow.SUBSCRIBERS[ReportFiled] = ()
        try:
            alone = _phase(pool, base, "/api/v1/reports", bodies, auth, ALONE_SECONDS)
        finally:
            flow.SUBSCRIBERS[ReportFiled] = subscribers
        print(
            f"  same, intake alone ({len(subscribers)} subscribers off, {ALONE_SECONDS:.0f} s):"
            f" {fmt(alone)}"
        )
    for name, r in (("report/bare", reports), ("intake alone/bare", alone)):
        if bare["req_s"] and r["ok"]:
            print(
                f"ratio {name}: throughput {r['req_s'] / bare['req_s']:.2f}, "
                f"p50 latency x{r['p50_ms'] / bare['p50_ms']:.1f}, "
                f"p99 latency x{r['p99_ms'] / bare['p99_ms']:.1f}"
            )


if __name__ == "__main__":
    main()
