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


def demo_cmd(
    doses: int = typer.Option(200_000, help="dose records to generate"),
    days: int = typer.Option(90, help="spread over the last N days"),
) -> None:
    """Build the demo county into an empty database."""
    from aefi import demo
    from aefi.db import upgrade

    upgrade()
    with open_session() as session:
        if demo.is_loaded(session):
            typer.echo("the database already holds data; demo county not loaded")
            raise typer.Exit(1)
        t0 = time.perf_counter()
        county = demo.build(session, doses=doses, days=days)
        typer.echo(f"demo county built: {county.doses} doses in {time.perf_counter() - t0:.1f} s")
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
                typer.echo("first start: building the demo county (200,000 doses)…")
                demo.build(session)
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
