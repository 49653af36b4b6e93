"""``aefi db``: the schema; and the session every command opens."""

from __future__ import annotations

import typer

app = typer.Typer(help="Database schema.")


def open_session():
    from aefi import wiring
    from aefi.db import session_scope

    wiring.wire()  # every table known: a User's foreign keys name site, hospital, region
    return session_scope()


@app.command("upgrade")
def db_upgrade() -> None:
    """Bring the database schema to the newest migration."""
    from aefi.db import upgrade

    upgrade()
    typer.echo("schema is up to date")
