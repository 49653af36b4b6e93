"""Statistics for AEFI signal detection (DOMAIN.md, "Signal detection").

Pure functions over numbers and numpy arrays: no database, no web framework. Three families:

* **Observed vs expected** for one lot/vaccine, event group and risk window, where doses
  give a denominator: the exact one-sided Poisson test and the O/E ratio with the exact
  (Garwood 1936) confidence interval.
* **Poisson MaxSPRT** for continuous monitoring (Kulldorff, Davis, Kolczak, Lewis, Lieu,
  Platt. "A maximized sequential probability ratio test for drug and vaccine safety
  surveillance". Sequential Analysis 2011;30(1):58-78). The critical value is computed
  exactly, following the algorithm of ``CV.Poisson`` in the R package *Sequential*
  (Silva & Kulldorff), and reproduces its published table.
* **Disproportionality** for spontaneous reports without denominators: PRR and the Evans
  criteria (Evans, Waller, Davis. Pharmacoepidemiol Drug Saf 2001;10:483-6), ROR
  (van Puijenbroek et al. Pharmacoepidemiol Drug Saf 2002;11:3-10), and the BCPNN
  information component with the closed-form credibility interval of Norén, Hopstadius,
  Bate (Stat Methods Med Res 2013;22(1):57-69).

Scalar in, ``float`` out; array in, ``numpy.ndarray`` out (numpy broadcasting applies).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, special, stats

__all__ = [
    "ArrayLike",
    "CriticalValue",
    "Disproportionality",
    "MaxSPRTResult",
    "NoCriticalValueError",
    "OERatio",
    "OERatioArrays",
    "bcpnn_ic",
    "chi2_uncorrected",
    "chi2_yates",
    "chi_square",
    "critical_value",
    "critical_value_info",
    "disproportionality",
    "evans_signal",
    "maxsprt_llr",
    "maxsprt_result",
    "oe_ratio",
    "oe_ratio_arrays",
    "poisson_midp_test",
    "poisson_sf_test",
    "prr",
    "ror",
    "signal_times",
    "type1_error",
]

ArrayLike = float | int | npt.ArrayLike
FloatOrArray = float | np.ndarray

# Two-sided 95 % normal quantile used by the PRR/ROR intervals in the pharmacovigilance
# literature (Evans 2001; van Puijenbroek 2002 write it as 1.96, not 1.959964...).
Z95 = 1.96


def _out(x: np.ndarray) -> FloatOrArray:
    """Return a Python float for 0-d results, the array otherwise."""
    x = np.asarray(x)
    if x.ndim == 0:
        return x.item()
    return x


def _as_float_array(x: ArrayLike, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative")
    return arr


def _as_counts(x: ArrayLike, name: str) -> np.ndarray:
    arr = _as_float_array(x, name)
    if np.any(arr != np.floor(arr)):
        raise ValueError(f"{name} must be whole numbers (counts)")
    return arr


# --------------------------------------------------------------------------------------
# Observed vs expected: exact Poisson test and O/E with the Garwood interval
# --------------------------------------------------------------------------------------


def poisson_sf_test(observed: ArrayLike, expected: ArrayLike) -> FloatOrArray:
    """Exact one-sided Poisson test: p = P(X >= O | X ~ Poisson(E)).

    Computed as ``scipy.stats.poisson.sf(O - 1, E)`` (the survival function is P(X > k),
    hence the ``- 1``). O = 0 gives p = 1; E = 0 with O > 0 gives p = 0. Vectorised.

    Raises ValueError for negative or non-integer O, or negative E.
    """
    o = _as_counts(observed, "observed")
    e = _as_float_array(expected, "expected")
    return _out(stats.poisson.sf(o - 1, e))


def poisson_midp_test(observed: ArrayLike, expected: ArrayLike) -> FloatOrArray:
    """Mid-p of the exact one-sided Poisson test: P(X > O) + P(X = O) / 2, X ~ Poisson(E).

    Lancaster (J Am Stat Assoc 1961;56:223-34): half the probability of the observed count
    is counted, which takes away most of the conservatism of the exact test with small
    counts. O = 0 gives 1 - exp(-E)/2. Vectorised; same argument checks as
    :func:`poisson_sf_test`.
    """
    o = _as_counts(observed, "observed")
    e = _as_float_array(expected, "expected")
    return _out(stats.poisson.sf(o, e) + 0.5 * stats.poisson.pmf(o, e))


@dataclass(frozen=True)
class OERatio:
    """Observed/expected ratio with its exact two-sided confidence interval."""

    ratio: float
    lower: float
    upper: float


@dataclass(frozen=True)
class OERatioArrays:
    """Vectorised :class:`OERatio`: one array per field."""

    ratio: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def _garwood(o: np.ndarray, e: np.ndarray, alpha: float) -> tuple[np.ndarray, ...]:
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    if np.any(e <= 0):
        raise ValueError("expected must be positive for an O/E ratio")
    # Garwood (Biometrika 1936;28:437-42): exact limits for a Poisson mean from the
    # chi-square / gamma relation P(X >= O | mu) = P(chi2_{2O} <= 2 mu).
    # chi2.ppf(q, 0) is 0 in scipy, but say it explicitly: the lower limit is 0 when O = 0.
    # The limits depend on O alone, and a scan's 100,000 cells hold a few dozen distinct
    # counts: the quantiles are computed once per distinct O (chi2.ppf costs ~1 µs each).
    uo, inv = np.unique(o, return_inverse=True)
    with np.errstate(invalid="ignore"):
        lower_u = np.where(uo > 0, stats.chi2.ppf(alpha / 2, 2 * uo) / 2, 0.0)
    upper_u = stats.chi2.ppf(1 - alpha / 2, 2 * uo + 2) / 2
    lower_mu = np.reshape(lower_u[inv], np.shape(o))
    upper_mu = np.reshape(upper_u[inv], np.shape(o))
    return o / e, lower_mu / e, upper_mu / e


def oe_ratio(observed: int, expected: float, alpha: float = 0.05) -> OERatio:
    """O/E with the exact Garwood (1936) (1 - alpha) interval.

    Interval: [chi2.ppf(alpha/2, 2O)/2, chi2.ppf(1 - alpha/2, 2O + 2)/2] / E, lower bound 0
    when O = 0. E must be positive (ValueError otherwise). For arrays use
    :func:`oe_ratio_arrays`.
    """
    o = _as_counts(observed, "observed")
    e = _as_float_array(expected, "expected")
    if o.ndim or e.ndim:
        raise TypeError("oe_ratio takes scalars; use oe_ratio_arrays for arrays")
    ratio, lower, upper = _garwood(o, e, alpha)
    return OERatio(float(ratio), float(lower), float(upper))


def oe_ratio_arrays(observed: ArrayLike, expected: ArrayLike, alpha: float = 0.05) -> OERatioArrays:
    """Vectorised :func:`oe_ratio`: arrays of ratio, lower and upper (broadcast shapes)."""
    o = _as_counts(observed, "observed")
    e = _as_float_array(expected, "expected")
    ratio, lower, upper = _garwood(o, e, alpha)
    return OERatioArrays(np.asarray(ratio), np.asarray(lower), np.asarray(upper))


# --------------------------------------------------------------------------------------
# Poisson MaxSPRT (Kulldorff et al. 2011)
# --------------------------------------------------------------------------------------


class NoCriticalValueError(ValueError):
    """No critical value reaches the requested alpha for these T, M (and D).

    Even the most permissive boundary (CV -> 0) has a type I error below alpha, because a
    signal needs at least M events and P(N(T) >= M) is already small. R's Sequential
    stops with "Does not have solution" in this case. Any CV is then conservative.
    """


def maxsprt_llr(observed: ArrayLike, expected: ArrayLike) -> FloatOrArray:
    """Poisson MaxSPRT log-likelihood ratio (Kulldorff et al. 2011, eq. for Poisson data).

    LLR = (E - O) + O * ln(O / E) when O > E, else 0: the one-sided maximised LLR, with
    the relative risk estimated as max(1, O/E). Vectorised; E = 0 with O > 0 gives inf.
    """
    o = _as_counts(observed, "observed")
    e = _as_float_array(expected, "expected")
    with np.errstate(divide="ignore", invalid="ignore"):
        # xlogy handles the O = 0 corner without a 0 * log(0) warning.
        raw = (e - o) + special.xlogy(o, o) - special.xlogy(o, e)
        llr = np.where(o > e, np.where(e > 0, raw, np.inf), 0.0)
    return _out(llr)


@dataclass(frozen=True)
class MaxSPRTResult:
    """MaxSPRT state at one look: LLR, the critical value used and the decision."""

    llr: FloatOrArray
    critical_value: float
    signal: bool | np.ndarray


def maxsprt_result(
    observed: ArrayLike, expected: ArrayLike, cv: float, min_events: int = 1
) -> MaxSPRTResult:
    """LLR and the decision "signal" = (LLR >= cv and O >= min_events). Vectorised."""
    llr = maxsprt_llr(observed, expected)
    o = np.asarray(observed, dtype=float)
    signal = (np.asarray(llr) >= cv) & (o >= min_events)
    return MaxSPRTResult(llr=llr, critical_value=float(cv), signal=_out(signal))


def _mu(cv: float, c: np.ndarray) -> np.ndarray:
    """Expected count by which the c-th event must arrive for LLR >= cv.

    With O = c fixed, LLR(t) = t - c + c ln(c/t) decreases in t on (0, c), so the c-th event
    signals iff it arrives by the root mu_c < c of LLR = cv. Writing that root with the
    Lambert W function (principal real branch W0): mu_c = -c W0(-exp(-1 - cv/c)). This is
    the closed form used by Sequential's CV.Poisson (which evaluates W by Newton steps).
    """
    c = np.asarray(c, dtype=float)
    return -c * special.lambertw(-np.exp(-1.0 - cv / c), 0).real


def _boundary(cv: float, T: float, min_events: int) -> tuple[np.ndarray, np.ndarray, int]:
    """(c values with mu_c < T from M on, their mu_c, smallest c >= M with mu_c >= T)."""
    # mu_c < c, and mu_c ~ c - sqrt(2 c cv) for large c: start with a generous range and
    # double it until it passes T.
    hi = min_events + int(T + 10.0 * math.sqrt(T + 1.0) + 10.0 * cv + 10.0)
    while True:
        cs = np.arange(min_events, hi + 1)
        mus = _mu(cv, cs)
        if mus[-1] >= T:
            break
        hi *= 2
    i = int(np.searchsorted(mus, T, side="left"))
    return cs[:i], mus[:i], int(cs[i])


def signal_times(cv: float, T: float, min_events: int = 1) -> np.ndarray:
    """The boundary mu_c for c = min_events, min_events + 1, ... while mu_c < T.

    Element i is the expected count under H0 by which event number ``min_events + i`` must
    have arrived to signal (LLR >= cv). Events numbered beyond the returned range can only
    signal at T itself (the c-th event with mu_c >= T signals if it arrives by T).
    """
    _check_cv_args(T, min_events, 0.0)
    if cv <= 0:
        raise ValueError("cv must be positive")
    return _boundary(float(cv), float(T), int(min_events))[1]


def _check_cv_args(T: float, min_events: int, delay: float) -> None:
    if not T > 0:
        raise ValueError("T must be positive")
    if int(min_events) != min_events or min_events < 1:
        raise ValueError("min_events must be a positive integer")
    if not 0 <= delay <= T:
        raise ValueError("delay must be in [0, T]")


def _poisson_pmf(k: np.ndarray, lam: float) -> np.ndarray:
    # Plain ufuncs, not scipy.stats.poisson.pmf: this runs thousands of times per root
    # search and the distribution-object overhead would dominate.
    if lam == 0:
        return (k == 0).astype(float)
    return np.exp(special.xlogy(k, lam) - lam - special.gammaln(k + 1.0))


def type1_error(cv: float, T: float, min_events: int = 1, delay: float = 0.0) -> float:
    """Exact type I error of the continuous Poisson MaxSPRT with critical value ``cv``.

    Under H0 the events form a Poisson process with rate 1 in expected-count time t. The
    test signals at the first event that makes LLR >= cv, counting only events number
    c >= M (``min_events``), up to the end of surveillance T. Because LLR only rises at
    events, the c-th event signals iff it arrives by mu_c (see :func:`signal_times`), so

        signal  <=>  N(mu_c) >= c for some c >= M with mu_c < T,  or  N(T) >= c*,

    where c* is the smallest c >= M with mu_c >= T. The probability is computed exactly
    (Kulldorff et al. 2011, section 3; Sequential's CV.Poisson) by carrying the
    distribution of the count among paths that have not signalled from one look time to
    the next: at look j with threshold c_j, the mass at k >= c_j is absorbed as a signal and
    the mass at k < c_j is convolved with Poisson(t_{j+1} - t_j) increments.

    Delayed start D (``delay``, Sequential's ``D``): the data are first looked at at time
    D, with all events so far. At D, N(D) = n signals iff D <= mu_n, i.e. iff n >= c_D,
    the smallest c >= M with mu_c >= D. After D monitoring is continuous as above.

    The error is non-increasing in cv. Without a delay it is continuous and strictly
    decreasing: the mu_c move continuously, and when mu_c crosses T the look at mu_c merges
    continuously into the look at T. With D > 0 it is a step function at each cv where
    some mu_c crosses D: the threshold at D goes from c to c + 1 and the error drops by
    about P(N(D) = c). :func:`critical_value` handles both cases.
    """
    _check_cv_args(T, min_events, delay)
    if cv <= 0:
        raise ValueError("cv must be positive")
    cs, mus, c_end = _boundary(float(cv), float(T), int(min_events))

    looks: list[tuple[float, int]] = []
    if delay > 0:
        # Decide the look at D on the LLR itself (LLR(c, D) >= cv <=> mu_c >= D), so that
        # at cv == LLR(c, D) exactly, c events at D do signal despite rounding in mu_c.
        later = np.asarray(maxsprt_llr(cs, delay)) >= cv
        c_first = int(cs[later][0]) if later.any() else c_end
        looks.append((float(delay), c_first))
        cs, mus = cs[later], np.maximum(mus[later], delay)
    looks.extend(zip(mus.tolist(), cs.tolist(), strict=True))
    looks.append((float(T), c_end))

    times = np.array([t for t, _ in looks])
    thresholds = [c for _, c in looks]
    dts = np.maximum(np.diff(np.concatenate([[0.0], times])), 0.0)
    kernels = _increment_kernels(dts)
    # p[i] = P(lo + i events so far and no signal yet). Only the window of counts that
    # carries mass is kept: the count sits near t (+- a few sqrt(t)) below the boundary,
    # so the lower tail is dropped where its total is below 1e-25 (those paths could at
    # most add that much to the error). Each step costs O(sqrt(t)), not O(t): the whole
    # computation grows as T^1.5 instead of T^2. The mass absorbed at a look is the part
    # of the convolution at counts >= threshold (the kernel is cut where its terms are
    # < 1e-30, as before).
    p = np.array([1.0])
    lo = 0
    alpha = 0.0
    for j, threshold in enumerate(thresholds):
        full = np.convolve(p, kernels[j])
        cut = threshold - lo
        if cut < full.size:
            alpha += float(full[cut:].sum())
            full = full[:cut]
        if (j & 31) == 0 and full.size > 64:
            drop = int(np.searchsorted(np.cumsum(full), _TAIL))
            if drop > 0:
                full = full[drop:]
                lo += drop
        p = full
    return alpha


_TAIL = 1e-25


def _increment_kernels(dts: np.ndarray) -> list[np.ndarray]:
    """Poisson(dt) pmf for each gap, cut after its last term > 1e-30 (vectorised)."""
    out: list[np.ndarray] = [np.array([1.0])] * dts.size
    if not dts.size:
        return out
    small = dts <= 4.0
    idx = np.nonzero(small)[0]
    if idx.size:
        k = np.arange(51, dtype=float)
        d = dts[idx][:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            ker = np.exp(special.xlogy(k[None, :], d) - d - special.gammaln(k + 1.0)[None, :])
        ker[dts[idx] == 0, :] = 0.0
        ker[dts[idx] == 0, 0] = 1.0
        last = (ker.shape[1] - 1 - np.argmax((ker > 1e-30)[:, ::-1], axis=1)).tolist()
        for r, i in enumerate(idx.tolist()):
            out[i] = ker[r, : last[r] + 1]
    for i in np.nonzero(~small)[0].tolist():
        dt = float(dts[i])
        kernel = _poisson_pmf(np.arange(int(dt + 12.0 * math.sqrt(dt) + 40), dtype=float), dt)
        keep = np.nonzero(kernel > 1e-30)[0]
        out[i] = kernel[: keep[-1] + 1]
    return out


@dataclass(frozen=True)
class CriticalValue:
    """A MaxSPRT critical value with the type I error it actually attains.

    ``exact`` is True when ``type1_error(cv) == alpha`` (to ~1e-10); False when alpha falls
    in a jump of the error function (possible only with a delayed start D > 0, see
    :func:`type1_error`), in which case ``cv`` is the conservative choice and
    ``type1_error`` < alpha.
    """

    cv: float
    type1_error: float
    exact: bool


def _llr_at(c: int, t: float) -> float:
    # LLR of c events at expected count t < c: the cv for which mu_c == t.
    return (t - c) + c * math.log(c / t)


@functools.lru_cache(maxsize=4096)
def _critical_value_cached(T: float, alpha: float, min_events: int, delay: float) -> CriticalValue:
    def excess(cv: float) -> float:
        return type1_error(cv, T, min_events, delay) - alpha

    lo = 1e-9
    if excess(lo) <= 0:
        raise NoCriticalValueError(
            f"no critical value gives alpha={alpha} for T={T}, M={min_events}, D={delay}: "
            f"the largest attainable type I error is {excess(lo) + alpha:.6g}"
        )
    hi = 4.0
    while excess(hi) > 0:
        lo, hi = hi, hi * 2
        if hi > 1e4:  # pragma: no cover - unreachable for alpha in (0, 1)
            raise RuntimeError("could not bracket the critical value")
    root = float(optimize.brentq(excess, lo, hi, xtol=1e-12, rtol=1e-14, maxiter=200))
    error = type1_error(root, T, min_events, delay)
    if abs(error - alpha) <= 1e-10:
        return CriticalValue(cv=root, type1_error=error, exact=True)

    # Brent's method has closed in on a jump, not a root: with a delayed start the error
    # drops by about P(N(D) = c) where mu_c passes D, i.e. at cv* = LLR(c, D). At cv*
    # itself N(D) = c still signals (LLR == cv), so every cv > cv* keeps error <= alpha and
    # none <= cv* does. Like Sequential's CV.Poisson ("no exact alpha level ... conservative
    # critical value"), return cv* rounded up to 6 decimals.
    cs = np.arange(min_events, min_events + int(T + 10.0 * math.sqrt(T + 1.0) + 10.0 * root + 10))
    cs = cs[cs > delay]
    jumps = np.array([_llr_at(int(c), delay) for c in cs])
    cv_star = float(jumps[np.argmin(np.abs(jumps - root))])
    cv = math.ceil(cv_star * 1e6) / 1e6
    if cv <= cv_star:
        cv += 1e-6
    return CriticalValue(cv=cv, type1_error=type1_error(cv, T, min_events, delay), exact=False)


def critical_value_info(
    T: float, alpha: float = 0.05, min_events: int = 1, delay: float = 0.0
) -> CriticalValue:
    """:func:`critical_value` with the attained type I error and whether alpha is exact."""
    _check_cv_args(T, min_events, delay)
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    return _critical_value_cached(
        round(float(T), 9), float(alpha), int(min_events), round(float(delay), 9)
    )


def critical_value(T: float, alpha: float = 0.05, min_events: int = 1, delay: float = 0.0) -> float:
    """Exact Poisson MaxSPRT critical value: the smallest cv with type I error <= alpha.

    T is the upper limit of surveillance in expected counts under H0, ``min_events`` (M)
    the minimum number of events before a signal is allowed, ``delay`` (D) the expected
    count at the first look. Reproduces Sequential's CV.Poisson table, e.g. alpha = 0.05,
    M = 1, D = 0: T = 1 -> 2.853937, T = 10 -> 3.467952, T = 100 -> 3.952321.

    With D = 0 the type I error is continuous and strictly decreasing in cv, so this is
    the root of ``type1_error(cv) == alpha``, found with Brent's method to ~1e-12. With
    D > 0 the error is a step function at the cv where some mu_c equals D; when alpha falls
    in such a step no cv attains it exactly and, as Sequential does, the conservative cv
    (the step rounded up to 6 decimals, error < alpha) is returned.
    :func:`critical_value_info` tells which case applies and the error attained.

    Results are cached on (T, alpha, M, D) with T and D rounded to 9 decimals: the cv
    changes by far less than 1e-9 across that rounding. Raises
    :class:`NoCriticalValueError` when no cv reaches alpha (too small T for this M).
    """
    return critical_value_info(T, alpha, min_events, delay).cv


# --------------------------------------------------------------------------------------
# Disproportionality on a 2x2 table of spontaneous reports
#
#                     this event   other events
#   this vaccine          a             b
#   other vaccines        c             d
#
# Zero cells: point estimates follow IEEE arithmetic (x/0 = inf, 0/0 = nan), computed
# without warnings; an interval is nan wherever its log-scale standard error is undefined
# (a zero in a cell it divides by). Nothing raises for zeros; negative counts raise.
# --------------------------------------------------------------------------------------


def _cells(a: ArrayLike, b: ArrayLike, c: ArrayLike, d: ArrayLike) -> tuple[np.ndarray, ...]:
    return tuple(_as_float_array(x, n) for x, n in ((a, "a"), (b, "b"), (c, "c"), (d, "d")))


def _log_interval(est: np.ndarray, se: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ok = np.isfinite(se) & (est > 0) & np.isfinite(est)
        log_est = np.log(np.where(ok, est, 1.0))
        lower = np.where(ok, np.exp(log_est - z * np.where(ok, se, 0.0)), np.nan)
        upper = np.where(ok, np.exp(log_est + z * np.where(ok, se, 0.0)), np.nan)
    return lower, upper


def prr(
    a: ArrayLike, b: ArrayLike, c: ArrayLike, d: ArrayLike
) -> tuple[FloatOrArray, FloatOrArray, FloatOrArray]:
    """Proportional reporting ratio with its 95 % interval (Evans et al. 2001).

    PRR = [a/(a+b)] / [c/(c+d)];
    CI = exp(ln PRR +/- 1.96 sqrt(1/a - 1/(a+b) + 1/c - 1/(c+d))).
    Returns (prr, lower, upper). a = 0 gives PRR 0 with a nan interval; c = 0 gives inf.
    """
    a, b, c, d = _cells(a, b, c, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = (a / (a + b)) / (c / (c + d))
        se = np.sqrt(1 / a - 1 / (a + b) + 1 / c - 1 / (c + d))
    lower, upper = _log_interval(est, se)
    return _out(est), _out(lower), _out(upper)


def ror(
    a: ArrayLike, b: ArrayLike, c: ArrayLike, d: ArrayLike
) -> tuple[FloatOrArray, FloatOrArray, FloatOrArray]:
    """Reporting odds ratio with its 95 % interval (van Puijenbroek et al. 2002).

    ROR = ad / (bc); CI = exp(ln ROR +/- 1.96 sqrt(1/a + 1/b + 1/c + 1/d)).
    Returns (ror, lower, upper); any zero cell makes the interval nan.
    """
    a, b, c, d = _cells(a, b, c, d)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = (a * d) / (b * c)
        se = np.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    lower, upper = _log_interval(est, se)
    return _out(est), _out(lower), _out(upper)


def chi_square(a: ArrayLike, b: ArrayLike, c: ArrayLike, d: ArrayLike, yates: bool) -> FloatOrArray:
    """Pearson chi-square (1 df) of the 2x2 table, with or without Yates' correction.

    Uncorrected: N (ad - bc)^2 / [(a+b)(c+d)(a+c)(b+d)].
    Yates (1934): N (max(|ad - bc| - N/2, 0))^2 / [same]; the max(., 0) matches
    scipy.stats.chi2_contingency, which never over-corrects past zero.
    A zero margin leaves the statistic undefined: nan.
    """
    a, b, c, d = _cells(a, b, c, d)
    n = a + b + c + d
    diff = np.abs(a * d - b * c)
    if yates:
        diff = np.maximum(diff - n / 2, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = (a + b) * (c + d) * (a + c) * (b + d)
        value = np.where(denom > 0, n * diff**2 / np.where(denom > 0, denom, 1.0), np.nan)
    return _out(value)


def chi2_yates(a: ArrayLike, b: ArrayLike, c: ArrayLike, d: ArrayLike) -> FloatOrArray:
    """Yates-corrected 2x2 chi-square; the one :func:`disproportionality` uses for Evans."""
    return chi_square(a, b, c, d, yates=True)


def chi2_uncorrected(a: ArrayLike, b: ArrayLike, c: ArrayLike, d: ArrayLike) -> FloatOrArray:
    """Plain Pearson 2x2 chi-square without continuity correction."""
    return chi_square(a, b, c, d, yates=False)


def bcpnn_ic(
    a: ArrayLike, b: ArrayLike, c: ArrayLike, d: ArrayLike
) -> tuple[FloatOrArray, FloatOrArray, FloatOrArray]:
    """BCPNN information component with its 95 % credibility interval.

    IC = log2((a + 0.5) / (E + 0.5)), E = (a+b)(a+c)/N: the shrinkage observed-to-expected
    ratio of Norén, Hopstadius, Bate (Stat Methods Med Res 2013;22:57-69). Its interval is
    their closed form: the quantiles of Gamma(shape a + 0.5, rate E + 0.5), on log2 scale:
    IC025 = log2(gamma.ppf(0.025, a + 0.5, scale=1/(E + 0.5))), likewise IC975.
    The usual BCPNN signal criterion is IC025 > 0.
    Returns (ic, ic025, ic975); an empty table (N = 0) gives nan throughout.
    """
    a, b, c, d = _cells(a, b, c, d)
    n = a + b + c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(n > 0, (a + b) * (a + c) / np.where(n > 0, n, 1.0), np.nan)
        ic = np.log2((a + 0.5) / (expected + 0.5))
        scale = 1.0 / (expected + 0.5)
        ic025 = np.log2(stats.gamma.ppf(0.025, a + 0.5, scale=scale))
        ic975 = np.log2(stats.gamma.ppf(0.975, a + 0.5, scale=scale))
    return _out(ic), _out(ic025), _out(ic975)


def evans_signal(prr_value: ArrayLike, chi2: ArrayLike, a: ArrayLike) -> bool | np.ndarray:
    """Evans et al. (2001) criteria: PRR >= 2 and chi-square >= 4 and a >= 3.

    The caller chooses the chi-square and passes it in; :func:`disproportionality` uses the
    Yates-corrected one, the convention of Evans et al. 2001 and of the MHRA. nan never
    signals.
    """
    with np.errstate(invalid="ignore"):
        result = (
            (np.asarray(prr_value, float) >= 2)
            & (np.asarray(chi2, float) >= 4)
            & (np.asarray(a, float) >= 3)
        )
    return _out(result)


@dataclass(frozen=True)
class Disproportionality:
    """All disproportionality figures of one 2x2 table (or arrays of them).

    ``evans`` is decided on ``chi2_yates`` (Yates-corrected chi-square).
    """

    a: FloatOrArray
    expected: FloatOrArray  # E = (a+b)(a+c)/N, the count of a expected under independence
    prr: FloatOrArray
    prr_lower: FloatOrArray
    prr_upper: FloatOrArray
    ror: FloatOrArray
    ror_lower: FloatOrArray
    ror_upper: FloatOrArray
    chi2_yates: FloatOrArray
    chi2_uncorrected: FloatOrArray
    ic: FloatOrArray
    ic025: FloatOrArray
    ic975: FloatOrArray
    evans: bool | np.ndarray


def disproportionality(
    a: ArrayLike, b: ArrayLike, c: ArrayLike, d: ArrayLike
) -> Disproportionality:
    """PRR, ROR, both chi-squares, BCPNN IC and the Evans decision (on Yates' chi-square)."""
    fa, fb, fc, fd = _cells(a, b, c, d)
    n = fa + fb + fc + fd
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(n > 0, (fa + fb) * (fa + fc) / np.where(n > 0, n, 1.0), np.nan)
    p, p_lo, p_hi = prr(fa, fb, fc, fd)
    r, r_lo, r_hi = ror(fa, fb, fc, fd)
    x_y = chi2_yates(fa, fb, fc, fd)
    x_u = chi2_uncorrected(fa, fb, fc, fd)
    ic, ic025, ic975 = bcpnn_ic(fa, fb, fc, fd)
    return Disproportionality(
        a=_out(fa),
        expected=_out(expected),
        prr=p,
        prr_lower=p_lo,
        prr_upper=p_hi,
        ror=r,
        ror_lower=r_lo,
        ror_upper=r_hi,
        chi2_yates=x_y,
        chi2_uncorrected=x_u,
        ic=ic,
        ic025=ic025,
        ic975=ic975,
        evans=evans_signal(p, x_y, fa),
    )
