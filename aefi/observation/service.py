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
from aefi.errors import NotFound
from aefi.intake.models import Report, ReportDose
from aefi.observation import board as rules
from aefi.observation.models import EntrySource, ObservationEntry
from aefi.referral.models import Referral
from aefi.registry import access as registry_access
from aefi.registry.models import Dose, Hospital, Lot, Person, Site, Vaccine
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


def sync_sites(
    session: Session, site_ids: list[int] | None = None, *, dose_ids: list[int] | None = None
) -> int:
    """Put every dose of the last hours (``observation_lookback_h``) that has no entry yet on
    its site's board (``dose_ids``: only these). Returns how many entries were made. No
    commit: the caller's."""
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
    if dose_ids is not None:
        stmt = stmt.where(col(Dose.id).in_(dose_ids))
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


# Rows that left the observation area today drawn on the board, latest first.
CLOSED_SHOWN = 10


@dataclass(frozen=True)
class BoardRow:
    entry: ObservationEntry
    # The full name for the site's physician (who stands with the vaccinees; the view is
    # audited), masked (mask_name) for everyone else: a queue list, not a record.
    name: str
    vaccine: Vaccine
    lot_number: str
    dose_number: int
    administered_at: datetime
    state: rules.RowState
    report_number: str = ""
    report_id: int | None = None
    sex: str = ""
    age_years: int | None = None
    age_months: int | None = None
    # The referral's live leg: its status, the hospital it asks, the hospital's phone.
    referral_id: int | None = None
    referral_status: str = ""
    hospital_name: str = ""
    hospital_name_en: str = ""
    hospital_phone: str = ""

    @property
    def report_link(self) -> str:
        return f"/reports/new?dose_id={self.entry.dose_id}"

    @property
    def has_report(self) -> bool:
        return self.report_id is not None


@dataclass(frozen=True)
class DayCounts:
    observed: int = 0
    released: int = 0
    left_early: int = 0
    reactions: int = 0
    handed_over: int = 0  # closed by the referral: the hospital has the child


@dataclass(frozen=True)
class Board:
    site: Site
    now: datetime
    day: date
    rows: list[BoardRow]  # open rows: observing first by time left, then ready
    closed_today: list[BoardRow]  # the latest CLOSED_SHOWN of them
    counts: DayCounts
    can_act: bool
    refresh_s: int
    full_names: bool = False
    closed_today_count: int = 0  # every row that left today

    @property
    def ready(self) -> int:
        """The rows "release all ready" would close: time over and no report."""
        return sum(1 for r in self.rows if r.state.state == "ready")


@dataclass(frozen=True)
class SiteLine:
    """One site on the county's overview of the observation areas."""

    site: Site
    open: int
    ready: int
    counts: DayCounts


def site_of_board(session: Session, actor: Actor, site_id: int | None) -> Site:
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


def sees_names(actor: Actor, site: Site) -> bool:
    """The site's physician sees the vaccinees' full names on the board: they stand with
    them and call them by name (every other role keeps the masked queue list)."""
    return actor.role == Role.reporter and actor.site_id == site.id


def report_of_entry():
    """The latest report of the row's vaccinee, as a correlated column: one linked to the
    row's dose, or filed for the same person since the row was checked in (a child given
    two vaccines has two rows; a reaction reported on one dose concerns both)."""
    E = ObservationEntry
    linked = (
        exists()
        .where(ReportDose.report_id == Report.id, ReportDose.dose_id == E.dose_id)
        .correlate(Report, E)
    )
    latest = (
        select(func.max(Report.id))
        .where(
            Report.person_id == E.person_id,
            or_(col(Report.reported_at) >= E.checked_in_at, linked),
        )
        .correlate(E)
        .scalar_subquery()
    )
    return func.coalesce(latest, E.report_id)


def _latest_referrals(session: Session, report_ids: set[int]) -> dict[int, Referral]:
    """Each report's live referral leg (the latest: a decline or re-route opens a new one)."""
    out: dict[int, Referral] = {}
    ids = sorted(report_ids)
    for i in range(0, len(ids), 1000):
        stmt = (
            select(Referral)
            .where(col(Referral.report_id).in_(ids[i : i + 1000]))
            .order_by(Referral.id)
        )
        for ref in session.exec(stmt):
            out[ref.report_id] = ref
    return out


def rows_where(
    session: Session, entries: Select, now: datetime, *, full_names: bool = False
) -> list[BoardRow]:
    """The board's rows for a select of entries, with each one's dose, person, lot, vaccine,
    report and live referral.

    Joined, not looked up by ``IN`` over the entries' ids: a busy site's board can hold more
    rows than a statement can carry bind parameters (65,535 on PostgreSQL, 32,766 on
    SQLite), and the select keeps its own order. Reports and referrals are few; they are
    looked up by id afterwards."""
    stmt = (
        entries.add_columns(Dose, Person, Lot, Vaccine, report_of_entry().label("rid"))
        .join(Dose, Dose.id == ObservationEntry.dose_id)
        .join(Person, Person.id == Dose.person_id)
        .join(Lot, Lot.id == Dose.lot_id)
        .join(Vaccine, Vaccine.id == Lot.vaccine_id)
    )
    fetched = list(session.execute(stmt))
    report_ids = {rid for *_, rid in fetched if rid is not None}
    numbers: dict[int, str] = {}
    if report_ids:
        stmt = select(Report.id, Report.number).where(col(Report.id).in_(report_ids))
        numbers = {rid: number for rid, number in session.exec(stmt).all()}
    referrals = _latest_referrals(session, report_ids) if report_ids else {}
    hospitals: dict[int, Hospital | None] = {}
    day = rules.local_day(now, get_settings().timezone)
    out = []
    for e, dose, person, lot, vaccine, rid in fetched:
        ref = referrals.get(rid) if rid is not None else None
        hosp = None
        if ref is not None:
            if ref.hospital_id not in hospitals:
                hospitals[ref.hospital_id] = session.get(Hospital, ref.hospital_id)
            hosp = hospitals[ref.hospital_id]
        status = ref.status if ref is not None else ""
        years, months = rules.age_of(rules.birth_on_of(person.birth_on, person.id_number), day)
        out.append(
            BoardRow(
                entry=e,
                name=person.name if full_names else mask_name(person.name),
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
                    handed_over_at=e.handed_over_at,
                    decided=bool(e.decision_reason),
                    reported=rid is not None,
                    referred=rules.referred(status),
                ),
                report_number=numbers.get(rid, "") if rid is not None else "",
                report_id=rid,
                sex=person.sex or "",
                age_years=years,
                age_months=months,
                referral_id=ref.id if ref is not None else None,
                referral_status=status,
                hospital_name=hosp.name if hosp else "",
                hospital_name_en=hosp.name_en if hosp else "",
                hospital_phone=hosp.phone if hosp else "",
            )
        )
    return out


def open_entries_of(site_ids: list[int]) -> Select:
    return select(ObservationEntry).where(
        col(ObservationEntry.site_id).in_(site_ids),
        col(ObservationEntry.released_at).is_(None),
        col(ObservationEntry.left_early_at).is_(None),
        col(ObservationEntry.handed_over_at).is_(None),
    )


def close_handed_over(session: Session, site_ids: list[int] | None = None) -> int:
    """Close the open rows whose referral reached the hospital (arrived, or any status
    after): the referral closes them, at the arrival time, audited as the system's duty.
    Returns how many were closed. No commit: the caller's."""
    if site_ids is None:
        site_ids = list(session.exec(select(Site.id)))
    if not site_ids:
        return 0
    now = clock.now()
    stmt = open_entries_of(site_ids).where(report_of_entry().is_not(None))
    closed = 0
    for row in rows_where(session, stmt, now):
        if not rules.handed_over(row.referral_status):
            continue
        entry = row.entry
        ref = session.get(Referral, row.referral_id)
        before = audit.snapshot(entry)
        entry.handed_over_at = ref.arrived_at or ref.admitted_at or now
        entry.referral_id = ref.id
        entry.closed_by_id = None
        entry.closed_by_name = ""
        session.add(entry)
        session.flush()
        audit.record(
            session,
            Actor.system(entry.county_id, reason="referral arrived"),
            "handed_over",
            "observation_entry",
            entry.id,
            changes=audit.diff(before, audit.snapshot(entry)),
            summary=f"dose {entry.dose_id}, referral {ref.id}",
        )
        closed += 1
    return closed


def _audit_names_seen(session: Session, actor: Actor, rows: list[BoardRow], site_id: int) -> int:
    """The site's physician saw these rows' full names: recorded as their work, one
    "view_identity" event per board view that showed new vaccinees, naming them (entry
    and person ids), filed under the newest entry. Entries up to the newest one recorded
    for this physician were on the board then, so a board refreshing every few seconds
    adds nothing; one event and fixed-size statements however busy the board is."""
    site_entries = select(ObservationEntry.id).where(ObservationEntry.site_id == site_id)
    last = session.exec(
        select(func.max(audit.AuditEvent.entity_id)).where(
            audit.AuditEvent.entity_type == "observation_entry",
            audit.AuditEvent.action == "view_identity",
            audit.AuditEvent.actor_id == actor.user_id,
            col(audit.AuditEvent.entity_id).in_(site_entries),
        )
    ).one()
    fresh = sorted(
        {r.entry.id: r for r in rows if last is None or r.entry.id > last}.values(),
        key=lambda r: r.entry.id,
    )
    if not fresh:
        return 0
    audit.record(
        session,
        actor,
        "view_identity",
        "observation_entry",
        fresh[-1].entry.id,
        changes={
            "entry_ids": [r.entry.id for r in fresh],
            "person_ids": [r.entry.person_id for r in fresh],
        },
        summary=f"observation board (site work): {len(fresh)}",
    )
    return len(fresh)


def refresh_sites(session: Session, site_ids: list[int] | None = None) -> int:
    """New doses on the boards, rows handed over by their referral closed: what the board,
    the overview and the background job do first. No commit: the caller's."""
    return sync_sites(session, site_ids) + close_handed_over(session, site_ids)


def board(session: Session, actor: Actor, site_id: int | None = None) -> Board:
    """The site's board now: new doses enter, every open row with its countdown."""
    site = site_of_board(session, actor, site_id)
    settings = get_settings()
    if refresh_sites(session, [site.id]):
        session.commit()
    now = clock.now()
    day = rules.local_day(now, settings.timezone)
    start, end = rules.local_day_bounds(day, settings.timezone)
    open_entries = open_entries_of([site.id]).order_by(ObservationEntry.due_at, ObservationEntry.id)
    left_today = (
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
            and_(
                col(ObservationEntry.handed_over_at) >= start,
                col(ObservationEntry.handed_over_at) < end,
            ),
        ),
    )
    # The latest few rows that left today, and how many left: a busy day's thousands of
    # closed rows are not drawn (nor loaded) on every refresh.
    closed = (
        select(ObservationEntry)
        .where(*left_today)
        .order_by(col(ObservationEntry.id).desc())
        .limit(CLOSED_SHOWN)
    )
    closed_count = session.exec(
        select(func.count()).select_from(ObservationEntry).where(*left_today)
    ).one()
    full_names = sees_names(actor, site)
    rows = rows_where(session, open_entries, now, full_names=full_names)
    # Referred and reported children first (they need the physician most), then the ready
    # rows (waiting to be released), then those still counting down.
    order = {"referred": 0, "reported": 1, "ready": 2}
    rows.sort(key=lambda r: (order.get(r.state.state, 3), r.entry.due_at, r.entry.id))
    closed_today = rows_where(session, closed, now, full_names=full_names)
    if full_names and _audit_names_seen(session, actor, rows + closed_today, site.id):
        session.commit()
    return Board(
        site=site,
        now=now,
        day=day,
        rows=rows,
        closed_today=closed_today,
        closed_today_count=closed_count,
        counts=counts_for_day(session, [site.id], day).get(site.id, DayCounts()),
        can_act=_can_act(actor, site),
        refresh_s=settings.observation_refresh_s,
        full_names=full_names,
    )


def overview(session: Session, actor: Actor) -> list[SiteLine]:
    """Every site's observation area at a glance, for the county roles."""
    require_role(actor, Role.investigator, Role.bureau, Role.admin)
    settings = get_settings()
    sites = registry_access.sites_of_county(session, actor.county_id)
    ids = [s.id for s in sites]
    if refresh_sites(session, ids):
        session.commit()
    now = clock.now()
    day = rules.local_day(now, settings.timezone)
    # "Ready" as the board counts it: time over and no report for the vaccinee.
    ready = and_(col(ObservationEntry.due_at) <= now, report_of_entry().is_(None))
    open_rows = session.exec(
        select(
            ObservationEntry.site_id,
            func.count(),
            func.sum(case((ready, 1), else_=0)),
        )
        .where(
            col(ObservationEntry.site_id).in_(ids),
            col(ObservationEntry.released_at).is_(None),
            col(ObservationEntry.left_early_at).is_(None),
            col(ObservationEntry.handed_over_at).is_(None),
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
            tally(E.handed_over_at),
        )
        .where(col(E.site_id).in_(site_ids))
        .where(
            or_(
                within(E.checked_in_at),
                within(E.released_at),
                within(E.left_early_at),
                within(E.reaction_at),
                within(E.handed_over_at),
            )
        )
        .group_by(E.site_id)
    ).all()
    return {
        sid: DayCounts(int(o or 0), int(r or 0), int(le or 0), int(x or 0), int(h or 0))
        for sid, o, r, le, x, h in rows
    }


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
    # A dose recorded seconds ago may not be on the board yet: its own entry, not the site's.
    sync_sites(session, [report.site_id], dose_ids=dose_ids)
    entries = session.exec(
        select(ObservationEntry).where(
            col(ObservationEntry.dose_id).in_(dose_ids),
            col(ObservationEntry.report_id).is_(None),
            col(ObservationEntry.released_at).is_(None),
            col(ObservationEntry.left_early_at).is_(None),
            col(ObservationEntry.handed_over_at).is_(None),
        )
    ).all()
    for entry in entries:
        entry.report_id = report.id
        entry.reaction_at = report.reported_at
        session.add(entry)
    if entries:
        session.flush()
    return len(entries)
