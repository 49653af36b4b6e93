"""Use cases of the observation area (留观): the board of a site, check-in, release, early
departure, and the day's counts.

A dose recorded at a site (registry form, API or import) puts the vaccinee on the site's
board: the board, and a background job, turn the site's recent doses into entries the
first time they are seen. Rows stay until the physician closes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, and_, case, exists, or_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, func, select

from aefi import audit, clock
from aefi.auth.models import Role
from aefi.auth.permissions import Actor, mask_name, require_role
from aefi.errors import Conflict, NotFound
from aefi.intake.models import Report, ReportDose
from aefi.observation import board as rules
from aefi.observation.models import EntrySource, ObservationEntry
from aefi.registry import access as registry_access
from aefi.registry.doses import service as registry_doses
from aefi.registry.models import Dose, Lot, Person, Site, Vaccine
from aefi.settings import get_settings

WATCHERS = (Role.reporter, Role.investigator, Role.bureau, Role.admin)
# Who closes rows and checks people in: the site's physician (the admin stands in).
KEEPERS = (Role.reporter, Role.admin)


# --- turning doses into board entries ------------------------------------------------------


def _insert_ignoring_duplicates(session: Session, rows: list[dict]) -> None:
    """Two boards of one site refreshing at once may both see a new dose: the unique
    dose_id lets exactly one insert win, silently for the other."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(ObservationEntry.__table__).on_conflict_do_nothing(index_elements=["dose_id"])
    session.execute(stmt, rows)


def sync_sites(session: Session, site_ids: list[int] | None = None) -> int:
    """Put every dose of the last hours (``observation_lookback_h``) that has no entry yet on
    its site's board. Returns how many entries were made. No commit: the caller's."""
    settings = get_settings()
    now = clock.now()
    since = now - timedelta(hours=settings.observation_lookback_h)
    stmt = (
        select(
            Dose.id,
            Dose.person_id,
            Dose.site_id,
            Dose.administered_at,
            Lot.vaccine_id,
            Vaccine.observation_minutes,
            Site.county_id,
        )
        .join(Lot, Lot.id == Dose.lot_id)
        .join(Vaccine, Vaccine.id == Lot.vaccine_id)
        .join(Site, Site.id == Dose.site_id)
        .where(col(Dose.administered_at) >= since, col(Dose.administered_at) <= now)
        .where(~exists().where(ObservationEntry.dose_id == Dose.id))
    )
    if site_ids is None:
        # Every site, named one by one: the (site, time) index then serves the range.
        site_ids = list(session.exec(select(Site.id)))
    stmt = stmt.where(col(Dose.site_id).in_(site_ids))
    rows = []
    for dose_id, person_id, site_id, at, vaccine_id, vmin, county_id in session.exec(stmt):
        minutes = rules.observation_minutes(vmin, settings.observation_default_minutes)
        rows.append(
            {
                "county_id": county_id,
                "site_id": site_id,
                "dose_id": dose_id,
                "person_id": person_id,
                "vaccine_id": vaccine_id,
                "source": EntrySource.dose.value,
                "checked_in_at": at,
                "due_at": rules.due_at(at, minutes),
                "minutes": minutes,
                "checked_in_by_name": "",
                "closed_by_name": "",
                "note": "",
            }
        )
    _insert_ignoring_duplicates(session, rows)
    return len(rows)


# --- the board -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardRow:
    entry: ObservationEntry
    name: str  # masked (mask_name): the board is a queue list, not a record
    vaccine: Vaccine
    lot_number: str
    dose_number: int
    administered_at: datetime
    state: rules.RowState
    report_number: str = ""

    @property
    def report_link(self) -> str:
        return f"/reports/new?dose_id={self.entry.dose_id}"


@dataclass(frozen=True)
class DayCounts:
    observed: int = 0
    released: int = 0
    left_early: int = 0
    reactions: int = 0


@dataclass(frozen=True)
class Board:
    site: Site
    now: datetime
    day: date
    rows: list[BoardRow]  # open rows: observing first by time left, then ready
    closed_today: list[BoardRow]
    counts: DayCounts
    can_act: bool
    refresh_s: int

    @property
    def ready(self) -> int:
        return sum(1 for r in self.rows if r.state.state == "ready")


@dataclass(frozen=True)
class SiteLine:
    """One site on the county's overview of the observation areas."""

    site: Site
    open: int
    ready: int
    counts: DayCounts


def _site_of_board(session: Session, actor: Actor, site_id: int | None) -> Site:
    require_role(actor, *WATCHERS)
    if actor.role == Role.reporter:
        if site_id is not None and site_id != actor.site_id:
            raise NotFound("Not found.")
        site_id = actor.site_id
    if site_id is None:
        raise NotFound("Not found.")
    site = session.get(Site, site_id)
    if site is None or site.county_id != actor.county_id:
        raise NotFound("Not found.")
    return site


def _can_act(actor: Actor, site: Site) -> bool:
    return actor.role == Role.admin or (actor.role == Role.reporter and actor.site_id == site.id)


def _rows(session: Session, entries: Select, now: datetime) -> list[BoardRow]:
    """The board's rows for a select of entries, with each one's dose, person, lot, vaccine
    and report number joined in one query.

    Joined, not looked up by ``IN`` over the entries' ids: a busy site's board can hold more
    rows than a statement can carry bind parameters (65,535 on PostgreSQL, 32,766 on
    SQLite), and the select keeps its own order."""
    stmt = (
        entries.add_columns(Dose, Person, Lot, Vaccine, Report.number)
        .join(Dose, Dose.id == ObservationEntry.dose_id)
        .join(Person, Person.id == Dose.person_id)
        .join(Lot, Lot.id == Dose.lot_id)
        .join(Vaccine, Vaccine.id == Lot.vaccine_id)
        .outerjoin(Report, Report.id == ObservationEntry.report_id)
    )
    out = []
    for e, dose, person, lot, vaccine, report_number in session.execute(stmt):
        out.append(
            BoardRow(
                entry=e,
                name=mask_name(person.name),
                vaccine=vaccine,
                lot_number=lot.lot_number,
                dose_number=dose.dose_number,
                administered_at=dose.administered_at,
                state=rules.row_state(
                    checked_in_at=e.checked_in_at,
                    due=e.due_at,
                    now=now,
                    released_at=e.released_at,
                    left_early_at=e.left_early_at,
                ),
                report_number=(report_number or "") if e.report_id else "",
            )
        )
    return out


def board(session: Session, actor: Actor, site_id: int | None = None) -> Board:
    """The site's board now: new doses enter, every open row with its countdown."""
    site = _site_of_board(session, actor, site_id)
    settings = get_settings()
    if sync_sites(session, [site.id]):
        session.commit()
    now = clock.now()
    day = rules.local_day(now, settings.timezone)
    start, end = rules.local_day_bounds(day, settings.timezone)
    open_entries = (
        select(ObservationEntry)
        .where(
            ObservationEntry.site_id == site.id,
            col(ObservationEntry.released_at).is_(None),
            col(ObservationEntry.left_early_at).is_(None),
        )
        .order_by(ObservationEntry.due_at, ObservationEntry.id)
    )
    closed = (
        select(ObservationEntry)
        .where(
            ObservationEntry.site_id == site.id,
            or_(
                and_(
                    col(ObservationEntry.released_at) >= start,
                    col(ObservationEntry.released_at) < end,
                ),
                and_(
                    col(ObservationEntry.left_early_at) >= start,
                    col(ObservationEntry.left_early_at) < end,
                ),
            ),
        )
        .order_by(col(ObservationEntry.id).desc())
    )
    rows = _rows(session, open_entries, now)
    # Ready rows first: they are the ones waiting for the physician.
    rows.sort(key=lambda r: (r.state.state != "ready", r.entry.due_at, r.entry.id))
    return Board(
        site=site,
        now=now,
        day=day,
        rows=rows,
        closed_today=_rows(session, closed, now),
        counts=counts_for_day(session, [site.id], day).get(site.id, DayCounts()),
        can_act=_can_act(actor, site),
        refresh_s=settings.observation_refresh_s,
    )


def overview(session: Session, actor: Actor) -> list[SiteLine]:
    """Every site's observation area at a glance, for the county roles."""
    require_role(actor, Role.investigator, Role.bureau, Role.admin)
    settings = get_settings()
    sites = registry_access.sites_of_county(session, actor.county_id)
    ids = [s.id for s in sites]
    if sync_sites(session, ids):
        session.commit()
    now = clock.now()
    day = rules.local_day(now, settings.timezone)
    open_rows = session.exec(
        select(
            ObservationEntry.site_id,
            func.count(),
            func.sum(case((col(ObservationEntry.due_at) <= now, 1), else_=0)),
        )
        .where(
            col(ObservationEntry.site_id).in_(ids),
            col(ObservationEntry.released_at).is_(None),
            col(ObservationEntry.left_early_at).is_(None),
        )
        .group_by(ObservationEntry.site_id)
    ).all()
    opened = {sid: (n, int(ready or 0)) for sid, n, ready in open_rows}
    counts = counts_for_day(session, ids, day)
    return [SiteLine(s, *opened.get(s.id, (0, 0)), counts.get(s.id, DayCounts())) for s in sites]


def counts_for_day(session: Session, site_ids: list[int], day: date) -> dict[int, DayCounts]:
    """Observed (checked in), released, left early and reactions filed during observation
    on one local day, per site. The daily report pre-fills its numbers from this."""
    if not site_ids:
        return {}
    start, end = rules.local_day_bounds(day, get_settings().timezone)

    def within(column):
        return and_(col(column) >= start, col(column) < end)

    def tally(column):
        return func.sum(case((within(column), 1), else_=0))

    E = ObservationEntry
    rows = session.exec(
        select(
            E.site_id,
            tally(E.checked_in_at),
            tally(E.released_at),
            tally(E.left_early_at),
            tally(E.reaction_at),
        )
        .where(col(E.site_id).in_(site_ids))
        .where(
            or_(
                within(E.checked_in_at),
                within(E.released_at),
                within(E.left_early_at),
                within(E.reaction_at),
            )
        )
        .group_by(E.site_id)
    ).all()
    return {
        sid: DayCounts(int(o or 0), int(r or 0), int(le or 0), int(x or 0))
        for sid, o, r, le, x in rows
    }


# --- actions -------------------------------------------------------------------------------


def _entry_for_action(session: Session, actor: Actor, entry_id: int) -> ObservationEntry:
    require_role(actor, *KEEPERS)
    entry = session.get(ObservationEntry, entry_id)
    if entry is None or entry.county_id != actor.county_id:
        raise NotFound("Not found.")
    if actor.role == Role.reporter and entry.site_id != actor.site_id:
        raise NotFound("Not found.")
    if not entry.is_open:
        raise Conflict("This vaccinee has already left the observation area.")
    return entry


def _close(
    session: Session, actor: Actor, entry: ObservationEntry, how: str, note: str = ""
) -> ObservationEntry:
    before = audit.snapshot(entry)
    now = clock.now()
    if how == "release":
        entry.released_at = now
    else:
        entry.left_early_at = now
        entry.note = note.strip()[:500]
    entry.closed_by_id = actor.user_id
    entry.closed_by_name = actor.name
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor,
        how,
        "observation_entry",
        entry.id,
        changes=audit.diff(before, audit.snapshot(entry)),
        summary=f"dose {entry.dose_id}",
    )
    return entry


def release(session: Session, actor: Actor, entry_id: int) -> ObservationEntry:
    """The physician lets the vaccinee go (also before the time is over: their call)."""
    entry = _close(session, actor, _entry_for_action(session, actor, entry_id), "release")
    session.commit()
    return entry


def left_early(session: Session, actor: Actor, entry_id: int, note: str = "") -> ObservationEntry:
    """The vaccinee left before being released: kept on record and counted."""
    entry = _close(session, actor, _entry_for_action(session, actor, entry_id), "left_early", note)
    session.commit()
    return entry


def release_ready(session: Session, actor: Actor, site_id: int | None = None) -> int:
    """Release every row whose time is over, each audited on its own."""
    require_role(actor, *KEEPERS)
    site = _site_of_board(session, actor, site_id)
    now = clock.now()
    entries = session.exec(
        select(ObservationEntry).where(
            ObservationEntry.site_id == site.id,
            col(ObservationEntry.released_at).is_(None),
            col(ObservationEntry.left_early_at).is_(None),
            col(ObservationEntry.due_at) <= now,
        )
    ).all()
    for entry in entries:
        _close(session, actor, entry, "release")
    session.commit()
    return len(entries)


def check_in_candidates(session: Session, actor: Actor, q: str) -> list[tuple]:
    """Doses found by name, ID number or phone, each with whether it is on a board already."""
    require_role(actor, *KEEPERS)
    found = registry_doses.find_doses(session, actor, q=q, limit=20)
    ids = [r.dose.id for r in found]
    seen = (
        set(
            session.exec(
                select(ObservationEntry.dose_id).where(col(ObservationEntry.dose_id).in_(ids))
            )
        )
        if ids
        else set()
    )
    return [(r, r.dose.id in seen, mask_name(r.person.name)) for r in found]


def check_in(session: Session, actor: Actor, dose_id: int) -> ObservationEntry:
    """Check a vaccinee in by hand (a dose not on the board: recorded late, or older than
    the board looks back). The observation time runs from now."""
    require_role(actor, *KEEPERS)
    row = registry_doses.get_doses(session, actor, [dose_id])[0]
    if actor.role == Role.reporter and row.site.id != actor.site_id:
        raise NotFound("No dose with id {ids}.", ids=str(dose_id))
    earlier = session.exec(
        select(ObservationEntry).where(ObservationEntry.dose_id == dose_id)
    ).first()
    if earlier is not None:
        raise Conflict("This dose is on the observation board already.")
    settings = get_settings()
    now = clock.now()
    minutes = rules.observation_minutes(
        row.vaccine.observation_minutes, settings.observation_default_minutes
    )
    entry = ObservationEntry(
        county_id=row.site.county_id,
        site_id=row.site.id,
        dose_id=dose_id,
        person_id=row.person.id,
        vaccine_id=row.vaccine.id,
        source=EntrySource.hand,
        checked_in_at=now,
        due_at=rules.due_at(now, minutes),
        minutes=minutes,
        checked_in_by_id=actor.user_id,
        checked_in_by_name=actor.name,
    )
    session.add(entry)
    session.flush()
    audit.record(
        session,
        actor,
        "check_in",
        "observation_entry",
        entry.id,
        changes=audit.snapshot(entry),
        summary=f"dose {dose_id}",
    )
    session.commit()
    return entry


def entries_of_person(session: Session, actor: Actor, person_id: int) -> list[ObservationEntry]:
    """The person's observation entries in the actor's scope (the person page lists them)."""
    require_role(actor, *WATCHERS)
    stmt = select(ObservationEntry).where(
        ObservationEntry.person_id == person_id, ObservationEntry.county_id == actor.county_id
    )
    if actor.role == Role.reporter:
        stmt = stmt.where(ObservationEntry.site_id == actor.site_id)
    return list(session.exec(stmt.order_by(col(ObservationEntry.checked_in_at).desc())))


# --- what follows a report -------------------------------------------------------------------


def note_reaction(session: Session, report: Report) -> int:
    """A report filed on a dose whose vaccinee is still under observation marks the row:
    "reactions filed during observation" counts it. Called inside the filing transaction."""
    dose_ids = [
        d
        for d in session.exec(
            select(ReportDose.dose_id).where(
                ReportDose.report_id == report.id, col(ReportDose.dose_id).is_not(None)
            )
        )
    ]
    if not dose_ids:
        return 0
    sync_sites(session, [report.site_id])  # a dose recorded seconds ago may not be seen yet
    entries = session.exec(
        select(ObservationEntry).where(
            col(ObservationEntry.dose_id).in_(dose_ids),
            col(ObservationEntry.report_id).is_(None),
            col(ObservationEntry.released_at).is_(None),
            col(ObservationEntry.left_early_at).is_(None),
        )
    ).all()
    for entry in entries:
        entry.report_id = report.id
        entry.reaction_at = report.reported_at
        session.add(entry)
    if entries:
        session.flush()
    return len(entries)
