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
    from aefi import wiring
    from aefi.db import session_scope

    wiring.wire()  # every table known: a User's foreign keys name site, hospital, region
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
        with _session() as session:
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


@users_app.command("create")
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

    from aefi.auth import service
    from aefi.auth.models import Role
    from aefi.auth.permissions import Actor
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
            service.set_password(
                session, service.operator_for(session, username), username, password
            )
        except DomainError as exc:
            typer.echo(f"not changed: {exc}", err=True)
            raise typer.Exit(2) from None
    typer.echo(f"password of {username} changed; their sessions and tokens have ended")


def _set_active(username: str, active: bool) -> None:
    from aefi.auth import service
    from aefi.errors import DomainError

    with _session() as session:
        try:
            service.set_active_by_name(
                session, service.operator_for(session, username), username, active
            )
        except DomainError as exc:
            typer.echo(f"not changed: {exc}", err=True)
            raise typer.Exit(2) from None


@users_app.command("deactivate")
def users_deactivate(username: str) -> None:
    """Deactivate an account: its sessions and tokens end at once."""
    _set_active(username, False)
    typer.echo(f"user {username} deactivated")


@users_app.command("reactivate")
def users_reactivate(username: str) -> None:
    """Let a deactivated account log in again."""
    _set_active(username, True)
    typer.echo(f"user {username} reactivated")


@users_app.command("list")
def users_list() -> None:
    """Every account: user name, role, county id, active."""
    from sqlmodel import select

    from aefi.auth.models import User

    with _session() as session:
        for u in session.exec(select(User).order_by(User.county_id, User.username)):
            state = "active" if u.active else "inactive"
            typer.echo(f"{u.username:<20} {u.role:<13} county {u.county_id:<5} {state}")


@import_app.command("doses")
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

    with _session() as session:
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


# --- signals (aefi/signals) ----------------------------------------------------------------

signals_app = typer.Typer(help="Signal detection: scans and the VAERS replay.")
app.add_typer(signals_app, name="signals")
terminology_app = typer.Typer(help="Reported terms and their mapping (MedDRA, VAERS).")
app.add_typer(terminology_app, name="terminology")


@terminology_app.command("load-meddra")
def terminology_load_meddra_cmd(directory: Path) -> None:
    """Load a licensed MedDRA release's ASCII files (llt.asc, pt.asc, mdhier.asc in DIR,
    e.g. MedAscii) as reported terms, mapped where the seed or the PT says."""
    from aefi import wiring
    from aefi.auth.permissions import Actor, every_county
    from aefi.db import upgrade
    from aefi.terminology import meddra, service

    try:
        release = meddra.read_dir(directory)
    except meddra.MeddraFormatError as exc:
        typer.echo(f"not loaded: {exc}", err=True)
        raise typer.Exit(2) from None
    wiring.wire()
    upgrade()
    with _session() as session:
        service.ensure_seeded(session)
        system = Actor.system(every_county(session), reason="command line: MedDRA load")
        out = service.load_meddra(session, system, release)
    typer.echo(
        f"MedDRA {release.version or '(version not given)'}: {len(release.pts)} PTs, "
        f"{len(release.llts)} LLTs read; {out.pts_created} PTs and {out.llts_created} LLTs "
        f"added, {out.updated} updated, {out.mapped} mapped to aefi symptom codes"
    )


@signals_app.command("scan")
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
    with _session() as session:
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
            stat = (
                f"LLR {s.statistic:.2f}/CV {s.threshold:.2f}"
                if s.method == "maxsprt"
                else f"PRR {s.statistic:.2f}"
            )
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


@signals_app.command("replay")
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
    with _session() as session:
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


@import_app.command("vaers")
def import_vaers_cmd(directory: Path) -> None:
    """Load VAERS public CSVs (YYYYVAERSDATA/VAX/SYMPTOMS.csv) as reports, in bulk."""
    from aefi import wiring
    from aefi.db import upgrade
    from aefi.signals import vaers

    wiring.wire()
    upgrade()
    with _session() as session:
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


# --- report (aefi/reporting) ---------------------------------------------------------------

report_app = typer.Typer(help="The daily report summary and the surveillance indicators.")
app.add_typer(report_app, name="report")


def _report_actor(session, county: str):
    """The command line acts as the county's administrator (read-only here)."""
    from sqlmodel import select

    from aefi.auth.models import Role
    from aefi.auth.permissions import Actor
    from aefi.registry.models import Region, RegionLevel

    stmt = select(Region).where(Region.level == RegionLevel.county)
    if county:
        stmt = stmt.where(Region.code == county)
    regions = session.exec(stmt).all()
    if len(regions) != 1:
        typer.echo("name the county with --county CODE", err=True)
        raise typer.Exit(2)
    return Actor(0, "cli", "command line", Role.admin, regions[0].id)


def _report_setup(lang: str):
    from aefi import i18n, wiring
    from aefi.db import upgrade

    wiring.wire()
    upgrade()
    i18n.set_locale(lang or get_settings().default_locale)


@report_app.command("daily")
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
    from aefi.reporting import exports, service

    _report_setup(lang)
    with _session() as session:
        actor = _report_actor(session, county)
        since = date.fromisoformat(date_) if date_ else service.today()
        end = date.fromisoformat(until) if until else since
        summary = service.summary(session, actor, since, end)
        status = service.day_status(session, actor, since) if since == end else None
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


@report_app.command("indicators")
def report_indicators_cmd(
    since: str = typer.Option("", help="first day, YYYY-MM-DD (default: 90 days ago)"),
    until: str = typer.Option("", help="last day, YYYY-MM-DD (default: today)"),
    csv: Path | None = typer.Option(None, "--csv", help="write the tables as CSV to this file"),
    county: str = typer.Option("", help="county region code (needed when there are several)"),
    lang: str = typer.Option("", help="zh_CN or en (default: the configured language)"),
) -> None:
    """Timeliness, completeness and reporting rates for a period."""
    from datetime import date, timedelta

    from aefi.reporting import exports, service

    _report_setup(lang)
    with _session() as session:
        actor = _report_actor(session, county)
        end = date.fromisoformat(until) if until else service.today()
        start = date.fromisoformat(since) if since else end - timedelta(days=89)
        tables = exports.indicator_tables(service.indicators(session, actor, start, end))
        typer.echo(exports.to_text(tables))
        if csv:
            csv.write_text(exports.to_csv(tables), encoding="utf-8")
            typer.echo(f"CSV written to {csv}")


# --- audit trail (aefi/audit.py) -----------------------------------------------------------

audit_app = typer.Typer(help="The audit trail.")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    anchor: str = typer.Option(
        "",
        help="SEQ:HASH of a head noted down earlier (printed by a previous run): also proves "
        "the chain was not rewritten from there on",
    ),
) -> None:
    """Walk the audit trail's hash chain; exit 1 naming every altered, deleted or inserted
    record."""
    from aefi import audit

    expected: tuple[int, str] | None = None
    if anchor:
        seq, _sep, digest = anchor.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            typer.echo("--anchor takes SEQ:HASH, e.g. 1200:3f5a… (64 hex digits)", err=True)
            raise typer.Exit(2)
        expected = (int(seq), digest.lower())
    with _session() as session:
        result = audit.verify(session, anchor=expected)
    for f in result.findings:
        where = f"seq {f.seq}" if f.seq is not None else "unsealed"
        record = f", event {f.event_id}" if f.event_id is not None else ""
        typer.echo(f"{f.kind.upper()}: {where}{record}: {f.detail}", err=True)
    head = f"{result.head_seq}:{result.head_hash}"
    typer.echo(f"checked {result.checked} sealed records; head {head}")
    if not result.ok:
        typer.echo(f"audit trail NOT intact: {len(result.findings)} findings", err=True)
        raise typer.Exit(1)
    typer.echo("audit trail intact")


regions_app = typer.Typer(help="The region frame: provinces and counties (operator only).")
app.add_typer(regions_app, name="regions")


@regions_app.command("add")
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
    from aefi.registry import service

    with _session() as session:
        try:
            region = service.add_frame_region(
                session, code=code, name=name, level=level, parent_code=parent, name_en=name_en
            )
        except DomainError as exc:
            typer.echo(f"not added: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"{region.level} {region.code} added (id {region.id})")


@regions_app.command("place")
def regions_place(
    county: str, province: str = typer.Option(..., help="province region code")
) -> None:
    """Put an existing county below a province (its province users then read it)."""
    from aefi.errors import DomainError
    from aefi.registry import service

    with _session() as session:
        try:
            service.place_county(session, county_code=county, province_code=province)
        except DomainError as exc:
            typer.echo(f"not placed: {exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"county {county} is below province {province}")
