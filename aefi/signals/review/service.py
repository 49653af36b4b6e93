"""Reading and reviewing signals: the ranked list, one signal with its chart series, its
review status."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import text
from sqlmodel import Session, col, func, select

from aefi import audit, clock, i18n, listing
from aefi.auth.permissions import Actor, require_role
from aefi.errors import Conflict, Invalid, NotFound
from aefi.i18n import N_
from aefi.registry import lot_states
from aefi.registry.models import Lot, Site, Vaccine
from aefi.signals import access, counts, expected, scan
from aefi.signals.models import (
    Signal,
    SignalLevel,
    SignalMethod,
    SignalScope,
    SignalStatus,
    SurveillancePlan,
)
from aefi.signals.rates.service import current_rates


@dataclass(frozen=True)
class SignalRow:
    signal: Signal
    lot: Lot | None
    vaccine: Vaccine | None
    site: Site | None

    @property
    def ratio(self) -> float | None:
        """LLR / CV of the level reached (MaxSPRT); PRR / 2 (disproportionality)."""
        s = self.signal
        if s.threshold and s.threshold > 0:
            return s.statistic / s.threshold
        return None


def signal_rows(session: Session, signals: list[Signal]) -> list[SignalRow]:
    lot_ids = {s.lot_id for s in signals if s.lot_id}
    lots = (
        {x.id: x for x in session.exec(select(Lot).where(col(Lot.id).in_(lot_ids)))}
        if lot_ids
        else {}
    )
    vac_ids = {s.vaccine_id for s in signals if s.vaccine_id} | {
        x.vaccine_id for x in lots.values()
    }
    vacs = (
        {x.id: x for x in session.exec(select(Vaccine).where(col(Vaccine.id).in_(vac_ids)))}
        if vac_ids
        else {}
    )
    site_ids = {s.site_id for s in signals if s.site_id}
    sites = (
        {x.id: x for x in session.exec(select(Site).where(col(Site.id).in_(site_ids)))}
        if site_ids
        else {}
    )
    out = []
    for s in signals:
        lot = lots.get(s.lot_id) if s.lot_id else None
        vac = vacs.get(s.vaccine_id or (lot.vaccine_id if lot else None))
        out.append(SignalRow(s, lot, vac, sites.get(s.site_id) if s.site_id else None))
    return out


@dataclass(frozen=True)
class SignalFilter:
    lot_number: str = ""
    status: str = ""
    level: str = ""
    scope: str = ""
    method: str = ""
    event_group: str = ""
    open_only: bool = False
    sort: str = ""  # a key of SIGNAL_SORTS, "-" for descending; "" the ranking


# The columns the signal overview sorts by (``listing.order_by``); "" is its ranking.
SIGNAL_SORTS = {
    "level": col(Signal.level),
    "target": select(Lot.lot_number).where(Lot.id == Signal.lot_id).scalar_subquery(),
    "event_group": col(Signal.event_group),
    "observed": col(Signal.observed),
    "expected": col(Signal.expected),
    "oe": col(Signal.oe_ratio),
    "strength": col(Signal.strength),
    "p": col(Signal.p_value),
    "status": col(Signal.status),
    "detected": col(Signal.first_detected_at),
}


def filtered(session: Session, actor: Actor, flt: SignalFilter):
    """The SELECT of the signals the actor sees that the filter picks (no order)."""
    stmt = select(Signal).where(access.visible_signals(session, actor))
    if flt.lot_number.strip():
        stmt = stmt.where(
            Signal.lot_id
            == select(Lot.id).where(Lot.lot_number == flt.lot_number.strip()).scalar_subquery()
        )
    if flt.status:
        stmt = stmt.where(Signal.status == flt.status)
    if flt.open_only:
        stmt = stmt.where(col(Signal.status).in_([SignalStatus.new, SignalStatus.under_review]))
    if flt.level:
        stmt = stmt.where(Signal.level == flt.level)
    if flt.scope:
        stmt = stmt.where(Signal.scope == flt.scope)
    if flt.method:
        stmt = stmt.where(Signal.method == flt.method)
    if flt.event_group:
        stmt = stmt.where(Signal.event_group == flt.event_group)
    return stmt


def list_signals(
    session: Session, actor: Actor, flt: SignalFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[SignalRow], int]:
    """Signals, strongest first: halt recommendations, then by -log10 p."""
    require_role(actor, *access.READERS)
    stmt = filtered(session, actor, flt)
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(
        stmt.order_by(
            *(
                listing.order_by(flt.sort, SIGNAL_SORTS, col(Signal.id))
                if flt.sort
                else (
                    (col(Signal.level) == SignalLevel.halt_recommended).desc(),
                    col(Signal.strength).desc(),
                    col(Signal.id),
                )
            )
        )
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
    ).all()
    return signal_rows(session, list(rows)), total


def get_signal(session: Session, actor: Actor, signal_id: int) -> SignalRow:
    require_role(actor, *access.READERS)
    sig = session.exec(
        select(Signal).where(Signal.id == signal_id, access.visible_signals(session, actor))
    ).first()
    if sig is None:
        raise NotFound("Not found.")
    return signal_rows(session, [sig])[0]


def pending_halt_recommendations(session: Session, actor: Actor) -> int:
    """Open halt recommendations among the signals that concern the actor's counties (none
    for a role that does not follow them, ``access.sees_halt_recommendations``)."""
    if not access.sees_halt_recommendations(actor):
        return 0
    stmt = (
        select(func.count())
        .select_from(Signal)
        .where(
            Signal.level == SignalLevel.halt_recommended,
            col(Signal.status).in_([SignalStatus.new, SignalStatus.under_review]),
            access.visible_signals(session, actor),
        )
    )
    return session.exec(stmt).one()


def set_signal_status(
    session: Session,
    actor: Actor,
    signal_id: int,
    status: str,
    note: str = "",
    *,
    release_hold: bool = False,
) -> Signal:
    """Review a signal (investigator, bureau). Dismissing a halt recommendation may release
    the provisional hold of its lot (bureau only: the hold is the bureau's to end)."""
    require_role(actor, *access.REVIEWERS)
    if release_hold:
        require_role(actor, *access.DECIDERS)
    row = get_signal(session, actor, signal_id)
    sig = row.signal
    try:
        new = SignalStatus(status)
    except ValueError:
        raise Invalid("Pick a status.", fields={"status": N_("Pick a status.")}) from None
    if new == SignalStatus.dismissed and not note.strip():
        raise Invalid(
            "Say why the signal is dismissed.", fields={"note": N_("Say why it is dismissed.")}
        )
    before = {"status": sig.status, "status_note": sig.status_note}
    sig.status = new
    sig.status_note = note.strip()[:2000]
    sig.status_changed_at = clock.now()
    sig.details = {**(sig.details or {}), "observed_at_status": sig.observed}
    session.add(sig)
    session.flush()
    audit.record(
        session,
        actor,
        "status",
        "signal",
        sig.id,
        changes=audit.diff(before, {"status": sig.status, "status_note": sig.status_note}),
        summary=f"{sig.status}: {sig.status_note[:200]}",
    )
    if release_hold:
        lot = row.lot
        if lot is None:
            raise Conflict("The lot is not on hold.")
        lot_states.release_hold(
            session,
            actor,
            lot,
            actor.county_id,
            note=f"信号 #{sig.id} 已排除 / signal #{sig.id} dismissed: {note.strip()}"[:500],
        )
    session.commit()
    return sig


def observed_reports(session: Session, row: SignalRow) -> list[tuple[int, object]]:
    """The reports a MaxSPRT signal counts (onset in the risk window), for its page;
    a disproportionality signal counts imported reports, listed nowhere."""
    s = row.signal
    if s.method != SignalMethod.maxsprt:
        return []
    return counts.observed_reports(session, s.scope, s.target_id, s.event_group)


@dataclass
class Series:
    """Cumulative observed and expected over time, and the boundary, for the chart."""

    times: list[datetime]
    expected: np.ndarray
    observed: np.ndarray
    boundary: np.ndarray | None
    cv: float | None
    upper_limit: float | None
    min_events: int
    # One dot per counted report at its onset (day, count so far); where the plan started.
    events: list[tuple[datetime, float]] = field(default_factory=list)
    started_at: datetime | None = None


def surveillance_days(first: str | None, plan_start: str | None, today: str) -> list[str]:
    """Every day of the surveillance period, ``YYYY-MM-DD``: from the target's first dose
    (or the plan's start when it came first) to today, one entry per day."""
    starts = [d for d in (first, plan_start) if d]
    start = date.fromisoformat(min(starts)) if starts else date.fromisoformat(today)
    end = max(date.fromisoformat(today), start)
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def signal_series(session: Session, actor: Actor, signal_id: int) -> tuple[SignalRow, Series]:
    """Day by day: cumulative doses x rate (E), reports counted (O), the MaxSPRT boundary
    of the level in force (halt level: it is the one that acts)."""
    row = get_signal(session, actor, signal_id)
    sig = row.signal
    if sig.method == SignalMethod.disproportionality:
        return row, _dp_series(session, sig)
    dialect = session.get_bind().dialect.name
    day = (
        "to_char(d.administered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        if dialect == "postgresql"
        else "substr(d.administered_at, 1, 10)"
    )
    if sig.scope == SignalScope.lot:
        where, params = "d.lot_id = :t", {"t": sig.target_id}
    elif sig.scope == SignalScope.vaccine:
        where, params = "l.vaccine_id = :t", {"t": sig.target_id}
    else:
        where, params = "d.site_id = :t", {"t": sig.target_id}
    rates = current_rates(session)
    codes = {v.id: v.code for v in session.exec(select(Vaccine))}
    rows = session.execute(
        text(
            f"SELECT {day} AS day, l.vaccine_id, COUNT(*) FROM dose d "
            f"JOIN lot l ON l.id = d.lot_id WHERE {where} GROUP BY {day}, l.vaccine_id ORDER BY 1"
        ),
        params,
    ).all()
    per_day: dict[str, float] = {}
    for d, vid, n in rows:
        r = expected.choose(rates, codes.get(vid, ""), sig.event_group)
        per_day[d] = per_day.get(d, 0.0) + n * (r.rate_per_dose if r else 0.0)
    reports = counts.observed_reports(session, sig.scope, sig.target_id, sig.event_group)
    plan_id = (sig.details or {}).get("plan_id")
    plan = session.get(SurveillancePlan, int(plan_id)) if plan_id else None
    started = plan.started_at if plan is not None else None
    known = sorted(set(per_day) | {t.strftime("%Y-%m-%d") for _, t in reports})
    days = surveillance_days(
        known[0] if known else None,
        started.strftime("%Y-%m-%d") if started else None,
        clock.now().strftime("%Y-%m-%d"),
    )
    tz = clock.now().tzinfo
    times = [datetime.fromisoformat(d).replace(tzinfo=tz) for d in days]
    e = np.cumsum([per_day.get(d, 0.0) for d in days])
    onset_days = np.array(sorted(t.strftime("%Y-%m-%d") for _, t in reports))
    o = np.searchsorted(onset_days, np.array(days), side="right").astype(float)
    dots = [
        (datetime.fromisoformat(d).replace(tzinfo=tz), float(i + 1))
        for i, d in enumerate(onset_days.tolist())
    ]
    cv = (sig.details or {}).get("cv_halt")
    m = int((sig.details or {}).get("min_events_halt", 2))
    boundary = None
    if cv is not None and sig.upper_limit:
        boundary = scan.boundary_counts(float(cv), float(sig.upper_limit), m, e)
    return row, Series(times, e, o, boundary, cv, sig.upper_limit, m, dots, started)


def _dp_series(session: Session, sig: Signal) -> Series:
    """Imported reports by month of receipt: reports with vaccine and group (a) against
    the count expected if the group were as common with it as with the others."""
    dialect = session.get_bind().dialect.name
    month = (
        "to_char(r.received_at AT TIME ZONE 'UTC', 'YYYY-MM')"
        if dialect == "postgresql"
        else "substr(r.received_at, 1, 7)"
    )
    if dialect == "postgresql":
        has_group = "EXISTS (SELECT 1 FROM json_array_elements_text(r.event_groups) g WHERE g = :g)"
    else:
        has_group = "EXISTS (SELECT 1 FROM json_each(r.event_groups) g WHERE g.value = :g)"
    if sig.event_group == "serious_aefi":
        has_group = "r.serious"
    with_v = (
        "EXISTS (SELECT 1 FROM report_dose rd WHERE rd.report_id = r.id AND rd.vaccine_id = :v)"
    )
    rows = session.execute(
        text(
            f"SELECT {month}, COUNT(*), SUM(CASE WHEN {with_v} THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN {has_group} THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN {with_v} AND {has_group} THEN 1 ELSE 0 END) "
            f"FROM report r WHERE r.source = 'vaers' GROUP BY 1 ORDER BY 1"
        ),
        {"v": sig.target_id, "g": sig.event_group},
    ).all()
    times = [datetime.fromisoformat(f"{m}-01").replace(tzinfo=clock.now().tzinfo) for m, *_ in rows]
    n = np.cumsum([r[1] for r in rows]).astype(float)
    nv = np.cumsum([r[2] or 0 for r in rows]).astype(float)
    ng = np.cumsum([r[3] or 0 for r in rows]).astype(float)
    a = np.cumsum([r[4] or 0 for r in rows]).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.where(n > 0, nv * ng / np.maximum(n, 1), 0.0)
    return Series(times, e, a, None, None, None, 3)


def describe(session: Session, sig: Signal) -> str:
    """One line naming a signal's target and event group, in the current language."""
    loc = i18n.get_locale()
    group = expected.group_label(sig.event_group, loc)
    if sig.scope == SignalScope.lot and sig.lot_id:
        lot = session.get(Lot, sig.lot_id)
        vac = session.get(Vaccine, lot.vaccine_id)
        what = i18n.gettext("lot {lot} ({vaccine})", lot=lot.lot_number, vaccine=vac.code)
    elif sig.scope == SignalScope.site and sig.site_id:
        site = session.get(Site, sig.site_id)
        what = i18n.gettext("site {site}", site=i18n.pick(site.name, site.name_en))
    else:
        vac = session.get(Vaccine, sig.vaccine_id)
        what = i18n.gettext("vaccine {vaccine}", vaccine=vac.code)
    return f"{what} · {group}"
