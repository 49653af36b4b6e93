"""``aefi users``: accounts from the command line (the operator's, before any admin exists)."""

from __future__ import annotations

import typer

from aefi.cli.db import open_session

app = typer.Typer(help="User accounts.")


@app.command("create")
def users_create(
    username: str,
    role: str = typer.Option(
        ..., help="reporter, investigator, bureau, hospital, admin, api_client, province"
    ),
    county: str = typer.Option(..., help="county region code"),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    full_name: str = "",
    site: str = typer.Option("", help="site code (reporters)"),
    hospital: str = typer.Option("", help="hospital code (hospital users)"),
) -> None:
    """Create a user account."""
    from sqlmodel import select

    from aefi.auth.models import Role
    from aefi.auth.permissions import Actor
    from aefi.auth.users import service as auth_users
    from aefi.errors import DomainError
    from aefi.registry.models import Hospital, Region, Site

    with open_session() as session:
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
            auth_users.create_user(
                session,
                Actor.system(region.id, reason="command line"),
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


@app.command("set-password")
def users_set_password(
    username: str,
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
) -> None:
    """Set a user's password (ends their sessions and tokens)."""
    from aefi.auth.users import service as auth_users
    from aefi.errors import DomainError

    with open_session() as session:
        try:
            auth_users.set_password(
                session, auth_users.operator_for(session, username), username, password
            )
        except DomainError as exc:
            typer.echo(f"not changed: {exc}", err=True)
            raise typer.Exit(2) from None
    typer.echo(f"password of {username} changed; their sessions and tokens have ended")


def _set_active(username: str, active: bool) -> None:
    from aefi.auth.users import service as auth_users
    from aefi.errors import DomainError

    with open_session() as session:
        try:
            auth_users.set_active_by_name(
                session, auth_users.operator_for(session, username), username, active
            )
        except DomainError as exc:
            typer.echo(f"not changed: {exc}", err=True)
            raise typer.Exit(2) from None


@app.command("deactivate")
def users_deactivate(username: str) -> None:
    """Deactivate an account: its sessions and tokens end at once."""
    _set_active(username, False)
    typer.echo(f"user {username} deactivated")


@app.command("reactivate")
def users_reactivate(username: str) -> None:
    """Let a deactivated account log in again."""
    _set_active(username, True)
    typer.echo(f"user {username} reactivated")


@app.command("list")
def users_list() -> None:
    """Every account: user name, role, county id, active."""
    from sqlmodel import select

    from aefi.auth.models import User

    with open_session() as session:
        for u in session.exec(select(User).order_by(User.county_id, User.username)):
            state = "active" if u.active else "inactive"
            typer.echo(f"{u.username:<20} {u.role:<13} county {u.county_id:<5} {state}")
