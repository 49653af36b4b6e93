"""``aefi signals``: scans and the VAERS replay."""

from __future__ import annotations

import time

import typer

from aefi.cli.db import open_session

app = typer.Typer(help="Signal detection: scans and the VAERS replay.")


@app.command("tree-scan")
def signals_tree_scan_cmd(
    vaccine: str = typer.Argument(..., help="vaccine code, e.g. HEPB or US-MMR"),
    source: str = typer.Option("county", help="county (own reports) or vaers (imported)"),
    replications: int = typer.Option(999, help="Monte Carlo replicates"),
    seed: int = typer.Option(20261201, help="random seed (same data, same p-values)"),
    top: int = typer.Option(10, help="how many cuts to print"),
) -> None:
    """Tree-based scan (term -> symptom -> event group -> body system) of one product
    against all others, with Monte Carlo p-values."""

    from aefi import wiring
    from aefi.auth.permissions import Actor, every_county
    from aefi.db import upgrade
    from aefi.errors import Invalid
    from aefi.signals.scans.tree import run_tree_scan

    wiring.wire()
    upgrade()
    with open_session() as session:
        actor = Actor.system(every_county(session), reason="command line: tree scan")
        try:
            res = run_tree_scan(
                session, actor, vaccine, source=source, replications=replications, seed=seed
            )
        except Invalid as exc:
            typer.echo(f"error: {exc.fields or exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(
            f"{vaccine} against all others ({source}, {res.replications} replicates): "
            f"max LLR {res.max_llr:.2f}, p = {res.p_value:.3g}"
        )
        for r in res.nodes[:top]:
            typer.echo(
                f"  {r.node:<40} depth {r.depth} O={r.observed:<5} E={r.expected:<8.3g} "
                f"all={r.total:<6} LLR {r.llr:6.2f}  p={r.p_value:.3g}"
            )


@app.command("scan")
def signals_scan_cmd(
    top: int = typer.Option(15, help="how many of the strongest signals to print"),
) -> None:
    """Scan everything now (lots, vaccines, sites; disproportionality over imported
    reports) and print what it found. For cron where the app's timer is off."""
    from aefi import wiring
    from aefi.auth.permissions import Actor, every_county
    from aefi.db import upgrade
    from aefi.signals import expected
    from aefi.signals.review.service import SignalFilter, list_signals
    from aefi.signals.scans.service import run_scan

    wiring.wire()
    upgrade()
    with open_session() as session:
        t0 = time.perf_counter()
        # The operator scans, and reads the signals of, every county.
        operator = Actor.system(every_county(session), reason="command line: signal scan")
        result = run_scan(session, operator, trigger="cli")
        typer.echo(
            f"scanned {result.cells} cells in {time.perf_counter() - t0:.2f} s: "
            f"{len(result.changed)} new or raised signals, "
            f"{len(result.held)} lots put on hold"
            + (f" ({', '.join(lot.lot_number for lot in result.held)})" if result.held else "")
        )
        rows, total = list_signals(session, operator, SignalFilter(open_only=True), per_page=top)
        typer.echo(f"{total} open signals; the strongest:")
        for row in rows:
            s = row.signal
            target = (
                row.lot.lot_number
                if row.lot
                else (row.site.code if row.site else (row.vaccine.code if row.vaccine else "?"))
            )
            stat = {
                "maxsprt": f"LLR {s.statistic:.2f}/CV {s.threshold:.2f}",
                "active_surveillance": f"share ratio {s.statistic:.2f} (of {s.doses} responders)",
            }.get(s.method, f"PRR {s.statistic:.2f}")
            p = f"{s.p_value:.3g}" if s.p_value is not None else "-"
            typer.echo(
                f"  #{s.id:<5} {s.level:<16} {s.scope:<7} {target:<22} "
                f"{expected.group_label(s.event_group, 'en'):<26} O={s.observed:<4} "
                f"E={s.expected:<9.3g} {stat:<22} p={p}"
            )


def _replay_step(value: str) -> str:
    from aefi.signals.replay import STEPS

    if value not in STEPS:
        raise typer.BadParameter(
            f"{value!r} is not a step; use one of: {', '.join(STEPS)}", param_hint="--step"
        )
    return value


@app.command("replay")
def signals_replay_cmd(
    step: str = typer.Option(
        "month", help="day, week or month", callback=_replay_step, show_default=True
    ),
    source: str = typer.Option("vaers", help="the reports' source (imported VAERS reports)"),
    level: str = typer.Option("both", help="term, group or both"),
) -> None:
    """Replay the imported reports from the database in order of receipt and print the
    first-signal table: for each (vaccine, reported term) and (vaccine, event group) pair,
    the step at which it first met Evans' criteria (PRR >= 2, Yates chi-square >= 4,
    a >= 3) and its count of reports then. Import first: aefi import vaers DIR."""
    from aefi import wiring
    from aefi.db import upgrade
    from aefi.signals import replay

    if level not in ("term", "group", "both"):
        raise typer.BadParameter(f"{level!r}: use term, group or both", param_hint="--level")
    wiring.wire()
    upgrade()
    t0 = time.perf_counter()
    with open_session() as session:
        items = replay.load_items(session, source)
    if not items:
        typer.echo(f"no reports of source {source!r} in the database; run aefi import vaers DIR")
        raise typer.Exit(1)
    result = replay.first_signals(items, step)
    typer.echo(
        f"{len(items)} reports of source {source!r} in {len(result.steps)} steps of one {step}"
    )
    for lev, title in (("term", "reported term"), ("group", "event group")):
        if level not in (lev, "both"):
            continue
        rows = result.of_level(lev)
        typer.echo(f"\nfirst signals per (vaccine, {title}): {len(rows)}")
        typer.echo(f"{'first at':<10} {'vaccine':<8} {title:<40} count at that date")
        for sig in rows:
            typer.echo(replay.format_signal(sig))
    typer.echo(f"\nreplay took {time.perf_counter() - t0:.1f} s")
