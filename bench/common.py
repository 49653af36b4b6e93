"""Helpers shared by the benchmarks: a fresh database, percentiles, a live server."""

from __future__ import annotations

import os
import shutil
import statistics
import threading
import time
from pathlib import Path

OUT = Path(__file__).resolve().parent / "out"


def fresh_sqlite(name: str) -> str:
    """A new, migrated SQLite database for one benchmark; AEFI_DATABASE_URL points at it."""
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{name}.db"
    from aefi import db

    db._engine_for(f"sqlite:///{path}").dispose()
    db._engine_for.cache_clear()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    os.environ["AEFI_DATABASE_URL"] = url
    os.environ["AEFI_BACKGROUND_ENABLED"] = "false"
    throwaway_key()
    from aefi.settings import get_settings

    get_settings.cache_clear()
    db.upgrade(url)
    return url


def throwaway_key() -> None:
    """A throwaway database gets a throwaway key (the app refuses to start without one)."""
    if not os.environ.get("AEFI_SECRET_KEY"):
        import secrets

        os.environ["AEFI_SECRET_KEY"] = secrets.token_urlsafe(48)


def percentiles(samples_s: list[float]) -> dict[str, float]:
    xs = sorted(samples_s)
    if not xs:
        return {"n": 0}

    def q(p: float) -> float:
        return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))] * 1000

    return {
        "n": len(xs),
        "p50_ms": q(0.50),
        "p99_ms": q(0.99),
        "mean_ms": statistics.fmean(xs) * 1000,
    }


def fmt(d: dict) -> str:
    return "  ".join(f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in d.items())


class Server:
    """The app served by uvicorn in a thread (as the browser tests do)."""

    def __init__(self, app) -> None:
        import uvicorn

        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def cleanup() -> None:
    shutil.rmtree(OUT, ignore_errors=True)


def filing_bodies(doses, now) -> list[dict]:
    """One ``POST /api/v1/reports`` body per dose: a mild local reaction 15 minutes after it
    (never in the future), what every filing bench sends."""
    from datetime import timedelta

    return [
        {
            "dose_ids": [d.id],
            "onset_at": min(d.administered_at + timedelta(minutes=15), now).isoformat(),
            "symptoms": ["FEVER", "REDNESS"],
            "description": "bench",
            "max_temperature_c": 38.2,
            "outcome": "recovering",
            "reporter_name": "刘医生",
            "reporter_phone": "13800001111",
            "confirm_new_event": True,
        }
        for d in doses
    ]
