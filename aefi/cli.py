"""The ``aefi`` command: serve, demo, db, users, import, signals, report."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from aefi.settings import get_settings

app = typer.Typer(help="aefi: AEFI surveillance and case management.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.")
users_app = typer.Typer(help="User accounts.")
import_app = typer.Typer(help="Import data.")
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(import_app, name="import")


def _session():
    from aefi.db import session_scope

    return session_scope()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest migration."""
    from aefi.db import upgrade

    upgrade()
    typer.echo("schema is up to date")


def _print_demo_logins() -> None:
    from aefi import demo

    typer.echo("\nDemo logins (demo mode only):")
    for username, role, password in demo.credentials():
        typer.echo(f"  {username:<13} {role:<13} {password}")


@app.command("demo")
def demo_cmd(
    doses: int = typer.Option(200_000, help="dose records to generate"),
    days: int = typer.Option(90, help="spread over the last N days"),
) -> None:
    """Build the demo county into an empty database."""
    from aefi import demo
    from aefi.db import upgrade

    upgrade()
    with _session() as session:
        if demo.is_loaded(session):
            typer.echo("the database already holds data; demo county not loaded")
            raise typer.Exit(1)
        t0 = time.perf_counter()
        county = demo.build(session, doses=doses, days=days)
        typer.echo(f"demo county built: {county.doses} doses in {time.perf_counter() - t0:.1f} s")
    _print_demo_logins()


@app.command("serve")
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    demo_mode: bool = typer.Option(False, "--demo", help="load the demo county on first start"),
) -> None:
    """Migrate, (with --demo) load the demo county on first start, and serve."""
    import uvicorn

    from aefi import demo
    from aefi.db import upgrade

    upgrade()
    if demo_mode:
        with _session() as session:
            if not demo.is_loaded(session):
                typer.echo("first start: building the demo county (200,000 doses)…")
                demo.build(session)
        _print_demo_logins()
    typer.echo(f"\naefi serving on http://{host}:{port}\n")
    from aefi.app import create_app

    uvicorn.run(create_app(get_settings()), host=host, port=port, log_level="info")


@users_app.command("create")
def users_create(
    username: str,
    role: str = typer.Option(
        ..., help="reporter, investigator, bureau, hospital, admin, api_client"
    ),
    county: str = typer.Option(..., help="county region code"),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    full_name: str = "",
    site: str = typer.Option("", help="site code (reporters)"),
    hospital: str = typer.Option("", help="hospital code (hospital users)"),
) -> None:
    """Create a user account."""
    from sqlmodel import select

    from aefi.auth import service
    from aefi.auth.models import Role
    from aefi.errors import DomainError
    from aefi.registry.models import Hospital, Region, Site

    with _session() as session:
        region = session.exec(select(Region).where(Region.code == county)).first()
        if region is None:
            typer.echo(f"no county with code {county}", err=True)
            raise typer.Exit(2)
        site_id = hospital_id = None
        if site:
            s = session.exec(select(Site).where(Site.code == site)).first()
            if s is None:
                typer.echo(f"no site with code {site}", err=True)
                raise typer.Exit(2)
            site_id = s.id
        if hospital:
            h = session.exec(select(Hospital).where(Hospital.code == hospital)).first()
            if h is None:
                typer.echo(f"no hospital with code {hospital}", err=True)
                raise typer.Exit(2)
            hospital_id = h.id
        try:
            service.create_user(
                session,
                None,
                username=username,
                password=password,
                role=Role(role),
                county_id=region.id,
                full_name=full_name,
                site_id=site_id,
                hospital_id=hospital_id,
            )
        except (DomainError, ValueError) as exc:
            typer.echo(f"not created: {exc}", err=True)
            raise typer.Exit(2) from None
    typer.echo(f"user {username} created")


@users_app.command("set-password")
def users_set_password(
    username: str,
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Set a user's password (ends their sessions and tokens)."""
    from aefi.auth import service
    from aefi.errors import DomainError

    with _session() as session:
        try:
            service.set_password(session, None, username, password)
        except DomainError as exc:
            typer.echo(f"not changed: {exc}", err=True)
            raise typer.Exit(2) from None
    typer.echo(f"password of {username} changed")


@import_app.command("doses")
def import_doses_cmd(
    path: Path,
    county: str = typer.Option(..., help="county region code"),
    all_or_nothing: bool = typer.Option(False, help="keep nothing if any row is bad"),
) -> None:
    """Import dose records from a CSV file."""
    from sqlmodel import select

    from aefi.auth.models import Role
    from aefi.auth.permissions import Actor
    from aefi.registry import importer
    from aefi.registry.models import Region

    with _session() as session:
        region = session.exec(select(Region).where(Region.code == county)).first()
        if region is None:
            typer.echo(f"no county with code {county}", err=True)
            raise typer.Exit(2)
        actor = Actor(0, "cli", "command line", Role.admin, region.id)
        t0 = time.perf_counter()
        with path.open("rb") as fh:
            report = importer.import_doses(session, actor, fh, all_or_nothing=all_or_nothing)
    for bad in report.rejected[:50]:
        typer.echo(f"line {bad['row']}: {bad['error']}", err=True)
    state = "rolled back" if report.rolled_back else "kept"
    typer.echo(
        f"imported {report.imported}, rejected {report.rejected_count} ({state}) "
        f"in {time.perf_counter() - t0:.1f} s"
    )
