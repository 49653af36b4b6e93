"""Soak and fault bench (issue 12): N concurrent clients against a real server process,
a ``kill -9`` of the server mid-run and a restart, then what became of every report.

    python -m bench.soak                       # SQLite, 1 process, 500 clients, 60 s
    python -m bench.soak --db postgres --workers 2
    python -m bench.soak --clients 200 --seconds 30 --kill-at 12

The bench starts the server itself (``aefi serve`` in a subprocess of its own process
group, on a free 127.0.0.1 port) on a fresh SQLite file under bench/out/ or a throw-away
PostgreSQL (tests/pg.py), with a small demo county. Each client loops until the load
window ends, choosing: file a report (POST /api/v1/reports with its own Idempotency-Key,
retried with the same key after a 503, a 5xx, a 409 collision, a timeout or a broken
connection, until confirmed or the grace period after the window is over), list reports,
load a page (/login, or / logged in), or record a dose (POST /api/v1/doses, not retried:
a dose has no key). At ``--kill-at`` seconds the whole server process group gets SIGKILL;
it is started again at once.

Counted at the end, from the database itself: reports confirmed (a 201 seen), lost
(confirmed but not in the database, or given up), duplicated (one key, more than one
report: each report carries its key in its description), and the p50/p99 latency of
accepted (2xx) requests. The longest stall is the longest gap between two successful
responses from the first to the last (filings retried after the window included),
leaving out the restart window: from the kill to the first success after the new server
answers its readiness probe (reported on its own line). A filing still
unconfirmed ``--grace-s`` after the window is given up, and counted as lost."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from bench.common import OUT, fmt, percentiles

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = {"file": 0.25, "list": 0.35, "page": 0.25, "dose": 0.15}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the database and its demo county ------------------------------------------------------


@dataclass
class Fixture:
    url: str
    bodies: list[dict]
    site_code: str
    lot_number: str
    pg: object | None = None


def _prepare(kind: str, doses: int) -> Fixture:
    from sqlmodel import Session, select

    from aefi import db, demo
    from aefi.auth.models import User
    from aefi.registry.models import Dose, Lot, LotStatus, Site
    from aefi.settings import get_settings

    pg = None
    if kind == "postgres":
        from tests.pg import ThrowawayPostgres

        pg = ThrowawayPostgres()
        if not pg.available:
            raise SystemExit("PostgreSQL binaries are missing (scripts/system-deps.sh test)")
        url = pg.start()
        os.environ["AEFI_DATABASE_URL"] = url
        get_settings.cache_clear()
        db.upgrade(url)
    else:
        from bench.common import fresh_sqlite

        url = fresh_sqlite("soak")
    engine = db.make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        demo.build(session, doses=doses, days=30, seed=12)
        reporter = session.exec(select(User).where(User.username == "reporter")).one()
        site = session.get(Site, reporter.site_id)
        rows = session.exec(
            select(Dose, Lot)
            .join(Lot, Lot.id == Dose.lot_id)
            .where(Dose.site_id == site.id, Lot.status == LotStatus.active)
            .order_by(Dose.id)
        ).all()
    engine.dispose()
    from aefi import clock

    now = clock.now()
    bodies = [
        {
            "dose_ids": [d.id],
            "onset_at": min(d.administered_at + timedelta(minutes=20), now).isoformat(),
            "symptoms": ["FEVER", "REDNESS"],
            "max_temperature_c": 38.1,
            "outcome": "recovering",
            "reporter_name": "刘医生",
            "reporter_phone": "13800001111",
            "confirm_new_event": True,
        }
        for d, _lot in rows
    ]
    return Fixture(url, bodies, site.code, rows[0][1].lot_number, pg)


# --- the server ------------------------------------------------------------------------------


class ServerProcess:
    def __init__(self, url: str, workers: int, log: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.log = log
        self.env = {
            **os.environ,
            "AEFI_DATABASE_URL": url,
            "AEFI_SECRET_KEY": os.environ.get("AEFI_SECRET_KEY") or secrets.token_urlsafe(32),
            "AEFI_BACKGROUND_ENABLED": "true",
            "AEFI_DEMO": "false",
        }
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = [
            sys.executable,
            "-c",
            "from aefi.cli import app; app()",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd,
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill -9 takes every worker
            )

    def wait_ready(self, timeout_s: float = 120) -> None:
        import httpx

        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode}; see {self.log}")
            try:
                # Any answer will do (under the clients' load it may well be a 503).
                if httpx.get(f"{self.base}/login", timeout=5).status_code in (200, 503):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"the server did not answer within {timeout_s:.0f} s; see {self.log}")

    def kill9(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


# --- the clients -----------------------------------------------------------------------------


@dataclass
class Tally:
    ok_latency: list[float] = field(default_factory=list)
    ok_at: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    confirmed: dict[str, int] = field(default_factory=dict)  # key -> report id
    answers: dict[str, set[int]] = field(default_factory=dict)  # every id a key got back
    given_up: list[str] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)
    attempts_to_confirm: list[int] = field(default_factory=list)
    confirm_s: list[float] = field(default_factory=list)
    filings: int = 0
    errors: Counter = field(default_factory=Counter)  # transport errors by kind


@dataclass
class Plan:
    """What a client process needs (picklable): where, who, what, and the shared clock
    (time.monotonic() is one clock for every process of the machine)."""

    base: str
    bodies: list[dict]
    site_code: str
    lot_number: str
    headers: dict[str, str]
    cookies: dict[str, str]
    t0: float
    seconds: float
    grace_s: float
    think_s: float
    request_timeout_s: float


class Load:
    """The clients of one process: asyncio tasks sharing keep-alive connections."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.t = Tally()

    def now(self) -> float:
        return time.monotonic() - self.plan.t0

    def note(self, kind: str, status: int, took: float) -> None:
        self.t.statuses[(kind, status)] += 1
        if 200 <= status < 300:
            self.t.ok_latency.append(took)
            self.t.ok_at.append(self.now())

    async def send(self, client, kind: str, method: str, path: str, **kw):
        import httpx

        t = time.monotonic()
        try:
            r = await client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            self.note(kind, 0, time.monotonic() - t)
            self.t.errors[type(exc).__name__] += 1
            return None, type(exc).__name__
        self.note(kind, r.status_code, time.monotonic() - t)
        return r, None

    async def file(self, client, rnd: random.Random) -> None:
        key = uuid.uuid4().hex
        self.t.filings += 1
        body = {**rnd.choice(self.plan.bodies), "description": f"soak:{key}"}
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            r, _err = await self.send(
                client,
                "file",
                "POST",
                "/api/v1/reports",
                json=body,
                headers={**self.plan.headers, "Idempotency-Key": key},
            )
            if r is not None and r.status_code == 201:
                rid = r.json()["id"]
                self.t.answers.setdefault(key, set()).add(rid)
                self.t.confirmed.setdefault(key, rid)
                self.t.attempts_to_confirm.append(attempt)
                self.t.confirm_s.append(time.monotonic() - started)
                return
            if r is not None and r.status_code in (400, 401, 403, 404, 422):
                self.t.rejected[r.status_code] += 1
                self.t.given_up.append(key)
                return
            if self.now() > self.plan.seconds + self.plan.grace_s:
                self.t.given_up.append(key)
                return
            if r is not None and r.status_code == 503:
                pause = float(r.headers.get("Retry-After", "1"))
            else:
                pause = min(0.25 * 2 ** min(attempt, 5), 5.0)
            await asyncio.sleep(pause * (0.5 + rnd.random()))

    async def client(self, i: int, client, web) -> None:
        from datetime import UTC, datetime

        rnd = random.Random(i)
        kinds, weights = zip(*WEIGHTS.items(), strict=True)
        await asyncio.sleep(max(0.0, -self.now()) + rnd.random() * 2)  # ramp up over 2 s
        while self.now() < self.plan.seconds:
            kind = rnd.choices(kinds, weights)[0]
            r = None
            if kind == "file":
                await self.file(client, rnd)
                continue
            if kind == "list":
                r, _ = await self.send(
                    client,
                    kind,
                    "GET",
                    "/api/v1/reports",
                    headers=self.plan.headers,
                    params={"page": rnd.randint(1, 3), "per_page": 20},
                )
            elif kind == "page":
                if rnd.random() < 0.5:
                    r, _ = await self.send(client, kind, "GET", "/login")
                else:
                    r, _ = await self.send(web, kind, "GET", "/")
            else:
                at = datetime.now(UTC) - timedelta(minutes=rnd.randint(1, 600))
                n = rnd.randrange(10**12)
                body = {
                    "person": {
                        "name": f"压测{n % 1000}",
                        "id_number": f"SOAK{n:012d}",
                        "sex": "female",
                        "birth_date": "2024-03-01",
                    },
                    "lot_number": self.plan.lot_number,
                    "site_code": self.plan.site_code,
                    "dose_number": 1,
                    "administered_at": at.isoformat(),
                }
                r, _ = await self.send(
                    client, kind, "POST", "/api/v1/doses", json=body, headers=self.plan.headers
                )
            if r is not None and r.status_code == 503:
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")) * rnd.random())
            else:
                await asyncio.sleep(rnd.random() * 2 * self.plan.think_s)

    async def run(self, ids: list[int]) -> Tally:
        import httpx

        n = len(ids)
        limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=n)
        timeout = httpx.Timeout(self.plan.request_timeout_s, connect=10)
        base = self.plan.base
        async with (
            httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as client,
            httpx.AsyncClient(
                base_url=base, limits=limits, timeout=timeout, cookies=self.plan.cookies
            ) as web,
        ):  # logged in (investigator): page loads of /
            await asyncio.gather(*(self.client(i, client, web) for i in ids))
        return self.t


def _client_process(plan: Plan, ids: list[int]) -> Tally:
    return asyncio.run(Load(plan).run(ids))


def _login(base: str) -> tuple[dict[str, str], dict[str, str]]:
    import httpx

    from aefi.demo import DEMO_PASSWORDS

    r = httpx.post(
        f"{base}/api/v1/auth/token",
        data={"username": "reporter", "password": DEMO_PASSWORDS["reporter"][1]},
        timeout=30,
    )
    r.raise_for_status()
    headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    with httpx.Client(base_url=base, timeout=30) as c:
        page = c.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        c.post(
            "/login",
            data={
                "username": "investigator",
                "password": DEMO_PASSWORDS["investigator"][1],
                "csrf_token": token,
                "next": "/",
            },
        )
        return headers, dict(c.cookies)


@dataclass
class Run:
    args: argparse.Namespace
    t: Tally
    killed_at: float | None = None
    restarted_at: float | None = None  # the new server process exists from here on
    ready_at: float | None = None


def _merge(tallies: list[Tally]) -> Tally:
    out = Tally()
    for t in tallies:
        out.ok_latency += t.ok_latency
        out.ok_at += t.ok_at
        out.statuses.update(t.statuses)
        out.confirmed.update(t.confirmed)
        for k, ids in t.answers.items():
            out.answers.setdefault(k, set()).update(ids)
        out.given_up += t.given_up
        out.rejected.update(t.rejected)
        out.attempts_to_confirm += t.attempts_to_confirm
        out.confirm_s += t.confirm_s
        out.filings += t.filings
        out.errors.update(t.errors)
    return out


def _drive(fx: Fixture, server: ServerProcess, args) -> Run:
    """The clients in ``args.processes`` processes (so that they neither share one
    interpreter lock nor the server's); this process kills and restarts the server."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    headers, cookies = _login(server.base)
    procs = max(1, min(args.processes, args.clients))
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=procs, mp_context=ctx) as pool:
        list(pool.map(time.sleep, [0] * procs))  # the processes are up before the clock
        plan = Plan(
            server.base,
            fx.bodies,
            fx.site_code,
            fx.lot_number,
            headers,
            cookies,
            t0=time.monotonic() + 1.0,
            seconds=args.seconds,
            grace_s=args.grace_s,
            think_s=args.think_s,
            request_timeout_s=args.request_timeout_s,
        )
        ids = list(range(args.clients))
        futures = [pool.submit(_client_process, plan, ids[i::procs]) for i in range(procs)]
        run = Run(args, Tally())
        if args.kill_at > 0:
            time.sleep(max(0.0, plan.t0 + args.kill_at - time.monotonic()))
            run.killed_at = time.monotonic() - plan.t0
            print(f"  t={run.killed_at:.1f} s: kill -9 of the server process group", flush=True)
            server.kill9()
            server.start()
            run.restarted_at = time.monotonic() - plan.t0
            server.wait_ready()
            run.ready_at = time.monotonic() - plan.t0
            print(f"  t={run.ready_at:.1f} s: server restarted and answering", flush=True)
        run.t = _merge([f.result() for f in futures])
    return run


# --- the counts ------------------------------------------------------------------------------


def _verify(fx: Fixture, t: Tally) -> dict:
    from sqlalchemy import text

    from aefi import db

    engine = db.make_engine(fx.url)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, description FROM report WHERE description LIKE 'soak:%'")
        ).all()
    engine.dispose()
    by_key: dict[str, list[int]] = {}
    for rid, desc in rows:
        by_key.setdefault(desc[5:], []).append(rid)
    missing = [k for k, rid in t.confirmed.items() if rid not in by_key.get(k, [])]
    duplicated = [k for k, ids in by_key.items() if len(ids) > 1]
    inconsistent = [k for k, ids in t.answers.items() if len(ids) > 1]
    given_up_stored = [k for k in t.given_up if k in by_key]
    return {
        "filings": t.filings,
        "confirmed": len(t.confirmed),
        "lost": len(missing) + len(t.given_up),
        "lost_missing": len(missing),
        "given_up": len(t.given_up),
        "given_up_but_stored": len(given_up_stored),
        "duplicated": len(duplicated) + len(inconsistent),
        "reports_in_db": len(rows),
    }


def _stalls(load: Run) -> tuple[float, float | None]:
    """The longest gap between two successful responses while the bench is active (from
    the first success to the last one, filings retried after the window included),
    leaving out the restart window; and the restart window itself: from the kill to the
    first success after the new server answered its readiness probe (the probe, not the
    first success after the kill, because a client process may note an answer of the old
    server a moment late)."""
    at = sorted(load.t.ok_at)
    if not at:
        return float("inf"), None
    end = at[-1]
    segments = [(at[0], end)]
    restart = None
    kill = load.killed_at
    if kill is not None:
        ready = load.ready_at if load.ready_at is not None else kill
        after = [x for x in at if x >= ready]
        back = after[0] if after else end
        restart = back - kill
        segments = [(at[0], kill), (back, end)]
    longest = 0.0
    for lo, hi in segments:
        pts = [lo, *[x for x in at if lo <= x <= hi], hi]
        longest = max([longest, *(b - a for a, b in zip(pts, pts[1:], strict=False))])
    return longest, restart


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--clients", type=int, default=500)
    p.add_argument("--seconds", type=float, default=60.0, help="load window")
    p.add_argument("--kill-at", type=float, default=25.0, help="0: no kill")
    p.add_argument(
        "--grace-s",
        type=float,
        default=600.0,
        help="how long filings still retry after the window (the run ends once all are done)",
    )
    p.add_argument("--think-s", type=float, default=2.0, help="mean pause between actions")
    p.add_argument("--request-timeout-s", type=float, default=30.0)
    p.add_argument("--doses", type=int, default=2000)
    p.add_argument("--processes", type=int, default=4, help="client processes")
    args = p.parse_args(argv)

    OUT.mkdir(exist_ok=True)
    print(
        f"soak: {args.db}, {args.workers} worker(s), {args.clients} clients in "
        f"{args.processes} processes, {args.seconds:.0f} s, kill -9 at {args.kill_at:.0f} s",
        flush=True,
    )
    fx = _prepare(args.db, args.doses)
    log = OUT / f"soak-{args.db}-server.log"
    log.unlink(missing_ok=True)
    server = ServerProcess(fx.url, args.workers, log)
    server.start()
    try:
        server.wait_ready()
        load = _drive(fx, server, args)
    finally:
        server.stop()
    counts = _verify(fx, load.t)
    if fx.pg is not None:
        fx.pg.stop()
    stall, restart = _stalls(load)
    lat = percentiles(load.t.ok_latency)
    by_kind: dict[str, Counter] = {}
    for (kind, status), n in load.t.statuses.items():
        by_kind.setdefault(kind, Counter())[status] = n
    print("  reports: " + fmt(counts))
    print("  accepted requests: " + fmt({k: v for k, v in lat.items()}))
    print(
        "  time to confirm a filing (with retries): "
        + fmt({k: v for k, v in percentiles(load.t.confirm_s).items() if k != "n"})
        + f"  max_attempts={max(load.t.attempts_to_confirm, default=0)}"
    )
    print(
        f"  longest stall outside the restart window: {stall:.2f} s; restart window "
        + (f"(kill to first success): {restart:.2f} s" if restart is not None else "none")
    )
    for kind in sorted(by_kind):
        print(
            f"  {kind:<5} statuses: "
            + ", ".join(
                f"{'conn-error' if s == 0 else s}:{n}" for s, n in sorted(by_kind[kind].items())
            )
        )
    buckets = Counter(int(x // 5) for x in load.t.ok_at)
    last = max(load.t.ok_at, default=0.0)
    print(
        "  successes per 5 s: "
        + " ".join(str(buckets.get(i, 0)) for i in range(int(last // 5) + 1))
    )
    if load.t.errors:
        print(
            "  transport errors (conn-error above): "
            + ", ".join(f"{k}:{n}" for k, n in load.t.errors.most_common())
        )
    if load.t.rejected:
        print(f"  rejected filings: {dict(load.t.rejected)}")
    (OUT / f"soak-{args.db}-result.txt").write_text(
        f"{vars(args)}\n{counts}\n{lat}\nstall={stall} restart={restart}\n"
    )
    verdict = counts["lost"] == 0 and counts["duplicated"] == 0 and stall <= 5.0
    print(f"  target (0 lost, 0 duplicated, no stall > 5 s): {'met' if verdict else 'MISSED'}")
    return {**counts, **lat, "stall_s": stall, "restart_s": restart, "met": verdict}


if __name__ == "__main__":
    main(sys.argv[1:])
