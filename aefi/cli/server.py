"""``aefi serve`` and ``aefi demo``."""

from __future__ import annotations

import time

import typer

from aefi.cli.db import open_session
from aefi.settings import get_settings


def _print_demo_logins() -> None:
    from aefi import demo

    typer.echo("\nDemo logins (demo mode only):")
    for username, role, password in demo.credentials():
        typer.echo(f"  {username:<13} {role:<13} {password}")
    typer.echo(
        "  physician03 … physician12: the other sites' physicians, password "
        "demo-physician-3 … demo-physician-12"
    )


def _build_demo(session, *, doses: int, days: int, small: bool) -> None:
    from aefi import demo

    t0 = time.perf_counter()
    if small:
        county, history = demo.build_living(session, doses=2000, days=days, min_reports=12)
    else:
        county, history = demo.build_living(session, doses=doses, days=days)
    typer.echo(
        f"demo county built in {time.perf_counter() - t0:.1f} s: {county.doses} doses, "
        f"{history.reports} reports, {history.cases} case files, {history.referrals} "
        f"referrals, {history.halts} halt, {history.daily_reports} daily reports"
    )
    for skipped in history.skipped:
        typer.echo(f"  not done: {skipped}")


def _start_demo(session) -> None:
    from aefi import demo

    started = demo.start(session)
    typer.echo(
        f"observation boards topped up: {started.doses} vaccinees recorded in the last 30 "
        f"minutes, {started.reactions} reactions noted"
    )


def demo_cmd(
    doses: int = typer.Option(200_000, help="dose records to generate"),
    days: int = typer.Option(90, help="spread over the last N days"),
    small: bool = typer.Option(
        False, "--small", help="a small county (2,000 doses) with the same story, in seconds"
    ),
) -> None:
    """Build the demo county, with its last 90 days of work, into an empty database."""
    from aefi import demo
    from aefi.db import upgrade

    demo.configure(get_settings())
    upgrade()
    with open_session() as session:
        if demo.is_loaded(session):
            typer.echo("the database already holds data; demo county not loaded")
            raise typer.Exit(1)
        _build_demo(session, doses=doses, days=days, small=small)
        _start_demo(session)
    _print_demo_logins()


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    demo_mode: bool = typer.Option(False, "--demo", help="load the demo county on first start"),
    workers: int = typer.Option(
        1, "--workers", min=1, help="worker processes (more than one on PostgreSQL only)"
    ),
) -> None:
    """Migrate, (with --demo) load the demo county on first start, and serve."""
    import uvicorn

    from aefi import demo
    from aefi.auth import keys
    from aefi.db import upgrade

    settings = get_settings()
    if demo_mode:
        settings.demo = True
        demo.configure(settings)  # the demo's policies (a day's report due the next day)
        keys.use_demo_key(settings)  # the installation's own key, kept in var/ (0600)
    try:
        keys.check(settings)
    except keys.SecretKeyError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None

    if workers > 1:
        _check_workers(settings, workers)
    upgrade()
    if demo_mode:
        with open_session() as session:
            if not demo.is_loaded(session):
                typer.echo(
                    "first start: building the demo county (200,000 doses and 90 days of "
                    "reports, cases, referrals, a halt)…"
                )
                _build_demo(session, doses=200_000, days=90, small=False)
            # Every start: vaccinees on every site's board, whatever the hour.
            _start_demo(session)
        _print_demo_logins()
    typer.echo(
        f"\naefi serving on http://{host}:{port}"
        + (f" with {workers} worker processes\n" if workers > 1 else "\n")
    )
    if workers > 1:
        # Each worker imports the app itself; the background jobs share one lease per job
        # in the database, so each runs once per interval across the workers.
        from aefi.db import get_engine

        get_engine().dispose()  # no pooled connection may cross the fork
        uvicorn.run(
            "aefi.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="info",
        )
        return
    from aefi.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


def _check_workers(settings, workers: int) -> None:
    """Several processes need PostgreSQL, and enough connections for all their pools."""
    if settings.is_sqlite:
        typer.echo(
            "--workers above 1 needs PostgreSQL (set AEFI_DATABASE_URL=postgresql+psycopg://…). "
            "SQLite has one writer: one process already keeps it busy, and writers of several "
            "processes would wait on each other in SQLite's busy loop instead of in order. "
            "Run one process on SQLite.",
            err=True,
        )
        raise typer.Exit(2)
    from sqlalchemy import text

    from aefi.db import get_engine

    per_worker = settings.db_pool_size + settings.db_max_overflow
    with get_engine().connect() as conn:
        limit = int(conn.execute(text("SHOW max_connections")).scalar())
    if workers * per_worker + 5 > limit:
        typer.echo(
            f"{workers} workers with {per_worker} connections each (AEFI_DB_POOL_SIZE + "
            f"AEFI_DB_MAX_OVERFLOW) need {workers * per_worker} connections, and PostgreSQL "
            f"allows {limit} (max_connections, a few kept for administration). Use fewer "
            "workers, smaller pools, or raise max_connections.",
            err=True,
        )
        raise typer.Exit(2)
