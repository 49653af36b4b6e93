"""Multi-item Gamma Poisson Shrinker (MGPS): empirical-Bayes disproportionality.

DuMouchel W. Bayesian data mining in large frequency tables, with an application to the
FDA spontaneous reporting system. Am Stat 1999;53(3):177-90. Notation and conventions
follow that paper and the R package *openEBGM* (Canida & Ihrie, R Journal 2017;9(1)),
whose published values the tests reproduce.

Each cell (product x event term) has an observed count N and an expected count E (from
the margins, E = row total x column total / grand total). The true reporting ratio
lambda = E[N]/E has a prior that is a mixture of two gamma distributions (shape alpha,
*rate* beta):

    lambda ~ P Gamma(alpha1, beta1) + (1 - P) Gamma(alpha2, beta2),   N | lambda ~ Poisson(lambda E)

so N is marginally a mixture of negative binomials (DuMouchel eq. 5)

    f(n; alpha, beta, E) = Gamma(alpha + n) / (Gamma(alpha) n!)
                           x (beta / (beta + E))^alpha (E / (beta + E))^n.

The hyperparameters theta = (alpha1, beta1, alpha2, beta2, P) are fitted by maximum
likelihood over all cells (:func:`fit_hyperparameters`). The posterior of lambda given
N = n is again a two-gamma mixture, Gamma(alpha_i + n, beta_i + E), with weight Q_n of the
first component (eq. 6). Reported per cell: EBGM = exp(E[ln lambda | n]) (eqs. 9-11) and
EB05 / EB95, the 5th and 95th percentiles of the posterior (:func:`ebgm`). A common
signal criterion is EB05 >= 2.

Pure numpy/scipy; vectorised over cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize, special, stats

__all__ = [
    "EBGMResult",
    "FitResult",
    "Hyperparameters",
    "ebgm",
    "expected_counts",
    "fit_hyperparameters",
    "log_likelihood",
    "posterior_quantile",
]


@dataclass(frozen=True)
class Hyperparameters:
    """theta = (alpha1, beta1, alpha2, beta2, P) of the two-gamma prior (rates beta).

    By convention (as in openEBGM's published fits) component 1 is the one with the
    larger prior mean alpha/beta, and P is its weight.
    """

    alpha1: float
    beta1: float
    alpha2: float
    beta2: float
    p: float

    def as_tuple(self) -> tuple[float, float, float, float, float]:
        return (self.alpha1, self.beta1, self.alpha2, self.beta2, self.p)

    def __post_init__(self) -> None:
        if not all(math.isfinite(x) and x > 0 for x in self.as_tuple()[:4]):
            raise ValueError("alpha1, beta1, alpha2, beta2 must be positive numbers")
        if not 0 < self.p < 1:
            raise ValueError("P must be in (0, 1)")


@dataclass(frozen=True)
class FitResult:
    """Fitted hyperparameters with the maximised log-likelihood and optimiser status."""

    theta: Hyperparameters
    log_likelihood: float
    converged: bool
    message: str


@dataclass(frozen=True)
class EBGMResult:
    """Per-cell posterior summaries (arrays, or floats for scalar input)."""

    ebgm: np.ndarray | float
    eb05: np.ndarray | float
    eb95: np.ndarray | float
    qn: np.ndarray | float  # posterior weight of component 1


def _cells(n: npt.ArrayLike, e: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    n_arr = np.asarray(n, dtype=float)
    e_arr = np.asarray(e, dtype=float)
    if not (np.all(np.isfinite(n_arr)) and np.all(np.isfinite(e_arr))):
        raise ValueError("N and E must be finite numbers")
    if np.any(n_arr < 0) or np.any(n_arr != np.floor(n_arr)):
        raise ValueError("N must be whole non-negative counts")
    if np.any(e_arr <= 0):
        raise ValueError("E must be positive")
    n_arr, e_arr = np.broadcast_arrays(n_arr, e_arr)
    return n_arr, e_arr


def expected_counts(table: npt.ArrayLike) -> np.ndarray:
    """E for every cell of a products x events count table: row total x column total / N.

    DuMouchel's baseline (1999, eq. 1; openEBGM ``processRaw`` without strata): the count
    expected if products and events were independent. Counts must be counted the same way
    as N (e.g. reports, each report once per cell). Cells of an empty table raise.
    """
    n = np.asarray(table, dtype=float)
    if n.ndim != 2 or np.any(n < 0) or not np.all(np.isfinite(n)):
        raise ValueError("table must be a 2-D array of non-negative counts")
    total = n.sum()
    if total <= 0:
        raise ValueError("the table is empty")
    return n.sum(axis=1, keepdims=True) * n.sum(axis=0, keepdims=True) / total


def _log_nb(n: np.ndarray, alpha: float, beta: float, e: np.ndarray) -> np.ndarray:
    """log f(n; alpha, beta, E), the negative binomial marginal of one component."""
    return (
        special.gammaln(alpha + n)
        - special.gammaln(alpha)
        - special.gammaln(n + 1)
        + alpha * np.log(beta / (beta + e))
        + n * np.log(e / (beta + e))
    )


def _log_mix(theta: tuple[float, ...], n: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, ...]:
    a1, b1, a2, b2, p = theta
    l1 = math.log(p) + _log_nb(n, a1, b1, e)
    l2 = math.log1p(-p) + _log_nb(n, a2, b2, e)
    return l1, l2, np.logaddexp(l1, l2)


def log_likelihood(
    theta: Hyperparameters | tuple[float, ...],
    n: npt.ArrayLike,
    e: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    min_count: int = 0,
) -> float:
    """Marginal log-likelihood of theta over the cells: sum_i w_i ln f(n_i; theta, E_i).

    ``min_count`` (openEBGM's N*): only cells with N >= N* are in the data, so each cell's
    mixture is truncated there, f / P(N >= N*) - the usual choice when the zero cells of a
    large table are not enumerated (N* = 1). ``weights`` count identical cells (data
    squashing); default 1.
    """
    t = theta.as_tuple() if isinstance(theta, Hyperparameters) else tuple(theta)
    n_arr, e_arr = _cells(n, e)
    w = (
        np.ones_like(n_arr)
        if weights is None
        else np.broadcast_to(np.asarray(weights, float), n_arr.shape)
    )
    if min_count > 0 and np.any(n_arr < min_count):
        raise ValueError("cells with N below min_count cannot be in a truncated likelihood")
    _, _, ll = _log_mix(t, n_arr, e_arr)
    if min_count > 0:
        # log P(N >= N*) = log(1 - sum_{k < N*} f(k))
        below = np.stack([_log_mix(t, np.full_like(e_arr, k), e_arr)[2] for k in range(min_count)])
        ll = ll - np.log(-np.expm1(special.logsumexp(below, axis=0)))
    return float(np.sum(w * ll))


def _canonical(x: np.ndarray) -> Hyperparameters:
    a1, b1, a2, b2, p = (float(v) for v in x)
    if a1 / b1 < a2 / b2:
        a1, b1, a2, b2, p = a2, b2, a1, b1, 1 - p
    return Hyperparameters(a1, b1, a2, b2, p)


_DEFAULT_STARTS = (
    # openEBGM's suggested starting points (vignette), plus DuMouchel's 1999 example fit.
    (0.2, 0.1, 2.0, 4.0, 1 / 3),
    (0.1, 0.1, 10.0, 10.0, 0.2),
    (0.5, 0.5, 2.0, 2.0, 0.1),
    (5.0, 1.0, 1.0, 1.0, 0.05),
    (0.2, 0.06, 1.4, 1.8, 0.1),
)


def _to_theta(x: np.ndarray) -> tuple[float, ...]:
    return (*np.exp(x[:4]).tolist(), float(special.expit(x[4])))


def _mix_and_grad(
    theta: tuple[float, ...], k: np.ndarray, e: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """ln f(k) per cell and its gradient in (ln a1, ln b1, ln a2, ln b2, logit P)."""
    a1, b1, a2, b2, p = theta
    l1, _, lm = _log_mix(theta, k, e)
    q1 = np.exp(l1 - lm)
    parts = []
    for a, b, q in ((a1, b1, q1), (a2, b2, 1 - q1)):
        d_a = special.digamma(a + k) - special.digamma(a) + np.log(b / (b + e))
        d_b = a / b - (a + k) / (b + e)
        parts += [a * q * d_a, b * q * d_b]
    parts.append((q1 / p - (1 - q1) / (1 - p)) * p * (1 - p))
    return lm, np.stack(parts)


def _negll_and_grad(
    x: np.ndarray, n: np.ndarray, e: np.ndarray, w: np.ndarray, min_count: int
) -> tuple[float, np.ndarray]:
    """Negative log-likelihood and its analytic gradient on the transformed scale.

    Truncation at N*: each cell's term is ln f(n) - ln(1 - z), z = sum_{k < N*} f(k),
    and d ln f(k) has the same form as d ln f(n).
    """
    theta = _to_theta(x)
    with np.errstate(all="ignore"):
        lm, grad_cells = _mix_and_grad(theta, n, e)
        value = -float(np.sum(w * lm))
        grad = -(grad_cells @ w)
        if min_count > 0:
            z = np.zeros_like(e)
            dz = np.zeros((5, e.size))
            for k in range(min_count):
                lk, gk = _mix_and_grad(theta, np.full_like(e, float(k)), e)
                fk = np.exp(lk)
                z += fk
                dz += fk * gk
            value += float(np.sum(w * np.log1p(-z)))
            grad -= (dz / (1 - z)) @ w
    if not (math.isfinite(value) and np.all(np.isfinite(grad))):
        return 1e300, np.zeros(5)
    return value, grad


def fit_hyperparameters(
    n: npt.ArrayLike,
    e: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
    min_count: int = 0,
    starts: tuple[tuple[float, ...], ...] | None = None,
) -> FitResult:
    """Maximum-likelihood theta over all cells (DuMouchel 1999, section 3.2).

    Maximises :func:`log_likelihood` with L-BFGS-B on the log scale of alpha, beta and the
    logit of P (so the parameters stay positive and P in (0, 1)), from several starting
    points (openEBGM's ``autoHyper`` also tries a set of starts and keeps the best), with
    the analytic gradient (truncated or not).
    Shapes and rates are bounded to [1e-4, 1e4] on the way to avoid the degenerate
    boundary (a zero-variance component) that the likelihood can creep towards. The result
    is put in the canonical order of :class:`Hyperparameters`. ``converged`` is False when
    no start converged; the best point found is still returned.
    """
    n_arr, e_arr = _cells(n, e)
    n_arr, e_arr = n_arr.ravel(), e_arr.ravel()
    if n_arr.size < 5:
        raise ValueError("at least 5 cells are needed to fit 5 hyperparameters")
    w = None if weights is None else np.broadcast_to(np.asarray(weights, float), n_arr.shape)
    lo, hi = math.log(1e-4), math.log(1e4)
    bounds = [(lo, hi)] * 4 + [(-12.0, 12.0)]

    ww = np.ones_like(n_arr) if w is None else np.asarray(w, dtype=float)

    def objective_and_grad(x: np.ndarray) -> tuple[float, np.ndarray]:
        return _negll_and_grad(x, n_arr, e_arr, ww, min_count)

    best: optimize.OptimizeResult | None = None
    for start in starts or _DEFAULT_STARTS:
        x0 = np.array([*np.log(start[:4]), special.logit(start[4])])
        res = optimize.minimize(objective_and_grad, x0, jac=True, method="L-BFGS-B", bounds=bounds)
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    theta = _canonical(np.asarray(_to_theta(best.x)))
    return FitResult(
        theta=theta,
        log_likelihood=-float(best.fun),
        converged=bool(best.success),
        message=str(best.message),
    )


def _posterior(theta: Hyperparameters, n: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, ...]:
    l1, _, lm = _log_mix(theta.as_tuple(), n, e)
    qn = np.exp(l1 - lm)  # eq. 6
    return qn, theta.alpha1 + n, theta.beta1 + e, theta.alpha2 + n, theta.beta2 + e


def posterior_quantile(
    q: float, theta: Hyperparameters, n: npt.ArrayLike, e: npt.ArrayLike
) -> np.ndarray | float:
    """The q-quantile of the posterior mixture of lambda, per cell (vectorised).

    Solves Q_n G1(x) + (1 - Q_n) G2(x) = q, G_i the gamma posterior CDFs. The root lies
    between the two components' own q-quantiles, which bracket it; bisection on log x over
    that bracket, 100 halvings (to double precision; openEBGM bisects to a rounding
    tolerance instead).
    """
    if not 0 < q < 1:
        raise ValueError("q must be in (0, 1)")
    n_arr, e_arr = _cells(n, e)
    qn, s1, r1, s2, r2 = _posterior(theta, n_arr, e_arr)
    x1 = stats.gamma.ppf(q, s1, scale=1 / r1)
    x2 = stats.gamma.ppf(q, s2, scale=1 / r2)
    lo, hi = np.log(np.minimum(x1, x2)), np.log(np.maximum(x1, x2))
    for _ in range(100):
        mid = (lo + hi) / 2
        x = np.exp(mid)
        cdf = qn * special.gammainc(s1, r1 * x) + (1 - qn) * special.gammainc(s2, r2 * x)
        below = cdf < q
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    out = np.exp((lo + hi) / 2)
    return out.item() if out.ndim == 0 else out


def ebgm(theta: Hyperparameters, n: npt.ArrayLike, e: npt.ArrayLike) -> EBGMResult:
    """EBGM, EB05, EB95 and Q_n per cell (DuMouchel 1999 eqs. 6, 9-11). Vectorised.

    EBGM = exp(Q_n (psi(alpha1 + n) - ln(beta1 + E)) + (1 - Q_n)(psi(alpha2 + n) -
    ln(beta2 + E))), psi the digamma function; EB05/EB95 by :func:`posterior_quantile`.
    With openEBGM's fit to its CAERS data (theta = 3.25280367, 0.39983376, 2.02490400,
    1.90726819, 0.06536416): N = 1, E = 0.1 -> 1.7919, 0.4528, 10.7159.
    """
    n_arr, e_arr = _cells(n, e)
    qn, s1, r1, s2, r2 = _posterior(theta, n_arr, e_arr)
    log_gm = qn * (special.digamma(s1) - np.log(r1)) + (1 - qn) * (special.digamma(s2) - np.log(r2))

    def out(x: np.ndarray) -> np.ndarray | float:
        x = np.asarray(x)
        return x.item() if x.ndim == 0 else x

    return EBGMResult(
        ebgm=out(np.exp(log_gm)),
        eb05=posterior_quantile(0.05, theta, n_arr, e_arr),
        eb95=posterior_quantile(0.95, theta, n_arr, e_arr),
        qn=out(qn),
    )
