"""``aefi worker``: a process that runs the durable job queue (aefi/jobs) and, unless told
not to, the background timers, beside (or instead of) the server processes' own loops."""

from __future__ import annotations

import signal
import threading

import typer

from aefi import background
from aefi.jobs import worker as jobs_worker
from aefi.settings import get_settings


def worker_cmd(
    poll_s: float = typer.Option(
        None, "--poll", help="Seconds between looks when nothing is due (jobs_poll_s)."
    ),
    timers: bool = typer.Option(True, help="Also run the background timers (aefi.flow.JOBS)."),
    once: bool = typer.Option(False, help="Run what is due now, then stop."),
) -> None:
    """Run queued jobs (and the timers) until stopped (Ctrl-C or SIGTERM)."""
    from aefi import wiring
    from aefi.db import upgrade

    wiring.wire()
    upgrade()  # as `aefi serve` does: the queue's table is there before the first claim
    poll = poll_s if poll_s is not None else get_settings().jobs_poll_s
    if once:
        if timers:
            background.run_due()
        ran = jobs_worker.work()
        typer.echo(f"{ran} jobs run")
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    typer.echo(f"aefi worker {jobs_worker.WHO}: polling every {poll:g} s")
    while not stop.is_set():
        if timers:
            background.run_due()
        if not jobs_worker.work():
            stop.wait(poll)
