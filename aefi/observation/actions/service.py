"""The physician's actions on the observation board (留观): check-in, release, early
departure, closing a reported child's row by decision, releasing all who are ready. The
board itself (what it shows, and how doses become entries) is ``observation.service``."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from aefi import audit, clock
from aefi.auth.models import Role
from aefi.auth.permissions import Actor, mask_name, require_role
from aefi.errors import Conflict, Invalid, NotFound
from aefi.observation import board as rules
from aefi.observation import service as board
from aefi.observation.models import EntrySource, ObservationEntry
from aefi.registry.doses import service as registry_doses
from aefi.registry.models import Site
from aefi.settings import get_settings


def _entry_for_action(session: Session, actor: Actor, entry_id: int) -> ObservationEntry:
    require_role(actor, *board.KEEPERS)
    entry = session.get(ObservationEntry, entry_id)
    if entry is None or entry.county_id != actor.county_id:
        raise NotFound("Not found.")
    if actor.role == Role.reporter and entry.site_id != actor.site_id:
        raise NotFound("Not found.")
    if not entry.is_open:
        raise Conflict("This vaccinee has already left the observation area.")
    # A row the referral closes may have arrived at the hospital since the board was drawn.
    if board.close_handed_over(session, [entry.site_id]):
        session.commit()
        session.refresh(entry)
        if not entry.is_open:
            raise Conflict("This vaccinee has already left the observation area.")
    return entry


def _row_of(session: Session, entry: ObservationEntry) -> board.BoardRow:
    """The entry as the board shows it now (its report and referral looked up)."""
    return board.rows_where(
        session, select(ObservationEntry).where(ObservationEntry.id == entry.id), clock.now()
    )[0]


def _close(
    session: Session,
    actor: Actor,
    entry: ObservationEntry,
    how: str,
    note: str = "",
    *,
    summary: str = "",
) -> ObservationEntry:
    before = audit.snapshot(entry)
    now = clock.now()
    if how == "release":
        entry.released_at = now
    elif how == "close_by_decision":
        entry.released_at = now
        entry.decision_reason = note.strip()[:500]
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
        summary=summary or f"dose {entry.dose_id}",
    )
    return entry


def release(session: Session, actor: Actor, entry_id: int) -> ObservationEntry:
    """The physician lets the vaccinee go (also before the time is over: their call) —
    not a vaccinee with a report: the referral, or the physician's decision with a
    reason (``close_by_decision``), closes that row."""
    entry = _entry_for_action(session, actor, entry_id)
    row = _row_of(session, entry)
    if not row.state.releasable:
        raise Conflict(
            "Report {number} was filed for this vaccinee: they cannot be released as ready."
            " Close the row with your decision and a reason.",
            number=row.report_number,
        )
    entry = _close(session, actor, entry, "release")
    session.commit()
    return entry


def left_early(session: Session, actor: Actor, entry_id: int, note: str = "") -> ObservationEntry:
    """The vaccinee left before being released: kept on record and counted. A referred
    child did not "leave early": the referral or the physician's decision closes the row."""
    entry = _entry_for_action(session, actor, entry_id)
    if _row_of(session, entry).state.state == "referred":
        raise Conflict(
            "This vaccinee is referred to hospital: the referral closes the row when the"
            " hospital records the arrival, or close it with your decision and a reason."
        )
    entry = _close(session, actor, entry, "left_early", note)
    session.commit()
    return entry


def close_by_decision(
    session: Session, actor: Actor, entry_id: int, reason: str
) -> ObservationEntry:
    """The physician closes the row of a vaccinee with a report (or a referral) by an
    explicit decision: the reason is kept on the row and in the audit trail."""
    entry = _entry_for_action(session, actor, entry_id)
    row = _row_of(session, entry)
    if not row.has_report:
        raise Conflict("No report was filed for this vaccinee: release them instead.")
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(
            "Give the reason for your decision (for example: recovered on site, handed to"
            " the ambulance).",
            fields={"reason": "Give the reason for your decision."},
        )
    if len(reason) > 500:
        raise Invalid(
            "The reason is too long: at most 500 characters.",
            fields={"reason": "At most 500 characters."},
        )
    entry = _close(
        session,
        actor,
        entry,
        "close_by_decision",
        reason,
        summary=f"dose {entry.dose_id}, report {row.report_number}",
    )
    session.commit()
    return entry


def entry_row(session: Session, actor: Actor, entry_id: int) -> board.BoardRow:
    """One open row, for the page where the physician records the decision."""
    entry = _entry_for_action(session, actor, entry_id)
    site = session.get(Site, entry.site_id)
    return board.rows_where(
        session,
        select(ObservationEntry).where(ObservationEntry.id == entry.id),
        clock.now(),
        full_names=board.sees_names(actor, site),
    )[0]


def release_ready(session: Session, actor: Actor, site_id: int | None = None) -> int:
    """Release every row whose time is over and whose vaccinee has no report (a reported
    or referred child is never released as "ready"), each audited on its own."""
    require_role(actor, *board.KEEPERS)
    site = board.site_of_board(session, actor, site_id)
    now = clock.now()
    stmt = board.open_entries_of([site.id]).where(
        col(ObservationEntry.due_at) <= now, board.report_of_entry().is_(None)
    )
    rows = [r for r in board.rows_where(session, stmt, now) if r.state.state == "ready"]
    for row in rows:
        _close(session, actor, row.entry, "release")
    session.commit()
    return len(rows)


def _today(session: Session) -> tuple[datetime, datetime]:
    """[start, end) of today where the county is (aefi/clock.py)."""
    start = clock.local_start_of(clock.local_today())
    return start, start + timedelta(days=1)


def check_in_candidates(session: Session, actor: Actor, q: str) -> list[tuple]:
    """Today's doses (the county's local day) found by name, ID number or phone, each with
    whether it is on a board already: a dose of another day is not in observation now."""
    require_role(actor, *board.KEEPERS)
    start, end = _today(session)
    found = [
        r
        for r in registry_doses.find_doses(session, actor, q=q, limit=50)
        if start <= r.dose.administered_at < end
    ][:20]
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
    names = actor.role == Role.reporter
    return [
        (r, r.dose.id in seen, r.person.name if names else mask_name(r.person.name)) for r in found
    ]


def check_in(session: Session, actor: Actor, dose_id: int) -> ObservationEntry:
    """Check a vaccinee in by hand (a dose not on the board: recorded late, or older than
    the board looks back). The observation time runs from now."""
    require_role(actor, *board.KEEPERS)
    row = registry_doses.get_doses(session, actor, [dose_id])[0]
    if actor.role == Role.reporter and row.site.id != actor.site_id:
        raise NotFound("No dose with id {ids}.", ids=str(dose_id))
    start, end = _today(session)
    if not start <= row.dose.administered_at < end:
        raise Conflict(
            "Only today's doses can be checked in: this dose was given on {day}.",
            day=clock.to_local(row.dose.administered_at).date().isoformat(),
        )
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
    require_role(actor, *board.WATCHERS)
    stmt = select(ObservationEntry).where(
        ObservationEntry.person_id == person_id, ObservationEntry.county_id == actor.county_id
    )
    if actor.role == Role.reporter:
        stmt = stmt.where(ObservationEntry.site_id == actor.site_id)
    return list(session.exec(stmt.order_by(col(ObservationEntry.checked_in_at).desc())))
