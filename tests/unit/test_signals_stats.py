"""Unit tests for aefi.signals.stats: published values, hand-worked tables, edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from aefi.signals import stats as s

# --------------------------------------------------------------------------------------
# Poisson MaxSPRT critical values
# --------------------------------------------------------------------------------------

# Published exact critical values (alpha = 0.05), Kulldorff et al. 2011 / R Sequential's
# CV.Poisson table (TableCV.PoissonM, column M = 1 and M = 2, D = 0).
PUBLISHED_CV = [
    # T, M, cv
    (1.0, 1, 2.853937),
    (10.0, 1, 3.467952),
    (100.0, 1, 3.952321),
    (1.0, 2, 2.366638),
    (10.0, 2, 3.238009),
    (10.0, 6, 2.690586),
    (100.0, 2, 3.810141),
    (1.0, 3, 1.774218),
    (100.0, 3, 3.711993),
]


@pytest.mark.parametrize(("T", "M", "cv"), PUBLISHED_CV)
def test_critical_value_reproduces_published_table(T: float, M: int, cv: float) -> None:
    assert s.critical_value(T, 0.05, min_events=M) == pytest.approx(cv, abs=1e-6)


# Sequential's TableCV.PoissonD (M = 1, delayed first look D). That table is printed to
# 6 decimals from an iteration that stops at |alpha - 0.05| < 1e-8, so allow 2e-6.
PUBLISHED_CV_DELAY = [
    (10.0, 1.0, 2.799333),
    (10.0, 2.0, 2.591675),
    (100.0, 10.0, 3.109251),
]


@pytest.mark.parametrize(("T", "D", "cv"), PUBLISHED_CV_DELAY)
def test_critical_value_with_delayed_start(T: float, D: float, cv: float) -> None:
    assert s.critical_value(T, 0.05, delay=D) == pytest.approx(cv, abs=2e-6)


@pytest.mark.parametrize("T", [1.0, 10.0, 100.0])
@pytest.mark.parametrize("M", [1, 2, 3])
def test_type1_error_at_critical_value_is_alpha(T: float, M: int) -> None:
    cv = s.critical_value(T, 0.05, min_events=M)
    assert s.type1_error(cv, T, min_events=M) == pytest.approx(0.05, abs=1e-6)
    # Lower boundary -> more signals under H0; higher -> fewer.
    assert s.type1_error(cv - 1e-3, T, min_events=M) > 0.05
    assert s.type1_error(cv + 1e-3, T, min_events=M) < 0.05


@pytest.mark.parametrize("T", [1.0, 10.0, 100.0])
def test_min_events_lowers_critical_value(T: float) -> None:
    # Requiring M events removes early one- or two-event signals, so the same alpha is
    # reached with a lower (more permissive) LLR threshold: cv(M) decreasing in M.
    cvs = [s.critical_value(T, 0.05, min_events=m) for m in (1, 2, 3)]
    assert cvs[0] > cvs[1] > cvs[2] > 0


@pytest.mark.parametrize("T", [10.0, 100.0])
def test_delay_lowers_critical_value(T: float) -> None:
    cvs = [s.critical_value(T, 0.05, delay=d) for d in (0.0, 1.0, 2.0)]
    assert cvs[0] > cvs[1] > cvs[2] > 0
    for d, cv in zip((1.0, 2.0), cvs[1:], strict=True):
        assert s.type1_error(cv, T, delay=d) <= 0.05 + 1e-10
        assert s.type1_error(cv - 1e-6, T, delay=d) > 0.05


def test_delay_exact_case() -> None:
    # T = 10, D = 1: alpha = 0.05 is attained exactly (2.799333 in Sequential's table).
    info = s.critical_value_info(10.0, 0.05, delay=1.0)
    assert info.exact is True
    assert info.type1_error == pytest.approx(0.05, abs=1e-10)


def test_delay_step_case_is_conservative() -> None:
    # T = 10, D = 2: the error jumps from ~0.0548 to ~0.04998 where mu_6 passes D = 2, so
    # no cv gives 0.05 exactly. The jump is at cv* = LLR(6 events, E = 2); Sequential
    # reports the conservative value (2.591675 in its table; cv* rounded up is 2.591674).
    cv_star = (2 - 6) + 6 * math.log(6 / 2)
    info = s.critical_value_info(10.0, 0.05, delay=2.0)
    assert info.exact is False
    assert info.cv == math.ceil(cv_star * 1e6) / 1e6
    assert info.type1_error == pytest.approx(0.049983, abs=1e-6)
    assert s.type1_error(cv_star, 10.0, delay=2.0) > 0.054  # at cv* itself N(2) = 6 signals
    assert s.type1_error(cv_star + 1e-9, 10.0, delay=2.0) < 0.05


def test_delay_before_first_boundary_changes_nothing() -> None:
    # D below mu_1 adds a look whose signals are already counted at mu_1.
    cv = s.critical_value(10.0)
    mu_1 = s.signal_times(cv, 10.0)[0]
    assert s.type1_error(cv, 10.0, delay=mu_1 / 2) == pytest.approx(0.05, abs=1e-9)


def test_delay_equal_to_T_is_single_look() -> None:
    # One look at T: signal iff N(T) >= smallest c with mu_c >= T.
    T, cv = 5.0, 2.0
    c_star = 1 + len(s.signal_times(cv, T))
    expected = stats.poisson.sf(c_star - 1, T)
    assert s.type1_error(cv, T, delay=T) == pytest.approx(expected, rel=1e-12)


def test_no_critical_value_when_T_too_small_for_M() -> None:
    # P(N(0.1) >= 2) ~ 0.0047 < 0.05: no boundary can spend alpha.
    with pytest.raises(s.NoCriticalValueError):
        s.critical_value(0.1, 0.05, min_events=2)


def test_small_T_with_M_2_has_solution() -> None:
    cv = s.critical_value(0.5, 0.05, min_events=2)
    assert cv > 0
    assert s.type1_error(cv, 0.5, min_events=2) == pytest.approx(0.05, abs=1e-6)


def test_critical_value_argument_checks() -> None:
    with pytest.raises(ValueError):
        s.critical_value(0.0)
    with pytest.raises(ValueError):
        s.critical_value(10.0, min_events=0)
    with pytest.raises(ValueError):
        s.critical_value(10.0, delay=11.0)
    with pytest.raises(ValueError):
        s.critical_value(10.0, alpha=1.5)


def test_critical_value_is_cached() -> None:
    # Timing belongs in bench/, not here; the cache returns the same value without recomputing.
    s._critical_value_cached.cache_clear()
    first = s.critical_value(100.0)
    assert s.critical_value(100.0) == first


@pytest.mark.parametrize("c", [1, 2, 5, 20])
def test_signal_times_solve_llr_equals_cv(c: int) -> None:
    cv, T = 3.0, 50.0
    mus = s.signal_times(cv, T)
    assert np.all(np.diff(mus) > 0) and mus[-1] < T
    mu_c = mus[c - 1]
    assert mu_c < c
    assert s.maxsprt_llr(c, mu_c) == pytest.approx(cv, abs=1e-9)


def test_signal_times_start_at_min_events() -> None:
    cv, T = 3.0, 50.0
    assert np.allclose(s.signal_times(cv, T, min_events=3), s.signal_times(cv, T)[2:])


# --------------------------------------------------------------------------------------
# MaxSPRT LLR
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("o", "e", "llr"),
    [
        (4, 1.0, (1 - 4) + 4 * math.log(4)),  # 2.545177...
        (10, 4.0, (4 - 10) + 10 * math.log(10 / 4)),
        (1, 0.1, (0.1 - 1) + math.log(10)),
        (2, 2.0, 0.0),  # O = E
        (1, 3.0, 0.0),  # O < E: one-sided
        (0, 0.5, 0.0),
        (3, 0.0, math.inf),
    ],
)
def test_maxsprt_llr_values(o: int, e: float, llr: float) -> None:
    assert s.maxsprt_llr(o, e) == pytest.approx(llr, rel=1e-12)


def test_maxsprt_llr_vectorised_and_result() -> None:
    o = np.array([4, 10, 1, 0])
    e = np.array([1.0, 4.0, 3.0, 0.5])
    got = s.maxsprt_llr(o, e)
    assert isinstance(got, np.ndarray)
    assert np.allclose(got, [s.maxsprt_llr(x, y) for x, y in zip(o, e, strict=True)])
    res = s.maxsprt_result(o, e, cv=2.5)
    assert list(res.signal) == [True, True, False, False]
    # Minimum events: a single early event never signals with M = 2.
    res1 = s.maxsprt_result(1, 0.01, cv=2.5, min_events=2)
    assert res1.llr > 2.5 and res1.signal is False


# --------------------------------------------------------------------------------------
# Exact Poisson test and Garwood intervals
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("o", "e", "p"),
    [
        (3, 0.5, 1 - math.exp(-0.5) * (1 + 0.5 + 0.125)),  # hand value
        (0, 2.0, 1.0),
        (1, 2.0, 1 - math.exp(-2.0)),
        (5, 0.0, 0.0),
    ],
)
def test_poisson_sf_test_hand_values(o: int, e: float, p: float) -> None:
    assert s.poisson_sf_test(o, e) == pytest.approx(p, rel=1e-12, abs=1e-300)


def test_poisson_sf_test_matches_scipy_vectorised() -> None:
    o = np.array([0, 1, 2, 5, 12, 40])
    e = np.array([0.3, 1.0, 0.2, 2.5, 7.0, 25.0])
    got = s.poisson_sf_test(o, e)
    ref = np.array([1 - stats.poisson.cdf(k - 1, m) for k, m in zip(o, e, strict=True)])
    assert np.allclose(got, ref, rtol=1e-10, atol=1e-15)


def test_poisson_sf_test_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        s.poisson_sf_test(-1, 1.0)
    with pytest.raises(ValueError):
        s.poisson_sf_test(1.5, 1.0)
    with pytest.raises(ValueError):
        s.poisson_sf_test(1, -1.0)


# Standard exact (Garwood) 95 % limits for a Poisson count, divided by E = 1.
GARWOOD = [
    (0, 0.0, 3.6889),
    (1, 0.0253, 5.5716),
    (5, 1.6235, 11.6683),
    (10, 4.7954, 18.3904),
]


@pytest.mark.parametrize(("o", "lower", "upper"), GARWOOD)
def test_oe_ratio_garwood_published(o: int, lower: float, upper: float) -> None:
    r = s.oe_ratio(o, 1.0)
    assert r.ratio == o
    assert round(r.lower, 4) == lower
    assert round(r.upper, 4) == upper


def test_oe_ratio_scales_with_expected_and_arrays_match() -> None:
    r = s.oe_ratio(5, 2.0)
    assert r.ratio == 2.5
    assert (r.lower, r.upper) == pytest.approx((1.6235 / 2, 11.6683 / 2), abs=1e-4)
    o = np.array([0, 1, 5, 10])
    e = np.array([1.0, 0.5, 2.0, 8.0])
    arrs = s.oe_ratio_arrays(o, e, alpha=0.1)
    for i in range(len(o)):
        one = s.oe_ratio(int(o[i]), float(e[i]), alpha=0.1)
        assert (arrs.ratio[i], arrs.lower[i], arrs.upper[i]) == pytest.approx(
            (one.ratio, one.lower, one.upper)
        )
    assert arrs.lower[0] == 0.0


def test_oe_ratio_rejects_zero_expected() -> None:
    with pytest.raises(ValueError):
        s.oe_ratio(3, 0.0)


# --------------------------------------------------------------------------------------
# Disproportionality
# --------------------------------------------------------------------------------------

# Hand-worked table: a = 20, b = 80, c = 100, d = 9800, N = 10000.
#   PRR = (20/100) / (100/9900) = 0.2 * 99 = 19.8
#   se(ln PRR) = sqrt(1/20 - 1/100 + 1/100 - 1/9900) = sqrt(0.05 - 1/9900)
#   ROR = 20*9800 / (80*100) = 196000 / 8000 = 24.5
#   se(ln ROR) = sqrt(1/20 + 1/80 + 1/100 + 1/9800)
#   ad - bc = 196000 - 8000 = 188000; margins 100, 9900, 120, 9880
#   chi2 = 10000 * 188000^2 / (100*9900*120*9880) = 3.5344e14 / 1.173744e12 = 301.1219
#   Yates: 10000 * (188000 - 5000)^2 / 1.173744e12 = 3.3489e14 / 1.173744e12 = 285.3178
#   E = 100*120/10000 = 1.2; IC = log2(20.5 / 1.7) = 3.5920
A, B, C, D = 20, 80, 100, 9800
DENOM = 100 * 9900 * 120 * 9880


def test_prr_hand_worked() -> None:
    est, lo, hi = s.prr(A, B, C, D)
    se = math.sqrt(1 / 20 - 1 / 9900)
    assert est == pytest.approx(19.8, rel=1e-12)
    assert lo == pytest.approx(19.8 * math.exp(-1.96 * se), rel=1e-12)
    assert hi == pytest.approx(19.8 * math.exp(1.96 * se), rel=1e-12)
    assert (round(lo, 3), round(hi, 3)) == (12.780, 30.677)


def test_ror_hand_worked() -> None:
    est, lo, hi = s.ror(A, B, C, D)
    se = math.sqrt(1 / 20 + 1 / 80 + 1 / 100 + 1 / 9800)
    assert est == pytest.approx(24.5, rel=1e-12)
    assert (lo, hi) == pytest.approx((24.5 * math.exp(-1.96 * se), 24.5 * math.exp(1.96 * se)))


def test_chi_square_hand_worked_and_scipy() -> None:
    unc = s.chi2_uncorrected(A, B, C, D)
    yat = s.chi2_yates(A, B, C, D)
    assert unc == pytest.approx(10000 * 188000**2 / DENOM, rel=1e-12)
    assert yat == pytest.approx(10000 * 183000**2 / DENOM, rel=1e-12)
    assert round(unc, 4) == 301.1219 and round(yat, 4) == 285.3178
    assert yat < unc
    table = np.array([[A, B], [C, D]])
    assert yat == pytest.approx(stats.chi2_contingency(table, correction=True)[0])
    assert unc == pytest.approx(stats.chi2_contingency(table, correction=False)[0])
    assert s.chi_square(A, B, C, D, yates=True) == yat


@pytest.mark.parametrize(
    "table", [(3, 10, 4, 10), (5, 20, 30, 400), (1, 1, 1, 1), (2, 50, 3, 2000)]
)
def test_chi_square_matches_scipy_small_tables(table: tuple[int, int, int, int]) -> None:
    a, b, c, d = table
    arr = np.array([[a, b], [c, d]])
    assert s.chi2_yates(a, b, c, d) == pytest.approx(stats.chi2_contingency(arr, True)[0])
    assert s.chi2_uncorrected(a, b, c, d) == pytest.approx(stats.chi2_contingency(arr, False)[0])


def test_bcpnn_ic_hand_worked() -> None:
    ic, ic025, ic975 = s.bcpnn_ic(A, B, C, D)
    assert ic == pytest.approx(math.log2(20.5 / 1.7), rel=1e-12)
    assert ic025 == pytest.approx(math.log2(stats.gamma.ppf(0.025, 20.5, scale=1 / 1.7)))
    assert ic025 < ic < ic975
    assert ic025 > 0  # clearly disproportionate


def test_bcpnn_ic_shrinks_small_counts() -> None:
    # a = 0 with E = 0 (no reports for this vaccine): IC = log2(0.5/0.5) = 0.
    ic, ic025, ic975 = s.bcpnn_ic(0, 0, 5, 100)
    assert ic == 0.0 and ic025 < 0 < ic975
    # One report where 0.1 were expected: raw O/E = 10 but IC is shrunk.
    ic1, ic1_025, _ = s.bcpnn_ic(1, 9, 99, 9891)
    assert 0 < ic1 < math.log2(10) and ic1_025 < 0


def test_disproportionality_bundle_and_evans() -> None:
    r = s.disproportionality(A, B, C, D)
    assert r.prr == pytest.approx(19.8)
    assert r.ror == pytest.approx(24.5)
    assert r.expected == pytest.approx(1.2)
    assert r.chi2_yates == s.chi2_yates(A, B, C, D)
    assert r.evans is True


@pytest.mark.parametrize(
    ("prr", "chi2", "a", "signal"),
    [
        (2.0, 4.0, 3, True),  # all on the boundary: >=
        (1.99, 10.0, 10, False),
        (5.0, 3.99, 10, False),
        (5.0, 10.0, 2, False),
        (math.nan, 10.0, 10, False),
        (math.inf, 10.0, 5, True),
    ],
)
def test_evans_signal(prr: float, chi2: float, a: int, signal: bool) -> None:
    assert s.evans_signal(prr, chi2, a) is signal


def test_evans_uses_yates_chi_square() -> None:
    # a=3, b=10, c=20, d=300: PRR 3.69, uncorrected chi2 5.50 but Yates 3.20.
    a, b, c, d = 3, 10, 20, 300
    assert s.chi2_uncorrected(a, b, c, d) >= 4 > s.chi2_yates(a, b, c, d)
    r = s.disproportionality(a, b, c, d)
    assert r.prr >= 2
    assert r.evans is False
    assert s.evans_signal(r.prr, r.chi2_uncorrected, a) is True


def test_disproportionality_vectorised_equals_scalar() -> None:
    a = np.array([20, 3, 5, 1, 50])
    b = np.array([80, 10, 20, 1, 950])
    c = np.array([100, 4, 30, 1, 200])
    d = np.array([9800, 100, 400, 1, 98800])
    vec = s.disproportionality(a, b, c, d)
    for i in range(len(a)):
        one = s.disproportionality(int(a[i]), int(b[i]), int(c[i]), int(d[i]))
        for field in (
            "prr",
            "prr_lower",
            "prr_upper",
            "ror",
            "ror_lower",
            "ror_upper",
            "chi2_yates",
            "chi2_uncorrected",
            "ic",
            "ic025",
            "ic975",
            "expected",
        ):
            assert getattr(vec, field)[i] == pytest.approx(getattr(one, field), rel=1e-12)
        assert bool(vec.evans[i]) is one.evans


# Zero cells: no exception, documented nan/inf.
@pytest.mark.parametrize(
    ("cells", "prr", "ror"),
    [
        ((0, 10, 5, 100), 0.0, 0.0),  # a = 0: estimates 0, intervals nan
        ((5, 10, 0, 100), math.inf, math.inf),  # c = 0: never reported elsewhere
        ((5, 0, 5, 100), 21.0, math.inf),  # b = 0: ROR infinite, PRR finite
        ((0, 0, 5, 100), math.nan, math.nan),  # no reports for this vaccine
        ((0, 0, 0, 0), math.nan, math.nan),  # empty table
    ],
)
def test_zero_cells(cells: tuple[int, int, int, int], prr: float, ror: float) -> None:
    with np.errstate(all="raise"):  # and no floating-point warnings leak out
        r = s.disproportionality(*cells)
    assert r.prr == pytest.approx(prr, nan_ok=True)
    assert r.ror == pytest.approx(ror, nan_ok=True)
    assert math.isnan(r.ror_lower) and math.isnan(r.ror_upper)
    if math.isfinite(prr) and prr > 0:
        assert r.prr_lower < r.prr < r.prr_upper
    else:
        assert math.isnan(r.prr_lower) and math.isnan(r.prr_upper)
    assert r.evans in (True, False)


def test_zero_margin_chi_square_is_nan() -> None:
    assert math.isnan(s.chi2_yates(0, 0, 5, 100))
    assert math.isnan(s.chi2_uncorrected(0, 0, 0, 0))
    assert s.chi2_yates(5, 5, 5, 5) == 0.0  # |ad - bc| = 0 < N/2: corrected to 0


def test_negative_cells_rejected() -> None:
    with pytest.raises(ValueError):
        s.prr(-1, 2, 3, 4)
