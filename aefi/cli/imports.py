"""``aefi import``: the dose registry and VAERS."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from aefi.cli.db import open_session

app = typer.Typer(help="Import data.")


@app.command("doses")
def import_doses_cmd(
    path: Path,
    county: str = typer.Option(..., help="county region code"),
    all_or_nothing: bool = typer.Option(False, help="keep nothing if any row is bad"),
) -> None:
    """Import dose records from a CSV file."""
    from sqlmodel import select

    from aefi.auth.permissions import Actor
    from aefi.registry import importer
    from aefi.registry.models import Region

    with open_session() as session:
        region = session.exec(select(Region).where(Region.code == county)).first()
        if region is None:
            typer.echo(f"no county with code {county}", err=True)
            raise typer.Exit(2)
        actor = Actor.system(region.id, reason="command line: dose import")
        t0 = time.perf_counter()
        try:
            fh = path.open("rb")
        except OSError as exc:
            typer.echo(f"cannot read {path}: {exc.strerror}", err=True)
            raise typer.Exit(2) from None
        with fh:
            report = importer.import_doses(
                session, actor, fh, all_or_nothing=all_or_nothing, filename=path.name
            )
    if report.error:
        from aefi.i18n import gettext, set_locale

        set_locale("en")
        message = gettext(report.error, **report.error_params)
        typer.echo(f"{path}: nothing imported: {message}", err=True)
        raise typer.Exit(2)
    for bad in report.rejected[:50]:
        typer.echo(f"line {bad['row']}: {bad['error']}", err=True)
    state = "rolled back" if report.rolled_back else "kept"
    typer.echo(
        f"imported {report.imported}, already recorded {report.duplicates}, "
        f"rejected {report.rejected_count} ({state}, {report.encoding}) "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    if report.rolled_back:
        raise typer.Exit(1)


@app.command("vaers")
def import_vaers_cmd(directory: Path) -> None:
    """Load VAERS public CSVs (YYYYVAERSDATA/VAX/SYMPTOMS.csv) as reports, in bulk."""
    from aefi import wiring
    from aefi.db import upgrade
    from aefi.signals import vaers

    wiring.wire()
    upgrade()
    with open_session() as session:
        out = vaers.import_dir(session, directory)
    c = out.counts
    typer.echo(
        f"read {c.data_rows} reports, {c.vax_rows} vaccine rows, {c.symptom_rows} symptom rows "
        f"from {len(c.files)} files"
    )
    typer.echo(
        f"created {out.reports_created} reports ({out.reports_existing} there already), "
        f"{out.doses_created} report doses, {out.vaccines_created} vaccines, "
        f"{out.lots_created} lots in {out.seconds:.1f} s"
    )
    typer.echo(
        f"reported terms: {out.distinct_terms} distinct ({out.terms_created} new), "
        f"{c.term_occurrences} occurrences; {out.terms_mapped} occurrences in an event group, "
        f"{out.terms_unmapped} in none (kept on the reports)"
    )
    if out.reports_relinked:
        typer.echo(f"terms linked to {out.reports_relinked} reports imported before")
    typer.echo(
        f"in the database for these files: {out.reports_in_db} reports, "
        f"{out.doses_in_db} report doses, {out.distinct_terms_in_db} distinct terms, "
        f"{out.term_occurrences_in_db} term occurrences — "
        + ("COMPLETE" if out.complete else "INCOMPLETE")
    )
    typer.echo(
        f"unmapped terms (no symptom code or event group): {len(out.unmapped)}; "
        "map them on /admin/terminology"
    )
    for term, n in out.unmapped:
        typer.echo(f"  {n:>6}  {term}")
    if not out.complete:
        raise typer.Exit(1)
