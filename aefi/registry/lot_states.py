"""The one home of the states that stop a lot, a vaccine product or a site being used.

Nobody edits a lot's status through the registry. It changes only through the decisions
that own it, each a function here, each audited naming the decision:

* :func:`hold_lot` / :func:`release_hold` — a signal's provisional hold, per county;
* :func:`apply_halt` / :func:`lift_halt` — a halt decision of a county's bureau (for that
  county's sites) or of the province (for the sites of every county below it);
* :func:`recall_lot` — a recall (the lot is withdrawn everywhere);
* :func:`expire_lot` / :func:`expire_due_lots` — the expiry date passed.

Lots and vaccine products are shared reference data (a manufacturer's lot number is the
same in every county); what stops their use is per county. The state in force for a dose
is the one of the dose's site's county (:func:`state_for_county`, :func:`refuse_if_halted`).

``Lot.status`` / ``Vaccine.halted`` keep a summary over all counties (recalled > halted >
held > expired > active) for the lists that are not about one county; they are written
only by :func:`refresh`, never by a form.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from aefi import audit, clock
from aefi.auth.permissions import Actor, every_county, require_county, require_system
from aefi.errors import Conflict
from aefi.events import LotHeld, publish
from aefi.registry.models import Lot, LotHold, LotStatus, Region, Site, Vaccine

# The one list of the statuses under which a lot may not be used: new doses of it are
# refused (refuse_if_halted), and forms, lists, the report card and the home page flag it.
# An expired lot is shown as expired; its doses are not refused here.
UNUSABLE: frozenset[str] = frozenset(
    {LotStatus.held.value, LotStatus.halted.value, LotStatus.recalled.value}
)
# Fields only these functions write; a registry form or API body naming one is refused.
PROTECTED = {
    "lots": ("status", "status_note"),
    "vaccines": ("halted", "halt_note"),
    "sites": ("halted", "halt_note", "county_id"),
    "hospitals": ("county_id",),
}


def is_unusable(status: str) -> bool:
    """A status (``Lot.status`` or a county's :class:`State`) that stops the lot's use."""
    return status in UNUSABLE


def is_usable(lot: Lot) -> bool:
    """The lot's summary over all counties lets it be used (see :func:`state_for_county`
    for the state at one county's sites)."""
    return not is_unusable(lot.status)


@dataclass(frozen=True)
class State:
    status: str  # a LotStatus value
    note: str

    @property
    def usable(self) -> bool:
        return not is_unusable(self.status)


def authorities(session: Session, county_id: int) -> list[int]:
    """The regions whose halt decisions apply in a county: the county and its province."""
    region = session.get(Region, county_id)
    out = [county_id]
    if region is not None and region.parent_id is not None:
        out.append(region.parent_id)
    return out


def counties_governed(session: Session, region_id: int) -> list[int]:
    """The counties a decision of this region applies to: itself, or those below a province."""
    region = session.get(Region, region_id)
    if region is not None and region.level == "province":
        return [
            int(i)
            for i in session.exec(
                select(Region.id).where(Region.parent_id == region_id, Region.level == "county")
            )
        ]
    return [region_id]


def _halts_in_force(session: Session, scope: str, target_id: int, county_id: int | None):
    from aefi.signals.models import HaltDecision

    stmt = select(HaltDecision).where(
        HaltDecision.scope == scope,
        HaltDecision.target_id == target_id,
        col(HaltDecision.applied_at).is_not(None),
        col(HaltDecision.lifted_at).is_(None),
    )
    if county_id is not None:
        stmt = stmt.where(col(HaltDecision.county_id).in_(authorities(session, county_id)))
    return list(session.exec(stmt.order_by(HaltDecision.id)))


def _halt_note(halt) -> str:
    return f"{halt.number}：{halt.reason}"[:500]


def state_for_county(session: Session, lot: Lot, county_id: int) -> State:
    """The lot's state at the sites of this county."""
    if lot.status == LotStatus.recalled:
        return State(LotStatus.recalled.value, lot.status_note)
    halts = _halts_in_force(session, "lot", lot.id, county_id)
    if halts:
        return State(LotStatus.halted.value, _halt_note(halts[0]))
    hold = session.get(LotHold, (lot.id, county_id))
    if hold is not None:
        return State(LotStatus.held.value, hold.note)
    if _is_expired(lot):
        return State(LotStatus.expired.value, lot.status_note)
    return State(LotStatus.active.value, "")


def state_for_actor(session: Session, actor: Actor, lot: Lot) -> State:
    """What a lot's page or the API shows: the state in the actor's county (the summary
    for a province user, who sees every county)."""
    if len(actor.county_ids) == 1 and actor.county_id in actor.county_ids:
        return state_for_county(session, lot, actor.county_id)
    return State(lot.status, lot.status_note)


def vaccine_halt_for_county(session: Session, vaccine: Vaccine, county_id: int) -> str | None:
    """The note of the vaccine product's halt in force in this county, or None."""
    halts = _halts_in_force(session, "vaccine", vaccine.id, county_id)
    return _halt_note(halts[0]) if halts else None


def refuse_if_halted(session: Session, lot: Lot, site: Site) -> None:
    """New doses of a lot held, halted or recalled in the site's county, of a product halted
    there, or at a halted site are refused."""
    state = state_for_county(session, lot, site.county_id)
    if not state.usable:
        raise Conflict(
            "Lot {lot} is {status}: {note}. Do not use it; set the stock aside.",
            lot=lot.lot_number,
            status=state.status,
            note=state.note or "-",
        )
    vaccine = session.get(Vaccine, lot.vaccine_id)
    if vaccine is not None:
        note = vaccine_halt_for_county(session, vaccine, site.county_id)
        if note is not None:
            raise Conflict("Vaccine {v} is halted: {note}.", v=vaccine.code, note=note or "-")
    if site.halted:
        raise Conflict(
            "Vaccinations at {site} are halted: {note}.", site=site.name, note=site.halt_note or "-"
        )


def blocked_lots(session: Session, county_id: int) -> dict[int, State]:
    """Lot id → state, for every lot not usable in this county (held, halted, recalled):
    what a bulk reader (the dose import) checks rows against without one query a row."""
    from aefi.signals.models import HaltDecision

    out: dict[int, State] = {}
    for lot in session.exec(select(Lot).where(Lot.status == LotStatus.recalled)):
        out[lot.id] = State(LotStatus.recalled.value, lot.status_note)
    for hold in session.exec(select(LotHold).where(LotHold.county_id == county_id)):
        out.setdefault(hold.lot_id, State(LotStatus.held.value, hold.note))
    for halt in session.exec(
        select(HaltDecision).where(
            HaltDecision.scope == "lot",
            col(HaltDecision.county_id).in_(authorities(session, county_id)),
            col(HaltDecision.applied_at).is_not(None),
            col(HaltDecision.lifted_at).is_(None),
        )
    ):
        if out.get(halt.target_id, State("", "")).status != LotStatus.recalled:
            out[halt.target_id] = State(LotStatus.halted.value, _halt_note(halt))
    return out


# --- the summary over all counties ---------------------------------------------------------


def _is_expired(lot: Lot) -> bool:
    # Expiry dates are calendar days where the county is, not in UTC.
    return lot.expiry_on is not None and lot.expiry_on < clock.local_today()


def _summary(session: Session, lot: Lot) -> State:
    if lot.status == LotStatus.recalled:
        return State(lot.status, lot.status_note)
    halts = _halts_in_force(session, "lot", lot.id, None)
    if halts:
        return State(LotStatus.halted.value, _halt_note(halts[0]))
    hold = session.exec(select(LotHold).where(LotHold.lot_id == lot.id).limit(1)).first()
    if hold is not None:
        return State(LotStatus.held.value, hold.note)
    if _is_expired(lot):
        return State(LotStatus.expired.value, "")
    return State(LotStatus.active.value, "")


def refresh(
    session: Session,
    actor: Actor,
    lot: Lot,
    cause: str,
    *,
    note: str | None = None,
    county_id: int | None = None,
    quiet_if_unchanged: bool = False,
) -> Lot:
    """Write the lot's summary status; audit it naming the decision that caused it (a
    decision is audited even when the summary stays the same: another county's state
    changed)."""
    session.flush()
    state = _summary(session, lot)
    new_note = note if note is not None and state.usable else state.note
    before = {"status": lot.status, "status_note": lot.status_note}
    after = {"status": state.status, "status_note": (new_note or "")[:500]}
    if before == after and quiet_if_unchanged:
        return lot
    if before != after:
        lot.status, lot.status_note = after["status"], after["status_note"]
        session.add(lot)
        session.flush()
    audit.record(
        session,
        actor,
        "status",
        "lot",
        lot.id,
        changes=audit.diff(before, after),
        summary=f"{lot.lot_number}: {cause}"[:500],
        county_id=county_id,
    )
    return lot


def _refresh_halted(
    session: Session,
    actor: Actor,
    obj: Vaccine | Site,
    cause: str,
    county_id: int | None,
) -> None:
    """A product's or a site's ``halted`` flag follows the halt decisions in force (a
    product's across every county, a site's in its own)."""
    scope = "vaccine" if isinstance(obj, Vaccine) else "site"
    halts = _halts_in_force(session, scope, obj.id, obj.county_id if scope == "site" else None)
    before = {"halted": obj.halted, "halt_note": obj.halt_note}
    after = {"halted": bool(halts), "halt_note": _halt_note(halts[0]) if halts else ""}
    obj.halted, obj.halt_note = after["halted"], after["halt_note"]
    session.add(obj)
    audit.record(
        session,
        actor,
        "status",
        scope,
        obj.id,
        changes=audit.diff(before, after),
        summary=cause[:500],
        county_id=county_id,
    )


# --- the decisions -------------------------------------------------------------------------


def hold_lot(
    session: Session,
    actor: Actor,
    lot: Lot,
    county_id: int,
    *,
    signal_id: int | None,
    note: str,
) -> bool:
    """A signal holds the lot in one county (unless it is already held, halted or recalled
    there), then publishes ``LotHeld`` (the county's sites are told, ``aefi/flow.py``). True
    when a hold was put. A system duty: the system actor of that county."""
    require_system(actor, county_id)
    if not state_for_county(session, lot, county_id).usable:
        return False
    session.add(LotHold(lot_id=lot.id, county_id=county_id, signal_id=signal_id, note=note[:500]))
    refresh(session, actor, lot, f"hold (signal #{signal_id})", county_id=county_id)
    publish(session, actor, LotHeld(lot_id=lot.id, county_id=county_id, signal_id=signal_id))
    return True


def release_hold(session: Session, actor: Actor, lot: Lot, county_id: int, *, note: str) -> None:
    """The bureau ends its county's hold (the signal was dismissed)."""
    hold = session.get(LotHold, (lot.id, county_id))
    if hold is None:
        raise Conflict("The lot is not on hold.")
    if _halts_in_force(session, "lot", lot.id, county_id):
        raise Conflict("The lot is halted by a decision; lift the decision instead.")
    session.delete(hold)
    refresh(session, actor, lot, f"hold released: {note}", note=note, county_id=county_id)


def _target(session: Session, halt):
    model = {"lot": Lot, "vaccine": Vaccine, "site": Site}[halt.scope]
    return session.get(model, halt.target_id)


def apply_halt(session: Session, actor: Actor, halt) -> None:
    """A halt decision comes into force for the counties it governs. A halt settles the
    holds of the lot in those counties (the decision replaces the provisional hold)."""
    if actor.is_system:
        # The timer puts a decision dated ahead in force: only for counties it acts for.
        for county in counties_governed(session, halt.county_id):
            require_county(actor, county)
    obj = _target(session, halt)
    if halt.scope == "lot":
        halt.previous_status, halt.previous_note = obj.status, obj.status_note
    else:
        halt.previous_status = "halted" if obj.halted else ""
        halt.previous_note = obj.halt_note
    halt.applied_at = clock.now()
    session.add(halt)
    session.flush()
    cause = f"halt {halt.number}"
    if halt.scope == "lot":
        for county in counties_governed(session, halt.county_id):
            hold = session.get(LotHold, (obj.id, county))
            if hold is not None:
                session.delete(hold)
        refresh(session, actor, obj, cause, county_id=halt.county_id)
    else:
        _refresh_halted(session, actor, obj, cause, halt.county_id)


def lift_halt(session: Session, actor: Actor, halt) -> None:
    """The halt decision is lifted (``halt.lifted_at`` set by the caller): the target is
    usable again wherever no other decision in force still stops it."""
    obj = _target(session, halt)
    cause = f"lift {halt.lift_number} ({halt.number})"
    note = f"{halt.lift_number}：{halt.lift_reason}"[:500]
    session.flush()
    if halt.scope == "lot":
        refresh(session, actor, obj, cause, note=note, county_id=halt.county_id)
    else:
        _refresh_halted(session, actor, obj, cause, halt.county_id)


def recall_lot(session: Session, actor: Actor, lot: Lot, *, notice: str) -> Lot:
    """A recall (the manufacturer's or the regulator's notice): the lot is withdrawn in every
    county, for good."""
    if not notice.strip():
        from aefi.errors import Invalid
        from aefi.i18n import N_

        raise Invalid(
            "Some fields need correcting.", fields={"notice": N_("Name the recall notice.")}
        )
    before = {"status": lot.status, "status_note": lot.status_note}
    lot.status, lot.status_note = LotStatus.recalled.value, notice.strip()[:500]
    session.add(lot)
    session.flush()
    audit.record(
        session,
        actor,
        "status",
        "lot",
        lot.id,
        changes=audit.diff(before, {"status": lot.status, "status_note": lot.status_note}),
        summary=f"{lot.lot_number}: recall {notice.strip()}"[:500],
    )
    return lot


def expire_lot(session: Session, actor: Actor, lot: Lot) -> Lot:
    """The lot's expiry date passed (or was corrected): its summary follows the date."""
    return refresh(session, actor, lot, f"expiry date {lot.expiry_on}", quiet_if_unchanged=True)


def expire_due_lots(session: Session) -> int:
    """Lots whose expiry date has passed and that are still shown active (timer)."""
    due = list(
        session.exec(
            select(Lot).where(
                Lot.status == LotStatus.active,
                col(Lot.expiry_on).is_not(None),
                col(Lot.expiry_on) < clock.local_today(),
            )
        )
    )
    # Lots are shared by every county: the timer acts for them all.
    system = Actor.system(every_county(session), reason="timer: lot expiry")
    for lot in due:
        expire_lot(session, system, lot)
    session.commit()
    return len(due)


def halted_vaccines(session: Session, county_id: int) -> dict[int, str]:
    """Vaccine id → halt note, for every product halted in this county (bulk readers)."""
    from aefi.signals.models import HaltDecision

    return {
        halt.target_id: _halt_note(halt)
        for halt in session.exec(
            select(HaltDecision).where(
                HaltDecision.scope == "vaccine",
                col(HaltDecision.county_id).in_(authorities(session, county_id)),
                col(HaltDecision.applied_at).is_not(None),
                col(HaltDecision.lifted_at).is_(None),
            )
        )
    }
