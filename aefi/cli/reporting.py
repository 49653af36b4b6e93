"""``aefi report``: the daily report summary and the indicators."""

from __future__ import annotations

from pathlib import Path

import typer

from aefi.cli.db import open_session
from aefi.settings import get_settings

app = typer.Typer(help="The daily report summary and the surveillance indicators.")


def _report_actor(session, county: str):
    """The command line reads the county's summaries as aefi itself (``Actor.system`` of
    that county: the reporting reads admit it, nothing else does)."""
    from sqlmodel import select

    from aefi.auth.permissions import Actor
    from aefi.registry.models import Region, RegionLevel

    stmt = select(Region).where(Region.level == RegionLevel.county)
    if county:
        stmt = stmt.where(Region.code == county)
    regions = session.exec(stmt).all()
    if len(regions) != 1:
        typer.echo("name the county with --county CODE", err=True)
        raise typer.Exit(2)
    return Actor.system(regions[0].id, reason="command line: reporting summaries")


def _report_setup(lang: str):
    from aefi import i18n, wiring
    from aefi.db import upgrade

    wiring.wire()
    upgrade()
    i18n.set_locale(lang or get_settings().default_locale)


@app.command("daily")
def report_daily_cmd(
    date_: str = typer.Option("", "--date", help="the day, YYYY-MM-DD (default: today)"),
    until: str = typer.Option("", help="end of a period starting at --date (default: one day)"),
    csv: Path | None = typer.Option(None, "--csv", help="write the table as CSV to this file"),
    pdf: Path | None = typer.Option(None, "--pdf", help="write the PDF to this file"),
    county: str = typer.Option("", help="county region code (needed when there are several)"),
    lang: str = typer.Option("", help="zh_CN or en (default: the configured language)"),
) -> None:
    """Which sites submitted the day's report, and the county's summary table."""
    from datetime import date

    from aefi import clock
    from aefi.reporting import exports
    from aefi.reporting.daily import service as daily

    _report_setup(lang)
    with open_session() as session:
        actor = _report_actor(session, county)
        since = date.fromisoformat(date_) if date_ else daily.today()
        end = date.fromisoformat(until) if until else since
        summary = daily.summary(session, actor, since, end)
        status = daily.day_status(session, actor, since) if since == end else None
        tables = exports.daily_tables(summary, status)
        typer.echo(exports.to_text(tables))
        if csv:
            csv.write_text(exports.to_csv(tables), encoding="utf-8")
            typer.echo(f"CSV written to {csv}")
        if pdf:
            from aefi.pdf import render_pdf

            pdf.write_bytes(
                render_pdf(
                    "pdf/daily_report.html",
                    {"summary": summary, "status": status, "tables": tables, "now": clock.now()},
                )
            )
            typer.echo(f"PDF written to {pdf}")


@app.command("indicators")
def report_indicators_cmd(
    since: str = typer.Option("", help="first day, YYYY-MM-DD (default: 90 days ago)"),
    until: str = typer.Option("", help="last day, YYYY-MM-DD (default: today)"),
    csv: Path | None = typer.Option(None, "--csv", help="write the tables as CSV to this file"),
    county: str = typer.Option("", help="county region code (needed when there are several)"),
    lang: str = typer.Option("", help="zh_CN or en (default: the configured language)"),
) -> None:
    """Timeliness, completeness and reporting rates for a period."""
    from datetime import date, timedelta

    from aefi.reporting import exports
    from aefi.reporting.county import service as county_view
    from aefi.reporting.daily import service as daily

    _report_setup(lang)
    with open_session() as session:
        actor = _report_actor(session, county)
        end = date.fromisoformat(until) if until else daily.today()
        start = date.fromisoformat(since) if since else end - timedelta(days=89)
        tables = exports.indicator_tables(county_view.indicators(session, actor, start, end))
        typer.echo(exports.to_text(tables))
        if csv:
            csv.write_text(exports.to_csv(tables), encoding="utf-8")
            typer.echo(f"CSV written to {csv}")
