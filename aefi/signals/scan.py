"""The scan: decide with numpy over the counts ``counts`` takes in SQL.

Two halves, kept apart so the decision can be tested (and the bench's arithmetic checked)
without a database:

* **Pure** (arrays in, arrays out): :func:`upper_limits`, :func:`critical_values`,
  :func:`evaluate` (MaxSPRT, exact Poisson p, Garwood O/E, the two levels),
  :func:`disproportionality_table` (PRR/ROR/chi-square/IC and Evans over a vaccine x event
  group table of spontaneous reports) and :func:`report_table` (that table, with each
  cell's p and strength, from the report counts).
* **Counting** is in :mod:`aefi.signals.counts` (grouped SQL over ``report_dose``/
  ``report``/``dose`` with indexes): ``dose_counts``, ``observed_counts``,
  ``report_counts``, assembled into :class:`Cells` by ``build_cells``. This module opens
  no database session.

Definitions (DOMAIN.md, "Signal detection"):

* Observed O of a lot, event group: distinct reports (not imported VAERS ones) linked to a
  dose of the lot, with the event group, whose onset lies in the risk window
  [dose time + start, dose time + end] (days, both ends included) of that vaccine and
  group. Per vaccine and per site the same, over their doses (a dose's site is the
  registry dose's site, or the reporting site for doses entered by hand).
* Expected E: doses given (count of ``dose`` rows) x rate per dose. For a site, the sum
  over its vaccines.
* Upper limit T (the expected count at the planned end of surveillance): for a lot,
  rate x doses received (the lot's size) when that is known and not below the doses
  given, else E x ``t_factor``; for a vaccine or a site, E x ``t_factor``. T is then rounded
  *up* onto a grid (48 points a decade to T = 100, 24 to 1000, 4 beyond: at most 5 %,
  10 %, 78 % larger) so that 10,000 lots need ~100 critical values, not 10,000. The CV
  grows with T (slowly: 4.32 at T = 1000, 4.47 at 3000 for M = 1), so rounding up only
  makes the test slightly conservative.
* Levels: ``signal`` when O >= M_signal and LLR >= CV(T, alpha, M_signal);
  ``halt_recommended`` when O >= M_halt and LLR >= CV(T, alpha, M_halt). Where no CV
  reaches alpha because T is so small that even the most permissive boundary has a type I
  error below alpha (P(N(T) >= M) < alpha), any excess (O > E) with at least M events
  signals: that rule's error is at most P(N(T) >= M) < alpha. The CV is then stored as 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import numpy as np
from scipy import optimize
from scipy import stats as sps

from aefi.signals import plans, stats
from aefi.signals.expected import GROUPS, Rate

NONE, SIGNAL, HALT = 0, 1, 2
LEVEL_NAMES = {SIGNAL: "signal", HALT: "halt_recommended"}
P_FLOOR = 1e-300  # strength = -log10(p), p floored so that it stays finite


# ======================================================================================
# Pure decisions
# ======================================================================================


@dataclass(frozen=True)
class Thresholds:
    alpha: float = 0.05
    signal_min_events: int = 1
    halt_min_events: int = 2
    t_factor: float = 2.0


def grid_upper_limit(T: np.ndarray) -> np.ndarray:
    """Round T up onto the grid described in the module docstring (never down)."""
    T = np.asarray(T, dtype=float)
    steps = np.where(T <= 100, 48.0, np.where(T <= 1000, 24.0, 4.0))
    with np.errstate(divide="ignore"):
        g = 10.0 ** (np.ceil(np.log10(T) * steps - 1e-9) / steps)
    return np.maximum(g, T)


def upper_limits(
    expected: np.ndarray,
    rate: np.ndarray,
    doses: np.ndarray,
    doses_received: np.ndarray,
    t_factor: float,
) -> np.ndarray:
    """T per cell (not yet on the grid). ``doses_received`` <= 0 or nan means unknown (and
    is always unknown for vaccines and sites)."""
    expected = np.asarray(expected, dtype=float)
    received = np.nan_to_num(np.asarray(doses_received, dtype=float), nan=0.0)
    planned = np.where(received >= np.asarray(doses, dtype=float), received, 0.0)
    by_size = np.nan_to_num(np.asarray(rate, dtype=float), nan=0.0) * planned
    T = np.where(planned > 0, by_size, expected * t_factor)
    return np.maximum(T, expected)


# Above FAST_T the exact type I error costs tens of ms to seconds per evaluation (it grows
# like T^1.5 with stats.type1_error's window, T^2 before it) and a root search needs many:
# the scan then uses the large-T error below, whose cost does not depend on T at all.
FAST_T = 300.0
_cv_cache: dict[tuple[float, float, int], float] = {}
_cv_unsaved: set[tuple[float, float, int]] = set()


def known_critical_values(rows: Iterable[tuple[float, float, int, float]]) -> None:
    """Seed the cache with values stored earlier (the service keeps them in a table)."""
    for t, a, m, cv in rows:
        _cv_cache.setdefault((float(t), float(a), int(m)), float(cv))


def unsaved_critical_values() -> list[tuple[float, float, int, float]]:
    """Values computed in this process and not yet handed out for storing."""
    out = [(*k, _cv_cache[k]) for k in sorted(_cv_unsaved)]
    _cv_unsaved.clear()
    return out


# --- Large T: the error extrapolated in log T from three exact anchors ------------------
#
# Under H0 the count minus t, over sqrt(t), is asymptotically a Brownian motion in scaled
# time, and the MaxSPRT boundary is asymptotically N - t = sqrt(2 cv t): scale invariant.
# In log time the process is then a stationary Ornstein-Uhlenbeck process below a fixed
# level, so the survival S(cv, T) = 1 - error(cv, T) falls by a constant factor per unit
# of ln T: the hazard h(T) = -d ln S / d ln T tends to a constant h_inf(cv). For Poisson
# data h rises towards h_inf (the discreteness and skew delay crossings at small t),
# with increments shrinking by a factor ~0.6 per tripling of T (measured: 0.58-0.65 for
# cv 3.9-4.8 and M = 1, 2 over T = 33 to 8100; below T = 33 the factor is larger, ~0.8,
# which is why the anchors start at 100; see the unit tests).
#
# The exact error is computed at the anchors A = 100, 300, 900 for the cv in question.
# With h1 = hazard over [100, 300] and h2 over [300, 900]:
#   300 < T <= 900: ln S(T) = ln S(300) - h2 ln(T / 300)   (h rises, so the mean
#                   hazard over [300, T] is <= the mean over [300, 900]);
#   T > 900:        ln S(T) = ln S(900) - (h2 + 2 (h2 - h1)) ln(T / 900)
#                   (h2 + 2 (h2 - h1) bounds h_inf when the increments shrink by a factor
#                   <= 2/3, as measured).
# Both over-state the error (a conservative, slightly larger cv): validated against the
# exact error to T = 8100 and by simulation at T = 10,000 and beyond in the unit tests.
# The exact anchors are computed on a grid of cv (steps of 1/8) shared by every T, and
# ln(-ln S) (nearly linear in cv) is interpolated between them by a cubic through four
# nodes, so a whole scan needs some 10-15 anchor evaluations per (alpha, M).
ANCHORS = (100.0, 300.0, 900.0)
_CV_STEP = 0.125
_anchor_cache: dict[tuple[int, int], np.ndarray] = {}


def _anchor_log_survival(k: int, min_events: int) -> np.ndarray:
    """ln S(cv, A) at the three anchors, cv = k * _CV_STEP (cached)."""
    key = (k, min_events)
    if key not in _anchor_cache:
        cv = k * _CV_STEP
        _anchor_cache[key] = np.array(
            [math.log1p(-stats.type1_error(cv, a, min_events)) for a in ANCHORS]
        )
    return _anchor_cache[key]


def _extrapolate(log_s: np.ndarray, T: float) -> float:
    """The large-T error from ln S at the anchors (see the comment above)."""
    l1, l2, l3 = (float(x) for x in log_s)
    h1 = (l1 - l2) / math.log(ANCHORS[1] / ANCHORS[0])
    h2 = (l2 - l3) / math.log(ANCHORS[2] / ANCHORS[1])
    if ANCHORS[2] >= T:
        log_surv = l2 - h2 * math.log(T / ANCHORS[1])
    else:
        log_surv = l3 - (h2 + 2.0 * max(h2 - h1, 0.0)) * math.log(T / ANCHORS[2])
    return -math.expm1(log_surv)


def large_T_type1_error(cv: float, T: float, min_events: int) -> float:
    """The large-T error bound at cv (interpolated between anchor nodes), T > FAST_T."""
    k = math.floor(cv / _CV_STEP)
    nodes = np.arange(k - 1, k + 3)
    logs = np.array([_anchor_log_survival(int(n), min_events) for n in nodes])
    x = nodes * _CV_STEP
    # Lagrange cubic through the four nodes, on ln(-ln S) per anchor.
    y = np.log(-logs)
    w = np.array(
        [np.prod([(cv - x[m]) / (x[i] - x[m]) for m in range(4) if m != i]) for i in range(4)]
    )
    log_s = -np.exp(w @ y)
    return _extrapolate(log_s, T)


def _critical_value_large_T(T: float, alpha: float, min_events: int) -> float:
    """The smallest cv (to 1e-9, rounded up to 1e-7) whose large-T error is <= alpha."""

    def node_excess(k: int) -> float:
        return _extrapolate(_anchor_log_survival(k, min_events), T) - alpha

    # Find nodes k, k + 1 with excess(k) > 0 >= excess(k + 1): secant steps on the node
    # index (ln error is nearly linear in cv), starting from a node used before if any.
    used = [k for (k, m) in _anchor_cache if m == min_events]
    k = int(np.median(used)) if used else int(4.0 / _CV_STEP)
    f = node_excess(k)
    for _ in range(200):
        d = 1 if f > 0 else -1
        k2 = k + d
        f2 = node_excess(k2)
        if (f > 0) != (f2 > 0):
            break
        # Still on the same side: jump by the secant of ln(error) per node (floored, so
        # it rarely overshoots; an overshoot just turns the walk round).
        per_node = math.log((f2 + alpha) / (f + alpha))
        ahead = math.log(alpha / (f2 + alpha)) / per_node if per_node else 0.0
        k = k2 + d * max(int(math.floor(ahead)) - 1, 0) if math.isfinite(ahead) else k2
        f = node_excess(k)
    else:  # pragma: no cover - ln(error) is monotone and nearly linear in cv
        raise RuntimeError("could not bracket the large-T critical value")
    lo_k = min(k, k2)
    lo, hi = lo_k * _CV_STEP, (lo_k + 1) * _CV_STEP
    root = float(
        optimize.brentq(
            lambda cv: large_T_type1_error(cv, T, min_events) - alpha, lo, hi, xtol=1e-10
        )
    )
    cv = math.ceil(root * 1e7) / 1e7
    while large_T_type1_error(cv, T, min_events) > alpha:  # pragma: no cover - rounding
        cv += 1e-7
    return cv


def critical_value(T: float, alpha: float, min_events: int) -> float:
    """MaxSPRT CV for one T (on the grid), 0.0 where none reaches alpha. Cached.

    Exact (stats.critical_value, Sequential's CV.Poisson) for T <= FAST_T; above it the
    large-T value, whose exact type I error is <= alpha (a cv a little above the exact one:
    +1e-4 at T = 316, +5e-3 at T = 1778)."""
    key = (float(T), float(alpha), int(min_events))
    if key not in _cv_cache:
        try:
            if T <= FAST_T:
                _cv_cache[key] = stats.critical_value(float(T), alpha, min_events)
            else:
                _cv_cache[key] = _critical_value_large_T(float(T), alpha, min_events)
        except stats.NoCriticalValueError:
            _cv_cache[key] = 0.0
        _cv_unsaved.add(key)
    return _cv_cache[key]


def critical_values(T: np.ndarray, alpha: float, min_events: int) -> np.ndarray:
    """:func:`critical_value` for each T (already on the grid), 0.0 where none reaches alpha.

    One root search per distinct T, cached for the life of the process."""
    T = np.asarray(T, dtype=float)
    out = np.zeros(T.shape)
    if T.size == 0:
        return out
    uniq, inverse = np.unique(T, return_inverse=True)
    values = np.array([critical_value(float(t), alpha, min_events) if t > 0 else 0.0 for t in uniq])
    return values[inverse].reshape(T.shape)


@dataclass
class Evaluation:
    """Per cell: the MaxSPRT state, the exact Poisson test, O/E and the level."""

    observed: np.ndarray
    expected: np.ndarray
    upper_limit: np.ndarray  # T on the grid
    llr: np.ndarray
    p_value: np.ndarray
    oe: np.ndarray
    oe_lower: np.ndarray
    oe_upper: np.ndarray
    cv_signal: np.ndarray
    cv_halt: np.ndarray
    level: np.ndarray  # 0 none, 1 signal, 2 halt_recommended
    strength: np.ndarray  # -log10(p), for ranking


def evaluate(
    observed: Sequence[int] | np.ndarray,
    expected: Sequence[float] | np.ndarray,
    upper_limit: Sequence[float] | np.ndarray,
    th: Thresholds,
    *,
    only_candidates: bool = True,
    need_cv: np.ndarray | None = None,
    plan_cv: np.ndarray | None = None,
) -> Evaluation:
    """Decide every cell at once. E must be positive.

    ``plan_cv``: the cells' fixed plans (:mod:`aefi.signals.plans`) — ``upper_limit`` is
    then each plan's T (already on the grid) and ``plan_cv`` its review CV; the halt needs
    that CV and O >= M_halt (``plans.HALT_RULE``). Without it (the old rule, kept for
    comparisons): CV(T, alpha, M) per level, T from the data.

    ``only_candidates``: compute CVs only where a level is reachable (O >= min M and
    O > E), and where ``need_cv`` asks (cells already stored as signals, to show); the
    other CV fields are nan. The levels are the same either way."""
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    llr = np.asarray(stats.maxsprt_llr(o, e), dtype=float).reshape(o.shape)
    p = np.asarray(stats.poisson_sf_test(o, e), dtype=float).reshape(o.shape)
    ratio = stats.oe_ratio_arrays(o, e, alpha=0.05)
    m_sig, m_halt = th.signal_min_events, th.halt_min_events
    if plan_cv is not None:
        T = np.asarray(upper_limit, dtype=float)
        cv = np.asarray(plan_cv, dtype=float)
        d = plans.decide(o, e, llr, cv, m_sig, m_halt)
        return Evaluation(
            observed=o,
            expected=e,
            upper_limit=T,
            llr=llr,
            p_value=p,
            oe=np.asarray(ratio.ratio, dtype=float).reshape(o.shape),
            oe_lower=np.asarray(ratio.lower, dtype=float).reshape(o.shape),
            oe_upper=np.asarray(ratio.upper, dtype=float).reshape(o.shape),
            cv_signal=cv,
            cv_halt=cv.copy(),
            level=np.where(d.halt, HALT, np.where(d.signal, SIGNAL, NONE)),
            strength=-np.log10(np.maximum(p, P_FLOOR)),
        )
    T = grid_upper_limit(np.maximum(np.asarray(upper_limit, dtype=float), e))
    cand = (o > e) & (o >= min(m_sig, m_halt)) if only_candidates else np.ones(o.shape, bool)
    want = cand if need_cv is None else (cand | np.asarray(need_cv, dtype=bool))
    cv_sig = np.full(o.shape, np.nan)
    cv_halt = np.full(o.shape, np.nan)
    if want.any():
        cv_sig[want] = critical_values(T[want], th.alpha, m_sig)
        cv_halt[want] = critical_values(T[want], th.alpha, m_halt)
    with np.errstate(invalid="ignore"):
        # LLR > 0 exactly when O > E, so the CV = 0 case ("any excess") needs no branch.
        sig = cand & (o >= m_sig) & (llr > 0) & (llr >= cv_sig)
        halt = cand & (o >= m_halt) & (llr > 0) & (llr >= cv_halt)
    level = np.where(halt, HALT, np.where(sig, SIGNAL, NONE))
    strength = -np.log10(np.maximum(p, P_FLOOR))
    return Evaluation(
        observed=o,
        expected=e,
        upper_limit=T,
        llr=llr,
        p_value=p,
        oe=np.asarray(ratio.ratio, dtype=float).reshape(o.shape),
        oe_lower=np.asarray(ratio.lower, dtype=float).reshape(o.shape),
        oe_upper=np.asarray(ratio.upper, dtype=float).reshape(o.shape),
        cv_signal=cv_sig,
        cv_halt=cv_halt,
        level=level,
        strength=strength,
    )


def boundary_counts(cv: float, T: float, min_events: int, expected: np.ndarray) -> np.ndarray:
    """The MaxSPRT boundary as a count: the events needed to signal at each expected count
    (smallest c >= M with LLR(c, E) >= cv, i.e. with mu_c >= E). For the chart."""
    expected = np.asarray(expected, dtype=float)
    if cv <= 0:
        # No CV reaches alpha: M events, and more than E, signal.
        return np.maximum(float(min_events), np.floor(expected) + 1.0)
    mus = stats.signal_times(cv, T, min_events)  # mu_c for c = M, M+1, ... while < T
    idx = np.searchsorted(mus, expected, side="left")  # first c whose mu_c >= E
    counts = min_events + idx.astype(float)
    # Past the last mu_c < T the c-th event signals only at T itself.
    return counts


@dataclass
class DisproportionalityTable:
    """Evans/PRR/ROR/IC over vaccines (rows) x event groups (columns)."""

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray
    result: stats.Disproportionality
    signal: np.ndarray  # Evans (PRR >= 2, Yates chi-square >= 4, a >= 3)


def disproportionality_table(
    n_vg: np.ndarray, n_v: np.ndarray, n_g: np.ndarray, n: int
) -> DisproportionalityTable:
    """The 2x2 table of every vaccine x event group from report counts.

    a = reports with the vaccine and the group, b = with the vaccine, not the group,
    c = the group, not the vaccine, d = the rest (DOMAIN.md)."""
    n_vg = np.asarray(n_vg, dtype=float)
    a = n_vg
    b = np.asarray(n_v, dtype=float)[:, None] - a
    c = np.asarray(n_g, dtype=float)[None, :] - a
    d = float(n) - a - b - c
    res = stats.disproportionality(a, b, c, d)
    return DisproportionalityTable(a, b, c, d, res, np.asarray(res.evans, dtype=bool))


@dataclass
class ReportTable:
    """Disproportionality over counts of spontaneous reports: vaccines (rows, ascending ids)
    x event groups (columns), with each cell's chi-square p and strength."""

    vaccines: np.ndarray
    groups: list[str]
    n_v: np.ndarray  # reports naming each vaccine
    n: int  # reports in all
    table: DisproportionalityTable
    p_value: np.ndarray  # Yates chi-square, 1 df, upper tail; nan where chi-square is not finite
    strength: np.ndarray  # chi-square / 4, at most 300; 0 where chi-square is not finite


def report_table(
    vg: Iterable[tuple[int, str, int]],
    v: Sequence[tuple[int, int]],
    g: Iterable[tuple[str, int]],
    n: int,
    groups: Sequence[str],
) -> ReportTable | None:
    """The table of :func:`disproportionality_table` from :func:`report_counts`' rows
    (groups not in ``groups`` are left out); None without reports or vaccines."""
    if not n or not v:
        return None
    vaccines = np.array(sorted({vid for vid, _ in v}), dtype=np.int64)
    groups = list(groups)
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
    table = disproportionality_table(n_vg, n_v, n_g, n)
    chi = np.asarray(table.result.chi2_yates, dtype=float)
    finite = np.isfinite(chi)
    safe = np.where(finite, chi, 0.0)
    p_value = np.where(finite, sps.chi2.sf(safe, 1), np.nan)
    strength = np.where(finite, np.minimum(safe / 4.0, 300.0), 0.0)
    return ReportTable(vaccines, groups, n_v, int(n), table, p_value, strength)


# ======================================================================================
# Cells: counts and rates brought together, one row per scope x target x event group
# ======================================================================================

SCOPES = ("lot", "vaccine", "site")
_KEY_TARGET = 1_000  # key = (scope * 10^10 + target) * 1000 + group index


@dataclass
class Cells:
    """Column arrays, one element per cell. ``group`` indexes ``groups``; ``scope``
    indexes SCOPES; lot_id, vaccine_id, site_id are -1 where they do not apply; the risk
    window is nan for sites (each vaccine its own)."""

    groups: list[str]
    scope: np.ndarray
    target_id: np.ndarray
    lot_id: np.ndarray
    vaccine_id: np.ndarray
    site_id: np.ndarray
    group: np.ndarray
    observed: np.ndarray
    doses: np.ndarray
    expected: np.ndarray
    upper: np.ndarray
    rate: np.ndarray
    window_start: np.ndarray
    window_end: np.ndarray

    def __len__(self) -> int:
        return int(self.scope.size)

    def keys(self) -> np.ndarray:
        return cell_key(self.scope, self.target_id, self.group)

    def scope_name(self, i: int) -> str:
        return SCOPES[int(self.scope[i])]

    def group_name(self, i: int) -> str:
        return self.groups[int(self.group[i])]

    @staticmethod
    def _opt(x: np.integer) -> int | None:
        return None if int(x) < 0 else int(x)

    def ids(self, i: int) -> tuple[int | None, int | None, int | None]:
        return self._opt(self.lot_id[i]), self._opt(self.vaccine_id[i]), self._opt(self.site_id[i])

    def window(self, i: int) -> tuple[float | None, float | None]:
        a, b = self.window_start[i], self.window_end[i]
        return (None, None) if np.isnan(a) else (float(a), float(b))

    def arrays(self) -> tuple[np.ndarray, ...]:
        return self.observed, self.doses, self.expected, self.upper, self.rate


def cell_key(scope, target_id, group) -> np.ndarray:
    """One int64 per cell: finds stored signals among 100,000 cells without Python loops."""
    return (
        np.asarray(scope, dtype=np.int64) * 10**10 + np.asarray(target_id, dtype=np.int64)
    ) * _KEY_TARGET + np.asarray(group, dtype=np.int64)


def rate_matrices(
    rates: list[Rate], vaccine_ids: np.ndarray, codes: dict[int, str], groups: list[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """rate[v, g] for the given vaccines and groups (0 where no row applies), and the risk
    window (start, end) of the row chosen (nan where none)."""
    from aefi.signals.expected import choose

    shape = (len(vaccine_ids), len(groups))
    R, W0, W1 = np.zeros(shape), np.full(shape, np.nan), np.full(shape, np.nan)
    for i, vid in enumerate(vaccine_ids.tolist()):
        code = codes.get(int(vid), "")
        for j, g in enumerate(groups):
            r = choose(rates, code, g)
            if r is not None and r.rate_per_dose > 0:
                R[i, j], W0[i, j], W1[i, j] = (
                    r.rate_per_dose,
                    r.window_start_days,
                    r.window_end_days,
                )
    return R, W0, W1


def scanned_groups(rates: list[Rate]) -> list[str]:
    """Event groups that have at least one positive rate, in GROUPS order."""
    have = {r.event_group for r in rates if r.rate_per_dose > 0}
    return [g for g in GROUPS if g in have]


def index_of(sorted_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each id in ``sorted_ids`` and whether it is there."""
    if sorted_ids.size == 0:
        return np.zeros(ids.shape, dtype=np.int64), np.zeros(ids.shape, dtype=bool)
    k = np.minimum(np.searchsorted(sorted_ids, ids), sorted_ids.size - 1)
    return k, sorted_ids[k] == ids


def matrix(targets: np.ndarray, groups: list[str], rows) -> np.ndarray:
    """Observed counts as a targets x groups matrix from (target, group, n) rows."""
    obs = np.zeros((targets.size, len(groups)))
    if not rows:
        return obs
    gi = {g: j for j, g in enumerate(groups)}
    keep = [(t, gi[g], n) for t, g, n in rows if g in gi]
    if not keep:
        return obs
    arr = np.array(keep, dtype=np.int64)
    k, ok = index_of(targets, arr[:, 0])
    obs[k[ok], arr[ok, 1]] = arr[ok, 2]
    return obs


class Collector:
    def __init__(self, groups: list[str]) -> None:
        self.groups = groups
        self.parts: dict[str, list[np.ndarray]] = {}

    def add(self, **cols: np.ndarray) -> None:
        n = next(iter(cols.values())).size
        for name, value in cols.items():
            self.parts.setdefault(name, []).append(np.broadcast_to(value, (n,)).copy())

    def cells(self) -> Cells:
        names = [f.name for f in fields(Cells) if f.name != "groups"]
        ints = {"scope", "target_id", "lot_id", "vaccine_id", "site_id", "group"}
        cols = {
            n: (
                np.concatenate(self.parts[n])
                if self.parts.get(n)
                else np.zeros(0, dtype=np.int64 if n in ints else float)
            )
            for n in names
        }
        return Cells(groups=self.groups, **cols)


def flat(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indexes of a targets x groups mask, row-major."""
    r, c = np.nonzero(mask)
    return r, c


def finite_or_none(x: float | None) -> float | None:
    """Databases disagree on nan and inf (SQLite stores nan as NULL): store None."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None
