"""``aefi regions``: the region frame (operator only)."""

from __future__ import annotations

import typer

from aefi.cli.db import open_session

app = typer.Typer(help="The region frame: provinces and counties (operator only).")


@app.command("add")
def regions_add(
    code: str,
    name: str,
    level: str = typer.Option(..., help="province or county"),
    parent: str = typer.Option("", help="a county's province (region code)"),
    name_en: str = "",
) -> None:
    """Add a province, or a county (below its province): the frame of every user's scope.
    A county's townships, sites and hospitals are then kept by its admin on the pages."""
    from aefi.errors import DomainError
    from aefi.registry.regions import service

    with open_session() as session:
        try:
            region = service.add_frame_region(
                session, code=code, name=name, level=level, parent_code=parent, name_en=name_en
            )
        except DomainError as exc:
            typer.echo(f"not added: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"{region.level} {region.code} added (id {region.id})")


@app.command("place")
def regions_place(
    county: str, province: str = typer.Option(..., help="province region code")
) -> None:
    """Put an existing county below a province (its province users then read it)."""
    from aefi.errors import DomainError
    from aefi.registry.regions import service

    with open_session() as session:
        try:
            service.place_county(session, county_code=county, province_code=province)
        except DomainError as exc:
            typer.echo(f"not placed: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"county {county} is below province {province}")
