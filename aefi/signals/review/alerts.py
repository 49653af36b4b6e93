"""Alerts for the bureau: a target's signals as one alert (``aefi.signals.alerts`` groups
and ranks them), what it saw in plain words, the reports it counts, the sites and doses a
decision would touch, and the banner that asks the target's current state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from aefi import i18n
from aefi.auth.permissions import Actor, in_scope, require_role, scope_clause
from aefi.intake import symptoms
from aefi.intake.models import Report
from aefi.registry import lot_states
from aefi.registry.models import Dose, Lot
from aefi.signals import access, alerts, counts, expected, plain
from aefi.signals.models import (
    HaltDecision,
    Signal,
    SignalLevel,
    SignalMethod,
    SignalScope,
    SignalStatus,
)
from aefi.signals.review.service import SignalFilter, SignalRow, filtered, get_signal, signal_rows

OPEN = (SignalStatus.new, SignalStatus.under_review)
# An overview reads at most this many signals to group them (a county has tens).
MAX_SIGNALS = 5000

Alert = alerts.Alert[SignalRow]


def _report_ids(session: Session, s: Signal) -> frozenset[int]:
    if s.method != SignalMethod.maxsprt:
        return frozenset()
    return frozenset(
        r for r, _t in counts.observed_reports(session, s.scope, s.target_id, s.event_group)
    )


def joins_of(session: Session, rows: list[SignalRow]) -> dict[int, alerts.Key]:
    """Open vaccine and site signals that count only reports a lot's open signal of the same
    event group counts: they are that lot's evidence, not an alert of their own."""
    lot_sets: list[tuple[int, str, frozenset[int]]] = []
    others = []
    for r in rows:
        s = r.signal
        if s.status not in OPEN or s.method != SignalMethod.maxsprt:
            continue
        if s.scope == SignalScope.lot:
            lot_sets.append((s.target_id, s.event_group, _report_ids(session, s)))
        else:
            others.append(s)
    out: dict[int, alerts.Key] = {}
    if not lot_sets:
        return out
    for s in others:
        mine = _report_ids(session, s)
        if not mine:
            continue
        for lot_id, group, theirs in lot_sets:
            if group == s.event_group and mine <= theirs:
                out[int(s.id)] = (SignalScope.lot.value, lot_id)
                break
    return out


def list_alerts(
    session: Session, actor: Actor, flt: SignalFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[Alert], int]:
    """The alerts of the signals the filter picks, strongest first, a page of them."""
    require_role(actor, *access.READERS)
    sigs = list(session.exec(filtered(session, actor, flt).limit(MAX_SIGNALS)))
    rows = signal_rows(session, sigs)
    grouped = alerts.group(rows, joins=joins_of(session, rows))
    start = (max(page, 1) - 1) * per_page
    return grouped[start : start + per_page], len(grouped)


def _related(session: Session, actor: Actor, s: Signal) -> list[Signal]:
    """The signals that may share an alert with ``s``: its target's, and (open ones) the
    vaccine and sites of a lot, or the lots of the same event group."""
    visible = access.visible_signals(session, actor)
    same = list(
        session.exec(
            select(Signal).where(visible, Signal.scope == s.scope, Signal.target_id == s.target_id)
        )
    )
    open_ = col(Signal.status).in_(list(OPEN))
    if s.scope == SignalScope.lot:
        lot = session.get(Lot, s.target_id)
        site_ids = select(Dose.site_id).where(Dose.lot_id == s.target_id).distinct()
        more = session.exec(
            select(Signal).where(
                visible,
                open_,
                Signal.method == SignalMethod.maxsprt,
                (
                    (Signal.scope == SignalScope.vaccine)
                    & (Signal.target_id == (lot.vaccine_id if lot else -1))
                )
                | ((Signal.scope == SignalScope.site) & col(Signal.target_id).in_(site_ids)),
            )
        )
    else:
        groups = {x.event_group for x in same}
        more = session.exec(
            select(Signal).where(
                visible,
                open_,
                Signal.scope == SignalScope.lot,
                Signal.method == SignalMethod.maxsprt,
                col(Signal.event_group).in_(groups or {""}),
            )
        )
    seen = {x.id for x in same}
    return same + [x for x in more if x.id not in seen]


def alert_of(session: Session, actor: Actor, signal_id: int) -> Alert:
    """The alert a signal belongs to (the lot's, when it joined one)."""
    row = get_signal(session, actor, signal_id)
    rows = signal_rows(session, _related(session, actor, row.signal))
    for a in alerts.group(rows, joins=joins_of(session, rows)):
        if signal_id in a.signal_ids:
            return a
    return alerts.Alert(alerts.target_key(row), [row])  # pragma: no cover - it is in one


def alert_signal_ids(session: Session, actor: Actor, scope: str, target_id: int) -> list[int]:
    """Every signal of the alert on this target (the ones a halt of it settles)."""
    first = session.exec(
        select(Signal.id)
        .where(
            access.visible_signals(session, actor),
            Signal.scope == scope,
            Signal.target_id == target_id,
        )
        .order_by(Signal.id)
    ).first()
    if first is None:
        return []
    return alert_of(session, actor, int(first)).signal_ids


# --- what a decision touches ---------------------------------------------------------------


@dataclass(frozen=True)
class Reach:
    """The sites (in the actor's scope) that gave doses of the target, the doses given
    there, and the doses of the lot not yet given when its size is recorded."""

    sites: int
    doses_given: int
    doses_remaining: int | None


def reach(session: Session, actor: Actor, scope: str, target_id: int) -> Reach:
    sites = [
        s for s in access.sites_holding(session, scope, target_id) if in_scope(actor, s.county_id)
    ]
    site_ids = [s.id for s in sites]
    given = 0
    remaining = None
    if scope == SignalScope.lot:
        if site_ids:
            given = session.exec(
                select(func.count())
                .select_from(Dose)
                .where(Dose.lot_id == target_id, col(Dose.site_id).in_(site_ids))
            ).one()
        lot = session.get(Lot, target_id)
        if lot is not None and lot.doses_received:
            everywhere = session.exec(
                select(func.count()).select_from(Dose).where(Dose.lot_id == target_id)
            ).one()
            remaining = max(0, int(lot.doses_received) - int(everywhere))
    elif scope == SignalScope.vaccine and site_ids:
        given = session.exec(
            select(func.count())
            .select_from(Dose)
            .where(
                col(Dose.lot_id).in_(select(Lot.id).where(Lot.vaccine_id == target_id)),
                col(Dose.site_id).in_(site_ids),
            )
        ).one()
    elif site_ids:
        given = session.exec(
            select(func.count()).select_from(Dose).where(col(Dose.site_id).in_(site_ids))
        ).one()
    return Reach(len(sites), int(given), remaining)


def target_name(row: SignalRow) -> str:
    """ "lot X (product)", "vaccine X (product)", "site X", in the reader's language."""
    s = row.signal
    product = i18n.pick(row.vaccine.name, row.vaccine.name_en) if row.vaccine else ""
    if s.scope == SignalScope.lot and row.lot:
        return i18n.gettext("lot {lot} ({product})", lot=row.lot.lot_number, product=product)
    if s.scope == SignalScope.site and row.site:
        return i18n.gettext("site {site}", site=i18n.pick(row.site.name, row.site.name_en))
    return i18n.gettext(
        "vaccine {vaccine} ({product})",
        vaccine=row.vaccine.code if row.vaccine else "",
        product=product,
    )


def _group_in_sentence(group: str) -> str:
    zh, en = expected.GROUPS.get(group, (group, group))
    return plain.event(en, zh)


def seen(row: SignalRow, sites: int) -> str:
    """What was seen, in a sentence: "5 reports of anaphylaxis within 2 days of 1,240 doses
    of lot X (product) at 3 sites"."""
    s = row.signal
    event = _group_in_sentence(s.event_group)
    if s.method == SignalMethod.active_surveillance:
        return i18n.gettext(
            "{k} of the {n} people who answered the check-ins after {target} reported {event}.",
            k=plain.count(s.observed),
            n=plain.count(s.doses),
            target=target_name(row),
            event=event,
        )
    if s.method == SignalMethod.disproportionality:
        return i18n.gettext(
            "{reports} of {event} among {total} imported reports with {target}.",
            reports=plain.reports(s.observed),
            event=event,
            total=plain.count(s.doses),
            target=target_name(row),
        )
    return i18n.gettext(
        "{reports} of {event} {window} of {doses} of {target} at {sites}.",
        reports=plain.reports(s.observed),
        event=event,
        window=plain.window(s.window_start_days, s.window_end_days),
        doses=plain.doses(s.doses),
        target=target_name(row),
        sites=plain.sites(sites),
    )


def how_unusual(row: SignalRow) -> str:
    s = row.signal
    if s.method == SignalMethod.active_surveillance:
        return responders_unusual(s)
    return plain.unusual(s.observed, s.expected, s.oe_ratio, s.p_value)


def responders_unusual(s: Signal) -> str:
    """The lot's share of responders against its siblings', and why it is only a reason to
    review (self-reports of those who chose to answer)."""
    d = s.details or {}
    return i18n.gettext(
        "That is {share} of them (95% interval {low} to {high}), against {other} of the {n} "
        "people who answered after the product's other lots; a difference this large by "
        "chance: {chance}. These are the vaccinees' own answers, from those who chose to "
        "answer: a reason to review the lot, not to halt it.",
        share=plain.percent(d.get("share")),
        low=plain.percent(d.get("share_low")),
        high=plain.percent(d.get("share_high")),
        other=plain.percent(d.get("sibling_share")),
        n=plain.count(d.get("sibling_responders")),
        chance=plain.chance(s.p_value),
    )


# --- the reports -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportLine:
    id: int
    number: str
    onset_at: datetime
    event: str  # the report's symptoms in the reader's language


def report_lines(
    session: Session, actor: Actor, a: Alert, limit: int = 200
) -> tuple[list[ReportLine], int]:
    """The reports the alert's signals count, once each, by onset (those in the actor's
    scope are listed; the total counts them all)."""
    ids: set[int] = set()
    for r in a.items:
        ids |= _report_ids(session, r.signal)
    if not ids:
        return [], 0
    reps = list(
        session.exec(
            select(Report)
            .where(col(Report.id).in_(ids), scope_clause(Report.county_id, actor))
            .order_by(Report.onset_at, Report.id)
            .limit(limit)
        )
    )
    sep = "、" if i18n.get_locale() == "zh_CN" else ", "
    lines = []
    for rep in reps:
        names = [
            i18n.pick(symptoms.BY_CODE[c].zh, symptoms.BY_CODE[c].en)
            for c in rep.symptoms or []
            if c in symptoms.BY_CODE
        ]
        lines.append(ReportLine(int(rep.id), rep.number, rep.onset_at, sep.join(names)))
    return lines, len(ids)


# --- the banner ------------------------------------------------------------------------------


def _decided(session: Session, actor: Actor, a: Alert) -> bool:
    """The target's current state says the bureau has acted: a halt decision in force (or
    waiting to come into force) in the actor's counties, or the lot recalled."""
    scope, target_id = a.key
    halts = session.exec(
        select(HaltDecision.id).where(
            HaltDecision.scope == scope,
            HaltDecision.target_id == target_id,
            col(HaltDecision.lifted_at).is_(None),
            col(HaltDecision.county_id).in_(access.halt_authorities(session, actor)),
        )
    ).first()
    if halts is not None:
        return True
    if scope == SignalScope.lot:
        lot = session.get(Lot, target_id)
        if lot is not None and actor.county_id in actor.county_ids:
            return lot_states.state_for_county(session, lot, actor.county_id).status in (
                "halted",
                "recalled",
            )
    return False


def awaiting_decision(session: Session, actor: Actor) -> list[Alert]:
    """The alerts with an open halt recommendation whose target the bureau has not acted
    on yet, asked afresh on each call (halted, lifted and dismissed ones drop out)."""
    if not access.sees_halt_recommendations(actor):
        return []
    sigs = list(
        session.exec(
            select(Signal)
            .where(
                access.visible_signals(session, actor),
                col(Signal.status).in_(list(OPEN)),
            )
            .limit(MAX_SIGNALS)
        )
    )
    if not any(s.level == SignalLevel.halt_recommended for s in sigs):
        return []
    rows = signal_rows(session, sigs)
    return [
        a
        for a in alerts.group(rows, joins=joins_of(session, rows))
        if a.awaits_decision and not _decided(session, actor, a)
    ]


# --- reviewing the alert as one ----------------------------------------------------------------


def review_alert(
    session: Session,
    actor: Actor,
    signal_id: int,
    status: str,
    note: str = "",
    *,
    release_hold: bool = False,
) -> list[Signal]:
    """Review the whole alert: the status goes to every signal in it that is open (or to
    the one asked for when none is), each audited; the hold of the lot is released once."""
    from aefi.signals.review.service import set_signal_status

    a = alert_of(session, actor, signal_id)
    targets = [r.signal.id for r in a.items if r.signal.status in OPEN] or [signal_id]
    if signal_id not in targets and a.lead.signal.id == signal_id:
        targets.insert(0, signal_id)
    lot_signal = next(
        (
            r.signal.id
            for r in a.items
            if r.signal.scope == SignalScope.lot and r.signal.id in targets
        ),
        None,
    )
    out = []
    for sid in targets:
        out.append(
            set_signal_status(
                session,
                actor,
                sid,
                status,
                note,
                release_hold=release_hold and sid == lot_signal,
            )
        )
    return out
