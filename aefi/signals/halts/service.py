"""Halt decisions (紧急叫停): issued by the bureau or the province, put in force at once or
when due, lifted by a later decision; the sites that hold the target are told."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from aefi import audit, clock, i18n
from aefi.auth.permissions import Actor, in_scope, require_role, scope_clause
from aefi.errors import Conflict, Forbidden, Invalid, NotFound
from aefi.events import HaltIssued, HaltLifted, publish
from aefi.i18n import N_
from aefi.intake.models import Report
from aefi.registry import access as registry_access
from aefi.registry import lot_states
from aefi.registry.models import Lot, Region, Site, Vaccine
from aefi.signals import access, expected, plain
from aefi.signals.models import (
    HaltCounter,
    HaltDecision,
    HaltScope,
    Signal,
    SignalStatus,
)
from aefi.signals.review import alerts as review_alerts
from aefi.signals.review.service import SignalRow, signal_rows


def _next_number(session: Session, county_id: int, year: int, kind: str) -> int:
    """Per county, year and kind, like the report numbers (UPDATE ... RETURNING)."""
    for _attempt in range(3):
        got = session.execute(
            update(HaltCounter)
            .where(
                HaltCounter.county_id == county_id,
                HaltCounter.year == year,
                HaltCounter.kind == kind,
            )
            .values(last=HaltCounter.last + 1)
            .returning(HaltCounter.last)
        ).first()
        if got is not None:
            return int(got[0])
        try:
            with session.begin_nested():
                session.add(HaltCounter(county_id=county_id, year=year, kind=kind, last=1))
            return 1
        except IntegrityError:
            continue
    raise Conflict("Could not number the decision; submit again.")  # pragma: no cover


def _resolve_target(session: Session, actor: Actor, scope: HaltScope, target: str):
    target = (target or "").strip()
    if not target:
        raise Invalid("Some fields need correcting.", fields={"target": N_("Name the target.")})
    try:
        if scope == HaltScope.lot:
            obj = registry_access.lot_by_number(session, actor, target)
            return obj, obj.lot_number
        if scope == HaltScope.vaccine:
            obj = registry_access.vaccine_by_code(session, target)
            return obj, obj.code
        obj = session.exec(
            select(Site).where(Site.code == target, scope_clause(Site.county_id, actor))
        ).first()
        if obj is None:
            raise NotFound("No vaccination site with code {code}.", code=target)
        return obj, obj.code
    except NotFound as exc:
        raise Invalid(exc.message, fields={"target": exc.message}, **exc.params) from None


def _active_halts_of(
    session: Session,
    scope: str,
    target_id: int,
    *,
    exclude: int | None = None,
    county_id: int | None = None,
) -> list[HaltDecision]:
    """Decisions not lifted on this target (of one county or province when given)."""
    stmt = select(HaltDecision).where(
        HaltDecision.scope == scope,
        HaltDecision.target_id == target_id,
        col(HaltDecision.lifted_at).is_(None),
    )
    if county_id is not None:
        stmt = stmt.where(HaltDecision.county_id == county_id)
    if exclude is not None:
        stmt = stmt.where(HaltDecision.id != exclude)
    return list(session.exec(stmt))


def _known_ids(
    session: Session, ids: list[int] | None, id_col, in_scope_clause, field: str, message: str
) -> list[int]:
    """The ids sorted, once each; Invalid naming those not found in the actor's scope."""
    wanted = sorted({int(i) for i in ids or []})
    if not wanted:
        return wanted
    found = set(session.exec(select(id_col).where(col(id_col).in_(wanted), in_scope_clause)))
    missing = ", ".join(str(i) for i in wanted if i not in found)
    if missing:
        raise Invalid(message, fields={field: missing}, ids=missing)
    return wanted


def issue_halt(
    session: Session,
    actor: Actor,
    *,
    scope: str,
    target: str,
    reason: str,
    signal_ids: list[int] | None = None,
    cluster_ids: list[int] | None = None,
    report_ids: list[int] | None = None,
    effective_at: datetime | None = None,
    confirmed: bool = False,
) -> HaltDecision:
    """The bureau halts a lot, a vaccine product or a site's vaccinations (紧急叫停) for its
    county's sites; the province for the sites of every county below it. A lot or product
    shared by several counties is halted by each on its own.

    Refused (``Invalid`` on the field ``confirm``, naming the lot and the sites) unless
    ``confirmed``: the person has seen :func:`halt_preview` and confirmed it. The open
    signals of the target's alert (its other event groups, and the vaccine and site signals
    of the same reports) are settled by the decision."""
    require_role(actor, *access.DECIDERS)
    errors: dict[str, str] = {}
    try:
        sc = HaltScope(scope)
    except ValueError:
        raise Invalid(
            "Some fields need correcting.", fields={"scope": N_("Pick lot, vaccine or site.")}
        ) from None
    if not reason.strip():
        errors["reason"] = N_("Give the reason for the halt.")
    if errors:
        raise Invalid("Some fields need correcting.", fields=errors)
    obj, label = _resolve_target(session, actor, sc, target)
    for other in _active_halts_of(session, sc, obj.id, county_id=actor.county_id):
        raise Conflict("{target} is halted already by {number}.", target=label, number=other.number)
    if not confirmed:
        preview = halt_preview(session, actor, sc.value, target)
        raise Invalid(
            "Confirm the halt of {target}: vaccination with it stops at {sites}. "
            "Submit it again with the confirmation.",
            fields={"confirm": N_("Confirm the halt.")},
            target=preview.target,
            sites=plain.sites(preview.reach.sites),
        )
    from aefi.triage.models import Cluster

    signal_ids = _known_ids(
        session,
        signal_ids,
        Signal.id,
        access.visible_signals(session, actor),
        "signal_ids",
        N_("No signal with id {ids}."),
    )
    report_ids = _known_ids(
        session,
        report_ids,
        Report.id,
        scope_clause(Report.county_id, actor),
        "report_ids",
        N_("No report with id {ids}."),
    )
    cluster_ids = _known_ids(
        session,
        cluster_ids,
        Cluster.id,
        scope_clause(Cluster.county_id, actor),
        "cluster_ids",
        N_("No cluster with id {ids}."),
    )
    now = clock.now()
    effective = effective_at or now
    year = effective.astimezone(clock.local_zone()).year
    seq = _next_number(session, actor.county_id, year, "halt")
    halt = HaltDecision(
        county_id=actor.county_id,
        number=f"叫停〔{year}〕{seq}号",
        year=year,
        seq=seq,
        scope=sc.value,
        target_id=obj.id,
        target_label=label,
        reason=reason.strip()[:2000],
        signal_ids=signal_ids,
        cluster_ids=cluster_ids,
        report_ids=report_ids,
        effective_at=effective,
        issued_at=now,
        issued_by_id=actor.user_id or None,
        issued_by_name=actor.name,
    )
    session.add(halt)
    session.flush()
    audit.record(
        session,
        actor,
        "halt",
        "halt_decision",
        halt.id,
        changes=audit.snapshot(halt),
        summary=f"{halt.number} {sc.value} {label}",
    )
    # The linked signals, and every open signal on the same target (its other event
    # groups), are settled by this decision.
    same_target = session.exec(
        select(Signal.id).where(
            access.visible_signals(session, actor),
            Signal.scope == sc.value,
            Signal.target_id == obj.id,
            col(Signal.status).in_([SignalStatus.new, SignalStatus.under_review]),
        )
    ).all()
    alert = review_alerts.alert_signal_ids(session, actor, sc.value, obj.id)
    for sid in sorted(set(signal_ids) | set(same_target) | set(alert)):
        sig = session.get(Signal, sid)
        if sig.status != SignalStatus.escalated:
            audit.record(
                session,
                actor,
                "status",
                "signal",
                sig.id,
                changes={"status": [sig.status, SignalStatus.escalated.value]},
                summary=halt.number,
            )
            sig.status = SignalStatus.escalated
            sig.status_note = halt.number
            sig.status_changed_at = now
            sig.details = {**(sig.details or {}), "observed_at_status": sig.observed}
            session.add(sig)
    if effective <= now:
        _apply_halt(session, actor, halt)
    session.commit()
    return halt


def _event_target(halt: HaltDecision) -> dict[str, int | None]:
    return {
        "lot_id": halt.target_id if halt.scope == HaltScope.lot else None,
        "vaccine_id": halt.target_id if halt.scope == HaltScope.vaccine else None,
        "site_id": halt.target_id if halt.scope == HaltScope.site else None,
    }


def _apply_halt(session: Session, actor: Actor, halt: HaltDecision) -> None:
    """Put the decision in force (``lot_states.apply_halt``, the safety of it: it fails with
    the decision), then publish ``HaltIssued`` (the sites are told, ``aefi/flow.py``)."""
    lot_states.apply_halt(session, actor, halt)
    publish(
        session,
        actor,
        HaltIssued(
            halt_id=halt.id,
            county_id=halt.county_id,
            county_ids=tuple(lot_states.counties_governed(session, halt.county_id)),
            scope=str(halt.scope),
            **_event_target(halt),
            number=halt.number,
            in_force_at=halt.applied_at,
        ),
    )


def apply_due_halts(session: Session) -> int:
    """Decisions dated ahead come into force when their time comes (background timer)."""
    due = list(
        session.exec(
            select(HaltDecision).where(
                col(HaltDecision.applied_at).is_(None),
                col(HaltDecision.lifted_at).is_(None),
                col(HaltDecision.effective_at) <= clock.now(),
            )
        )
    )
    for halt in due:
        counties = lot_states.counties_governed(session, halt.county_id)
        system = Actor.system(counties, reason=f"timer: {halt.number} in force")
        _apply_halt(session, system, halt)
    session.commit()
    return len(due)


def lift_halt(
    session: Session, actor: Actor, halt_id: int, reason: str, *, confirmed: bool = False
) -> HaltDecision:
    """A later decision lifts the halt: the registry goes back to active (unless another
    decision in force still holds it), the sites are told. Refused unless ``confirmed``
    (the person has seen :func:`lift_preview`)."""
    require_role(actor, *access.DECIDERS)
    halt = get_halt(session, actor, halt_id)
    if halt.county_id != actor.county_id:
        raise Forbidden("Only the authority that issued {number} can lift it.", number=halt.number)
    if halt.lifted_at is not None:
        raise Conflict("{number} was lifted already.", number=halt.number)
    if not reason.strip():
        raise Invalid(
            "Some fields need correcting.", fields={"reason": N_("Give the reason for lifting.")}
        )
    if not confirmed:
        preview = lift_preview(session, actor, halt)
        raise Invalid(
            "Confirm lifting {number} on {target}: it can be used again at {sites}. "
            "Submit it again with the confirmation.",
            fields={"confirm": N_("Confirm lifting the halt.")},
            number=halt.number,
            target=preview.target,
            sites=plain.sites(preview.reach.sites),
        )
    now = clock.now()
    year = now.astimezone(clock.local_zone()).year
    seq = _next_number(session, halt.county_id, year, "lift")
    halt.lift_number = f"解除叫停〔{year}〕{seq}号"
    halt.lifted_at = now
    halt.lifted_by_id = actor.user_id or None
    halt.lifted_by_name = actor.name
    halt.lift_reason = reason.strip()[:2000]
    session.add(halt)
    session.flush()
    if halt.applied_at is not None:
        lot_states.lift_halt(session, actor, halt)
    audit.record(
        session,
        actor,
        "lift",
        "halt_decision",
        halt.id,
        changes={"lift_number": halt.lift_number, "lift_reason": halt.lift_reason},
        summary=f"{halt.lift_number} ({halt.number})",
    )
    publish(
        session,
        actor,
        HaltLifted(
            halt_id=halt.id,
            county_id=halt.county_id,
            county_ids=tuple(lot_states.counties_governed(session, halt.county_id)),
            scope=str(halt.scope),
            **_event_target(halt),
            number=halt.number,
            lift_number=halt.lift_number,
            lifted_at=now,
            was_in_force=halt.applied_at is not None,
        ),
    )
    session.commit()
    return halt


@dataclass(frozen=True)
class Preview:
    """What a halt or its lifting touches, for the confirmation step: the target named
    (number and product), the sites in the actor's area that gave it, doses remaining."""

    scope: str
    target_id: int
    label: str  # lot number, vaccine code, site code
    target: str  # "lot X (product)" in the reader's language
    reach: review_alerts.Reach

    def halt_text(self) -> str:
        return i18n.gettext(
            "You are about to halt {target}. Vaccination with it stops at {sites}, which gave "
            "{doses} of it.",
            target=self.target,
            sites=plain.sites(self.reach.sites),
            doses=plain.doses(self.reach.doses_given),
        )

    def lift_text(self, number: str) -> str:
        return i18n.gettext(
            "You are about to lift {number}: {target} can be used again at {sites}.",
            number=number,
            target=self.target,
            sites=plain.sites(self.reach.sites),
        )

    def remaining_text(self) -> str:
        if self.reach.doses_remaining is None:
            return ""
        return i18n.gettext(
            "{doses} of the lot are not yet given.", doses=plain.doses(self.reach.doses_remaining)
        )


def _target_words(session: Session, scope: str, obj) -> str:
    if scope == HaltScope.lot:
        vac = session.get(Vaccine, obj.vaccine_id)
        return i18n.gettext(
            "lot {lot} ({product})",
            lot=obj.lot_number,
            product=i18n.pick(vac.name, vac.name_en) if vac else "",
        )
    if scope == HaltScope.vaccine:
        return i18n.gettext(
            "vaccine {vaccine} ({product})",
            vaccine=obj.code,
            product=i18n.pick(obj.name, obj.name_en),
        )
    return i18n.gettext("site {site}", site=f"{i18n.pick(obj.name, obj.name_en)} ({obj.code})")


def halt_preview(session: Session, actor: Actor, scope: str, target: str) -> Preview:
    """What halting this target would touch (the confirmation step names it)."""
    require_role(actor, *access.DECIDERS)
    try:
        sc = HaltScope(scope)
    except ValueError:
        raise Invalid(
            "Some fields need correcting.", fields={"scope": N_("Pick lot, vaccine or site.")}
        ) from None
    obj, label = _resolve_target(session, actor, sc, target)
    return Preview(
        sc.value,
        obj.id,
        label,
        _target_words(session, sc.value, obj),
        review_alerts.reach(session, actor, sc.value, obj.id),
    )


def lift_preview(session: Session, actor: Actor, halt: HaltDecision) -> Preview:
    """What lifting this decision would touch."""
    model = {HaltScope.lot: Lot, HaltScope.vaccine: Vaccine, HaltScope.site: Site}
    obj = session.get(model[HaltScope(halt.scope)], halt.target_id)
    return Preview(
        halt.scope,
        halt.target_id,
        halt.target_label,
        _target_words(session, halt.scope, obj),
        review_alerts.reach(session, actor, halt.scope, halt.target_id),
    )


def get_halt(session: Session, actor: Actor, halt_id: int) -> HaltDecision:
    require_role(actor, *access.HALT_READERS)
    halt = session.get(HaltDecision, halt_id)
    if halt is None or halt.county_id not in access.halt_authorities(session, actor):
        raise NotFound("Not found.")
    return halt


def list_halts(session: Session, actor: Actor, *, active: bool | None = None) -> list[HaltDecision]:
    """The decisions in force in the actor's counties (theirs and the province's), newest
    first; ``active`` True: not lifted."""
    require_role(actor, *access.HALT_READERS)
    stmt = select(HaltDecision).where(
        col(HaltDecision.county_id).in_(access.halt_authorities(session, actor))
    )
    if active is True:
        stmt = stmt.where(col(HaltDecision.lifted_at).is_(None))
    elif active is False:
        stmt = stmt.where(col(HaltDecision.lifted_at).is_not(None))
    return list(
        session.exec(stmt.order_by(col(HaltDecision.issued_at).desc(), col(HaltDecision.id).desc()))
    )


@dataclass(frozen=True)
class HaltView:
    """A decision with what it concerns, for its page and its notice."""

    halt: HaltDecision
    lot: Lot | None
    vaccine: Vaccine | None
    site: Site | None
    sites: list[Site]
    signals: list[SignalRow]
    reports: list[Report]
    county: Region
    lot_state: lot_states.State | None = None  # the lot as it stands in the reader's county


def halt_view(session: Session, actor: Actor, halt_id: int) -> HaltView:
    halt = get_halt(session, actor, halt_id)
    lot = session.get(Lot, halt.target_id) if halt.scope == HaltScope.lot else None
    vaccine = (
        session.get(Vaccine, lot.vaccine_id)
        if lot
        else (session.get(Vaccine, halt.target_id) if halt.scope == HaltScope.vaccine else None)
    )
    site = session.get(Site, halt.target_id) if halt.scope == HaltScope.site else None
    sigs = (
        list(session.exec(select(Signal).where(col(Signal.id).in_(halt.signal_ids))))
        if halt.signal_ids
        else []
    )
    reports = (
        list(session.exec(select(Report).where(col(Report.id).in_(halt.report_ids))))
        if halt.report_ids
        else []
    )
    governed = set(lot_states.counties_governed(session, halt.county_id))
    sites = [
        s
        for s in access.sites_holding(session, halt.scope, halt.target_id)
        if s.county_id in governed and in_scope(actor, s.county_id)
    ]
    return HaltView(
        halt,
        lot,
        vaccine,
        site,
        sites,
        signal_rows(session, sigs),
        reports,
        session.get(Region, halt.county_id),
        lot_states.state_for_actor(session, actor, lot) if lot else None,
    )


def halt_notice_pdf(session: Session, actor: Actor, halt_id: int) -> tuple[HaltDecision, bytes]:
    """The halt decision notice (叫停决定书) in the reader's language."""
    from aefi.pdf import render_pdf

    view = halt_view(session, actor, halt_id)
    pdf = render_pdf(
        "pdf/halt_notice.html",
        {
            "v": view,
            "group_label": lambda g: expected.group_label(g, i18n.get_locale()),
            "method_label": lambda m: i18n.gettext(
                {"maxsprt": N_("MaxSPRT"), "disproportionality": N_("Disproportionality")}.get(m, m)
            ),
            "_": i18n.gettext,
            "pick": i18n.pick,
        },
    )
    return view.halt, pdf
