"""A burst far above the connection pool at a live server (issue 12): every request is
answered (a result or a 503 with Retry-After), none hangs, and the server then serves
normally. The server is uvicorn in a subprocess with a pool of 4 connections."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import subprocess
import sys
from collections import Counter

import httpx
import pytest

from aefi import db
from aefi.demo import DEMO_PASSWORDS


def run_async(coro):
    """asyncio.run in a thread of its own: in one pytest process the browser tests'
    Playwright keeps an event loop running in the main thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_server(db_url, county, session):
    session.close()
    db.get_engine().dispose()
    port = _free_port()
    env = {
        **os.environ,
        "AEFI_DATABASE_URL": db_url,
        "AEFI_BACKGROUND_ENABLED": "false",
        "AEFI_DB_POOL_SIZE": "3",
        "AEFI_DB_MAX_OVERFLOW": "1",
        "AEFI_DB_POOL_TIMEOUT_S": "5",
        "AEFI_OVERLOAD_WAIT_S": "1",
        "AEFI_LOGIN_FREE_FAILURES": "1000",
    }
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
        for _ in range(300):
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}")
            try:
                if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            import time

            time.sleep(0.1)
        else:
            pytest.fail("the server did not start")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


async def _burst(base: str, token: str, n_api: int, n_pages: int) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=n_api + n_pages, max_keepalive_connections=0)
    # Generous: a hang shows up as a timeout error, which fails the test.
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        calls = [
            client.get("/api/v1/reports", headers={"Authorization": f"Bearer {token}"})
            for _ in range(n_api)
        ] + [client.get("/login") for _ in range(n_pages)]
        return await asyncio.gather(*calls)


def test_a_burst_above_the_pool_is_answered_and_the_server_recovers(live_server):
    base = live_server
    token = httpx.post(
        f"{base}/api/v1/auth/token",
        data={"username": "reporter", "password": DEMO_PASSWORDS["reporter"][1]},
        timeout=30,
    ).json()["access_token"]

    responses = run_async(_burst(base, token, n_api=120, n_pages=30))

    codes = Counter(r.status_code for r in responses)
    assert set(codes) <= {200, 503}, codes
    assert codes[200] > 0, codes
    for r in responses:
        if r.status_code == 503:
            assert r.headers["Retry-After"].isdigit()
            if r.request.url.path.startswith("/api/"):
                assert "busy" in r.json()["detail"] or "繁忙" in r.json()["detail"]
            else:
                assert "503" in r.text
        elif r.request.url.path.startswith("/api/"):
            assert "items" in r.json()

    after = httpx.get(f"{base}/login", timeout=30)
    assert after.status_code == 200
    listed = httpx.get(
        f"{base}/api/v1/reports", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert listed.status_code == 200
