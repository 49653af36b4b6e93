"""The ``aefi`` command: serve, worker, demo, db, users, import, signals, terminology, report,
audit, regions. Each group of commands is a module of this package, listed here."""

from __future__ import annotations

import typer

from aefi.cli import (
    audit,
    db,
    imports,
    regions,
    reporting,
    server,
    signals,
    terminology,
    users,
    worker,
)

app = typer.Typer(help="aefi: AEFI surveillance and case management.", no_args_is_help=True)
app.command("demo")(server.demo_cmd)
app.command("serve")(server.serve)
app.command("worker")(worker.worker_cmd)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(imports.app, name="import")
app.add_typer(signals.app, name="signals")
app.add_typer(terminology.app, name="terminology")
app.add_typer(reporting.app, name="report")
app.add_typer(audit.app, name="audit")
app.add_typer(regions.app, name="regions")
