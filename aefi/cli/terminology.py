"""``aefi terminology``: reported terms and their mapping."""

from __future__ import annotations

from pathlib import Path

import typer

from aefi.cli.db import open_session

app = typer.Typer(help="Reported terms and their mapping (MedDRA, VAERS).")


@app.command("load-meddra")
def terminology_load_meddra_cmd(directory: Path) -> None:
    """Load a licensed MedDRA release's ASCII files (llt.asc, pt.asc, mdhier.asc in DIR,
    e.g. MedAscii) as reported terms, mapped where the seed or the PT says."""
    from aefi import wiring
    from aefi.db import upgrade
    from aefi.terminology import meddra, service

    try:
        release = meddra.read_dir(directory)
    except meddra.MeddraFormatError as exc:
        typer.echo(f"not loaded: {exc}", err=True)
        raise typer.Exit(2) from None
    wiring.wire()
    upgrade()
    from aefi.auth.permissions import Actor, every_county

    with open_session() as session:
        service.ensure_seeded(session)
        system = Actor.system(every_county(session), reason="command line: MedDRA load")
        out = service.load_meddra(session, system, release)
    typer.echo(
        f"MedDRA {release.version or '(version not given)'}: {len(release.pts)} PTs, "
        f"{len(release.llts)} LLTs read; {out.pts_created} PTs and {out.llts_created} LLTs "
        f"added, {out.updated} updated, {out.mapped} mapped to aefi symptom codes"
    )
