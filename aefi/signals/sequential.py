"""Sequential tests beyond the continuous Poisson MaxSPRT of :mod:`aefi.signals.stats`.

Pure functions over numbers (numpy/scipy only). Each one follows the definition of the
corresponding function of the R package *Sequential* (Silva & Kulldorff; cited below by
its function name) and is tested against its published output:

* **Group-sequential Poisson MaxSPRT** for planned looks at cumulative expected counts
  (``CV.G.Poisson``): :func:`group_critical_value`, :func:`group_type1_error`.
* **Planning figures** for a relative risk: power, expected time to signal and expected
  length of surveillance, continuous (``Performance.Poisson``, :func:`performance`), at
  planned looks (``Performance.G.Poisson``, :func:`group_performance`) and for the
  binomial test (``Performance.Binomial``, :func:`binomial_performance`).
* **Binomial MaxSPRT** (Kulldorff, Davis, Kolczak, Lewis, Lieu, Platt. Sequential
  Analysis 2011;30:58-78, section 4; ``CV.Binomial``): each adverse event is a *case*
  (in the exposure of interest, e.g. this lot) with probability 1/(1 + z) under H0, where
  z is the ratio of comparison person-time (sibling lots' doses) to exposed person-time
  (this lot's doses). :func:`binomial_llr`, :func:`binomial_rr`,
  :func:`binomial_type1_error`, :func:`binomial_critical_value`.
* **Conditional Poisson MaxSPRT** (Li & Kulldorff. A conditional maximized sequential
  probability ratio test for pharmacovigilance. Stat Med 2010;29:284-95;
  ``CV.CondPoisson``) when the expected rate is itself estimated from c historical events:
  :func:`cond_poisson_llr`, :func:`cond_poisson_type1_error`,
  :func:`cond_poisson_critical_value`.
* **Error control across a family** of event groups: :func:`family_alpha`.

Time is measured in expected counts under H0, as in :mod:`aefi.signals.stats`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from aefi.signals.stats import (
    CriticalValue,
    NoCriticalValueError,
    _boundary,
    _check_cv_args,
    _poisson_pmf,
    maxsprt_llr,
)

__all__ = [
    "Performance",
    "binomial_critical_value",
    "binomial_llr",
    "binomial_performance",
    "binomial_rr",
    "binomial_type1_error",
    "cond_poisson_critical_value",
    "cond_poisson_llr",
    "cond_poisson_type1_error",
    "family_alpha",
    "group_critical_value",
    "group_performance",
    "group_type1_error",
    "performance",
]


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")


def _step(p: np.ndarray, rate_dt: float, threshold: int) -> tuple[np.ndarray, float]:
    """Advance the count distribution ``p`` of not-yet-signalled paths by Poisson(rate_dt).

    Returns (mass still below ``threshold``, mass absorbed at >= ``threshold``).
    ``p[k]`` = P(k events so far, no signal yet); every k < ``threshold`` is required.
    """
    kernel = _poisson_pmf(np.arange(max(threshold, 1), dtype=float), rate_dt)
    k = np.arange(p.size, dtype=float)
    absorbed = float(np.dot(p, special.pdtrc(threshold - 1 - k, rate_dt)))
    return np.convolve(p, kernel)[:threshold], absorbed


@dataclass(frozen=True)
class Performance:
    """Planning figures of a sequential plan at one relative risk.

    ``power``: P(signal by T). ``signal_time``: E[time of signal | signal]. ``length``:
    expected length of surveillance E[min(signal time, T)] = power * signal_time +
    (1 - power) * T. Times in expected counts under H0.
    """

    power: float
    signal_time: float
    length: float


# --------------------------------------------------------------------------------------
# Group-sequential Poisson MaxSPRT (CV.G.Poisson)
# --------------------------------------------------------------------------------------


def _check_looks(looks: Sequence[float]) -> np.ndarray:
    mu = np.asarray(looks, dtype=float)
    if mu.ndim != 1 or mu.size == 0:
        raise ValueError("looks must be a non-empty sequence of expected counts")
    if not np.all(np.isfinite(mu)) or np.any(mu <= 0) or np.any(np.diff(mu) <= 0):
        raise ValueError("looks must be positive and strictly increasing (cumulative)")
    return mu


def _group_thresholds(cv: float, mu: np.ndarray, min_events: int) -> list[int]:
    """Smallest count k >= M at each look with LLR(k, mu_j) >= cv."""
    out = []
    for m in mu:
        hi = int(m + 12.0 * math.sqrt(m) + 4.0 * cv + 30.0)
        ks = np.arange(min_events, hi + 1)
        ok = np.nonzero(np.asarray(maxsprt_llr(ks, m)) >= cv)[0]
        out.append(int(ks[ok[0]]) if ok.size else hi + 1)
    return out


def _group_absorbed(cv: float, mu: np.ndarray, min_events: int, rr: float) -> np.ndarray:
    """P(first signal at look j), j = 1..G, events at ``rr`` times the H0 rate."""
    if cv <= 0:
        raise ValueError("cv must be positive")
    if not rr > 0:
        raise ValueError("rr must be positive")
    _check_cv_args(float(mu[-1]), min_events, 0.0)
    p = np.array([1.0])
    t = 0.0
    out = np.zeros(mu.size)
    for j, (m, thr) in enumerate(zip(mu, _group_thresholds(cv, mu, min_events), strict=True)):
        p, out[j] = _step(p, rr * (m - t), thr)
        t = m
    return out


def group_type1_error(
    cv: float, looks: Sequence[float], min_events: int = 1, rr: float = 1.0
) -> float:
    """P(signal) of the group-sequential Poisson MaxSPRT; the type I error at ``rr`` = 1.

    ``looks`` are the cumulative expected counts under H0 at the planned looks (the last
    is the upper limit T). At look j with N_j events so far the test signals when
    N_j >= M and LLR(N_j, mu_j) >= cv. Computed exactly by carrying the distribution of
    the count among paths without a signal from look to look (as ``CV.G.Poisson``).
    With ``rr`` != 1 the events arrive at rr times the H0 rate: the power.
    """
    return float(_group_absorbed(float(cv), _check_looks(looks), int(min_events), rr).sum())


def group_performance(
    cv: float, looks: Sequence[float], rr: float, min_events: int = 1
) -> Performance:
    """Power, expected time to signal and expected length for planned looks.

    As ``Performance.G.Poisson``: a signal happens at a look, so its time is that look's
    cumulative expected count mu_j; the length is E[min(signal time, T)].
    """
    mu = _check_looks(looks)
    absorbed = _group_absorbed(float(cv), mu, int(min_events), rr)
    return _performance_from(absorbed, mu, float(mu[-1]))


def _performance_from(absorbed: np.ndarray, times: np.ndarray, end: float) -> Performance:
    power = float(absorbed.sum())
    etime = float(np.dot(absorbed, times))
    if power <= 0:
        return Performance(power=0.0, signal_time=math.nan, length=end)
    return Performance(power=power, signal_time=etime / power, length=etime + (1 - power) * end)


def group_critical_value(
    looks: Sequence[float], alpha: float = 0.05, min_events: int = 1
) -> CriticalValue:
    """Critical value of the group-sequential Poisson MaxSPRT for planned looks.

    With counts, the type I error is a step function of cv: it only changes where cv
    equals an attainable LLR(k, mu_j). Let L* be the largest attainable LLR whose
    boundary has error > alpha; every cv in (L*, L_next] has the same error <= alpha.
    Like ``CV.G.Poisson`` (which returns the smallest tried cv below alpha plus 1e-6)
    the result is ``L* + 1e-6``, with the error it attains; ``exact`` is False unless
    that error equals alpha to 1e-10. Reproduces Sequential: looks at 4, 8, ..., 20
    (alpha 0.05, M = 1) -> 2.216513; looks at 2, 4, ..., 12 -> 2.298373.

    Raises :class:`NoCriticalValueError` when even the most permissive boundary keeps
    the error <= alpha (too few expected events for this M).
    """
    mu = _check_looks(looks)
    _check_alpha(alpha)
    _check_cv_args(float(mu[-1]), min_events, 0.0)
    candidates: list[float] = []
    for m in mu:
        ks = np.arange(max(min_events, math.floor(m) + 1), int(m + 12 * math.sqrt(m) + 60))
        candidates.extend(np.asarray(maxsprt_llr(ks, m)).tolist())
    levels = np.unique(np.asarray(candidates))
    levels = levels[levels > 0]

    def error(i: int) -> float:
        return group_type1_error(float(levels[i]), mu, min_events)

    if error(0) <= alpha:
        raise NoCriticalValueError(
            f"no critical value gives alpha={alpha} for looks ending at T={mu[-1]}, "
            f"M={min_events}: the largest attainable type I error is {error(0):.6g}"
        )
    lo, hi = 0, levels.size - 1  # error(lo) > alpha; find the first index with <= alpha
    if error(hi) > alpha:  # pragma: no cover - levels reach LLR ~ 70, far past any alpha
        raise RuntimeError("could not bracket the critical value")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if error(mid) > alpha:
            lo = mid
        else:
            hi = mid
    cv = float(levels[lo]) + 1e-6
    attained = group_type1_error(cv, mu, min_events)
    return CriticalValue(cv=cv, type1_error=attained, exact=abs(attained - alpha) <= 1e-10)


# --------------------------------------------------------------------------------------
# Performance of the continuous Poisson MaxSPRT (Performance.Poisson)
# --------------------------------------------------------------------------------------


def performance(
    cv: float, T: float, rr: float, min_events: int = 1, delay: float = 0.0
) -> Performance:
    """Power, expected time to signal and expected length of surveillance (continuous).

    Same boundary as :func:`aefi.signals.stats.type1_error`: the c-th event (c >= M)
    signals iff it arrives by mu_c, the c* -th iff by T; with a delayed start D, N(D) >= c_D
    signals at D. Under the alternative, events arrive at ``rr`` times the H0 rate. The
    signal time within a look interval of length dt, for a path needing n more events, is
    the arrival of the n-th event: Gamma(n, rr), with E[G; G <= dt] = (n / rr) *
    P(Poisson(rr dt) >= n + 1) in closed form (``Performance.Poisson`` sums the same
    series). At rr = 1 the power is the type I error. Reproduces Sequential: T = 5, M = 1,
    cv 3.297183, RR 3 -> 0.8757497, 1.779022, 2.17923.
    """
    _check_cv_args(T, min_events, delay)
    if cv <= 0:
        raise ValueError("cv must be positive")
    if not rr > 0:
        raise ValueError("rr must be positive")
    cs, mus, c_end = _boundary(float(cv), float(T), int(min_events))
    p = np.array([1.0])
    t = 0.0
    power = 0.0
    etime = 0.0  # E[signal time; signal]
    if delay > 0:
        later = np.asarray(maxsprt_llr(cs, delay)) >= cv
        c_first = int(cs[later][0]) if later.any() else c_end
        p, absorbed = _step(p, rr * delay, c_first)
        power += absorbed
        etime += absorbed * delay
        t = float(delay)
        cs, mus = cs[later], np.maximum(mus[later], delay)
    looks = [*zip(mus.tolist(), cs.tolist(), strict=True), (float(T), c_end)]
    for t_next, threshold in looks:
        dt = max(t_next - t, 0.0)
        lam = rr * dt
        need = threshold - np.arange(p.size, dtype=float)  # events still needed, >= 1
        hit = special.pdtrc(need - 1, lam)  # P(>= need arrivals in dt)
        power += float(np.dot(p, hit))
        etime += float(np.dot(p, t * hit + need / rr * special.pdtrc(need, lam)))
        p, _ = _step(p, lam, threshold)
        t = t_next
    if power <= 0:
        return Performance(power=0.0, signal_time=math.nan, length=float(T))
    return Performance(power=power, signal_time=etime / power, length=etime + (1 - power) * T)


# --------------------------------------------------------------------------------------
# Binomial MaxSPRT (Kulldorff et al. 2011; CV.Binomial)
# --------------------------------------------------------------------------------------


def _check_z(z: float) -> float:
    z = float(z)
    if not (z > 0 and math.isfinite(z)):
        raise ValueError("z (comparison-to-exposed ratio) must be a positive number")
    return z


def binomial_llr(cases: int | np.ndarray, n: int | np.ndarray, z: float) -> float | np.ndarray:
    """Binomial MaxSPRT log-likelihood ratio for ``cases`` of ``n`` events, ratio z.

    Under H0 each event is a case with p0 = 1/(1 + z); the one-sided MLE is
    p = max(p0, cases/n). LLR = k ln(k/n) + (n-k) ln((n-k)/n) - k ln p0 - (n-k) ln(1-p0)
    when z k/(n - k) > 1 (estimated RR above 1), else 0; k = n gives n ln(1 + z).
    Vectorised.
    """
    z = _check_z(z)
    k = np.asarray(cases, dtype=float)
    m = np.asarray(n, dtype=float)
    if np.any(k < 0) or np.any(k > m) or np.any(k != np.floor(k)) or np.any(m != np.floor(m)):
        raise ValueError("cases must be whole numbers between 0 and n")
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = (
            special.xlogy(k, k / m)
            + special.xlogy(m - k, (m - k) / m)
            + k * math.log1p(z)
            - (m - k) * math.log(z / (1 + z))
        )
        llr = np.where(k * (1 + z) > m, raw, 0.0)
    llr = np.asarray(llr)
    return llr.item() if llr.ndim == 0 else llr


def binomial_rr(cases: int, n: int, z: float) -> float:
    """Estimated relative risk of the exposure: z k / (n - k) (inf when every event is a case).

    For a lot against its siblings: k = the lot's reports, n = the lot's plus the sibling
    lots' reports (same event group and risk window), z = sibling doses / the lot's doses.
    The MaxSPRT critical values here assume z is fixed for the whole surveillance, so fix
    it when the plan starts (e.g. from planned or shipped doses) rather than letting it
    drift with each day's administrations.
    """
    z = _check_z(z)
    if not (0 <= cases <= n) or int(cases) != cases or int(n) != n:
        raise ValueError("cases must be whole numbers between 0 and n")
    if n == 0:
        return math.nan
    return math.inf if cases == n else z * cases / (n - cases)


def _check_binomial(N: int, min_cases: int) -> None:
    if int(N) != N or N < 1:
        raise ValueError("N (maximum number of events) must be a positive integer")
    if int(min_cases) != min_cases or min_cases < 1:
        raise ValueError("min_cases must be a positive integer")


@functools.lru_cache(maxsize=32)
def _binomial_llr_table(N: int, z: float) -> np.ndarray:
    """LLR(k, n) for n = 1..N (rows) and k = 0..N (columns); -inf where k > n."""
    n = np.arange(1, N + 1, dtype=float)[:, None]
    k = np.arange(N + 1, dtype=float)[None, :]
    kk, nn = np.broadcast_arrays(k, n)
    ok = kk <= nn
    table = np.full((N, N + 1), -np.inf)
    table[ok] = binomial_llr(kk[ok], nn[ok], z)
    table.setflags(write=False)
    return table


def _binomial_thresholds(cv: float, N: int, z: float, min_cases: int) -> np.ndarray:
    """At event n = 1..N the smallest case count k >= M with LLR(k, n) >= cv (or n + 1)."""
    mask = _binomial_llr_table(N, z) >= cv
    mask[:, :min_cases] = False
    return np.where(mask.any(axis=1), np.argmax(mask, axis=1), np.arange(2, N + 2))


def _binomial_absorbed(cv: float, N: int, z: float, min_cases: int, rr: float) -> np.ndarray:
    """P(first signal at event n), n = 1..N; each event a case with prob rr/(rr + z)."""
    _check_binomial(N, min_cases)
    z = _check_z(z)
    if not rr > 0:
        raise ValueError("rr must be positive")
    ps = rr / (rr + z)
    thr = _binomial_thresholds(float(cv), int(N), z, int(min_cases))
    p = np.array([1.0])
    out = np.zeros(int(N))
    for n in range(1, int(N) + 1):
        q = np.zeros(p.size + 1)
        q[:-1] += p * (1 - ps)
        q[1:] += p * ps
        t = int(thr[n - 1])
        out[n - 1] = q[t:].sum()
        p = q[:t]
    return out


def binomial_type1_error(cv: float, N: int, z: float, min_cases: int = 1, rr: float = 1.0) -> float:
    """P(signal) of the continuous binomial MaxSPRT with critical value ``cv``.

    Events are looked at one by one up to N; after the n-th, the test signals if the
    cases k >= M and LLR(k, n) >= cv. Each event is a case with probability
    rr / (rr + z) (rr = 1: H0, the type I error). Exact, by carrying the distribution of
    the case count among paths without a signal (as ``CV.Binomial``).
    """
    return float(_binomial_absorbed(cv, N, z, min_cases, rr).sum())


def binomial_performance(cv: float, N: int, z: float, rr: float, min_cases: int = 1) -> Performance:
    """Power, expected number of events at a signal and expected events used (binomial).

    As ``Performance.Binomial``; times are counted in events (cases + controls).
    Reproduces Sequential: N = 30, M = 1, cv = 2, z = 1, RR = 2 -> 0.658732, 10.7893,
    17.3453.
    """
    absorbed = _binomial_absorbed(cv, N, z, min_cases, rr)
    return _performance_from(absorbed, np.arange(1, int(N) + 1, dtype=float), float(N))


def binomial_critical_value(
    N: int, alpha: float = 0.05, min_cases: int = 1, z: float = 1.0
) -> CriticalValue:
    """Critical value of the continuous binomial MaxSPRT, as ``CV.Binomial`` gives it.

    The data are discrete, so only the attainable LLR values (k, n <= N) matter. As in
    ``CV.Binomial``: find, on that grid, the largest value L* whose boundary has type I
    error > alpha (bisection over the sorted grid); the critical value is the next number
    on the 5-decimal grid strictly above L*, and the error reported is the one of the
    next attainable value. Reproduces Sequential: N = 30, M = 2, z = 2, alpha = 0.05 ->
    cv 3.29584, type I error 0.03673645. ``exact`` is always False (discrete data).

    Raises :class:`NoCriticalValueError` when no boundary reaches alpha (even signalling on
    the first M cases stays below it: N too small for this M and z).
    """
    _check_binomial(N, min_cases)
    _check_alpha(alpha)
    z = _check_z(z)
    grid = [np.asarray(binomial_llr(np.arange(1, n + 1), n, z)) for n in range(1, int(N) + 1)]
    levels = np.unique(np.concatenate(grid))
    levels = levels[levels > 0]

    def error(i: int) -> float:
        return binomial_type1_error(float(levels[i]), N, z, min_cases)

    if levels.size == 0 or error(0) <= alpha:
        raise NoCriticalValueError(
            f"no critical value gives alpha={alpha} for N={N}, M={min_cases}, z={z}"
        )
    lo, hi = 0, levels.size - 1
    if error(hi) > alpha:
        raise NoCriticalValueError(
            f"every boundary has type I error above alpha={alpha} for N={N}, z={z}: "
            "increase N or alpha"
        )
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if error(mid) > alpha:
            lo = mid
        else:
            hi = mid
    cv = (math.floor(float(levels[lo]) * 1e5 + 1e-9) + 1) / 1e5
    return CriticalValue(cv=cv, type1_error=error(hi), exact=False)


# --------------------------------------------------------------------------------------
# Conditional Poisson MaxSPRT (Li & Kulldorff 2010; CV.CondPoisson, StopType "Cases")
# --------------------------------------------------------------------------------------


def cond_poisson_llr(
    k: int | np.ndarray, historical: int, tau: float | np.ndarray
) -> float | np.ndarray:
    """Conditional MaxSPRT LLR (Li & Kulldorff 2010) for k surveillance events.

    ``historical`` = c events in historical person-time V; ``tau`` = P / V, the
    surveillance person-time relative to V. With the rates estimated from both periods,
    LLR = c ln(c (1 + tau) / (c + k)) + k ln(k (1 + tau) / (tau (c + k))) when
    k / c > tau (surveillance rate above the historical one), else 0. Vectorised.
    """
    c = float(historical)
    if int(c) != c or c < 1:
        raise ValueError("historical must be a positive whole number of events")
    k = np.asarray(k, dtype=float)
    tau = np.asarray(tau, dtype=float)
    if np.any(k < 0) or np.any(tau <= 0):
        raise ValueError("k must be non-negative and tau positive")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = k * (1 + tau) / (tau * (c + k))
        raw = c * np.log(c * (1 + tau) / (c + k)) + special.xlogy(k, ratio)
        llr = np.asarray(np.where(k > c * tau, raw, 0.0))
    return llr.item() if llr.ndim == 0 else llr


def _cond_tau_bounds(cv: float, K: int, c: int) -> np.ndarray:
    """tau_k (k = 1..K): the root of LLR(k, c, tau) = cv on (0, k/c), where LLR falls."""
    ks = np.arange(1, K + 1, dtype=float)
    lo = np.full(K, 1e-300)
    hi = ks / c
    # Bisection on the log scale, vectorised over k: 200 halvings reach double precision.
    llo, lhi = np.log(lo), np.log(hi)
    for _ in range(200):
        mid = (llo + lhi) / 2
        above = np.asarray(cond_poisson_llr(ks, c, np.exp(mid))) > cv
        llo = np.where(above, mid, llo)
        lhi = np.where(above, lhi, mid)
    return np.exp((llo + lhi) / 2)


_INFERENCES = ("exact", "liberal", "conservative")


@functools.lru_cache(maxsize=64)
def _historical_time_quadrature(c: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Nodes and weights for E[f(V)], V the historical person-time in H0 time units.

    c historical events were seen in V. In units where the H0 event rate is 1, the c-th
    and (c+1)-th historical events arrive at T_c ~ Gamma(c) and T_c + X, X ~ Exp(1), and
    V lies between them. ``CV.CondPoisson``'s three laws: "liberal" V = T_c,
    "conservative" V = T_(c+1) ~ Gamma(c + 1), "exact" V = T_c + U X with U ~ U(0, 1),
    whose density is Gamma(c) convolved with E1 (the density of U X; its Laplace
    transform log(1 + t)/t is the factor ``B`` of Sequential's exact code).

    Composite 16-point Gauss-Legendre over 16 panels covering all but ~1e-16 of the mass
    (graded towards 0 for c <= 2, where the exact density has a v log v corner at 0); the
    same nodes serve the three laws. The exact density f(v) = int_0^v g_c(v - y)
    E1(y) dy is computed with y = v z^4 (which smooths E1's log singularity at 0) by the
    same composite rule in z: agrees with adaptive quadrature to ~1e-12.
    """
    lo = float(stats.gamma.ppf(1e-17, c))
    hi = float(stats.gamma.isf(1e-17, c + 1)) + 5.0
    x, wx = np.polynomial.legendre.leggauss(16)

    def composite(a: float, b: float, panels: int, grade: float = 1.0) -> tuple[np.ndarray, ...]:
        edges = a + (b - a) * np.linspace(0.0, 1.0, panels + 1) ** grade
        half = np.diff(edges)[:, None] / 2
        mid = (edges[:-1, None] + edges[1:, None]) / 2
        return (mid + half * x[None, :]).ravel(), (half * wx[None, :]).ravel()

    v, w = composite(lo, hi, 16, grade=1.0 if c > 2 else 3.0)
    z, wz = composite(0.0, 1.0, 8)
    y = v[:, None] * z[None, :] ** 4
    exact = (
        4 * v[:, None] * z[None, :] ** 3 * stats.gamma.pdf(v[:, None] - y, c) * special.exp1(y)
    ) @ wz
    weights = {
        "liberal": w * stats.gamma.pdf(v, c),
        "conservative": w * stats.gamma.pdf(v, c + 1),
        "exact": w * exact,
    }
    return v, weights


def cond_poisson_type1_error(
    cv: float, K: int, historical: int, min_events: int = 1, inference: str = "exact"
) -> float:
    """Type I error of the conditional Poisson MaxSPRT stopping at K surveillance events.

    In H0 time units the k-th surveillance event arrives at P_k, the k-th point of a unit
    Poisson process, independent of the historical person-time V (Li & Kulldorff 2010,
    section 3; V's law per ``inference``, see :func:`_historical_time_quadrature`). The
    k-th event (M <= k <= K) signals iff P_k / V <= tau_k. Given V = v this is the Poisson
    boundary problem with looks at v tau_k and thresholds k, solved exactly as for the
    MaxSPRT; the error is its expectation over V by quadrature (the integrand is smooth
    and bounded).

    "exact" follows ``CV.CondPoisson``'s exact code to the letter: it integrates every
    look with the exact law except the last one (k = K, when there are earlier looks),
    which it integrates with the liberal law V = T_c. That is what reproduces Sequential's
    published 3.149115 (K = 20, c = 20, M = 2); the exact law at every look gives 3.151336
    for the same inputs, a slightly more conservative boundary.
    """
    c = int(historical)
    if c < 1 or c != historical:
        raise ValueError("historical must be a positive whole number of events")
    if int(K) != K or K < 1:
        raise ValueError("K must be a positive integer")
    if int(min_events) != min_events or not 1 <= min_events <= K:
        raise ValueError("min_events must be an integer in [1, K]")
    if inference not in _INFERENCES:
        raise ValueError(f"inference must be one of {', '.join(_INFERENCES)}")
    if cv <= 0:
        raise ValueError("cv must be positive")
    tau = _cond_tau_bounds(float(cv), int(K), c)[min_events - 1 :]
    thresholds = np.arange(min_events, int(K) + 1)
    v, weights = _historical_time_quadrature(c)
    # p[i, j] = P(j events by the current look, no signal yet | V = v_i)
    p = np.ones((v.size, 1))
    t = np.zeros_like(v)
    absorbed = np.zeros((tau.size, v.size))
    for n, (tk, thr) in enumerate(zip(tau, thresholds, strict=True)):
        t_next = np.maximum(v * float(tk), t)
        dt = t_next - t
        # Poisson(dt) increments, cut where they are negligible (< ~1e-30): the gaps
        # between successive tau_k hold about one event, so ~40 terms, not K.
        dt_max = float(dt.max())
        length = min(thr, int(dt_max + 12.0 * math.sqrt(dt_max) + 40.0))
        j = np.arange(length, dtype=float)
        kern = np.exp(special.xlogy(j[None, :], dt[:, None]) - dt[:, None] - special.gammaln(j + 1))
        q = np.zeros((v.size, thr))
        for m in range(length):
            width = min(p.shape[1], thr - m)
            q[:, m : m + width] += p[:, :width] * kern[:, m : m + 1]
        absorbed[n] = p.sum(axis=1) - q.sum(axis=1)
        p, t = q, t_next
    if inference == "exact" and tau.size > 1:
        earlier = absorbed[:-1].sum(axis=0) @ weights["exact"]
        return float(earlier + absorbed[-1] @ weights["liberal"])
    return float(absorbed.sum(axis=0) @ weights[inference])


def cond_poisson_critical_value(
    K: int,
    historical: int,
    alpha: float = 0.05,
    min_events: int = 1,
    inference: str = "exact",
) -> float:
    """Critical value of the conditional Poisson MaxSPRT (``CV.CondPoisson``, "Cases").

    Surveillance ends at the K-th event; ``historical`` is c, the number of events in the
    historical data that estimate the expected rate. The error is continuous in cv (the
    thresholds tau_k move continuously), so this is the root of error(cv) = alpha by
    Brent's method. Reproduces Sequential (default ``inference="exact"``): K = 20, c = 20,
    M = 2, alpha = 0.05 -> 3.149115. Cost grows like K^2: ~0.2 s for K = 20, ~5 s for
    K = 100 (2 shared cores); cache the result per plan rather than recomputing it.
    """
    _check_alpha(alpha)

    def excess(cv: float) -> float:
        return cond_poisson_type1_error(cv, K, historical, min_events, inference) - alpha

    lo, hi = 1e-6, 4.0
    if excess(lo) <= 0:
        raise NoCriticalValueError(
            f"no critical value gives alpha={alpha} for K={K}, c={historical}, M={min_events}"
        )
    while excess(hi) > 0:
        lo, hi = hi, hi * 2
        if hi > 1e3:  # pragma: no cover
            raise RuntimeError("could not bracket the critical value")
    return float(optimize.brentq(excess, lo, hi, xtol=1e-10, rtol=1e-12))


# --------------------------------------------------------------------------------------
# Family-wise error across event groups
# --------------------------------------------------------------------------------------


def family_alpha(
    alpha: float, n_groups: int, weights: Sequence[float] | None = None
) -> list[float]:
    """Per-group alpha for a family of sequential tests (weighted Bonferroni).

    A lot is monitored for several event groups at once, and a halt on any of them is a
    false halt for a clean lot. Testing each group at the full alpha lets the family-wise
    error grow towards 1 - (1 - alpha)^G. Splitting alpha so that the shares sum to alpha
    (Bonferroni; weights w_g >= 0 give alpha_g = alpha w_g / sum w) keeps
    P(any false signal) <= sum alpha_g = alpha by the union bound, whatever the
    dependence between groups (the same reports feed several groups, so they are not
    independent, which rules out a Sidak split). It is conservative when the groups are
    positively correlated, and each group keeps its own exact MaxSPRT critical value at
    its alpha_g, so plans per group stay fixed and comparable. Equal weights by default.
    """
    _check_alpha(alpha)
    if int(n_groups) != n_groups or n_groups < 1:
        raise ValueError("n_groups must be a positive integer")
    w = np.ones(int(n_groups)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (int(n_groups),) or np.any(w < 0) or not np.isfinite(w).all() or w.sum() <= 0:
        raise ValueError("weights must be n_groups non-negative numbers, not all zero")
    return (alpha * w / w.sum()).tolist()
