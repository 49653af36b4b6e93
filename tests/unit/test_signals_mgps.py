"""Unit tests for aefi.signals.mgps: openEBGM's published values and a fit on simulated data."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from aefi.signals import mgps as g

# openEBGM's hyperparameters fitted to its CAERS data, as its test suite states them
# (tests/testthat/testEBGM.R, "Theta values from previous run ... 12/30/2016"). The
# published EBGM/EB05/EB95 below are printed to 4 decimals from these; the 4-decimal
# rounding of theta (3.2528, 0.3998, 2.0249, 1.9073, 0.06536) moves EB95 at N = 1 to
# 10.7165, so the full values are needed.
OPENEBGM_THETA = g.Hyperparameters(3.25280367, 0.39983376, 2.02490400, 1.90726819, 0.06536416)

PUBLISHED = [
    # N, E, EBGM, EB05, EB95
    (1, 0.1, 1.7919, 0.4528, 10.7159),
    (5, 1.0, 3.0055, 1.2460, 7.9442),
]


@pytest.mark.parametrize(("n", "e", "gm", "q05", "q95"), PUBLISHED)
def test_ebgm_reproduces_openebgm(n: int, e: float, gm: float, q05: float, q95: float) -> None:
    result = g.ebgm(OPENEBGM_THETA, n, e)
    assert round(result.ebgm, 4) == gm
    assert round(result.eb05, 4) == q05
    assert round(result.eb95, 4) == q95


def test_ebgm_vectorised_and_posterior_by_quadrature() -> None:
    theta = OPENEBGM_THETA
    n = np.array([0, 1, 5, 20])
    e = np.array([0.5, 0.1, 1.0, 4.0])
    result = g.ebgm(theta, n, e)
    assert result.ebgm.shape == (4,)
    for i in range(4):
        q = result.qn[i]
        post = [
            stats.gamma(theta.alpha1 + n[i], scale=1 / (theta.beta1 + e[i])),
            stats.gamma(theta.alpha2 + n[i], scale=1 / (theta.beta2 + e[i])),
        ]

        def density(x: float, post=post, q=q) -> float:
            return q * post[0].pdf(x) + (1 - q) * post[1].pdf(x)

        # EBGM = exp(E[ln lambda]) by numerical integration of the posterior mixture.
        mean_log = integrate.quad(lambda x, f=density: math.log(x) * f(x), 0, np.inf)[0]
        assert result.ebgm[i] == pytest.approx(math.exp(mean_log), rel=1e-7)
        # The quantiles invert the mixture CDF.
        for level, x in ((0.05, result.eb05[i]), (0.95, result.eb95[i])):
            cdf = q * post[0].cdf(x) + (1 - q) * post[1].cdf(x)
            assert cdf == pytest.approx(level, abs=1e-12)
    assert np.all(result.eb05 < result.ebgm) and np.all(result.ebgm < result.eb95)


def test_qn_by_hand() -> None:
    # Q_n = P f1 / (P f1 + (1 - P) f2), f_i negative binomial (size alpha_i,
    # probability beta_i / (beta_i + E)): eq. 6 of DuMouchel 1999.
    t = OPENEBGM_THETA
    n, e = 3, 0.7
    f1 = stats.nbinom.pmf(n, t.alpha1, t.beta1 / (t.beta1 + e))
    f2 = stats.nbinom.pmf(n, t.alpha2, t.beta2 / (t.beta2 + e))
    assert g.ebgm(t, n, e).qn == pytest.approx(t.p * f1 / (t.p * f1 + (1 - t.p) * f2))
    ll = g.log_likelihood(t, [n], [e])
    assert ll == pytest.approx(math.log(t.p * f1 + (1 - t.p) * f2))


def test_truncated_likelihood() -> None:
    t = OPENEBGM_THETA
    n, e = np.array([1, 2, 4]), np.array([0.3, 1.0, 2.0])
    full = [
        t.p * stats.nbinom.pmf(k, t.alpha1, t.beta1 / (t.beta1 + x))
        + (1 - t.p) * stats.nbinom.pmf(k, t.alpha2, t.beta2 / (t.beta2 + x))
        for k, x in ((0, e), (n, e))
    ]
    want = np.sum(np.log(full[1] / (1 - full[0])))
    assert g.log_likelihood(t, n, e, min_count=1) == pytest.approx(want)
    with pytest.raises(ValueError, match="min_count"):
        g.log_likelihood(t, [0, 1], [1.0, 1.0], min_count=1)


def simulate(theta: g.Hyperparameters, cells: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    e = np.exp(rng.uniform(math.log(1.0), math.log(50.0), cells))
    first = rng.random(cells) < theta.p
    lam = np.where(
        first,
        rng.gamma(theta.alpha1, 1 / theta.beta1, cells),
        rng.gamma(theta.alpha2, 1 / theta.beta2, cells),
    )
    return rng.poisson(lam * e), e


def test_fit_recovers_generating_hyperparameters() -> None:
    # 6,000 cells drawn from openEBGM's fitted prior, E log-uniform on [1, 50]. Across ten
    # seeds (2026-2035) the fits spread by about: alpha1, beta1 +/- 12 % (1 SD; the small
    # component is the hard one), alpha2, beta2 +/- 3 %, P +/- 0.004, the component means
    # alpha/beta +/- 2 %. Tolerances are about 2.5 of those SDs.
    true = OPENEBGM_THETA
    n, e = simulate(true, 6000, seed=2026)
    fit = g.fit_hyperparameters(n, e)
    t = fit.theta
    assert fit.converged
    # The maximiser is at least as likely as the truth (it is the MLE).
    assert fit.log_likelihood >= g.log_likelihood(true, n, e) - 1e-6
    assert t.alpha1 == pytest.approx(true.alpha1, rel=0.30)
    assert t.beta1 == pytest.approx(true.beta1, rel=0.30)
    assert t.alpha2 == pytest.approx(true.alpha2, rel=0.08)
    assert t.beta2 == pytest.approx(true.beta2, rel=0.08)
    assert t.p == pytest.approx(true.p, abs=0.01)
    assert t.alpha1 / t.beta1 == pytest.approx(true.alpha1 / true.beta1, rel=0.05)
    assert t.alpha2 / t.beta2 == pytest.approx(true.alpha2 / true.beta2, rel=0.05)
    # What matters downstream: the shrunk scores barely move.
    grid_n, grid_e = np.meshgrid(np.arange(30), [0.2, 0.5, 1.0, 2.0, 5.0, 10.0])
    ratio = g.ebgm(t, grid_n, grid_e).ebgm / g.ebgm(true, grid_n, grid_e).ebgm
    assert np.max(np.abs(ratio - 1)) < 0.10


def test_fit_truncated_at_one_runs_on_nonzero_cells() -> None:
    n, e = simulate(OPENEBGM_THETA, 1500, seed=4)
    keep = n >= 1
    fit = g.fit_hyperparameters(n[keep], e[keep], min_count=1)
    assert fit.log_likelihood >= g.log_likelihood(OPENEBGM_THETA, n[keep], e[keep], min_count=1)


def test_hyperparameters_are_checked_and_canonical() -> None:
    with pytest.raises(ValueError):
        g.Hyperparameters(1.0, 1.0, 1.0, 1.0, 1.5)
    with pytest.raises(ValueError):
        g.Hyperparameters(-1.0, 1.0, 1.0, 1.0, 0.5)
    swapped = g._canonical(np.array([2.0, 2.0, 8.0, 1.0, 0.9]))
    assert swapped.as_tuple() == pytest.approx((8.0, 1.0, 2.0, 2.0, 0.1))
    with pytest.raises(ValueError, match="E must be positive"):
        g.ebgm(OPENEBGM_THETA, 1, 0.0)
    with pytest.raises(ValueError, match="whole"):
        g.ebgm(OPENEBGM_THETA, 1.5, 1.0)
    with pytest.raises(ValueError, match="at least 5"):
        g.fit_hyperparameters([1, 2], [1.0, 1.0])


@pytest.mark.parametrize("min_count", [0, 1, 2])
def test_analytic_gradient_matches_finite_differences(min_count: int) -> None:
    rng = np.random.default_rng(min_count)
    n = (rng.poisson(2.0, 60) + min_count).astype(float)
    e = rng.uniform(0.5, 3.0, 60)
    w = rng.integers(1, 4, 60).astype(float)
    x = np.array([0.3, -0.5, 1.0, 0.2, -1.0])
    _, grad = g._negll_and_grad(x, n, e, w, min_count)
    numeric = optimize.approx_fprime(x, lambda y: g._negll_and_grad(y, n, e, w, min_count)[0], 1e-7)
    assert grad == pytest.approx(numeric, rel=1e-4, abs=1e-4)


def test_expected_counts_from_margins() -> None:
    table = np.array([[10, 0, 5], [20, 5, 10]])
    e = g.expected_counts(table)
    assert e[0, 0] == pytest.approx(15 * 30 / 50)
    assert e.sum() == pytest.approx(50)
    assert e.sum(axis=1) == pytest.approx([15, 35])
    with pytest.raises(ValueError, match="empty"):
        g.expected_counts(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="2-D"):
        g.expected_counts([1, 2, 3])
