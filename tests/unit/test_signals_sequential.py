"""Unit tests for aefi.signals.sequential and the mid-p of aefi.signals.stats.

Published values are the outputs of the R package Sequential (Silva & Kulldorff) for the
same inputs, to the digits it prints.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from aefi.signals import sequential as q
from aefi.signals import stats as s

# --------------------------------------------------------------------------------------
# Group-sequential Poisson MaxSPRT (CV.G.Poisson)
# --------------------------------------------------------------------------------------

GROUP_CV = [
    # cumulative expected counts at the looks, alpha, M, published cv
    ([4, 8, 12, 16, 20], 0.05, 1, 2.216513),
    ([2, 4, 6, 8, 10, 12], 0.05, 1, 2.298373),
]


@pytest.mark.parametrize(("looks", "alpha", "M", "cv"), GROUP_CV)
def test_group_critical_value_reproduces_sequential(
    looks: list[float], alpha: float, M: int, cv: float
) -> None:
    result = q.group_critical_value(looks, alpha, M)
    assert result.cv == pytest.approx(cv, abs=1e-6)
    assert result.type1_error <= alpha
    # Discrete data: just below the returned level the error exceeds alpha.
    assert q.group_type1_error(result.cv - 2e-6, looks, M) > alpha
    assert not result.exact


def test_group_type1_error_single_look_is_poisson_tail() -> None:
    # One look at mu = 5: signal iff N >= k*, the smallest k > 5 with LLR(k, 5) >= cv.
    cv = 2.0
    k_star = next(k for k in range(6, 50) if s.maxsprt_llr(k, 5.0) >= cv)
    assert q.group_type1_error(cv, [5.0]) == pytest.approx(stats.poisson.sf(k_star - 1, 5.0))


def test_group_plan_is_conservative_against_continuous_monitoring() -> None:
    # Fewer looks need a lower boundary for the same alpha than continuous monitoring.
    looks = [4, 8, 12, 16, 20]
    assert q.group_critical_value(looks).cv < s.critical_value(20.0)


def test_group_looks_validation() -> None:
    with pytest.raises(ValueError, match="increasing"):
        q.group_critical_value([4, 4, 8])
    with pytest.raises(ValueError, match="non-empty"):
        q.group_critical_value([])
    with pytest.raises(s.NoCriticalValueError):
        q.group_critical_value([0.01], 0.05, min_events=3)


# --------------------------------------------------------------------------------------
# Performance.Poisson
# --------------------------------------------------------------------------------------


def printed(value: str) -> object:
    """pytest.approx to half a unit in the last digit R printed."""
    decimals = len(value.split(".")[1]) if "." in value else 0
    return pytest.approx(float(value), abs=0.5 * 10.0**-decimals)


PERFORMANCE = [
    # T, M, cv, RR, power, expected time to signal, expected length of surveillance
    (5.0, 1, 3.297183, 3.0, "0.8757497", "1.779022", "2.17923"),
    (50.0, 2, 3.657142, 1.5, "0.8174843", "20.02922", "25.49936"),
]


@pytest.mark.parametrize(("T", "M", "cv", "rr", "power", "ets", "els"), PERFORMANCE)
def test_performance_reproduces_sequential(
    T: float, M: int, cv: float, rr: float, power: str, ets: str, els: str
) -> None:
    perf = q.performance(cv, T, rr, min_events=M)
    assert perf.power == printed(power)
    assert perf.signal_time == printed(ets)
    assert perf.length == printed(els)


@pytest.mark.parametrize(("T", "M", "D"), [(10.0, 1, 0.0), (10.0, 3, 0.0), (10.0, 1, 2.0)])
def test_performance_at_rr_one_is_the_type1_error(T: float, M: int, D: float) -> None:
    cv = 3.0
    assert q.performance(cv, T, 1.0, M, D).power == pytest.approx(
        s.type1_error(cv, T, M, D), abs=1e-12
    )


def test_performance_matches_simulation() -> None:
    # Simulate the continuous test: the c-th event signals if it arrives by mu_c.
    rng = np.random.default_rng(20261201)
    T, cv, rr = 10.0, 3.467952, 2.0
    mus = s.signal_times(cv, T)
    n = 40_000
    arrivals = np.cumsum(rng.exponential(1 / rr, size=(n, 60)), axis=1)
    bound = np.full(60, T)
    bound[: mus.size] = mus
    hit = arrivals <= bound
    signalled = hit.any(axis=1)
    first = np.argmax(hit, axis=1)
    times = arrivals[np.arange(n), first][signalled]
    perf = q.performance(cv, T, rr)
    se = math.sqrt(perf.power * (1 - perf.power) / n)
    assert abs(signalled.mean() - perf.power) < 4 * se
    assert abs(times.mean() - perf.signal_time) < 4 * times.std() / math.sqrt(times.size)


# --------------------------------------------------------------------------------------
# Binomial MaxSPRT (CV.Binomial)
# --------------------------------------------------------------------------------------


def test_binomial_critical_value_reproduces_sequential() -> None:
    result = q.binomial_critical_value(N=30, alpha=0.05, min_cases=2, z=2)
    assert result.cv == pytest.approx(3.29584, abs=1e-9)
    assert result.type1_error == pytest.approx(0.03673645, abs=5e-9)
    assert q.binomial_type1_error(result.cv, 30, 2, 2) == pytest.approx(result.type1_error)


def test_binomial_llr_by_hand() -> None:
    # 8 cases of 10 events, z = 1 (p0 = 1/2): 8 ln 1.6 + 2 ln 0.4.
    assert q.binomial_llr(8, 10, 1.0) == pytest.approx(8 * math.log(1.6) + 2 * math.log(0.4))
    assert q.binomial_llr(5, 10, 1.0) == 0.0  # estimated RR = 1
    assert q.binomial_llr(2, 10, 1.0) == 0.0  # one-sided
    assert q.binomial_llr(4, 4, 3.0) == pytest.approx(4 * math.log(4.0))
    assert np.allclose(q.binomial_llr(np.array([0, 10]), 10, 1.0), [0.0, 10 * math.log(2)])
    with pytest.raises(ValueError):
        q.binomial_llr(11, 10, 1.0)
    with pytest.raises(ValueError):
        q.binomial_llr(1, 10, 0.0)


def test_binomial_type1_error_matches_simulation() -> None:
    rng = np.random.default_rng(7)
    N, z, cv, M = 30, 2.0, 3.29584, 2
    n_sim = 60_000
    cases = np.cumsum(rng.random((n_sim, N)) < 1 / (1 + z), axis=1)
    n = np.arange(1, N + 1)
    llr = q.binomial_llr(cases, np.broadcast_to(n, cases.shape), z)
    rate = ((llr >= cv) & (cases >= M)).any(axis=1).mean()
    exact = q.binomial_type1_error(cv, N, z, M)
    assert abs(rate - exact) < 4 * math.sqrt(exact * (1 - exact) / n_sim)


def test_binomial_no_solution() -> None:
    with pytest.raises(s.NoCriticalValueError):
        q.binomial_critical_value(N=2, alpha=0.05, min_cases=2, z=10)


# --------------------------------------------------------------------------------------
# Conditional Poisson MaxSPRT (CV.CondPoisson)
# --------------------------------------------------------------------------------------


def test_cond_poisson_critical_value_reproduces_sequential() -> None:
    cv = q.cond_poisson_critical_value(K=20, historical=20, alpha=0.05, min_events=2)
    assert cv == pytest.approx(3.149115, abs=1e-6)
    assert q.cond_poisson_type1_error(cv, 20, 20, 2) == pytest.approx(0.05, abs=1e-9)


def test_cond_poisson_inferences_are_ordered() -> None:
    # V = T_c (liberal) <= exact <= V = T_(c+1) (conservative): a longer historical time
    # means a lower historical rate estimate and more false signals to guard against.
    lib, exact, cons = (
        q.cond_poisson_critical_value(20, 20, 0.05, 2, inference=i)
        for i in ("liberal", "exact", "conservative")
    )
    assert lib < exact < cons


def test_cond_poisson_type1_error_matches_simulation() -> None:
    rng = np.random.default_rng(11)
    K, c, M, cv = 10, 10, 1, 3.0
    n = 100_000
    hist = rng.gamma(c, size=n)
    # "liberal" law: V is the c-th historical arrival time.
    arrivals = np.cumsum(rng.exponential(size=(n, K)), axis=1)
    k = np.arange(1, K + 1)
    llr = q.cond_poisson_llr(np.broadcast_to(k, arrivals.shape), c, arrivals / hist[:, None])
    rate = (llr >= cv).any(axis=1).mean()
    exact = q.cond_poisson_type1_error(cv, K, c, M, inference="liberal")
    assert abs(rate - exact) < 4 * math.sqrt(exact * (1 - exact) / n)


def test_cond_poisson_llr_by_hand() -> None:
    # c = 10 historical events, k = 6 in a surveillance time 0.25 of the historical one.
    c, k, t = 10, 6, 0.25
    want = c * math.log(c * (1 + t) / (c + k)) + k * math.log(k * (1 + t) / (t * (c + k)))
    assert q.cond_poisson_llr(k, c, t) == pytest.approx(want)
    assert q.cond_poisson_llr(2, c, 0.25) == 0.0  # rate 8 < 10: one-sided
    with pytest.raises(ValueError):
        q.cond_poisson_llr(1, 0, 1.0)


def test_cond_poisson_validation() -> None:
    with pytest.raises(ValueError, match="inference"):
        q.cond_poisson_type1_error(3.0, 20, 20, inference="bayes")
    with pytest.raises(ValueError, match="min_events"):
        q.cond_poisson_type1_error(3.0, 5, 20, min_events=6)


# --------------------------------------------------------------------------------------
# Family alpha split, mid-p
# --------------------------------------------------------------------------------------


def test_family_alpha_bonferroni() -> None:
    assert q.family_alpha(0.05, 5) == pytest.approx([0.01] * 5)
    split = q.family_alpha(0.05, 3, weights=[2, 1, 1])
    assert split == pytest.approx([0.025, 0.0125, 0.0125])
    assert sum(split) == pytest.approx(0.05)
    with pytest.raises(ValueError):
        q.family_alpha(0.05, 2, weights=[1, 1, 1])
    with pytest.raises(ValueError):
        q.family_alpha(0.05, 0)


def test_family_alpha_controls_error_of_independent_groups() -> None:
    # Six groups each with their exact Poisson MaxSPRT at alpha/6: the family-wise error
    # of independent groups is 1 - prod(1 - alpha_g) <= alpha.
    per_group = q.family_alpha(0.05, 6)
    errors = [s.type1_error(s.critical_value(10.0, a), 10.0) for a in per_group]
    assert 1 - np.prod(1 - np.asarray(errors)) <= 0.05


MIDP = [
    # O, E: mid-p by hand = P(X > O) + P(X = O) / 2
    (3, 1.0),
    (0, 2.0),
    (10, 4.5),
]


@pytest.mark.parametrize(("o", "e"), MIDP)
def test_poisson_midp_by_hand(o: int, e: float) -> None:
    pmf = [math.exp(-e) * e**k / math.factorial(k) for k in range(o + 1)]
    want = 1 - sum(pmf) + pmf[-1] / 2
    assert s.poisson_midp_test(o, e) == pytest.approx(want, rel=1e-12)
    # Always below the exact p-value, by half the observed count's probability.
    assert s.poisson_sf_test(o, e) - s.poisson_midp_test(o, e) == pytest.approx(pmf[-1] / 2)


def test_poisson_midp_vectorised_and_checked() -> None:
    got = s.poisson_midp_test([0, 3], [1.0, 1.0])
    assert got == pytest.approx([1 - math.exp(-1) / 2, 0.04964477697377401])
    with pytest.raises(ValueError):
        s.poisson_midp_test(1.5, 1.0)


def test_binomial_performance_reproduces_sequential() -> None:
    # Sequential's Performance.Binomial example: N = 30, M = 1, cv = 2, z = 1, RR = 2.
    perf = q.binomial_performance(cv=2.0, N=30, z=1.0, rr=2.0, min_cases=1)
    assert perf.power == printed("0.658732")
    assert perf.signal_time == printed("10.7893")
    assert perf.length == printed("17.3453")
    null = q.binomial_performance(cv=3.29584, N=30, z=2.0, rr=1.0, min_cases=2)
    assert null.power == pytest.approx(0.03673645, abs=5e-9)


def test_group_performance_matches_simulation_and_null() -> None:
    looks = [6.0, 12.0, 18.0, 24.0, 30.0]
    cv = q.group_critical_value(looks).cv
    null = q.group_performance(cv, looks, rr=1.0)
    assert null.power == pytest.approx(q.group_type1_error(cv, looks))
    rng = np.random.default_rng(3)
    rr, n = 1.5, 50_000
    counts = np.cumsum(rng.poisson(rr * np.diff([0.0, *looks]), size=(n, len(looks))), axis=1)
    llr = s.maxsprt_llr(counts, np.broadcast_to(looks, counts.shape))
    hit = llr >= cv
    signalled = hit.any(axis=1)
    times = np.asarray(looks)[np.argmax(hit, axis=1)][signalled]
    perf = q.group_performance(cv, looks, rr=rr)
    assert abs(signalled.mean() - perf.power) < 4 * math.sqrt(perf.power * (1 - perf.power) / n)
    assert abs(times.mean() - perf.signal_time) < 4 * times.std() / math.sqrt(times.size)
    assert perf.length == pytest.approx(perf.power * perf.signal_time + (1 - perf.power) * 30.0)


def test_performance_with_delayed_start_matches_simulation() -> None:
    # First look at D with all events so far (signal time D), continuous afterwards.
    rng = np.random.default_rng(1)
    T, cv, rr, D, n = 10.0, 2.8, 2.0, 2.0, 60_000
    arrivals = np.cumsum(rng.exponential(1 / rr, size=(n, 80)), axis=1)
    mus = s.signal_times(cv, T)
    bound = np.full(80, T)
    bound[: mus.size] = mus
    at_d = np.asarray(s.maxsprt_llr((arrivals <= D).sum(axis=1), D)) >= cv
    later = (arrivals <= bound) & (arrivals > D)
    first = np.argmax(later, axis=1)
    signalled = at_d | later.any(axis=1)
    times = np.where(at_d, D, arrivals[np.arange(n), first])[signalled]
    perf = q.performance(cv, T, rr, 1, D)
    assert abs(signalled.mean() - perf.power) < 4 * math.sqrt(perf.power * (1 - perf.power) / n)
    assert abs(times.mean() - perf.signal_time) < 4 * times.std() / math.sqrt(times.size)


def test_binomial_rr() -> None:
    # A lot with 1,000 doses against siblings with 4,000 (z = 4): 6 of 10 reports.
    assert q.binomial_rr(6, 10, 4.0) == pytest.approx(4.0 * 6 / 4)
    assert q.binomial_rr(3, 3, 4.0) == math.inf
    assert math.isnan(q.binomial_rr(0, 0, 4.0))
    with pytest.raises(ValueError):
        q.binomial_rr(4, 3, 1.0)
