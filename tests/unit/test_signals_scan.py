"""The scan's pure decisions: T grid, critical values, levels, and the synthetic county of
200 clean lots and one lot with four times the expected anaphylaxis rate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from aefi.signals import scan, stats
from aefi.signals.expected import DEFAULT_WINDOWS, GROUPS, choose, default_rates

TH = scan.Thresholds(alpha=0.05, signal_min_events=1, halt_min_events=2, t_factor=2.0)
ANAPHYLAXIS = 1.31e-6  # VSD, per dose (DOMAIN.md)


# --- T grid and critical values ----------------------------------------------------------


@pytest.mark.parametrize("T", [0.0123, 0.5, 1.0, 3.3, 10.0, 57.0, 100.0, 101.0, 640.0, 2500.0])
def test_grid_rounds_up_and_not_far(T: float) -> None:
    g = float(scan.grid_upper_limit(np.array([T]))[0])
    assert g >= T
    limit = 1.05 if T <= 100 else (1.11 if T <= 1000 else 1.78)
    assert g <= T * limit


def test_grid_is_conservative_the_cv_grows_with_T() -> None:
    # Rounding T up raises the CV: never a weaker test than the exact T would give.
    for T in (0.7, 4.2, 33.0):
        g = float(scan.grid_upper_limit(np.array([T]))[0])
        assert stats.critical_value(g, 0.05, 2) >= stats.critical_value(T, 0.05, 2)


def test_critical_values_vectorised_match_stats_and_zero_without_solution() -> None:
    T = np.array([1.0, 10.0, 1.0, 0.01])
    cvs = scan.critical_values(T, 0.05, 1)
    assert cvs[0] == pytest.approx(2.853937, abs=1e-6)
    assert cvs[1] == pytest.approx(3.467952, abs=1e-6)
    assert cvs[2] == cvs[0]
    # T = 0.01: P(N >= 1) = 0.00995 < alpha, no CV reaches alpha.
    assert cvs[3] == 0.0
    assert scan.critical_values(np.array([0.1]), 0.05, 2)[0] == 0.0


@pytest.mark.parametrize("M", [1, 2])
def test_large_T_critical_value_is_close_to_exact_and_conservative(M: int) -> None:
    # Above FAST_T the scan extrapolates the error in log T from exact anchors: at a grid
    # point where the exact root search is affordable the cv is at most 2e-3 above the
    # exact one and never below it, and its exact type I error is <= alpha.
    T = 562.341325190349  # a grid point (24 a decade)
    scan._cv_cache.pop((T, 0.05, M), None)
    cv = scan.critical_value(T, 0.05, M)
    exact = stats.critical_value(T, 0.05, M)
    assert exact <= cv <= exact + 2e-3
    error = stats.type1_error(cv, T, M)
    assert 0.05 - 1e-3 <= error <= 0.05


@pytest.mark.parametrize(("T", "M"), [(500.0, 1), (2000.0, 2), (3162.3, 1)])
def test_large_T_type1_error_exact_at_moderate_T(T: float, M: int) -> None:
    # The exact error (stats.type1_error, affordable here) at the large-T cv.
    cv = scan._critical_value_large_T(T, 0.05, M)
    error = stats.type1_error(cv, T, M)
    assert 0.05 - 1e-3 <= error <= 0.05
    # And it is the bound that is tight, not the cv loose: a slightly lower cv exceeds it.
    assert scan.large_T_type1_error(cv - 1e-4, T, M) > 0.05


def test_large_T_bound_is_above_the_exact_error_over_cv() -> None:
    for M in (1, 2):
        for cv in (3.6, 4.2, 4.9):
            for T in (400.0, 900.0, 2500.0):
                exact = stats.type1_error(cv, T, M)
                bound = scan.large_T_type1_error(cv, T, M)
                assert exact <= bound <= exact + 1.5e-3


@pytest.mark.parametrize("M", [1, 2])
def test_log_time_hazard_rises_with_shrinking_steps(M: int) -> None:
    # The assumption of the extrapolation: h(T) = -d ln S / d ln T rises with T, its
    # increments per tripling shrinking by a factor <= 2/3 (so h2 + 2 (h2 - h1) bounds it).
    for cv in (3.9, 4.5):
        Ts = [100.0 / 3 * 3**i for i in range(5)]  # 33.3 ... 2700
        log_s = [math.log1p(-stats.type1_error(cv, t, M)) for t in Ts]
        h = np.diff(log_s) / -math.log(3.0)
        steps = np.diff(h)
        assert np.all(steps > 0)
        assert np.all(steps[1:] / steps[:-1] <= 2 / 3)
        assert h[-1] <= h[2] + 2 * (h[2] - h[1]) + 1e-12


def _simulated_type1_error(cv: float, T: float, M: int, paths: int, seed: int) -> float:
    # Event c (c >= M) signals iff it arrives by mu_c; the first c with mu_c >= T iff it
    # arrives by T. Arrival times are cumulative sums of unit exponential gaps.
    mus = stats.signal_times(cv, T, M)
    c_end = M + mus.size
    bound = np.concatenate([np.full(M - 1, -1.0), mus, [T]])  # indexed by event c - 1
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(paths // 250):
        arrivals = np.cumsum(rng.standard_exponential((250, c_end)), axis=1)
        hits += int(np.any(arrivals <= bound, axis=1).sum())
    return hits / (paths // 250 * 250)


@pytest.mark.parametrize(("T", "M"), [(10_000.0, 1), (10_000.0, 2)])
def test_large_T_type1_error_by_simulation(T: float, M: int) -> None:
    cv = scan._critical_value_large_T(T, 0.05, M)
    n = 6000
    p = _simulated_type1_error(cv, T, M, n, seed=18 + M)
    se = math.sqrt(0.05 * 0.95 / n)
    assert p <= 0.05 + 3.5 * se  # not above alpha beyond simulation noise
    assert p >= 0.05 - 0.01 - 3.5 * se  # and not far below it either


# --- evaluate ------------------------------------------------------------------------------


def test_levels_on_hand_cases() -> None:
    o = np.array([0, 1, 2, 3, 9, 12])
    e = np.array([0.01, 0.001, 0.001, 2.0, 2.0, 2.0])
    T = np.array([0.02, 0.002, 0.002, 4.0, 4.0, 4.0])
    ev = scan.evaluate(o, e, T, TH)
    # T below what any boundary needs: any excess signals, one event for review, two to halt.
    assert ev.level[0] == scan.NONE
    assert ev.level[1] == scan.SIGNAL
    assert ev.level[2] == scan.HALT
    assert ev.cv_halt[2] == 0.0 and ev.cv_signal[1] == 0.0
    # T = 4 (on the grid: 4.0 rounds to itself or just above): 3 vs 2 is nothing.
    assert ev.level[3] == scan.NONE
    cv2 = stats.critical_value(float(ev.upper_limit[4]), 0.05, 2)
    assert ev.cv_halt[4] == pytest.approx(cv2)
    llr9 = stats.maxsprt_llr(9, 2.0)
    assert (ev.level[4] == scan.HALT) == (llr9 >= cv2)
    assert ev.level[5] == scan.HALT
    # The figures every signal shows.
    assert ev.p_value[5] == pytest.approx(sps.poisson.sf(11, 2.0))
    assert ev.oe[5] == 6.0
    ratio = stats.oe_ratio(12, 2.0)
    assert (ev.oe_lower[5], ev.oe_upper[5]) == pytest.approx((ratio.lower, ratio.upper))
    assert ev.strength[5] == pytest.approx(-math.log10(ev.p_value[5]))


def test_need_cv_gives_cvs_of_stored_cells_without_changing_levels() -> None:
    o = np.array([1, 5])
    e = np.array([3.0, 1.0])
    T = np.array([6.0, 2.0])
    plain = scan.evaluate(o, e, T, TH)
    asked = scan.evaluate(o, e, T, TH, need_cv=np.array([True, False]))
    assert np.isnan(plain.cv_halt[0]) and not np.isnan(asked.cv_halt[0])
    assert list(plain.level) == list(asked.level)


def test_upper_limits() -> None:
    # Lot of 5000 received, 1000 given, rate 1e-3: T = 5 (its size); unknown size: E x 2.
    T = scan.upper_limits(
        expected=np.array([1.0, 1.0, 1.0]),
        rate=np.array([1e-3, 1e-3, 1e-3]),
        doses=np.array([1000, 1000, 1000]),
        doses_received=np.array([5000, np.nan, 800]),
        t_factor=2.0,
    )
    assert list(T) == [5.0, 2.0, 2.0]


def test_boundary_counts_are_the_events_needed() -> None:
    T, m = 10.0, 2
    cv = stats.critical_value(T, 0.05, m)
    e = np.linspace(0.05, 9.9, 40)
    b = scan.boundary_counts(cv, T, m, e)
    for ei, c in zip(e, b, strict=True):
        c = int(c)
        assert c >= m
        assert stats.maxsprt_llr(c, ei) >= cv - 1e-9
        if c - 1 >= m:
            assert stats.maxsprt_llr(c - 1, ei) < cv
    # No CV: M events, and more than E.
    assert list(scan.boundary_counts(0.0, 0.01, 2, np.array([0.001, 2.5]))) == [2.0, 3.0]


# --- the synthetic county: 200 clean lots and one with 4x anaphylaxis -----------------------


def simulate_paths(
    rng: np.random.Generator, T: np.ndarray, relative_risk: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each lot's reports arrive as a Poisson process over its doses; in expected-count
    time under H0 the lot runs from 0 to T, and events come at rate ``relative_risk``.
    Returns one row per (lot, event): lot index, O = event number, E at that event. The
    scan runs at every report filed, so these are exactly its looks (the LLR only rises
    at an event)."""
    counts = rng.poisson(T * relative_risk)
    lot = np.repeat(np.arange(T.size), counts)
    times = rng.uniform(0, 1, size=lot.size) * T[lot]
    order = np.lexsort((times, lot))
    lot, times = lot[order], times[order]
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    number = np.arange(lot.size) - starts[lot] + 1
    return lot, number.astype(float), times


def run_county(seed: int, n_clean: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """Levels reached per lot over the whole surveillance (max over looks)."""
    rng = np.random.default_rng(seed)
    n = n_clean + 1
    # Big lots (3-5 million doses, as COVID-19 lots were) so that T = doses x 1.31e-6 is 4-7.
    doses = rng.integers(3_000_000, 5_000_001, size=n).astype(float)
    T = doses * ANAPHYLAXIS
    rr = np.ones(n)
    rr[-1] = 4.0  # the planted lot: four times the expected anaphylaxis rate
    lot, o, e = simulate_paths(rng, T, rr)
    ev = scan.evaluate(o, e, T[lot], TH)
    level = np.zeros(n, dtype=int)
    np.maximum.at(level, lot, ev.level)
    return level, T


def test_planted_lot_is_found_and_recommended_for_hold() -> None:
    level, _T = run_county(seed=20261125)
    assert level[-1] == scan.HALT  # the scan puts this lot on hold (service: auto_hold)
    found = sum(run_county(seed)[0][-1] == scan.HALT for seed in range(40))
    assert found >= 38  # power of the MaxSPRT at RR 4 with T of 4-7: ~1


def test_clean_lots_flagged_no_more_than_alpha_allows() -> None:
    """Over 100 seeds x 200 clean lots the share that ever reaches each level stays within
    alpha (plus 3 standard errors of sampling), and near it: the CV is exact, the T grid
    only a little conservative. The expected share is the exact type I error of each
    lot's (T on the grid, CV), averaged."""
    flagged_halt = flagged_signal = lots = 0
    exact_halt = exact_signal = 0.0
    for seed in range(100):
        level, T = run_county(seed)
        clean = level[:-1]
        flagged_halt += int(np.sum(clean == scan.HALT))
        flagged_signal += int(np.sum(clean >= scan.SIGNAL))
        lots += clean.size
        if seed < 5:
            for t in T[:-1]:
                g = float(scan.grid_upper_limit(np.array([t]))[0])
                exact_halt += stats.type1_error(stats.critical_value(g, 0.05, 2), g, 2)
                exact_signal += stats.type1_error(stats.critical_value(g, 0.05, 1), g, 1)
    se = math.sqrt(0.05 * 0.95 / lots)
    share_halt, share_signal = flagged_halt / lots, flagged_signal / lots
    assert share_halt <= 0.05 + 3 * se
    assert share_signal <= 0.05 + 3 * se + 0.05  # signal OR halt: two tests at alpha each
    exact_halt /= 5 * 200
    exact_signal /= 5 * 200
    assert 0.045 < exact_halt <= 0.05 and 0.045 < exact_signal <= 0.05
    assert share_halt == pytest.approx(exact_halt, abs=4 * se)


def test_no_clean_lot_of_small_T_is_held_on_one_report() -> None:
    # A 5,000-dose lot: T = 0.00655 for anaphylaxis. One report reaches review, never hold.
    ev = scan.evaluate(np.array([1]), np.array([0.003]), np.array([0.00655]), TH)
    assert ev.level[0] == scan.SIGNAL


# --- disproportionality table ---------------------------------------------------------------


def test_disproportionality_table_matches_scalar_cells() -> None:
    n_vg = np.array([[20, 5], [3, 40]])
    n_v = np.array([100, 400])
    n_g = np.array([40, 60])
    n = 10_000
    t = scan.disproportionality_table(n_vg, n_v, n_g, n)
    one = stats.disproportionality(20, 80, 20, 10_000 - 100 - 40 + 20)
    assert t.result.prr[0, 0] == pytest.approx(one.prr)
    assert t.result.chi2_yates[0, 0] == pytest.approx(one.chi2_yates)
    assert t.d[1, 1] == n - 400 - 60 + 40
    assert bool(t.signal[0, 0]) is bool(one.evans)


def test_report_table_from_report_counts() -> None:
    """The rows of ``report_counts`` (vaccine ids in any order, unknown groups) become the
    same table, with each cell's chi-square p and strength."""
    vg = [(9, "fever", 3), (4, "fever", 20), (4, "rash", 5), (9, "rash", 40), (4, "other", 7)]
    v = [(9, 400), (4, 100)]
    g = [("fever", 40), ("rash", 60), ("other", 7)]
    rt = scan.report_table(vg, v, g, 10_000, groups=["fever", "rash"])
    assert rt is not None
    assert rt.vaccines.tolist() == [4, 9] and rt.groups == ["fever", "rash"]
    assert rt.n_v.tolist() == [100, 400]
    same = scan.disproportionality_table(
        np.array([[20, 5], [3, 40]]), np.array([100, 400]), np.array([40, 60]), 10_000
    )
    assert rt.table.result.prr == pytest.approx(same.result.prr)
    chi = float(same.result.chi2_yates[0, 0])
    assert rt.p_value[0, 0] == pytest.approx(sps.chi2.sf(chi, 1))
    assert rt.strength[0, 0] == pytest.approx(min(chi / 4.0, 300.0))
    assert scan.report_table([], [], [], 0, groups=["fever"]) is None
    assert scan.report_table([], [], [], 5, groups=["fever"]) is None  # no vaccine named


def test_report_table_cells_without_a_finite_chi_square() -> None:
    """A group no report has: chi-square is not finite there, so no p and no strength."""
    rt = scan.report_table(
        [(1, "fever", 3)], [(1, 3), (2, 5)], [("fever", 3)], 8, ["fever", "rash"]
    )
    assert rt is not None
    chi = rt.table.result.chi2_yates
    assert not np.isfinite(chi[0, 1])
    assert np.isnan(rt.p_value[0, 1]) and rt.strength[0, 1] == 0.0


# --- expected rates ----------------------------------------------------------------------


def test_shipped_rates_are_domain_md_values() -> None:
    rates = {(r.vaccine_code, r.event_group): r for r in default_rates()}
    assert rates[("*", "anaphylaxis")].rate_per_dose == 1.31e-6
    assert rates[("*", "anaphylaxis")].window_end_days == 1
    assert rates[("*", "all_aefi")].rate_per_dose == pytest.approx(32.52e-5)
    assert rates[("*", "allergic_rash")].rate_per_dose == pytest.approx(0.96e-5)
    assert rates[("*", "thrombocytopenia")].rate_per_dose == pytest.approx(0.02e-5)
    assert rates[("COV", "anaphylaxis")].rate_per_dose == pytest.approx(0.28e-6)
    mmr = rates[("MMR", "seizure")]
    assert mmr.rate_per_dose == pytest.approx(1 / 3000, rel=1e-3)
    assert (mmr.window_start_days, mmr.window_end_days) == (6, 12)
    assert all(r.source for r in rates.values())
    assert set(DEFAULT_WINDOWS) == set(GROUPS)


def test_a_vaccines_own_rate_wins() -> None:
    rates = default_rates()
    assert choose(rates, "COV", "anaphylaxis").rate_per_dose == pytest.approx(0.28e-6)
    assert choose(rates, "HEPB", "anaphylaxis").rate_per_dose == 1.31e-6
    assert choose(rates, "HEPB", "seizure") is None
