"""Use cases of signals: expected rates, scans, signal review, halt decisions, banners.

The chain (DESIGN.md): a report is filed → ``flows`` asks for a scan of its lots → a lot
crosses the halt level → it goes on ``held`` at once and the bureau is alerted → the
bureau issues a halt decision → the registry refuses new doses, every site that holds the
lot is told and sees a banner → a later decision lifts it.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from scipy import stats as sps
from sqlalchemy import and_, or_, text, true, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from aefi import audit, clock, i18n
from aefi.auth.models import Role
from aefi.auth.permissions import Actor, in_scope, require_role, scope_clause
from aefi.errors import Conflict, Forbidden, Invalid, NotFound
from aefi.i18n import N_
from aefi.intake.models import Report
from aefi.notifications import service as notifications
from aefi.registry import lot_states
from aefi.registry import service as registry
from aefi.registry.models import Dose, Lot, LotHold, LotStatus, Region, Site, Vaccine
from aefi.signals import expected, scan
from aefi.signals.config import SignalSettings, get_signal_settings
from aefi.signals.models import (
    CriticalValueCache,
    ExpectedRate,
    HaltCounter,
    HaltDecision,
    HaltScope,
    ScanRun,
    Signal,
    SignalLevel,
    SignalMethod,
    SignalScope,
    SignalStatus,
)

log = logging.getLogger("aefi.signals")

SCANNERS = (Role.investigator, Role.bureau, Role.admin, Role.api_client)
READERS = (Role.investigator, Role.bureau, Role.admin, Role.api_client, Role.province)
REVIEWERS = (Role.investigator, Role.bureau)
# A county's bureau halts for its county's sites; the province for every county below it.
DECIDERS = (Role.bureau, Role.province)
HALT_READERS = (
    Role.reporter,
    Role.investigator,
    Role.bureau,
    Role.admin,
    Role.api_client,
    Role.province,
)
RATE_EDITORS = (Role.admin,)
ALERTED = (Role.bureau, Role.investigator)
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


# --- expected rates ------------------------------------------------------------------------


def ensure_default_rates(session: Session) -> None:
    """On first use the table is a copy of the shipped ``rates.csv`` (DOMAIN.md's rates).
    To switch a pair off, set its rate to 0: an empty table is filled again."""
    if session.exec(select(ExpectedRate.id).limit(1)).first() is not None:
        return
    try:
        with session.begin_nested():
            for r in expected.default_rates():
                session.add(
                    ExpectedRate(
                        vaccine_code=r.vaccine_code,
                        event_group=r.event_group,
                        rate_per_dose=r.rate_per_dose,
                        window_start_days=r.window_start_days,
                        window_end_days=r.window_end_days,
                        source=r.source,
                        updated_by="aefi (shipped default)",
                    )
                )
    except IntegrityError:  # another process filled it at the same moment
        pass


def current_rates(session: Session) -> list[expected.Rate]:
    ensure_default_rates(session)
    return [
        expected.Rate(
            r.vaccine_code,
            r.event_group,
            r.rate_per_dose,
            r.window_start_days,
            r.window_end_days,
            r.source,
        )
        for r in session.exec(select(ExpectedRate).order_by(ExpectedRate.id))
    ]


def list_rates(session: Session, actor: Actor) -> list[ExpectedRate]:
    require_role(actor, *READERS)
    ensure_default_rates(session)
    session.commit()
    return list(
        session.exec(
            select(ExpectedRate).order_by(ExpectedRate.event_group, ExpectedRate.vaccine_code)
        )
    )


def get_rate(session: Session, actor: Actor, rate_id: int) -> ExpectedRate:
    require_role(actor, *READERS)
    row = session.get(ExpectedRate, rate_id)
    if row is None:
        raise NotFound("Not found.")
    return row


RATE_FIELDS = (
    "vaccine_code",
    "event_group",
    "rate_per_dose",
    "window_start_days",
    "window_end_days",
    "source",
)


def save_rate(
    session: Session, actor: Actor, rate_id: int | None, values: dict[str, Any]
) -> ExpectedRate:
    """Add or edit an expected rate (admin); every change is in the audit trail."""
    require_role(actor, *RATE_EDITORS)
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name in RATE_FIELDS:
        raw = values.get(name)
        if name in ("vaccine_code", "event_group", "source"):
            clean[name] = str(raw or "").strip()
            continue
        try:
            clean[name] = float(str(raw).strip())
            if not math.isfinite(clean[name]):
                raise ValueError
        except (TypeError, ValueError):
            errors[name] = N_("Enter a number.")
            clean[name] = 0.0
    clean["vaccine_code"] = clean["vaccine_code"].upper() if clean["vaccine_code"] != "*" else "*"
    errors = {
        **expected.check_rate(expected.Rate(**clean)),
        **errors,
    }
    if clean["vaccine_code"] not in ("", expected.ALL_VACCINES):
        known = session.exec(select(Vaccine.id).where(Vaccine.code == clean["vaccine_code"]))
        if known.first() is None:
            errors["vaccine_code"] = N_("No vaccine with this code.")
    clash = session.exec(
        select(ExpectedRate).where(
            ExpectedRate.vaccine_code == clean["vaccine_code"],
            ExpectedRate.event_group == clean["event_group"],
        )
    ).first()
    if clash is not None and clash.id != rate_id:
        errors["event_group"] = N_("This vaccine has a rate for this event group already.")
    if errors:
        raise Invalid("Some fields need correcting.", fields=errors)
    if rate_id is None:
        row = ExpectedRate(**clean, updated_at=clock.now(), updated_by=actor.name)
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            "create",
            "expected_rate",
            row.id,
            changes=audit.snapshot(row),
            summary=f"{row.vaccine_code} {row.event_group}",
        )
    else:
        row = get_rate(session, actor, rate_id)
        before = audit.snapshot(row, exclude=("updated_at", "updated_by"))
        for k, v in clean.items():
            setattr(row, k, v)
        row.updated_at = clock.now()
        row.updated_by = actor.name
        session.add(row)
        session.flush()
        changes = audit.diff(before, audit.snapshot(row, exclude=("updated_at", "updated_by")))
        if changes:
            audit.record(
                session,
                actor,
                "update",
                "expected_rate",
                row.id,
                changes=changes,
                summary=f"{row.vaccine_code} {row.event_group}",
            )
    session.commit()
    return row


# --- scans ---------------------------------------------------------------------------------


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


def run_scan(
    session: Session,
    actor: Actor | None,
    *,
    trigger: str,
    lot_ids: list[int] | None = None,
    vaccine_ids: list[int] | None = None,
    site_ids: list[int] | None = None,
    commit: bool = True,
    cfg: SignalSettings | None = None,
) -> ScanResult:
    """Scan now: everything (no ids), or the lots, vaccines and sites named.

    ``actor`` None is the system (event handlers, the timer, the command line). With
    ``commit=False`` the caller's transaction keeps the changes (event handlers)."""
    if actor is not None:
        require_role(actor, *SCANNERS)
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
    cells = scan.build_cells(
        session,
        rates,
        th,
        lot_ids=lot_ids if not full else None,
        vaccine_ids=(vaccine_ids or []) if not full else None,
        site_ids=(site_ids or []) if not full else None,
    )
    result = ScanResult(run=run, cells=len(cells))
    existing = {
        _key(s.scope, s.target_id, s.event_group, s.method): s
        for s in session.exec(select(Signal).where(Signal.method == SignalMethod.maxsprt))
    }
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
        ev = scan.evaluate(o, e, upper, th, need_cv=stored)
        for i in np.nonzero((ev.level > 0) | stored)[0].tolist():
            sig = stored_by_key.get(int(keys[i]))
            level = scan.LEVEL_NAMES.get(int(ev.level[i]))
            if sig is None:
                if level is None:
                    continue
                lot_id, vaccine_id, site_id = cells.ids(i)
                sig = Signal(
                    scope=cells.scope_name(i),
                    target_id=int(cells.target_id[i]),
                    lot_id=lot_id,
                    vaccine_id=vaccine_id,
                    site_id=site_id,
                    event_group=cells.group_name(i),
                    method=SignalMethod.maxsprt,
                    level=level,
                    status=SignalStatus.new,
                    first_detected_at=now,
                    level_changed_at=now,
                )
                was = None
            else:
                was = SignalLevel(sig.level)
            _fill_maxsprt(sig, i, cells, ev, doses, rate, cfg, now)
            _advance(session, actor, sig, level, was, now, raised, new_review)
    if full and cfg.disproportionality:
        _disproportionality(session, actor, now, new_review)
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


def _fill_maxsprt(sig, i, cells, ev, doses, rate, cfg, now) -> None:
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


def _disproportionality(session, actor, now, new_review) -> None:
    """Vaccine x event group over imported spontaneous reports (Report.source 'vaers')."""
    vg, v, g, n = scan.report_counts(session)
    if not n or not v:
        return
    vaccines = np.array(sorted({vid for vid, _ in v}), dtype=np.int64)
    groups = [x for x in expected.GROUPS if x != "all_aefi"]
    vi = {int(x): k for k, x in enumerate(vaccines.tolist())}
    gi = {x: k for k, x in enumerate(groups)}
    n_vg = np.zeros((vaccines.size, len(groups)))
    for vid, grp, c in vg:
        if grp in gi:
            n_vg[vi[vid], gi[grp]] = c
    n_v = np.zeros(vaccines.size)
    for vid, c in v:
        n_v[vi[vid]] = c
    n_g = np.zeros(len(groups))
    for grp, c in g:
        if grp in gi:
            n_g[gi[grp]] = c
    table = scan.disproportionality_table(n_vg, n_v, n_g, n)
    existing = {
        _key(s.scope, s.target_id, s.event_group, s.method): s
        for s in session.exec(
            select(Signal).where(Signal.method == SignalMethod.disproportionality)
        )
    }
    res = table.result
    for r, c in zip(*np.nonzero(table.signal | (table.a > 0)), strict=True):
        key = _key(
            SignalScope.vaccine, int(vaccines[r]), groups[c], SignalMethod.disproportionality
        )
        sig = existing.get(key)
        if sig is None and not table.signal[r, c]:
            continue
        was = None if sig is None else SignalLevel(sig.level)
        if sig is None:
            sig = Signal(
                scope=SignalScope.vaccine,
                target_id=int(vaccines[r]),
                vaccine_id=int(vaccines[r]),
                event_group=groups[c],
                method=SignalMethod.disproportionality,
                level=SignalLevel.signal,
                first_detected_at=now,
                level_changed_at=now,
            )
        chi_y = float(res.chi2_yates[r, c])
        sig.observed = int(table.a[r, c])
        sig.expected = float(res.expected[r, c])
        sig.doses = int(n_v[r])
        sig.statistic = _capped(res.prr[r, c])
        sig.threshold = 2.0
        sig.p_value = _fnum(sps.chi2.sf(chi_y, 1)) if math.isfinite(chi_y) else None
        sig.strength = min(chi_y / 4.0, 300.0) if math.isfinite(chi_y) else 0.0
        sig.oe_ratio = _fnum(table.a[r, c] / res.expected[r, c]) if res.expected[r, c] else None
        sig.details = {
            "a": int(table.a[r, c]),
            "b": int(table.b[r, c]),
            "c": int(table.c[r, c]),
            "d": int(table.d[r, c]),
            "prr": _fnum(res.prr[r, c]),
            "prr_lower": _fnum(res.prr_lower[r, c]),
            "prr_upper": _fnum(res.prr_upper[r, c]),
            "ror": _fnum(res.ror[r, c]),
            "ror_lower": _fnum(res.ror_lower[r, c]),
            "ror_upper": _fnum(res.ror_upper[r, c]),
            "chi2_yates": _fnum(chi_y),
            "chi2_uncorrected": _fnum(res.chi2_uncorrected[r, c]),
            "ic": _fnum(res.ic[r, c]),
            "ic025": _fnum(res.ic025[r, c]),
            "ic975": _fnum(res.ic975[r, c]),
            "evans": bool(table.signal[r, c]),
            "reports": int(n),
            "source": "vaers",
        }
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


def _counties_of_lot(session: Session, lot_id: int) -> list[int]:
    return [
        int(c)
        for (c,) in session.execute(
            select(Site.county_id)
            .where(col(Site.id).in_(select(Dose.site_id).where(Dose.lot_id == lot_id).distinct()))
            .distinct()
        )
    ]


def _counties_of_vaccine(session: Session, vaccine_id: int) -> list[int]:
    """The counties whose sites gave doses of the product (its signal concerns them)."""
    lots = select(Lot.id).where(Lot.vaccine_id == vaccine_id)
    return [
        int(c)
        for (c,) in session.execute(
            select(Site.county_id)
            .where(
                col(Site.id).in_(select(Dose.site_id).where(col(Dose.lot_id).in_(lots)).distinct())
            )
            .distinct()
        )
    ]


def _sites_holding(session: Session, scope: str, target_id: int) -> list[Site]:
    """The sites that have given doses of the lot (or of the vaccine), or the site itself."""
    if scope == HaltScope.site:
        site = session.get(Site, target_id)
        return [site] if site else []
    if scope == HaltScope.lot:
        ids = select(Dose.site_id).where(Dose.lot_id == target_id).distinct()
    else:
        ids = (
            select(Dose.site_id)
            .where(col(Dose.lot_id).in_(select(Lot.id).where(Lot.vaccine_id == target_id)))
            .distinct()
        )
    return list(session.exec(select(Site).where(col(Site.id).in_(ids)).order_by(Site.code)))


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


def _hold_note(sig: Signal) -> str:
    return (
        f"信号 #{sig.id} / signal #{sig.id}: {sig.event_group} O={sig.observed}, "
        f"E={sig.expected:.3g}, LLR {sig.statistic:.2f} ≥ CV {sig.threshold:.2f}; "
        "暂停使用，待卫健局决定 / held pending the bureau's decision"
    )


def _hold_if_needed(
    session: Session, actor: Actor | None, sig: Signal, cfg: SignalSettings
) -> Lot | None:
    """DOMAIN.md: a halt recommendation is a provisional hold of the lot."""
    if sig.scope != SignalScope.lot or not cfg.auto_hold or sig.lot_id is None:
        return None
    lot = session.get(Lot, sig.lot_id)
    if lot is None or lot.status == LotStatus.recalled:
        return None
    # Held in each county whose sites used the lot (each county's bureau then decides).
    held = [
        c
        for c in _counties_of_lot(session, lot.id)
        if lot_states.hold_lot(session, actor, lot, c, signal_id=sig.id, note=_hold_note(sig))
    ]
    if not held:
        return None
    sig.held_lot = True
    session.add(sig)
    for site in _sites_holding(session, HaltScope.lot, lot.id):
        if site.county_id not in held:
            continue
        notifications.notify(
            session,
            county_id=site.county_id,
            roles=(Role.reporter,),
            site_id=site.id,
            kind="lot_held",
            title=i18n.gettext(
                "Lot {lot} is on hold: do not use it until the bureau decides",
                lot=lot.lot_number,
            ),
            body=i18n.gettext(
                "A signal put the lot on hold. Set the stock aside; new doses of it are "
                "refused until the health bureau decides."
            ),
            link="/halts",
            urgent=True,
        )
    return lot


def _alert_halt_recommended(session: Session, sig: Signal, lot: Lot | None) -> None:
    if sig.scope == SignalScope.lot and sig.lot_id:
        counties = _counties_of_lot(session, sig.lot_id)
    elif sig.scope == SignalScope.site and sig.site_id:
        counties = [session.get(Site, sig.site_id).county_id]
    else:
        counties = _counties_of_vaccine(session, sig.target_id)
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
            roles=ALERTED,
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
        if sig.method != SignalMethod.maxsprt:
            continue  # imported reports belong to no county
        if sig.scope == SignalScope.lot and sig.lot_id:
            counties = _counties_of_lot(session, sig.lot_id)
        elif sig.scope == SignalScope.site and sig.site_id:
            counties = [session.get(Site, sig.site_id).county_id]
        else:
            counties = _counties_of_vaccine(session, sig.target_id)
        for c in counties:
            by_county.setdefault(c, []).append(sig)
    for county_id, items in by_county.items():
        lines = [describe(session, s) for s in items[:10]]
        if len(items) > 10:
            lines.append("…")
        notifications.notify(
            session,
            county_id=county_id,
            roles=ALERTED,
            kind="signal",
            title=i18n.gettext("New signals for review: {n}", n=len(items)),
            body="\n".join(lines),
            link="/signals",
        )


# --- reading and reviewing signals --------------------------------------------------------


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


def list_signals(
    session: Session, actor: Actor, flt: SignalFilter, *, page: int = 1, per_page: int = 50
) -> tuple[list[SignalRow], int]:
    """Signals, strongest first: halt recommendations, then by -log10 p."""
    require_role(actor, *READERS)
    stmt = select(Signal).where(_visible_clause(session, actor))
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
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    rows = session.exec(
        stmt.order_by(
            (col(Signal.level) == SignalLevel.halt_recommended).desc(),
            col(Signal.strength).desc(),
            col(Signal.id),
        )
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
    ).all()
    return signal_rows(session, list(rows)), total


def _visible_clause(session: Session, actor: Actor):
    """Signals that concern the actor's counties: a lot or a vaccine product given at
    their sites, one of their sites. Disproportionality signals come from imported
    reports of no county (reference data): every reader sees them."""
    counties = sorted(actor.county_ids)
    all_counties = session.exec(
        select(func.count()).select_from(Region).where(Region.level == "county")
    ).one()
    if counties and len(counties) >= all_counties:
        return true()  # the only county (or all of them): nothing to filter
    in_sites = select(Site.id).where(col(Site.county_id).in_(counties))
    lot_used = (
        select(Dose.id)
        .where(Dose.lot_id == Signal.target_id, col(Dose.site_id).in_(in_sites))
        .limit(1)
        .exists()
    )
    vaccine_used = (
        select(Dose.id)
        .join(Lot, Lot.id == Dose.lot_id)
        .where(Lot.vaccine_id == Signal.target_id, col(Dose.site_id).in_(in_sites))
        .limit(1)
        .exists()
    )
    return or_(
        Signal.method != SignalMethod.maxsprt,
        and_(Signal.scope == SignalScope.lot, lot_used),
        and_(Signal.scope == SignalScope.vaccine, vaccine_used),
        and_(Signal.scope == SignalScope.site, col(Signal.target_id).in_(in_sites)),
    )


def visible_signals(session: Session, actor: Actor):
    """The clause of the signals that concern the actor's counties (for other domains'
    counts)."""
    return _visible_clause(session, actor)


def get_signal(session: Session, actor: Actor, signal_id: int) -> SignalRow:
    require_role(actor, *READERS)
    sig = session.exec(
        select(Signal).where(Signal.id == signal_id, _visible_clause(session, actor))
    ).first()
    if sig is None:
        raise NotFound("Not found.")
    return signal_rows(session, [sig])[0]


def pending_halt_recommendations(session: Session, actor: Actor | None = None) -> int:
    stmt = (
        select(func.count())
        .select_from(Signal)
        .where(
            Signal.level == SignalLevel.halt_recommended,
            col(Signal.status).in_([SignalStatus.new, SignalStatus.under_review]),
        )
    )
    if actor is not None:
        stmt = stmt.where(_visible_clause(session, actor))
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
    require_role(actor, *REVIEWERS)
    if release_hold:
        require_role(actor, *DECIDERS)
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
    reports = scan.observed_reports(session, sig.scope, sig.target_id, sig.event_group)
    days = sorted(set(per_day) | {t.strftime("%Y-%m-%d") for _, t in reports})
    today = clock.now().strftime("%Y-%m-%d")
    if not days or days[-1] < today:
        days.append(today)
    times = [datetime.fromisoformat(d).replace(tzinfo=clock.now().tzinfo) for d in days]
    e = np.cumsum([per_day.get(d, 0.0) for d in days])
    onset_days = np.array(sorted(t.strftime("%Y-%m-%d") for _, t in reports))
    o = np.searchsorted(onset_days, np.array(days), side="right").astype(float)
    cv = (sig.details or {}).get("cv_halt")
    m = int((sig.details or {}).get("min_events_halt", 2))
    boundary = None
    if cv is not None and sig.upper_limit:
        boundary = scan.boundary_counts(float(cv), float(sig.upper_limit), m, e)
    return row, Series(times, e, o, boundary, cv, sig.upper_limit, m)


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


# --- halt decisions ------------------------------------------------------------------------


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
            obj = registry.lot_by_number(session, actor, target)
            return obj, obj.lot_number
        if scope == HaltScope.vaccine:
            obj = registry.vaccine_by_code(session, target)
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
) -> HaltDecision:
    """The bureau halts a lot, a vaccine product or a site's vaccinations (紧急叫停) for its
    county's sites; the province for the sites of every county below it. A lot or product
    shared by several counties is halted by each on its own."""
    require_role(actor, *DECIDERS)
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
    signal_ids = sorted({int(i) for i in signal_ids or []})
    if signal_ids:
        found = set(
            session.exec(
                select(Signal.id).where(
                    col(Signal.id).in_(signal_ids), _visible_clause(session, actor)
                )
            )
        )
        missing = [i for i in signal_ids if i not in found]
        if missing:
            raise Invalid(
                "No signal with id {ids}.",
                fields={"signal_ids": ", ".join(map(str, missing))},
                ids=", ".join(map(str, missing)),
            )
    report_ids = sorted({int(i) for i in report_ids or []})
    if report_ids:
        found = set(
            session.exec(
                select(Report.id).where(
                    col(Report.id).in_(report_ids), scope_clause(Report.county_id, actor)
                )
            )
        )
        missing = [i for i in report_ids if i not in found]
        if missing:
            raise Invalid(
                "No report with id {ids}.",
                fields={"report_ids": ", ".join(map(str, missing))},
                ids=", ".join(map(str, missing)),
            )
    cluster_ids = sorted({int(i) for i in cluster_ids or []})
    if cluster_ids:
        from aefi.triage.models import Cluster

        found = set(
            session.exec(
                select(Cluster.id).where(
                    col(Cluster.id).in_(cluster_ids), scope_clause(Cluster.county_id, actor)
                )
            )
        )
        missing = [i for i in cluster_ids if i not in found]
        if missing:
            raise Invalid(
                "No cluster with id {ids}.",
                fields={"cluster_ids": ", ".join(map(str, missing))},
                ids=", ".join(map(str, missing)),
            )
    now = clock.now()
    effective = effective_at or now
    year = effective.astimezone(_zone()).year
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
            _visible_clause(session, actor),
            Signal.scope == sc.value,
            Signal.target_id == obj.id,
            col(Signal.status).in_([SignalStatus.new, SignalStatus.under_review]),
        )
    ).all()
    for sid in sorted(set(signal_ids) | set(same_target)):
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


def _zone():
    from aefi.web import local_zone

    return local_zone()


def _apply_halt(session: Session, actor: Actor | None, halt: HaltDecision) -> None:
    """Put the decision in force (``lot_states.apply_halt``), tell the sites."""
    lot_states.apply_halt(session, actor, halt)
    _tell_sites(session, halt, lifted=False)


def _tell_sites(session: Session, halt: HaltDecision, *, lifted: bool) -> None:
    """Every site that holds the lot (has given doses of it) gets the notice; the county's
    investigators and bureau too."""
    if lifted:
        title = i18n.gettext(
            "Halt lifted: {target} ({number})", target=halt.target_label, number=halt.lift_number
        )
        body = i18n.gettext(
            "{number} is lifted: {reason}", number=halt.number, reason=halt.lift_reason
        )
    else:
        title = i18n.gettext(
            "Halted: {target} ({number})", target=halt.target_label, number=halt.number
        )
        body = i18n.gettext(
            "Stop using it at once, set the stock aside and count it. Reason: {reason}",
            reason=halt.reason,
        )
    link = f"/halts/{halt.id}"
    governed = lot_states.counties_governed(session, halt.county_id)
    for site in _sites_holding(session, halt.scope, halt.target_id):
        if site.county_id not in governed:
            continue
        notifications.notify(
            session,
            county_id=site.county_id,
            roles=(Role.reporter,),
            site_id=site.id,
            kind="halt",
            title=title,
            body=body,
            link=link,
            urgent=not lifted,
        )
    for county_id in governed:
        notifications.notify(
            session,
            county_id=county_id,
            roles=(Role.investigator, Role.bureau, Role.admin),
            kind="halt",
            title=title,
            body=body,
            link=link,
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
        _apply_halt(session, None, halt)
    session.commit()
    return len(due)


def lift_halt(session: Session, actor: Actor, halt_id: int, reason: str) -> HaltDecision:
    """A later decision lifts the halt: the registry goes back to active (unless another
    decision in force still holds it), the sites are told."""
    require_role(actor, *DECIDERS)
    halt = get_halt(session, actor, halt_id)
    if halt.county_id != actor.county_id:
        raise Forbidden("Only the authority that issued {number} can lift it.", number=halt.number)
    if halt.lifted_at is not None:
        raise Conflict("{number} was lifted already.", number=halt.number)
    if not reason.strip():
        raise Invalid(
            "Some fields need correcting.", fields={"reason": N_("Give the reason for lifting.")}
        )
    now = clock.now()
    year = now.astimezone(_zone()).year
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
    if halt.applied_at is not None:
        _tell_sites(session, halt, lifted=True)
    session.commit()
    return halt


def halt_authorities(session: Session, actor: Actor) -> list[int]:
    """The regions whose decisions concern the actor: their counties and their province."""
    out = set(actor.county_ids) | {actor.county_id}
    for c in actor.county_ids:
        out.update(lot_states.authorities(session, c))
    return sorted(out)


def get_halt(session: Session, actor: Actor, halt_id: int) -> HaltDecision:
    require_role(actor, *HALT_READERS)
    halt = session.get(HaltDecision, halt_id)
    if halt is None or halt.county_id not in halt_authorities(session, actor):
        raise NotFound("Not found.")
    return halt


def list_halts(session: Session, actor: Actor, *, active: bool | None = None) -> list[HaltDecision]:
    """The decisions in force in the actor's counties (theirs and the province's), newest
    first; ``active`` True: not lifted."""
    require_role(actor, *HALT_READERS)
    stmt = select(HaltDecision).where(
        col(HaltDecision.county_id).in_(halt_authorities(session, actor))
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
        for s in _sites_holding(session, halt.scope, halt.target_id)
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


# --- banners -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Banner:
    level: str  # danger | warning
    text: str


def banners_for(session: Session, user: Any) -> list[Banner]:
    """Above every page: halts in force (and lots on hold) that concern the user's site;
    for the county roles the halts in force and the recommendations awaiting the bureau."""
    role = Role(user.role)
    out: list[Banner] = []
    actor = Actor.of(user, session)
    halts = list(
        session.exec(
            select(HaltDecision).where(
                col(HaltDecision.county_id).in_(halt_authorities(session, actor)),
                col(HaltDecision.lifted_at).is_(None),
                col(HaltDecision.applied_at).is_not(None),
            )
        )
    )
    if role == Role.reporter and user.site_id:
        for h in halts:
            if _concerns_site(session, h.scope, h.target_id, user.site_id):
                out.append(Banner("danger", _halt_text(h)))
        held = session.exec(
            select(Lot).where(
                col(Lot.id).in_(select(LotHold.lot_id).where(LotHold.county_id == user.county_id)),
                col(Lot.id).in_(select(Dose.lot_id).where(Dose.site_id == user.site_id)),
            )
        ).all()
        for lot in held:
            out.append(
                Banner(
                    "warning",
                    i18n.gettext(
                        "Lot {lot} is on hold pending the bureau's decision: do not use it.",
                        lot=lot.lot_number,
                    ),
                )
            )
    elif role in (Role.investigator, Role.bureau, Role.admin, Role.province):
        for h in halts:
            out.append(Banner("danger", _halt_text(h)))
        if role in (Role.bureau, Role.investigator, Role.province):
            n = pending_halt_recommendations(session, actor)
            if n:
                out.append(
                    Banner(
                        "warning",
                        i18n.gettext(
                            "Halt recommendations awaiting the bureau's decision: {n} "
                            "(see Signals).",
                            n=n,
                        ),
                    )
                )
    return out


def _halt_text(h: HaltDecision) -> str:
    what = {
        HaltScope.lot: N_("Lot {target} is halted by {number}: do not use it."),
        HaltScope.vaccine: N_("Vaccine {target} is halted by {number}: do not use it."),
        HaltScope.site: N_("Vaccinations at site {target} are halted by {number}."),
    }[HaltScope(h.scope)]
    return i18n.gettext(what, target=h.target_label, number=h.number)


def _concerns_site(session: Session, scope: str, target_id: int, site_id: int) -> bool:
    if scope == HaltScope.site:
        return target_id == site_id
    if scope == HaltScope.lot:
        q = select(Dose.id).where(Dose.lot_id == target_id, Dose.site_id == site_id).limit(1)
    else:
        q = (
            select(Dose.id)
            .where(
                Dose.site_id == site_id,
                col(Dose.lot_id).in_(select(Lot.id).where(Lot.vaccine_id == target_id)),
            )
            .limit(1)
        )
    return session.exec(q).first() is not None


# --- what the command line and the overview show -------------------------------------------


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
    session: Session, actor: Actor | None, report_ids: list[int], *, trigger: str
) -> ScanResult | None:
    """The scan an event asks for: the lots of the reports' doses.

    Only the lot level runs inside the filing transaction: it is the level that holds a lot
    at once, and a physician waits for it. The vaccine and site levels (signals for review)
    count every dose of a product or a site and follow on the timer's full scan."""
    lots = lot_ids_of_reports(session, report_ids)
    if not lots:
        return None
    return run_scan(
        session, None, trigger=trigger, lot_ids=lots, vaccine_ids=[], site_ids=[], commit=False
    )


def halts_for_site(session: Session, site_id: int, county_id: int) -> list[HaltDecision]:
    return [
        h
        for h in session.exec(
            select(HaltDecision).where(
                col(HaltDecision.county_id).in_(lot_states.authorities(session, county_id)),
                col(HaltDecision.lifted_at).is_(None),
            )
        )
        if _concerns_site(session, h.scope, h.target_id, site_id)
    ]


__all__ = [
    "Banner",
    "HaltView",
    "ScanResult",
    "Series",
    "SignalFilter",
    "SignalRow",
    "apply_due_halts",
    "banners_for",
    "current_rates",
    "get_halt",
    "get_signal",
    "halt_notice_pdf",
    "halt_view",
    "issue_halt",
    "lift_halt",
    "list_halts",
    "list_rates",
    "list_signals",
    "run_scan",
    "save_rate",
    "scan_for_reports",
    "set_signal_status",
    "signal_series",
]
