"""Scans: MaxSPRT over the dose cells, disproportionality over imported reports; a lot
crossing the halt level goes on hold at once and the bureau is alerted."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from aefi import audit, clock, i18n
from aefi.auth.models import Role
from aefi.auth.permissions import Actor, require_role
from aefi.intake import symptoms
from aefi.notifications import service as notifications
from aefi.registry import lot_states
from aefi.registry.models import Lot, LotStatus, Site, Vaccine
from aefi.signals import access, counts, expected, plans, scan
from aefi.signals import disproportionality as dp
from aefi.signals.config import SignalSettings, get_signal_settings
from aefi.signals.models import (
    CriticalValueCache,
    ScanRun,
    Signal,
    SignalLevel,
    SignalMethod,
    SignalScope,
    SignalStatus,
)
from aefi.signals.rates.service import current_rates
from aefi.signals.review.service import describe
from aefi.signals.scans import plan_store
from aefi.signals.scans import responders as responder_scan

LEVEL_RANK = {None: 0, SignalLevel.signal: 1, SignalLevel.halt_recommended: 2}
SCAN_LOCK = 0x5C4A_A1E7  # PostgreSQL advisory lock key of the signal scans


def thresholds(cfg: SignalSettings | None = None) -> scan.Thresholds:
    cfg = cfg or get_signal_settings()
    return scan.Thresholds(
        alpha=cfg.alpha,
        signal_min_events=cfg.signal_min_events,
        halt_min_events=cfg.halt_min_events,
        t_factor=cfg.t_factor,
    )


def _load_critical_values(session: Session) -> None:
    scan.known_critical_values(
        (c.upper_limit, c.alpha, c.min_events, c.cv)
        for c in session.exec(select(CriticalValueCache))
    )


def _save_critical_values(session: Session) -> None:
    for t, a, m, cv in scan.unsaved_critical_values():
        try:
            with session.begin_nested():
                if session.get(CriticalValueCache, (t, a, m)) is None:
                    session.add(CriticalValueCache(upper_limit=t, alpha=a, min_events=m, cv=cv))
        except IntegrityError:  # another process stored it first: the same value
            pass


@dataclass
class ScanResult:
    run: ScanRun
    changed: list[Signal] = field(default_factory=list)  # new, raised or reopened
    held: list[Lot] = field(default_factory=list)
    cells: int = 0


def _key(scope: str, target_id: int, group: str, method: str) -> tuple[str, int, str, str]:
    return (scope, int(target_id), group, method)


def _fnum(x: Any) -> float | None:
    return scan.finite_or_none(x)


STAT_CAP = 1e9  # JSON has no infinity: PRR with c = 0 (or LLR with E = 0) is stored as this


def _capped(x: Any) -> float:
    x = float(x)
    if math.isnan(x):
        return 0.0
    return min(x, STAT_CAP)


def _stored_signals(
    session: Session, cells: scan.Cells, full: bool
) -> dict[tuple[str, int, str, str], Signal]:
    """The stored MaxSPRT signals a scan may update: every one for a full scan, those of the
    cells' targets otherwise (a lot scan after a filing reads its lot's few signals, not
    every signal of the database)."""
    stmt = select(Signal).where(Signal.method == SignalMethod.maxsprt)
    if not full:
        if not len(cells):
            return {}
        scopes = sorted({scan.SCOPES[int(x)] for x in np.unique(cells.scope).tolist()})
        targets = sorted({int(x) for x in np.unique(cells.target_id).tolist()})
        stmt = stmt.where(col(Signal.scope).in_(scopes), col(Signal.target_id).in_(targets))
    return {_key(s.scope, s.target_id, s.event_group, s.method): s for s in session.exec(stmt)}


def run_scan(
    session: Session,
    actor: Actor,
    *,
    trigger: str,
    lot_ids: list[int] | None = None,
    vaccine_ids: list[int] | None = None,
    site_ids: list[int] | None = None,
    commit: bool = True,
    cfg: SignalSettings | None = None,
) -> ScanResult:
    """Scan now: everything (no ids), or the lots, vaccines and sites named.

    ``actor`` is a scanner, or the system actor (event handlers, the timer, the command
    line). With ``commit=False`` the caller's transaction keeps the changes (event handlers).
    The holds a scan puts are the system's in each county (``_hold_if_needed``)."""
    require_role(actor, *access.SCANNERS, Role.system)
    cfg = cfg or get_signal_settings()
    th = thresholds(cfg)
    started = time.perf_counter()
    now = clock.now()
    full = lot_ids is None and vaccine_ids is None and site_ids is None
    run = ScanRun(trigger=trigger, full=full, started_at=now)
    if session.get_bind().dialect.name == "postgresql":
        # One scan at a time across app processes, timer, command line and event handlers
        # (DESIGN.md, "Beyond one machine"): two scans would insert the same new signal.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCAN_LOCK})
    rates = current_rates(session)
    _load_critical_values(session)
    cells = counts.build_cells(
        session,
        rates,
        th,
        lot_ids=lot_ids if not full else None,
        vaccine_ids=(vaccine_ids or []) if not full else None,
        site_ids=(site_ids or []) if not full else None,
    )
    result = ScanResult(run=run, cells=len(cells))
    existing = _stored_signals(session, cells, full)
    raised: list[Signal] = []
    new_review: list[Signal] = []
    ev = None
    if len(cells):
        o, doses, e, upper, rate = cells.arrays()
        # Stored signals among the cells, by one int64 key per cell.
        gi = {g: j for j, g in enumerate(cells.groups)}
        stored_by_key = {
            int(scan.cell_key(scan.SCOPES.index(sc), t, gi[g])): sig
            for (sc, t, g, _m), sig in existing.items()
            if g in gi and sc in scan.SCOPES
        }
        keys = cells.keys()
        stored = np.isin(keys, np.fromiter(stored_by_key, dtype=np.int64, count=len(stored_by_key)))
        pa = plan_store.plans_for(session, actor, cells, cfg, now, full=full)
        ev = scan.evaluate(o, e, pa.upper_limit, th, plan_cv=pa.cv_signal)
        for i in np.nonzero((ev.level > 0) | stored)[0].tolist():
            sig = stored_by_key.get(int(keys[i]))
            level = scan.LEVEL_NAMES.get(int(ev.level[i]))
            if sig is None:
                if level is None:
                    continue
                lot_id, vaccine_id, site_id = cells.ids(i)
                sig = Signal.detected(
                    now,
                    scope=cells.scope_name(i),
                    target_id=int(cells.target_id[i]),
                    event_group=cells.group_name(i),
                    method=SignalMethod.maxsprt,
                    level=level,
                    lot_id=lot_id,
                    vaccine_id=vaccine_id,
                    site_id=site_id,
                )
                was = None
            else:
                was = SignalLevel(sig.level)
            _fill_maxsprt(sig, i, cells, ev, doses, rate, cfg, now, pa)
            _advance(session, actor, sig, level, was, now, raised, new_review)
    if full and cfg.disproportionality:
        run.disproportionality = _disproportionality(session, actor, now, new_review)
    # Check-in responders: a lot against its siblings (review only, never a halt).
    lots = None if full else (lot_ids or [])
    for sig, level, was in responder_scan.evaluate(session, cfg, now, lot_ids=lots):
        _advance(session, actor, sig, level, was, now, raised, new_review)
    session.flush()
    for sig in raised:
        lot = _hold_if_needed(session, actor, sig, cfg)
        if lot is not None:
            result.held.append(lot)
        _alert_halt_recommended(session, sig, lot)
    if new_review and full:
        # Review signals go out as one summary per county from the full scans; a scan after
        # a single report only alerts halt recommendations (triage already escalates a
        # serious report, and one notice per report would drown the queue).
        _alert_review(session, new_review)
    result.changed = raised + new_review
    run.signals = session.exec(select(func.count()).select_from(Signal)).one()
    run.new_signals = len(new_review) + len(raised)
    run.halt_recommendations = len(raised)
    run.cells = len(cells)
    if full and ev is not None:
        run.top = _top_lots(session, cells, ev)
    _save_critical_values(session)
    run.finished_at = clock.now()
    run.seconds = round(time.perf_counter() - started, 3)
    session.add(run)
    session.flush()
    if commit:
        session.commit()
    return result


def _fill_maxsprt(sig, i, cells, ev, doses, rate, cfg, now, pa) -> None:
    level_i = int(ev.level[i])
    cv_sig = _fnum(ev.cv_signal[i])
    cv_halt = _fnum(ev.cv_halt[i])
    sig.observed = int(ev.observed[i])
    sig.expected = float(ev.expected[i])
    sig.doses = int(doses[i])
    sig.rate_per_dose = _fnum(rate[i])
    sig.window_start_days, sig.window_end_days = cells.window(i)
    sig.statistic = _capped(ev.llr[i])
    sig.threshold = (cv_halt if level_i == scan.HALT else cv_sig) or 0.0
    sig.p_value = _fnum(ev.p_value[i])
    sig.strength = float(min(ev.strength[i], 300.0))
    sig.oe_ratio = _fnum(ev.oe[i])
    sig.oe_lower = _fnum(ev.oe_lower[i])
    sig.oe_upper = _fnum(ev.oe_upper[i])
    sig.upper_limit = _fnum(ev.upper_limit[i])
    sig.details = {
        **(sig.details or {}),
        "alpha": cfg.alpha,
        "cv_signal": cv_sig,
        "cv_halt": cv_halt,
        "min_events_signal": cfg.signal_min_events,
        "min_events_halt": cfg.halt_min_events,
        "t_factor": cfg.t_factor,
        # The fixed plan (aefi.signals.plans): the halt needs the review CV and M_halt.
        "plan_id": int(pa.plan_id[i]),
        "halt_rule": plans.HALT_RULE,
        "alpha_family": float(pa.alpha_family[i]),
        "alpha_group": float(pa.alpha[i]),
        "family_size": int(pa.family_size[i]),
        "planned_doses": float(pa.planned_doses[i]),
        "doses_source": pa.source[i],
    }
    sig.last_scanned_at = now


def _advance(session, actor, sig, level, was, now, raised, new_review) -> None:
    """Levels only go up; a raised or (after new reports) dismissed signal comes back."""
    new_rank = LEVEL_RANK[SignalLevel(level) if level else None]
    old_rank = LEVEL_RANK[was]
    reopened = False
    if was is not None and new_rank > old_rank:
        sig.level = level
        sig.level_changed_at = now
        if sig.status == SignalStatus.dismissed:
            reopened = True
    seen = int((sig.details or {}).get("observed_at_status", sig.observed))
    if sig.status == SignalStatus.dismissed and sig.observed > seen:
        reopened = True
    if reopened:
        sig.status = SignalStatus.new
        sig.status_changed_at = now
        sig.status_note = ""
    session.add(sig)
    if was is None:
        session.flush()
        audit.record(
            session,
            actor,
            "create",
            "signal",
            sig.id,
            summary=f"{sig.scope} {sig.target_id} {sig.event_group} {sig.level}",
            changes={"observed": sig.observed, "expected": sig.expected, "level": sig.level},
        )
    elif reopened or new_rank > old_rank:
        audit.record(
            session,
            actor,
            "reopen" if reopened else "raise",
            "signal",
            sig.id,
            summary=f"{sig.level} O={sig.observed} E={sig.expected:.3g}",
            changes={"level": [was.value if was else None, sig.level]},
        )
    if sig.level == SignalLevel.halt_recommended and (
        was != SignalLevel.halt_recommended or reopened
    ):
        raised.append(sig)
    elif was is None or reopened:
        new_review.append(sig)


def _disproportionality(session, actor, now, new_review) -> dict:
    """Over imported spontaneous reports (Report.source 'vaers'), at every level of the term
    hierarchy (aefi.signals.disproportionality): the event-group level makes the Evans
    review signals (vaccine x event group), every level goes into the scan run's output."""
    out: dict = {}
    if not counts.has_reports(session, "vaers"):
        return out  # every level's table would be empty: one probe, not sixteen counts
    for level in dp.LEVELS:
        items = [x for x in expected.GROUPS if x != "all_aefi"] if level == "event_group" else None
        t = dp.level_table(level, *counts.level_counts(session, level), items=items)
        if t is None:
            continue
        top = dp.top_cells(t)
        codes = dict(
            session.exec(
                select(Vaccine.id, Vaccine.code).where(
                    col(Vaccine.id).in_({c["vaccine_id"] for c in top} or {-1})
                )
            ).all()
        )
        for c in top:
            c["vaccine_code"] = codes.get(c["vaccine_id"], "")
        out[level] = {
            "items": len(t.items),
            "reports": t.n,
            "theta": list(t.theta) if t.theta else None,
            "top": top,
        }
        if level == "event_group":
            _group_signals(session, actor, now, new_review, t)
    return out


def _group_signals(session, actor, now, new_review, t: dp.LevelTable) -> None:
    existing = {
        _key(s.scope, s.target_id, s.event_group, s.method): s
        for s in session.exec(
            select(Signal).where(Signal.method == SignalMethod.disproportionality)
        )
    }
    res = t.result
    for r, c in zip(*np.nonzero(t.evans | (t.a > 0)), strict=True):
        vid, group = int(t.vaccines[r]), t.items[c]
        key = _key(SignalScope.vaccine, vid, group, SignalMethod.disproportionality)
        sig = existing.get(key)
        if sig is None and not t.evans[r, c]:
            continue
        was = None if sig is None else SignalLevel(sig.level)
        if sig is None:
            sig = Signal.detected(
                now,
                scope=SignalScope.vaccine,
                target_id=vid,
                event_group=group,
                method=SignalMethod.disproportionality,
                vaccine_id=vid,
            )
        details = dp.cell(t, int(r), int(c))
        chi = details["chi2_yates"]
        sig.observed = int(t.a[r, c])
        sig.expected = float(res.expected[r, c])
        sig.doses = int(t.n_v[r])
        sig.statistic = _capped(res.prr[r, c])
        sig.threshold = 2.0
        sig.p_value = details["p_value"]
        sig.strength = float(min((chi or 0.0) / 4.0, 300.0))
        sig.oe_ratio = _fnum(t.a[r, c] / res.expected[r, c]) if res.expected[r, c] else None
        sig.details = {**details, "source": "vaers"}
        sig.last_scanned_at = now
        _advance(session, actor, sig, SignalLevel.signal, was, now, [], new_review)


def _top_lots(session: Session, cells: scan.Cells, ev: scan.Evaluation) -> list[dict]:
    """The 50 strongest lot cells with at least one event, for the overview's ranking."""
    idx = np.nonzero((cells.scope == 0) & (ev.observed > 0))[0]
    if idx.size == 0:
        return []
    order = idx[np.lexsort((-ev.llr[idx], -ev.strength[idx]))][:50]
    lot_ids = [int(cells.lot_id[i]) for i in order.tolist()]
    lots = {
        lot.id: (lot, vac)
        for lot, vac in session.exec(
            select(Lot, Vaccine)
            .join(Vaccine, Vaccine.id == Lot.vaccine_id)
            .where(col(Lot.id).in_(lot_ids))
        )
    }
    out = []
    for i in order.tolist():
        lot, vac = lots[int(cells.lot_id[i])]
        out.append(
            {
                "lot_id": lot.id,
                "lot_number": lot.lot_number,
                "vaccine_code": vac.code,
                "event_group": cells.group_name(i),
                "observed": int(ev.observed[i]),
                "expected": float(ev.expected[i]),
                "llr": _fnum(ev.llr[i]),
                "cv_halt": _fnum(ev.cv_halt[i]),
                "p_value": _fnum(ev.p_value[i]),
                "level": scan.LEVEL_NAMES.get(int(ev.level[i]), ""),
            }
        )
    return out


def _hold_note(sig: Signal) -> str:
    """The lot's status note, stored as data in the county's language (Chinese) and in
    words: the event, what was seen against what was expected, and what happens next (the
    statistics stay on the signal's page)."""
    group = symptoms.group_label(sig.event_group, "zh") if sig.event_group else ""
    return (
        f"信号第{sig.id}号：{group}报告{sig.observed}例，预期约{sig.expected:.2g}例，"
        "明显多于预期；暂停使用，待卫健局决定"
    )


def _hold_if_needed(session: Session, actor: Actor, sig: Signal, cfg: SignalSettings) -> Lot | None:
    """DOMAIN.md: a halt recommendation is a provisional hold of the lot (each county's
    hold publishes ``LotHeld``: its sites are told)."""
    if sig.scope != SignalScope.lot or not cfg.auto_hold or sig.lot_id is None:
        return None
    lot = session.get(Lot, sig.lot_id)
    if lot is None or lot.status == LotStatus.recalled:
        return None
    # Held in each county whose sites used the lot (each county's bureau then decides); a
    # hold is a system duty, whoever ran the scan.
    reason = f"automatic hold, signal #{sig.id}"
    held = [
        c
        for c in access.counties_of_lot(session, lot.id)
        if lot_states.hold_lot(
            session, Actor.system(c, reason=reason), lot, c, signal_id=sig.id, note=_hold_note(sig)
        )
    ]
    if not held:
        return None
    sig.held_lot = True
    session.add(sig)
    return lot


def _alert_halt_recommended(session: Session, sig: Signal, lot: Lot | None) -> None:
    if sig.scope == SignalScope.lot and sig.lot_id:
        counties = access.counties_of_lot(session, sig.lot_id)
    elif sig.scope == SignalScope.site and sig.site_id:
        counties = [session.get(Site, sig.site_id).county_id]
    else:
        counties = access.counties_of_vaccine(session, sig.target_id)
    title = i18n.gettext("Halt recommended: {what}", what=describe(session, sig))
    body = i18n.gettext(
        "Observed {o}, expected {e}; MaxSPRT LLR {llr} reached the critical value {cv}.",
        o=sig.observed,
        e=f"{sig.expected:.3g}",
        llr=f"{sig.statistic:.2f}",
        cv=f"{sig.threshold:.2f}",
    )
    if lot is not None:
        body += "\n" + i18n.gettext("The lot has been put on hold until the bureau decides.")
    for county_id in counties:
        notifications.notify(
            session,
            county_id=county_id,
            roles=access.ALERTED,
            kind="halt_recommended",
            title=title,
            body=body,
            link=f"/signals/{sig.id}",
            urgent=True,
        )


def _alert_review(session: Session, sigs: list[Signal]) -> None:
    """One notification per county for the new review signals of a scan."""
    by_county: dict[int, list[Signal]] = {}
    for sig in sigs:
        if sig.method == SignalMethod.disproportionality:
            continue  # imported reports belong to no county
        if sig.scope == SignalScope.lot and sig.lot_id:
            counties = access.counties_of_lot(session, sig.lot_id)
        elif sig.scope == SignalScope.site and sig.site_id:
            counties = [session.get(Site, sig.site_id).county_id]
        else:
            counties = access.counties_of_vaccine(session, sig.target_id)
        for c in counties:
            by_county.setdefault(c, []).append(sig)
    for county_id, items in by_county.items():
        lines = [describe(session, s) for s in items[:10]]
        if len(items) > 10:
            lines.append("…")
        notifications.notify(
            session,
            county_id=county_id,
            roles=access.ALERTED,
            kind="signal",
            title=i18n.gettext("New signals for review: {n}", n=len(items)),
            body="\n".join(lines),
            link="/signals",
        )


def latest_full_run(session: Session) -> ScanRun | None:
    return session.exec(
        select(ScanRun).where(ScanRun.full == True).order_by(col(ScanRun.id).desc()).limit(1)  # noqa: E712
    ).first()


def lot_ids_of_reports(session: Session, report_ids: list[int]) -> list[int]:
    from aefi.intake.models import ReportDose

    if not report_ids:
        return []
    return sorted(
        {
            int(x)
            for x in session.exec(
                select(ReportDose.lot_id).where(col(ReportDose.report_id).in_(report_ids))
            )
        }
    )


def scan_for_reports(
    session: Session,
    actor: Actor,
    report_ids: list[int],
    *,
    trigger: str,
    lot_ids: list[int] | None = None,
) -> ScanResult | None:
    """The scan an event asks for: the lots of the reports' doses (``lot_ids``, when the
    caller knows them). ``actor`` filed or changed the reports; the scan is the system's,
    for the reports' counties.

    Only the lot level runs inside the filing transaction: it is the level that holds a lot
    at once, and a physician waits for it. The vaccine and site levels (signals for review)
    count every dose of a product or a site and follow on the timer's full scan."""
    lots = lot_ids if lot_ids is not None else lot_ids_of_reports(session, report_ids)
    if not lots:
        return None
    from aefi.intake.models import Report

    counties = session.exec(select(Report.county_id).where(col(Report.id).in_(report_ids)))
    system = Actor.system(counties, reason=f"signal scan after {trigger}")
    return run_scan(
        session, system, trigger=trigger, lot_ids=lots, vaccine_ids=[], site_ids=[], commit=False
    )
