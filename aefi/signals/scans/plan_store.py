"""The stored surveillance plans of the scans (the arithmetic is :mod:`aefi.signals.plans`).

Each scan reads, for every cell it evaluates, the active plan of that scope x target x
event group: T and the review critical value come from the plan, never from the data of
the day. A cell without a plan gets one (its T fixed from the lot's size, the product's
planned doses, or the default); a plan whose inputs went up, or whose planned end has
been passed, is replaced by a new plan with a T at least as large — audited with both
figures. Starting plans is audited as one event per scan (a full scan can start tens of
thousands), each replacement as one event per plan.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import bindparam, insert, text
from sqlmodel import Session, select

from aefi import audit
from aefi.auth.permissions import Actor
from aefi.signals import counts, plans, scan
from aefi.signals.config import SignalSettings
from aefi.signals.models import SurveillancePlan


@dataclass
class PlanArrays:
    """Per cell of a :class:`~aefi.signals.scan.Cells`: its plan's figures."""

    plan_id: np.ndarray
    upper_limit: np.ndarray  # T on the grid
    cv_signal: np.ndarray
    alpha: np.ndarray  # the group's share
    alpha_family: np.ndarray
    family_size: np.ndarray
    planned_doses: np.ndarray
    source: np.ndarray  # str per cell (object array)
    started: int = 0
    replaced: int = 0


def rule_of(cfg: SignalSettings) -> plans.PlanRule:
    return plans.PlanRule(
        alpha=cfg.alpha,
        signal_min_events=cfg.signal_min_events,
        halt_min_events=cfg.halt_min_events,
        t_factor=cfg.t_factor,
        default_planned_doses=cfg.default_planned_doses,
    )


def _lookup(rows: list, keys: np.ndarray) -> np.ndarray:
    """The value of each key in (id, value) rows, nan where none or NULL."""
    if not rows or not keys.size:
        return np.full(keys.shape, np.nan)
    ids = np.array([int(i) for i, _v in rows], dtype=np.int64)
    vals = np.array([np.nan if v is None else float(v) for _i, v in rows], dtype=float)
    order = np.argsort(ids)
    ids, vals = ids[order], vals[order]
    k = np.minimum(np.searchsorted(ids, keys), ids.size - 1)
    return np.where(ids[k] == keys, vals[k], np.nan)


def _sizes(session: Session, cells: scan.Cells) -> tuple[np.ndarray, np.ndarray]:
    """The lot's recorded size and the product's planned doses per cell (nan unknown)."""
    n = len(cells)
    size, prod = np.full(n, np.nan), np.full(n, np.nan)
    is_lot, has_v = cells.lot_id >= 0, cells.vaccine_id >= 0
    lot_ids = np.unique(cells.lot_id[is_lot])
    vac_ids = np.unique(cells.vaccine_id[has_v])
    if lot_ids.size:
        rows = (
            counts.raw_rows(session, "SELECT id, doses_received FROM lot")
            if lot_ids.size > 500  # a full scan: every lot, without 10,000 bound parameters
            else session.execute(
                text("SELECT id, doses_received FROM lot WHERE id IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                ),
                {"ids": lot_ids.tolist()},
            ).all()
        )
        size[is_lot] = _lookup(rows, cells.lot_id[is_lot])
    if vac_ids.size:
        rows = session.execute(
            text("SELECT id, planned_doses FROM vaccine WHERE id IN :ids").bindparams(
                bindparam("ids", expanding=True)
            ),
            {"ids": vac_ids.tolist()},
        ).all()
        prod[has_v] = _lookup(rows, cells.vaccine_id[has_v])
    return size, prod


@dataclass
class _Running:
    """The active plans matching the cells, as arrays (no ORM objects: a full scan has one
    per cell, ~100,000, and loading them as objects cost seconds)."""

    has: np.ndarray  # bool per cell
    id: np.ndarray
    upper_limit: np.ndarray
    cv_signal: np.ndarray
    planned_doses: np.ndarray
    alpha: np.ndarray
    signal_min_events: np.ndarray
    halt_min_events: np.ndarray
    source: np.ndarray  # str per cell, None where no plan runs (object array)


@dataclass(frozen=True)
class _PlanRows:
    """Active plans as arrays sorted by cell key (``scan.cell_key`` over ``groups``):
    ``num`` holds id, T, review CV, planned doses, alpha, M_signal, M_halt per row."""

    token: str | None
    groups: tuple[str, ...]
    keys: np.ndarray
    num: np.ndarray
    source: np.ndarray


# Every active plan as the last full scan read it, under the database's plan token
# (migration 0033: a new random token on every plan write). A warm full scan then reads
# one row instead of one per cell. A reference swapped whole, so threads may share it.
_cached: _PlanRows | None = None


def _plans_token(session: Session) -> str | None:
    """The database's plan token; a missing row (a table emptied by hand, or truncated with
    every table between tests) is put back with a fresh token, in the scan's transaction,
    so that the triggers have a row to change again."""
    sql = "SELECT token FROM surveillance_plan_version WHERE id = 1"
    rows = counts.raw_rows(session, sql)
    if not rows:
        session.execute(
            text(
                "INSERT INTO surveillance_plan_version (id, token) VALUES (1, :t) "
                "ON CONFLICT (id) DO NOTHING"
            ),
            {"t": secrets.token_hex(16)},
        )
        rows = counts.raw_rows(session, sql)
    return str(rows[0][0]) if rows else None


def forget_cached_plans() -> None:
    """Drop the plans kept in memory (after this process wrote plans: the token moved)."""
    global _cached
    _cached = None


def _plan_rows(
    session: Session, groups: list[str], token: str | None, target_ids: list[int] | None
) -> _PlanRows:
    """The active plans of the scanned groups (of ``target_ids`` only, unless None), keyed
    by the database so that the rows come back as plain numbers."""
    # Names are the code's own (scan.SCOPES, the rate table's groups), quoted as literals.
    scope_case = " ".join(f"WHEN '{s}' THEN {j}" for j, s in enumerate(scan.SCOPES))
    group_case = " ".join(
        f"WHEN '{g.replace(chr(39), chr(39) * 2)}' THEN {j}" for j, g in enumerate(groups)
    )
    key = (
        f"((CASE scope {scope_case} END) * {10**10} + target_id) * {scan._KEY_TARGET} "
        f"+ (CASE event_group {group_case} END)"
    )
    sql = (
        f"SELECT * FROM (SELECT {key} AS k, id, upper_limit, cv_signal, planned_doses, alpha, "
        "signal_min_events, halt_min_events, doses_source FROM surveillance_plan WHERE active"
    )
    if target_ids is None:
        rows = counts.raw_rows(session, sql + ") p WHERE k IS NOT NULL")
    else:
        stmt = text(sql + " AND target_id IN :ids) p WHERE k IS NOT NULL").bindparams(
            bindparam("ids", expanding=True)
        )
        rows = session.execute(stmt, {"ids": target_ids or [-1]}).all()
    if not rows:
        return _PlanRows(token, tuple(groups), np.zeros(0, np.int64), np.zeros((0, 7)), np.zeros(0))
    num = np.array([r[1:8] for r in rows], dtype=float)
    pkeys = np.array([r[0] for r in rows], dtype=np.int64)
    src = np.array([r[8] for r in rows], dtype=object)
    order = np.argsort(pkeys, kind="stable")
    return _PlanRows(token, tuple(groups), pkeys[order], num[order], src[order])


def _active(session: Session, cells: scan.Cells, full: bool) -> _Running:
    """The active plan of each cell, found by one int64 key per cell: from memory when the
    database's plan token is the one they were read under, else read (and, for a full
    scan, kept)."""
    global _cached
    n = len(cells)
    out = _Running(
        has=np.zeros(n, dtype=bool),
        id=np.zeros(n, dtype=np.int64),
        upper_limit=np.zeros(n),
        cv_signal=np.zeros(n),
        planned_doses=np.zeros(n),
        alpha=np.zeros(n),
        signal_min_events=np.zeros(n, dtype=np.int64),
        halt_min_events=np.zeros(n, dtype=np.int64),
        source=np.full(n, None, dtype=object),
    )
    if not n or not cells.groups:
        return out
    # The token first: a plan written between the two reads then shows as a changed token
    # at the next scan (the kept rows are newer than their token, never older).
    token = _plans_token(session)
    kept = _cached
    if (
        kept is not None
        and token is not None
        and (kept.token, kept.groups)
        == (
            token,
            tuple(cells.groups),
        )
    ):
        plans_ = kept
    elif full:
        plans_ = _plan_rows(session, cells.groups, token, None)
        if token is not None:
            _cached = plans_
    else:  # a lot scan after a filing reads its targets' few plans
        targets = sorted({int(x) for x in cells.target_id.tolist()})
        plans_ = _plan_rows(session, cells.groups, token, targets)
    if not plans_.keys.size:
        return out
    pkeys = plans_.keys
    ckeys = cells.keys()
    k = np.minimum(np.searchsorted(pkeys, ckeys), pkeys.size - 1)
    hit = pkeys[k] == ckeys
    j = k[hit]  # the plan row of each cell that has one
    num = plans_.num
    out.has[hit] = True
    out.id[hit] = num[j, 0].astype(np.int64)
    out.upper_limit[hit] = num[j, 1]
    out.cv_signal[hit] = num[j, 2]
    out.planned_doses[hit] = num[j, 3]
    out.alpha[hit] = num[j, 4]
    out.signal_min_events[hit] = num[j, 5].astype(np.int64)
    out.halt_min_events[hit] = num[j, 6].astype(np.int64)
    out.source[hit] = plans_.source[j]
    return out


def plans_for(
    session: Session,
    actor: Actor,
    cells: scan.Cells,
    cfg: SignalSettings,
    now: datetime,
    *,
    full: bool,
) -> PlanArrays:
    """The active plan of every cell, starting or replacing plans where needed."""
    rule = rule_of(cfg)
    n = len(cells)
    o, doses, e, _upper, rate = cells.arrays()
    size, prod = _sizes(session, cells)
    planned, src = plans.planned_doses(doses, size, prod, rule)
    # For a running plan only the admin's figures may raise T, not the fallback (which
    # grows with the doses given: that is the moving T the plans are here to stop).
    known = src < 2
    computed = rate * planned
    family_key = scan.cell_key(cells.scope, cells.target_id, np.zeros(n, dtype=np.int64))
    alpha_g, fam = plans.family_shares(family_key, rule.alpha)

    out_id = np.zeros(n, dtype=np.int64)
    out_T, out_cv = np.zeros(n), np.zeros(n)
    out_doses = np.zeros(n)
    out_src = np.full(n, "", dtype=object)
    # The running plans, as arrays (one int64 key per cell), then every decision at once.
    run = _active(session, cells, full)
    has, old_T = run.has, np.where(run.has, run.upper_limit, 0.0)
    same_rule = (
        has
        & (np.abs(run.alpha - alpha_g) <= 1e-12 * rule.alpha)
        & (run.signal_min_events == rule.signal_min_events)
        & (run.halt_min_events == rule.halt_min_events)
    )
    T_new, extension = plans.next_upper_limits(
        has, old_T, np.where(known, computed, 0.0), computed, e, rule.t_factor
    )
    T_grid = scan.grid_upper_limit(np.maximum(T_new, 1e-300))
    keep = has & same_rule & (T_grid <= old_T * (1 + 1e-12))
    out_id[keep] = run.id[keep]
    out_T[keep] = run.upper_limit[keep]
    out_cv[keep] = run.cv_signal[keep]
    out_doses[keep] = run.planned_doses[keep]
    out_src[keep] = run.source[keep]
    # Plans started: rows inserted set-wise, their ids returned by cell (a fresh county's
    # first full scan starts one for every cell: 91,080 ORM objects took 27 of its 38 s at
    # 1 M doses). Plans replaced: ORM objects beside the old ones, each audited.
    starts: list[tuple[int, dict]] = []
    new_rows: list[tuple[int, SurveillancePlan, SurveillancePlan]] = []
    for i in np.nonzero(~keep)[0].tolist():
        old = session.get(SurveillancePlan, int(run.id[i])) if has[i] else None
        if old is not None:
            source = plans.SOURCE_EXTENSION if extension[i] else plans.SOURCES[int(src[i])]
            doses_i = max(old.planned_doses, T_new[i] / float(rate[i])) if rate[i] > 0 else 0.0
            reason = "extension" if extension[i] else ("inputs" if same_rule[i] else "rule")
        else:
            source = plans.SOURCES[int(src[i])]
            doses_i = float(planned[i])
            reason = "start"
        key = (cells.scope_name(i), int(cells.target_id[i]), cells.group_name(i))
        lot_id, vaccine_id, site_id = cells.ids(i)
        values = dict(
            scope=key[0],
            target_id=key[1],
            lot_id=lot_id,
            vaccine_id=vaccine_id,
            site_id=site_id,
            event_group=key[2],
            rate_per_dose=float(rate[i]),
            planned_doses=float(doses_i),
            doses_source=source,
            upper_limit=float(T_grid[i]),
            alpha_family=rule.alpha,
            alpha=float(alpha_g[i]),
            family_size=int(fam[i]),
            signal_min_events=rule.signal_min_events,
            halt_min_events=rule.halt_min_events,
            cv_signal=scan.critical_value(
                float(T_grid[i]), float(alpha_g[i]), rule.signal_min_events
            ),
            halt_rule=plans.HALT_RULE,
            started_at=now,
            active=True,
            superseded_by_id=None,
            ended_at=None,
            reason=reason,
        )
        if old is None:
            starts.append((i, values))
        else:
            new_rows.append((i, SurveillancePlan(**values), old))
    if starts or new_rows:
        forget_cached_plans()  # the token moves with these writes (migration 0033)
    started = len(starts)
    first_started = 0
    if starts:
        session.flush()
        # Returned in any order (ordered RETURNING is a row a statement on SQLite): each
        # started plan is the only one of its cell.
        P = SurveillancePlan
        returned = session.execute(
            insert(P).returning(P.id, P.scope, P.target_id, P.event_group),
            [v for _, v in starts],
        ).all()
        id_of = {(sc, t, g): pid for pid, sc, t, g in returned}
        for i, v in starts:
            plan_id = id_of[(v["scope"], v["target_id"], v["event_group"])]
            out_id[i], out_T[i], out_cv[i] = plan_id, v["upper_limit"], v["cv_signal"]
            out_doses[i], out_src[i] = v["planned_doses"], v["doses_source"]
        first_started = min(id_of.values())
    if new_rows:
        session.add_all([p for _, p, _ in new_rows])
        session.flush()
    replaced = len(new_rows)
    for i, plan, old in new_rows:
        out_id[i], out_T[i], out_cv[i] = plan.id, plan.upper_limit, plan.cv_signal
        out_doses[i], out_src[i] = plan.planned_doses, plan.doses_source
        old.active = False
        old.ended_at = now
        old.superseded_by_id = plan.id
        session.add(old)
        audit.record(
            session,
            actor,
            "replace",
            "surveillance_plan",
            plan.id,
            summary=(
                f"{plan.scope} {plan.target_id} {plan.event_group}: T {old.upper_limit:.4g} → "
                f"{plan.upper_limit:.4g} ({plan.reason})"
            ),
            changes={
                "replaces": old.id,
                "upper_limit": [old.upper_limit, plan.upper_limit],
                "alpha": [old.alpha, plan.alpha],
                "cv_signal": [old.cv_signal, plan.cv_signal],
                "doses_source": [old.doses_source, plan.doses_source],
            },
        )
    if started:
        audit.record(
            session,
            actor,
            "start",
            "surveillance_plan",
            first_started,
            summary=f"{started} surveillance plans started (first #{first_started})",
            changes={"started": started},
        )
    return PlanArrays(
        plan_id=out_id,
        upper_limit=out_T,
        cv_signal=out_cv,
        alpha=np.asarray(alpha_g, dtype=float),
        alpha_family=np.full(n, rule.alpha),
        family_size=np.asarray(fam, dtype=np.int64),
        planned_doses=out_doses,
        source=out_src,
        started=started,
        replaced=replaced,
    )


def active_plans(session: Session, scope: str, target_id: int) -> list[SurveillancePlan]:
    """The plans in force for one target (for its pages)."""
    return list(
        session.exec(
            select(SurveillancePlan)
            .where(
                SurveillancePlan.scope == scope,
                SurveillancePlan.target_id == target_id,
                SurveillancePlan.active == True,  # noqa: E712
            )
            .order_by(SurveillancePlan.event_group)
        )
    )
